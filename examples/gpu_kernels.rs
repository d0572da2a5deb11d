//! Milliseconds per dispatch of the GPU kernels that make most of a training step, on whatever
//! adapter wgpu finds: `cargo run --release --example gpu_kernels`. The matrix products of the
//! binarized 784-1024-1024-10 network (batch 100) and of LeNet-5's first dense layer (batch 64),
//! each through the kernel the walk picks (`MatmulKernel::bind` or, for a weight gradient,
//! `bind_long`) and, beside it, through the tiled kernel `main`; the three products of each convolution of LeNet-5 (batch 64) and of the denoising
//! autoencoder (8 episodes x 10 steps), the forward and input gradient on both block sizes, read straight from the layer's input
//! (`shaders/conv.wgsl`); and an empty dispatch, what the adapter charges per dispatch.
//! docs/performance.md's per-kernel figures on software adapters come from here.

use metaplastic::gpu::kernel::{Dispatch, record_all};
use metaplastic::gpu::conv::{Block, ConvKernel};
use metaplastic::gpu::{GpuContext, GpuTensor, matmul::MatmulKernel};
use metaplastic::nn::{Activation, ConvShape, MatmulShape};
use std::time::Instant;

/// Median of five submits of `calls` recorded five times each, per recording, in milliseconds.
fn time(ctx: &GpuContext, calls: &[Dispatch]) -> f64 {
    let mut runs: Vec<f64> = (0..6)
        .map(|_| {
            let start = Instant::now();
            let mut encoder = ctx.device.create_command_encoder(&Default::default());
            for _ in 0..5 {
                record_all(&mut encoder, calls);
            }
            ctx.queue.submit([encoder.finish()]);
            ctx.wait().expect("the device stays alive");
            start.elapsed().as_secs_f64() * 1000.0 / 5.0
        })
        .skip(1)
        .collect();
    runs.sort_by(f64::total_cmp);
    runs[runs.len() / 2]
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let ctx = match pollster::block_on(GpuContext::request()) {
        Ok(ctx) => ctx,
        Err(e) => {
            eprintln!("no GPU adapter: {e}");
            std::process::exit(1);
        }
    };
    println!("adapter: {}", ctx.adapter);
    let zeros = |n: usize| GpuTensor::zeros(&ctx, n);
    let matmul = MatmulKernel::new(&ctx);
    // (what, m, k, n, layout): forward products (batch x inputs x outputs, weights stored
    // transposed), weight gradients (outputs x batch x inputs, A transposed), input gradients.
    let products = [
        ("bnn-1024 layer 1 forward", 100, 784, 1024, "trans_b"),
        ("bnn-1024 layer 2 forward", 100, 1024, 1024, "trans_b"),
        ("bnn-1024 layer 2 weight gradient", 1024, 100, 1024, "trans_a"),
        ("bnn-1024 layer 2 input gradient", 100, 1024, 1024, "plain"),
        ("LeNet-5 dense 400-120 forward", 64, 400, 120, "trans_b"),
        ("LeNet-5 dense 400-120 weight gradient", 120, 64, 400, "trans_a"),
        ("LeNet-5 dense 400-120 input gradient", 64, 120, 400, "plain"),
    ];
    // Each product on the kernel `bind` picks and on the tiled kernel `main` (one value per load),
    // timed alternately three times, the median of each: in one process, under the same load.
    println!("{:<40} {:<12} {:>10} {:>10}", "matrix product", "kernel", "ms", "main (ms)");
    for (what, m, k, n, layout) in products {
        let shape = match layout {
            "trans_a" => MatmulShape::new(m, k, n).trans_a(),
            "trans_b" => MatmulShape::new(m, k, n).trans_b(),
            _ => MatmulShape::new(m, k, n),
        };
        let (a, b, c) = (zeros(m * k), zeros(k * n), zeros(m * n));
        let (picked, tiled) = (matmul.bind_long(&ctx, shape, &a, &b, &c), [matmul.bind_tiled(&ctx, shape, &a, &b, None, None, &c)]);
        let (mut t_picked, mut t_tiled) = (vec![], vec![]);
        for _ in 0..3 {
            t_picked.push(time(&ctx, &picked));
            t_tiled.push(time(&ctx, &tiled));
        }
        let kernel = if picked.len() == 2 { "split" } else { MatmulKernel::variant(shape).entry() };
        println!("{what:<40} {kernel:<12} {:>10.2} {:>10.2}", median(t_picked), median(t_tiled));
    }
    let conv = ConvKernel::new(&ctx);
    // Forward and input gradient on both block sizes (4x4 and 8x8 outputs per invocation): the
    // walk binds whichever ran faster at the shape (`bind_forward`, `bind_input_grad`).
    println!("{:<24} {:>20} {:>20} {:>20}", "convolution", "forward 4 / 8 (ms)", "weight gradient (ms)", "input grad 4 / 8 (ms)");
    let shapes = [
        ("autoencoder conv 1", ConvShape::new(80, 28, 28, 1, 8, 3, 1)),
        ("autoencoder conv 2", ConvShape::new(80, 14, 14, 8, 8, 3, 1)),
        ("LeNet-5 conv 1", ConvShape::new(64, 28, 28, 1, 6, 5, 2)),
        ("LeNet-5 conv 2", ConvShape::new(64, 14, 14, 6, 16, 5, 0)),
    ];
    for (what, s) in shapes {
        let (x, w, bias) = (zeros(s.input_len()), zeros(s.weight_len()), zeros(s.cout as usize));
        let (y, dw) = (zeros(s.rows() * s.cout as usize), zeros(s.weight_len()));
        let forward = Block::ALL.map(|b| time(&ctx, &[conv.bind_forward_on(b, &ctx, s, &x, &w, Some(&bias), Some(Activation::Relu), &y)]));
        let weight = time(&ctx, &conv.bind_weight_grad(&ctx, s, &x, &y, &dw, Some(&bias), false));
        let input = Block::ALL.map(|b| time(&ctx, &[conv.bind_input_grad_on(b, &ctx, s, &y, &w, None, &x)]));
        let pair = |t: [f64; 2]| format!("{:.2} / {:.2}", t[0], t[1]);
        println!("{what:<24} {:>20} {weight:>20.2} {:>20}", pair(forward), pair(input));
    }
    let (dy, db) = (zeros(8), zeros(8));
    println!("an empty dispatch (a bias gradient of 8 numbers): {:.3} ms", time(&ctx, &[conv.bind_bias_grad(&ctx, &dy, &db, false)]));
}
