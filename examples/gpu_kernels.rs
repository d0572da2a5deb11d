//! Milliseconds per dispatch of the GPU kernels a convolution uses, at the shapes of LeNet-5 (batch
//! 64) and of the denoising autoencoder (8 episodes x 10 steps), on whatever adapter wgpu finds:
//! `cargo run --release --example gpu_kernels`. Each matrix product is timed through the kernel
//! the walk picks for it (`MatmulKernel::bind_long`: rows, split or tiled) and through the tiled
//! kernel alone, which every product used before; an empty dispatch shows what the adapter
//! charges per dispatch. The README's figures on software adapters come from here.

use metaplastic::gpu::kernel::{Dispatch, record_all};
use metaplastic::gpu::{GpuContext, GpuTensor, conv::ConvKernel, matmul::MatmulKernel};
use metaplastic::nn::{ConvShape, MatmulShape};
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

fn main() {
    let ctx = match pollster::block_on(GpuContext::request()) {
        Ok(ctx) => ctx,
        Err(e) => {
            eprintln!("no GPU adapter: {e}");
            std::process::exit(1);
        }
    };
    println!("adapter: {}", ctx.adapter);
    let matmul = MatmulKernel::new(&ctx);
    // (what, m, k, n, A transposed): forward products (rows x patch x channels) and weight
    // gradients (channels x rows x patch).
    let products = [
        ("autoencoder conv 1 forward", 62720, 9, 8, false),
        ("autoencoder conv 1 weight gradient", 8, 62720, 9, true),
        ("autoencoder conv 2 forward", 15680, 72, 8, false),
        ("autoencoder conv 2 weight gradient", 8, 15680, 72, true),
        ("LeNet-5 conv 1 forward", 50176, 25, 6, false),
        ("LeNet-5 conv 1 weight gradient", 6, 50176, 25, true),
        ("LeNet-5 conv 2 forward", 6400, 150, 16, false),
        ("LeNet-5 conv 2 weight gradient", 16, 6400, 150, true),
    ];
    println!("{:<38} {:>12} {:>12}", "matrix product", "walk's (ms)", "tiled (ms)");
    for (what, m, k, n, trans_a) in products {
        let shape = if trans_a { MatmulShape::new(m, k, n).trans_a() } else { MatmulShape::new(m, k, n).trans_b() };
        let (a, b, c) = (GpuTensor::zeros(&ctx, m * k), GpuTensor::zeros(&ctx, k * n), GpuTensor::zeros(&ctx, m * n));
        let picked = time(&ctx, &matmul.bind_long(&ctx, shape, &a, &b, &c));
        let tiled = time(&ctx, &[matmul.bind_tiled(&ctx, shape, &a, &b, None, None, &c)]);
        println!("{what:<38} {picked:>12.2} {tiled:>12.2}");
    }
    let conv = ConvKernel::new(&ctx);
    println!("{:<38} {:>12} {:>12}", "convolution", "im2col (ms)", "col2im (ms)");
    let shapes = [
        ("autoencoder conv 1", ConvShape::new(80, 28, 28, 1, 8, 3, 1)),
        ("autoencoder conv 2", ConvShape::new(80, 14, 14, 8, 8, 3, 1)),
        ("LeNet-5 conv 1", ConvShape::new(64, 28, 28, 1, 6, 5, 2)),
        ("LeNet-5 conv 2", ConvShape::new(64, 14, 14, 6, 16, 5, 0)),
    ];
    for (what, s) in shapes {
        let (x, cols) = (GpuTensor::zeros(&ctx, s.input_len()), GpuTensor::zeros(&ctx, s.rows() * s.patch()));
        let im2col = time(&ctx, &[conv.bind_im2col(&ctx, s, &x, &cols)]);
        let col2im = time(&ctx, &[conv.bind_col2im(&ctx, s, &cols, &x)]);
        println!("{what:<38} {im2col:>12.2} {col2im:>12.2}");
    }
    let (y, bias) = (GpuTensor::zeros(&ctx, 64), GpuTensor::zeros(&ctx, 8));
    println!("an empty dispatch (a bias on 64 numbers): {:.3} ms", time(&ctx, &[conv.bind_add_bias(&ctx, &y, &bias)]));
}
