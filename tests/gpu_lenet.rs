//! LeNet-5's kernels and the whole GPU trainer against the CPU reference, on whatever adapter
//! wgpu finds. Every comparison states `|gpu - cpu| <= atol + rtol * |cpu|`:
//!
//! - pooling (max and average, with argmax), ReLU, dropout (mask, forward, backward), scale_rows:
//!   exact (they copy, select, or round once the same way).
//! - a convolution's three products (forward with bias and activation, input gradient, weight and
//!   bias gradient), read from the input without im2col: `1e-6 n / 1e-5`, n the products each
//!   output sums (against the CPU's im2col, packed product and col2im, which sum in another
//!   order); tanh adds its 2e-6.
//! - bias_grad: 1e-6 / 1e-6 (sums in the CPU's order; kept loose by an ulp in case a driver
//!   reorders).
//! - tanh: 2e-6 / 0 forward (GPU tanh is not correctly rounded), 1e-6 / 1e-6 backward (may fuse
//!   a multiply-add).
//! - SGD over 3 steps: 1e-6 / 1e-6 (multiply-adds may fuse).
//! - metaplastic factors: B = 0 exactly 1; otherwise 1e-5 / 1e-5 (GPU `exp`).
//! - whole training steps and logits: see `TRAIN_ATOL` and `LOGIT_ATOL`.

mod common;
use metaplastic::gpu::kernel::record_all;
use metaplastic::nn::{Activation, AmpEnergy, AmpHyper, ConvShape, MatmulShape, PoolKind, PoolShape, SgdHyper};
use common::*;
use metaplastic::backend::{Backend, Lenet};
use metaplastic::cpu::activation::{activation_backward, activation_forward};
use metaplastic::cpu::amp::{amp_factors, centre_rows, scale_rows};
use metaplastic::cpu::conv::{add_bias, bias_grad, col2im, conv_transpose_forward, im2col};
use metaplastic::cpu::matmul::matmul;
use metaplastic::cpu::dropout::{dropout_backward, dropout_forward};
use metaplastic::cpu::pool::{avg_pool_forward, max_pool_forward, pool_backward, upsample_backward, upsample_forward};
use metaplastic::cpu::sgd::sgd_step;
use metaplastic::gpu::activation::ActivationKernel;
use metaplastic::gpu::amp::{AmpKernel, Centre};
use metaplastic::gpu::conv::{Block, ConvKernel};
use metaplastic::gpu::dropout::DropoutKernel;
use metaplastic::gpu::lenet::GpuLenet;
use metaplastic::gpu::pool::PoolKernel;
use metaplastic::gpu::sgd::SgdKernel;
use metaplastic::gpu::{GpuContext, GpuTensor};
use metaplastic::nn::DeviceError;
use metaplastic::model::lenet::{Arch, FactorSource, LenetConfig, LenetParams, LenetTrainer};
use metaplastic::nn::{BatchStats, TrainError};
use std::rc::Rc;

fn read_u32(ctx: &GpuContext, t: &GpuTensor) -> Vec<u32> {
    read(ctx, t).into_iter().map(f32::to_bits).collect()
}

fn upload(ctx: &GpuContext, v: &[f32]) -> GpuTensor {
    GpuTensor::from_slice(ctx, v)
}

// ---- conv.wgsl ----

/// Padded and unpadded, several channels (at most 4, where forward and input_grad compute 4 a
/// block, and more, on blocks of 8 with the last one partial), non-square inputs, a kernel as large
/// as the padded input, more rows (pixels) than one workgroup covers, and a batch that ends inside
/// a block of 8 examples after a whole one (input_grad8 takes a pixel of 8 examples at a time).
fn conv_shapes() -> [ConvShape; 8] {
    [
        ConvShape::new(2, 5, 6, 3, 4, 3, 1),
        ConvShape::new(2, 7, 7, 1, 6, 5, 2),
        ConvShape::new(3, 6, 5, 2, 3, 3, 0),
        ConvShape::new(1, 3, 3, 2, 2, 5, 1),
        ConvShape::new(3, 10, 9, 6, 9, 5, 2),
        ConvShape::new(4, 14, 14, 6, 16, 5, 0),
        ConvShape::new(3, 16, 12, 2, 12, 3, 1),
        ConvShape::new(11, 6, 5, 5, 6, 3, 0),
    ]
}

/// The tolerance of a kernel whose outputs are sums of `n` products, in another order than the
/// CPU's packed product: `|gpu - cpu| <= 1e-6 n + 1e-5 |cpu|` (inputs in [-1, 1]).
fn sum_atol(n: usize) -> f32 {
    1e-6 * n as f32
}

#[test]
fn conv_forward_matches_cpu() {
    let Some(ctx) = gpu() else { return };
    let kernel = ConvKernel::new(&ctx);
    for s in conv_shapes() {
        let (rows, patch, cout) = (s.rows(), s.patch(), s.cout as usize);
        let (x, w, bias) = (values(s.input_len(), 1), values(s.weight_len(), 2), values(cout, 3));
        let mut cols = vec![0.0; rows * patch];
        im2col(&s, &x, &mut cols);
        let mut plain = vec![0.0; rows * cout];
        matmul(MatmulShape::new(rows, patch, cout).trans_b(), &cols, &w, &mut plain);
        let mut biased = plain.clone();
        add_bias(&mut biased, &bias);
        let mut relu = vec![0.0; biased.len()];
        activation_forward(Activation::Relu, &biased, &mut relu);
        let mut tanh = vec![0.0; biased.len()];
        activation_forward(Activation::Tanh, &biased, &mut tanh);
        let (gx, gw, gb) = (upload(&ctx, &x), upload(&ctx, &w), upload(&ctx, &bias));
        for (what, with_bias, act, want) in [
            ("plain", false, None, &plain),
            ("bias", true, None, &biased),
            ("bias+relu", true, Some(Activation::Relu), &relu),
            ("bias+tanh", true, Some(Activation::Tanh), &tanh),
        ] {
            // Each block size, and the one timed faster on this adapter.
            for block in [Some(Block::Four), Some(Block::Eight), None] {
                let gy = GpuTensor::from_slice(&ctx, &vec![7.0; rows * cout]);
                let bias = with_bias.then_some(&gb);
                let call = match block {
                    Some(b) => kernel.bind_forward_on(b, &ctx, s, &gx, &gw, bias, act, &gy),
                    None => kernel.bind_forward(&ctx, s, &gx, &gw, bias, act, &gy),
                };
                run(&ctx, |e| call.encode(e));
                // tanh adds its own 2e-6 (GPU tanh is not correctly rounded).
                let atol = sum_atol(patch) + if act == Some(Activation::Tanh) { 2e-6 } else { 0.0 };
                assert_parity(&format!("conv forward {what} {block:?} {s:?}"), &read(&ctx, &gy), want, atol, 1e-5);
            }
        }
    }
}

#[test]
fn conv_input_grad_matches_cpu() {
    let Some(ctx) = gpu() else { return };
    let kernel = ConvKernel::new(&ctx);
    for s in conv_shapes() {
        let (rows, patch, cout, cin) = (s.rows(), s.patch(), s.cout as usize, s.cin as usize);
        let (dy, w, bias) = (values(rows * cout, 4), values(s.weight_len(), 5), values(cin, 6));
        let mut dcols = vec![0.0; rows * patch];
        matmul(MatmulShape::new(rows, cout, patch), &dy, &w, &mut dcols);
        let mut plain = vec![0.0; s.input_len()];
        col2im(&s, &dcols, &mut plain);
        // With a bias: a transposed convolution's forward pass, as the CPU computes it.
        let mut cols = vec![0.0; rows * patch];
        let mut transposed = vec![0.0; s.input_len()];
        conv_transpose_forward(&s, &dy, &w, &bias, &mut cols, &mut transposed);
        let (gdy, gw, gb) = (upload(&ctx, &dy), upload(&ctx, &w), upload(&ctx, &bias));
        // Each input element sums up to k*k taps of cout products.
        let atol = sum_atol((s.k * s.k) as usize * cout);
        for (what, with_bias, want) in [("plain", false, &plain), ("transposed convolution", true, &transposed)] {
            for block in [Some(Block::Four), Some(Block::Eight), None] {
                let gdx = GpuTensor::from_slice(&ctx, &vec![7.0; s.input_len()]);
                let bias = with_bias.then_some(&gb);
                let call = match block {
                    Some(b) => kernel.bind_input_grad_on(b, &ctx, s, &gdy, &gw, bias, &gdx),
                    None => kernel.bind_input_grad(&ctx, s, &gdy, &gw, bias, &gdx),
                };
                run(&ctx, |e| call.encode(e));
                assert_parity(&format!("conv input_grad {what} {block:?} {s:?}"), &read(&ctx, &gdx), want, atol, 1e-5);
            }
        }
    }
}

#[test]
fn conv_weight_grad_matches_cpu() {
    let Some(ctx) = gpu() else { return };
    let kernel = ConvKernel::new(&ctx);
    for s in conv_shapes() {
        let (rows, patch, cout) = (s.rows(), s.patch(), s.cout as usize);
        let (x, dy) = (values(s.input_len(), 7), values(rows * cout, 8));
        let mut cols = vec![0.0; rows * patch];
        im2col(&s, &x, &mut cols);
        let mut dw = vec![0.0; s.weight_len()];
        matmul(MatmulShape::new(cout, rows, patch).trans_a(), &dy, &cols, &mut dw);
        let mut db = vec![0.0; cout];
        bias_grad(&dy, &mut db);
        let (dw0, db0) = (values(dw.len(), 9), values(cout, 10));
        let add = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(a, b)| a + b).collect::<Vec<f32>>();
        let (dw_acc, db_acc) = (add(&dw0, &dw), add(&db0, &db));
        let (gx, gdy) = (upload(&ctx, &x), upload(&ctx, &dy));
        let atol = sum_atol(rows);
        for accumulate in [false, true] {
            let (gdw, gdb) = (upload(&ctx, &dw0), upload(&ctx, &db0));
            run(&ctx, |e| record_all(e, &kernel.bind_weight_grad(&ctx, s, &gx, &gdy, &gdw, Some(&gdb), accumulate)));
            let (want_dw, want_db) = if accumulate { (&dw_acc, &db_acc) } else { (&dw, &db) };
            assert_parity(&format!("conv weight_grad accumulate={accumulate} {s:?}"), &read(&ctx, &gdw), want_dw, atol, 1e-5);
            assert_parity(&format!("conv bias gradient accumulate={accumulate} {s:?}"), &read(&ctx, &gdb), want_db, atol, 1e-5);
            // Without a bias gradient, the weights' alone, and db is left as it was.
            let (gdw, gdb) = (upload(&ctx, &dw0), upload(&ctx, &db0));
            run(&ctx, |e| record_all(e, &kernel.bind_weight_grad(&ctx, s, &gx, &gdy, &gdw, None, accumulate)));
            assert_parity(&format!("conv weight_grad alone accumulate={accumulate} {s:?}"), &read(&ctx, &gdw), want_dw, atol, 1e-5);
            assert_parity("db untouched", &read(&ctx, &gdb), &db0, 0.0, 0.0);
        }
    }
}

#[test]
fn bias_grad_matches_cpu() {
    let Some(ctx) = gpu() else { return };
    let kernel = ConvKernel::new(&ctx);
    for (rows, cols) in [(1, 10), (300, 6), (57, 130)] {
        let y = values(rows * cols, 3);
        let mut want_db = vec![0.0; cols];
        bias_grad(&y, &mut want_db);
        let (gdy, gdb) = (upload(&ctx, &y), GpuTensor::zeros(&ctx, cols));
        run(&ctx, |e| kernel.bind_bias_grad(&ctx, &gdy, &gdb, false).encode(e));
        assert_parity(&format!("bias_grad {rows} x {cols}"), &read(&ctx, &gdb), &want_db, 1e-6, 1e-6);
        // Accumulating: added to what db held.
        let db0 = values(cols, 5);
        let gdb = upload(&ctx, &db0);
        run(&ctx, |e| kernel.bind_bias_grad(&ctx, &gdy, &gdb, true).encode(e));
        let want_acc: Vec<f32> = db0.iter().zip(&want_db).map(|(a, b)| a + b).collect();
        assert_parity(&format!("bias_grad accumulated {rows} x {cols}"), &read(&ctx, &gdb), &want_acc, 1e-6, 1e-6);
    }
}

// ---- pool.wgsl ----

/// Input values with exact ties inside windows, so the first-maximum rule is exercised.
fn pool_input(s: &PoolShape, seed: u64) -> Vec<f32> {
    let mut x = values(s.input_len(), seed);
    for i in (0..x.len()).step_by(7) {
        x[i] = 0.5;
    }
    x
}

#[test]
fn pooling_matches_cpu() {
    let Some(ctx) = gpu() else { return };
    let kernel = PoolKernel::new(&ctx);
    // Even, odd (dropped edge row and column), and the classic net's 28x28x6 at batch 2.
    for s in [PoolShape::new(2, 4, 4, 3), PoolShape::new(3, 5, 7, 2), PoolShape::new(2, 28, 28, 6)] {
        let x = pool_input(&s, 5);
        let dy = values(s.output_len(), 6);
        let what = format!("{s:?}");
        let (gx, gdy) = (upload(&ctx, &x), upload(&ctx, &dy));
        let (gy, gargmax, gdx) = (GpuTensor::zeros(&ctx, s.output_len()), GpuTensor::zeros(&ctx, s.output_len()), GpuTensor::zeros(&ctx, s.input_len()));

        let (mut y, mut argmax, mut dx) = (vec![0.0; s.output_len()], vec![0u32; s.output_len()], vec![0.0; s.input_len()]);
        max_pool_forward(&s, &x, &mut y, &mut argmax);
        pool_backward(&s, PoolKind::Max, &dy, &argmax, &mut dx);
        // The backward passes must write the dropped edges' zeros themselves.
        gdx.write(&ctx, &vec![7.0; s.input_len()]);
        run(&ctx, |e| {
            kernel.bind_forward(&ctx, s, PoolKind::Max, &gx, &gy, Some(&gargmax)).encode(e);
            kernel.bind_backward(&ctx, s, PoolKind::Max, &gdy, Some(&gargmax), &gdx).encode(e);
        });
        assert_parity(&format!("max pool {what}"), &read(&ctx, &gy), &y, 0.0, 0.0);
        assert_eq!(read_u32(&ctx, &gargmax), argmax, "max pool {what}: argmax (first maximum wins ties)");
        assert_parity(&format!("max pool backward {what}"), &read(&ctx, &gdx), &dx, 0.0, 0.0);

        avg_pool_forward(&s, &x, &mut y);
        pool_backward(&s, PoolKind::Average, &dy, &argmax, &mut dx);
        gdx.write(&ctx, &vec![7.0; s.input_len()]);
        run(&ctx, |e| {
            kernel.bind_forward(&ctx, s, PoolKind::Average, &gx, &gy, None).encode(e);
            kernel.bind_backward(&ctx, s, PoolKind::Average, &gdy, None, &gdx).encode(e);
        });
        assert_parity(&format!("average pool {what}"), &read(&ctx, &gy), &y, 0.0, 0.0);
        assert_parity(&format!("average pool backward {what}"), &read(&ctx, &gdx), &dx, 0.0, 0.0);

        // Upsampling maps the pooled grid back to the full one (x and dy swap roles).
        let (small, full) = (values(s.output_len(), 7), values(s.input_len(), 8));
        let (mut up, mut down) = (vec![0.0; s.input_len()], vec![0.0; s.output_len()]);
        upsample_forward(&s, &small, &mut up);
        upsample_backward(&s, &full, &mut down);
        let (gsmall, gfull) = (upload(&ctx, &small), upload(&ctx, &full));
        let (gup, gdown) = (upload(&ctx, &vec![7.0; s.input_len()]), GpuTensor::zeros(&ctx, s.output_len()));
        run(&ctx, |e| {
            kernel.bind_upsample(&ctx, s, &gsmall, &gup).encode(e);
            kernel.bind_upsample_backward(&ctx, s, &gfull, &gdown).encode(e);
        });
        assert_parity(&format!("upsample {what}"), &read(&ctx, &gup), &up, 0.0, 0.0);
        assert_parity(&format!("upsample backward {what}"), &read(&ctx, &gdown), &down, 0.0, 0.0);
    }
}

// ---- activation.wgsl ----

#[test]
fn activations_match_cpu() {
    let Some(ctx) = gpu() else { return };
    let kernel = ActivationKernel::new(&ctx);
    // Wide enough for tanh to saturate (and for a naive e^2x formula to overflow), with exact zeros.
    let mut x = scaled(5_003, 7, 60.0);
    x[..3].copy_from_slice(&[0.0, -0.0, 1e-30]);
    let dy = values(x.len(), 8);
    for (act, fwd_atol, bwd_tol) in [(Activation::Relu, 0.0, 0.0), (Activation::Tanh, 2e-6, 1e-6)] {
        let (mut y, mut dx) = (vec![0.0; x.len()], vec![0.0; x.len()]);
        activation_forward(act, &x, &mut y);
        activation_backward(act, &y, &dy, &mut dx);
        let (gx, gy) = (upload(&ctx, &x), GpuTensor::zeros(&ctx, x.len()));
        run(&ctx, |e| kernel.bind_forward(&ctx, act, &gx, &gy).encode(e));
        assert_parity(&format!("{} forward", act.name()), &read(&ctx, &gy), &y, fwd_atol, 0.0);
        // The backward pass gets the CPU's y, so it is checked alone.
        let (gyc, gdy, gdx) = (upload(&ctx, &y), upload(&ctx, &dy), GpuTensor::zeros(&ctx, x.len()));
        run(&ctx, |e| kernel.bind_backward(&ctx, act, &gyc, &gdy, &gdx).encode(e));
        assert_parity(&format!("{} backward", act.name()), &read(&ctx, &gdx), &dx, bwd_tol, bwd_tol);
    }
}

// ---- dropout.wgsl ----

#[test]
fn dropout_mask_is_bit_exact() {
    let Some(ctx) = gpu() else { return };
    let kernel = DropoutKernel::new(&ctx);
    let n = 20_000;
    let x = values(n, 9);
    let dy = values(n, 10);
    for (p, seed) in [(0.7, 0), (0.7, 123_456), (0.5, u32::MAX), (0.1, 42)] {
        let (mut y, mut mask, mut dx) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
        dropout_forward(p, seed, &x, &mut y, &mut mask);
        dropout_backward(&mask, &dy, &mut dx);
        let kept = mask.iter().filter(|&&m| m != 0.0).count() as f32 / n as f32;
        assert!((kept - (1.0 - p)).abs() < 0.02, "p {p}: kept {kept}");
        let (gx, gy, gmask, gdy, gdx) = (upload(&ctx, &x), GpuTensor::zeros(&ctx, n), GpuTensor::zeros(&ctx, n), upload(&ctx, &dy), GpuTensor::zeros(&ctx, n));
        // Bound with another seed and then set, as a training step does.
        let mut call = kernel.bind_forward(&ctx, p, seed.wrapping_add(1), &gx, &gy, &gmask);
        call.set_seed(&ctx, seed);
        run(&ctx, |e| {
            call.encode(e);
            kernel.bind_backward(&ctx, &gmask, &gdy, &gdx).encode(e);
        });
        let what = format!("p {p}, seed {seed}");
        let got_mask = read(&ctx, &gmask);
        assert_eq!(got_mask.iter().map(|m| m.to_bits()).collect::<Vec<_>>(), mask.iter().map(|m| m.to_bits()).collect::<Vec<_>>(), "{what}: mask");
        assert_parity(&format!("{what} forward"), &read(&ctx, &gy), &y, 0.0, 0.0);
        assert_parity(&format!("{what} backward"), &read(&ctx, &gdx), &dx, 0.0, 0.0);
    }
}

// ---- sgd.wgsl ----

#[test]
fn sgd_nesterov_matches_cpu_over_steps() {
    let Some(ctx) = gpu() else { return };
    let kernel = SgdKernel::new(&ctx);
    // Not a multiple of 4: the kernel's last vec4 runs into the buffer's padding.
    let n = 10_001;
    for h in [SgdHyper::nesterov(0.01, 0.9, 0.0), SgdHyper::nesterov(0.05, 0.5, 1e-3), SgdHyper { nesterov: 0, ..SgdHyper::nesterov(0.01, 0.9, 1e-4) }] {
        let mut w = scaled(n, 11, 0.3);
        let mut v = vec![0.0; n];
        let (gw, gv, gg) = (upload(&ctx, &w), GpuTensor::zeros(&ctx, n), GpuTensor::zeros(&ctx, n));
        let call = kernel.bind(&ctx, &h, &gw, &gg, &gv);
        for step in 0..3 {
            let g = scaled(n, 12 + step, 0.1);
            sgd_step(&h, &mut w, &g, &mut v);
            gg.write(&ctx, &g);
            run(&ctx, |e| call.encode(e));
        }
        assert_parity(&format!("{h:?} w"), &read(&ctx, &gw), &w, 1e-6, 1e-6);
        assert_parity(&format!("{h:?} velocity"), &read(&ctx, &gv), &v, 1e-6, 1e-6);
    }
}

// ---- amp.wgsl ----

fn gpu_factors(ctx: &GpuContext, kernel: &AmpKernel, h: &AmpHyper, x: &[f32], batch: usize) -> Vec<f32> {
    let (gx, logs, f) = (upload(ctx, x), GpuTensor::zeros(ctx, batch), GpuTensor::zeros(ctx, batch));
    run(ctx, |e| kernel.bind_factors(ctx, h, &gx, &logs, &f).encode(e));
    read(ctx, &f)
}

#[test]
fn amp_factors_match_cpu() {
    let Some(ctx) = gpu() else { return };
    let kernel = AmpKernel::new(&ctx);
    // B = 0 is standard training: every factor exactly 1, whatever the patterns.
    let (batch, n) = (7, 300);
    let x = scaled(batch * n, 13, 3.0);
    let ones = gpu_factors(&ctx, &kernel, &AmpHyper::new(0.0), &x, batch);
    assert_eq!(ones, vec![1.0; batch], "B = 0");

    // Images in [0, 1] whose energy grows with the row (row b's squared scale is 1 + b/15), so the
    // normalised factors spread over two orders of magnitude; the default clamp cuts the low end,
    // a narrow one (with another A, which must cancel) both ends.
    let (batch, n) = (16, 784);
    let x: Vec<f32> = values(batch * n, 14).iter().enumerate().map(|(i, v)| 0.5 * (v + 1.0) * (1.0 + (i / n) as f32 / 15.0).sqrt()).collect();
    for (h, both_ends) in [(AmpHyper::new(10.0), false), (AmpHyper { a: 3.0, lo: 0.5, hi: 2.0, ..AmpHyper::new(10.0) }, true)] {
        let mut want = vec![0.0; batch];
        amp_factors(&h, &x, batch, &mut want);
        assert!(want.contains(&h.lo) && (!both_ends || want.contains(&h.hi)), "{h:?}: the case must clamp: {want:?}");
        assert!(want.iter().any(|&f| f > h.lo && f < h.hi), "{h:?}: and keep some factors inside: {want:?}");
        assert_parity(&format!("{h:?} factors"), &gpu_factors(&ctx, &kernel, &h, &x, batch), &want, 1e-5, 1e-5);
    }
}

/// The running mean and the centred patterns over five batches (past the first, which sets the
/// mean). Tolerance 1e-5: WGSL's division (the rate, the batch mean) is within 2.5 ULP, not exact.
#[test]
fn amp_centre_matches_cpu() {
    let Some(ctx) = gpu() else { return };
    let kernel = AmpKernel::new(&ctx);
    let (batch, n) = (6, 300);
    let centre = Centre::new(&ctx, n);
    let mut mean = vec![0.0; n];
    let mut want = vec![0.0; batch * n];
    let gout = GpuTensor::zeros(&ctx, batch * n);
    for k in 0..5u32 {
        let x: Vec<f32> = values(batch * n, 60 + k as u64).iter().map(|v| 0.5 + 0.5 * v + 0.1 * k as f32).collect();
        centre_rows(&x, batch, &mut mean, k, &mut want);
        let gx = upload(&ctx, &x);
        let calls = kernel.bind_centre(&ctx, &gx, &centre, &gout);
        run(&ctx, |e| calls.iter().for_each(|c| c.encode(e)));
        assert_parity(&format!("centred batch {k}"), &read(&ctx, &gout), &want, 1e-5, 1e-5);
        assert_parity(&format!("running mean after batch {k}"), &read(&ctx, &centre.mean), &mean, 1e-5, 1e-5);
    }
}

#[test]
fn scale_rows_matches_cpu() {
    let Some(ctx) = gpu() else { return };
    let kernel = AmpKernel::new(&ctx);
    let (batch, rows_per_example, cols) = (3, 25, 16);
    let dy = values(batch * rows_per_example * cols, 15);
    let factors = [0.1, 1.7, 10.0];
    let mut want = vec![0.0; dy.len()];
    scale_rows(&dy, cols, rows_per_example, &factors, &mut want);
    let (gdy, gf, gout) = (upload(&ctx, &dy), upload(&ctx, &factors), GpuTensor::zeros(&ctx, dy.len()));
    run(&ctx, |e| kernel.bind_scale_rows(&ctx, cols, rows_per_example, &gdy, &gf, &gout).encode(e));
    assert_parity("scale_rows", &read(&ctx, &gout), &want, 0.0, 0.0);
}

// ---- the whole trainer ----

/// `batch` images in [0, 1] and labels 0..10.
fn batch_of(batch: usize, seed: u64) -> (Vec<f32>, Vec<u32>) {
    let x = values(batch * 784, seed).into_iter().map(|v| 0.5 * (v + 1.0)).collect();
    let y = (0..batch).map(|i| ((i as u64 * 7 + seed) % 10) as u32).collect();
    (x, y)
}

fn block<T>(f: impl std::future::Future<Output = Result<T, TrainError>>) -> T {
    pollster::block_on(f).expect("the trainer call succeeds")
}

/// The same network on both backends, through [`Backend::lenet`] (so the delegating enum is
/// what is tested).
fn both(ctx: GpuContext, cfg: &LenetConfig, seed: u64) -> (Lenet, Lenet) {
    let params = LenetParams::init(cfg.arch, seed);
    let cpu = Backend::Cpu.lenet(cfg.clone(), params.clone()).unwrap();
    let gpu = Backend::Gpu(Rc::new(ctx)).lenet(cfg.clone(), params).unwrap();
    assert!(matches!((&cpu, &gpu), (Lenet::Cpu(_), Lenet::Gpu(_))));
    (cpu, gpu)
}

/// Parameters after a few SGD steps. The GPU sums each product in order, the CPU in blocks with
/// fused multiply-adds, so gradients differ by rounding; a convolution's weight gradient sums over
/// every output pixel of the batch (43,264 rows in the authors' first layer), and batch norm
/// rescales it by the inverse of a small standard deviation. A step moves a weight by
/// `lr * grad` (~1e-4); the largest difference measured was 2.6e-5 (authors' preset, first
/// layer), so the bound is half a step.
const TRAIN_ATOL: f32 = 5e-5;
const TRAIN_RTOL: f32 = 1e-4;
/// Logits are sums over a few hundred products per layer through five layers, after the training
/// steps above (whose parameters differ by up to `TRAIN_ATOL`); in the authors' preset four batch
/// norms take the statistics of an evaluation batch of a few examples and divide by their small
/// standard deviations (measured: 1.2e-4 on a logit of 0.04, with in-order sums on both sides
/// the two agreed within 1e-4).
const LOGIT_ATOL: f32 = 5e-4;
const LOGIT_RTOL: f32 = 1e-4;

fn assert_params_close(what: &str, gpu: &LenetParams, cpu: &LenetParams) {
    assert_eq!(gpu.layers.len(), cpu.layers.len());
    for (l, (g, c)) in gpu.layers.iter().zip(&cpu.layers).enumerate() {
        assert_parity(&format!("{what}: layer {l} weights"), &g.w, &c.w, TRAIN_ATOL, TRAIN_RTOL);
        assert_parity(&format!("{what}: layer {l} biases"), &g.b, &c.b, TRAIN_ATOL, TRAIN_RTOL);
    }
}

fn assert_stats_close(what: &str, gpu: BatchStats, cpu: BatchStats) {
    assert_eq!((gpu.correct, gpu.count), (cpu.correct, cpu.count), "{what}: correct and count");
    assert_parity(&format!("{what} loss sum"), &[gpu.loss_sum], &[cpu.loss_sum], 1e-4, 1e-4);
}

/// How the two networks' parameters are kept for comparison.
#[derive(Clone, Copy, PartialEq)]
enum Run {
    /// Each backend trains on its own parameters: rounding differences compound, so this needs a
    /// network whose steps do not amplify them (the classic one).
    Free,
    /// Before every step the GPU loads the CPU's parameters, so each step is compared from the
    /// same point (momentum still carries over on each backend). The authors' network at small
    /// batches needs this: batch norm over 4 examples and dropout 0.7 make a step amplify a 2e-7
    /// relative change in the weights into differences of 1e-2 and more, on the CPU alone
    /// (measured by training the CPU reference twice, once with perturbed weights), so a
    /// free-running comparison would measure that chaos rather than the kernels.
    Synced,
}

/// `steps` training steps on both backends, comparing parameters after each, then statistics,
/// factors and evaluation logits.
fn train_both(cfg: LenetConfig, steps: u64, run: Run) {
    let Some(ctx) = gpu() else { return };
    let what = format!("{} {}", cfg.arch.name(), cfg.variant());
    let (mut cpu, mut gpu) = both(ctx, &cfg, 3);
    assert_eq!(block(gpu.last_factors()), Vec::<Vec<f32>>::new(), "{what}: no factors before a step");
    let sync = |cpu: &mut Lenet, gpu: &mut Lenet| {
        if run == Run::Synced {
            gpu.load_params(&block(cpu.params()));
        }
    };
    for step in 0..steps {
        sync(&mut cpu, &mut gpu);
        let (x, y) = batch_of(cfg.batch, 100 + step);
        let seed = 1000 + step as u32;
        cpu.train_step(&x, &y, seed).unwrap();
        gpu.train_step(&x, &y, seed).unwrap();
        assert_params_close(&format!("{what}, step {}", step + 1), &block(gpu.params()), &block(cpu.params()));
        let (gf, cf) = (block(gpu.last_factors()), block(cpu.last_factors()));
        assert_eq!(gf.len(), cf.len(), "{what}: one factor vector per convolution under amp, none otherwise");
        for (l, (g, c)) in gf.iter().zip(&cf).enumerate() {
            assert_parity(&format!("{what}, step {}: factors of convolution {l}", step + 1), g, c, 1e-5, 1e-5);
        }
    }
    assert_stats_close(&format!("{what}: train stats"), block(gpu.take_train_stats()), block(cpu.take_train_stats()));
    assert_eq!(block(gpu.take_train_stats()), BatchStats::default(), "{what}: taking the stats zeroes them");
    // Evaluation at the training batch size and at another, the latter twice so its cached
    // buffers are reused.
    sync(&mut cpu, &mut gpu);
    for (size, seed) in [(cfg.batch, 200), (3, 201), (3, 202)] {
        let (x, _) = batch_of(size, seed);
        let (g, c) = (block(gpu.logits(&x)), block(cpu.logits(&x)));
        assert_parity(&format!("{what}: logits of {size}"), &g, &c, LOGIT_ATOL, LOGIT_RTOL);
    }
    // Evaluation must not touch training state.
    let (x, y) = batch_of(cfg.batch, 300);
    sync(&mut cpu, &mut gpu);
    cpu.train_step(&x, &y, 7).unwrap();
    gpu.train_step(&x, &y, 7).unwrap();
    assert_params_close(&format!("{what}, after evaluation and a step"), &block(gpu.params()), &block(cpu.params()));
}

fn config(arch: Arch, batch: usize) -> LenetConfig {
    LenetConfig { batch, ..LenetConfig::authors_sgd(arch) }
}

#[test]
fn classic_standard_steps_match_cpu() {
    train_both(config(Arch::Classic, 4), 3, Run::Free);
}

#[test]
fn classic_amp_steps_match_cpu() {
    train_both(config(Arch::Classic, 4).with_amp(2.0, FactorSource::LayerInput), 3, Run::Free);
}

/// The paper's average pooling in place of the presets' max, with the metaplastic rule.
#[test]
fn classic_average_pooling_amp_steps_match_cpu() {
    let cfg = LenetConfig { pool: metaplastic::nn::PoolKind::Average, ..config(Arch::Classic, 4) };
    train_both(cfg.with_amp(2.0, FactorSource::LayerInput), 3, Run::Free);
}

/// The centred energy: each convolution's running mean moves every step on both backends.
#[test]
fn classic_amp_centred_steps_match_cpu() {
    train_both(config(Arch::Classic, 4).with_amp(2.0, FactorSource::LayerInput).with_amp_energy(AmpEnergy::Centred), 3, Run::Free);
}

/// Batch norm on batch statistics and dropout with the CPU's masks.
#[test]
fn authors_standard_steps_match_cpu() {
    train_both(config(Arch::Authors, 4), 3, Run::Synced);
}

#[test]
fn authors_amp_steps_match_cpu() {
    train_both(config(Arch::Authors, 4).with_amp(2.0, FactorSource::NetworkInput), 3, Run::Synced);
}

#[test]
fn another_training_batch_size_matches_cpu() {
    let Some(ctx) = gpu() else { return };
    let cfg = config(Arch::Classic, 4).with_amp(2.0, FactorSource::LayerInput);
    let (mut cpu, mut gpu) = both(ctx, &cfg, 4);
    // A short last batch of an epoch, then the configured size again.
    for (size, seed) in [(3, 400), (4, 401)] {
        let (x, y) = batch_of(size, seed);
        cpu.train_step(&x, &y, seed as u32).unwrap();
        gpu.train_step(&x, &y, seed as u32).unwrap();
    }
    assert_params_close("batch 3 then 4", &block(gpu.params()), &block(cpu.params()));
    assert_stats_close("train stats", block(gpu.take_train_stats()), block(cpu.take_train_stats()));
}

#[test]
fn load_params_round_trips() {
    let Some(ctx) = gpu() else { return };
    let cfg = config(Arch::Authors, 2);
    let (_, mut gpu) = both(ctx, &cfg, 5);
    let other = LenetParams::init(cfg.arch, 6);
    gpu.load_params(&other);
    assert_eq!(block(gpu.params()), other);
}

#[test]
fn bad_input_is_an_error_not_a_panic() {
    let Some(ctx) = gpu() else { return };
    let cfg = config(Arch::Classic, 2);
    let (_, mut gpu) = both(ctx, &cfg, 7);
    let (x, mut y) = batch_of(2, 1);
    let config_error = |r: Result<(), TrainError>| matches!(r, Err(TrainError::Config(_)));
    assert!(config_error(gpu.train_step(&x[..100], &y, 0)), "short images");
    assert!(config_error(gpu.train_step(&[], &[], 0)), "empty batch");
    y[1] = 10;
    assert!(config_error(gpu.train_step(&x, &y, 0)), "label 10");
    assert!(matches!(pollster::block_on(gpu.logits(&x[..783])), Err(TrainError::Config(_))), "partial image");
    assert!(matches!(pollster::block_on(gpu.logits(&[])), Err(TrainError::Config(_))), "no image");
    // A batch too large for one storage buffer on this device is refused, not a wgpu panic.
    let huge = vec![0.0; 784 * 100_000];
    assert!(matches!(pollster::block_on(gpu.logits(&huge)), Err(TrainError::Config(_))), "a batch beyond the device's limits");
}

#[test]
fn parameters_of_the_wrong_shape_are_refused() {
    let Some(ctx) = gpu() else { return };
    let params = LenetParams::init(Arch::Authors, 1);
    let result = GpuLenet::new(Rc::new(ctx), config(Arch::Classic, 2), params);
    assert!(matches!(result, Err(TrainError::Config(_))));
}

#[test]
fn a_lost_device_is_reported() {
    let Some(ctx) = gpu() else { return };
    let cfg = config(Arch::Classic, 2).with_amp(2.0, FactorSource::LayerInput);
    let ctx = Rc::new(ctx);
    let mut gpu = GpuLenet::new(ctx.clone(), cfg.clone(), LenetParams::init(cfg.arch, 1)).unwrap();
    ctx.device.destroy();
    let _ = ctx.wait();
    let (x, y) = batch_of(2, 1);
    let lost = |r: Result<(), TrainError>| matches!(r, Err(TrainError::Device(DeviceError::Lost(_))));
    assert!(lost(gpu.train_step(&x, &y, 0)));
    assert!(lost(pollster::block_on(gpu.logits(&x)).map(drop)));
    assert!(lost(pollster::block_on(gpu.params()).map(drop)));
    assert!(lost(pollster::block_on(gpu.last_factors()).map(drop)));
    assert!(lost(pollster::block_on(gpu.take_train_stats()).map(drop)));
    assert!(lost(GpuLenet::new(ctx.clone(), cfg.clone(), LenetParams::init(cfg.arch, 1)).map(drop)));
}
