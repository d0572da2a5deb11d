//! The binarized network's kernels and the whole GPU trainer against the CPU reference, on
//! whatever adapter wgpu finds. Every comparison states `|gpu - cpu| <= atol + rtol * |cpu|`:
//!
//! - sign, binarize, straight-through backward: exact (they select, they do not round).
//! - XNOR and popcount: the packed signs bit for bit, the product exactly the float product of
//!   +-1 values (an integer below 2^24, which any order of adding gives exactly).
//! - EWC kernels: 1e-6 / 1e-6 (one or two roundings; the GPU may fuse a multiply-add).
//! - metaplastic Adam over 5 steps: 1e-6 / 1e-6 on `Wh`, `m1`, `m2` (sqrt, tanh and division may
//!   differ by an ulp or two on the GPU; the update itself is about `lr`, so 1e-6 is ~1e-4 of it).
//! - batch norm: 1e-4 / 1e-4 (the same summation order; sqrt and division differ by ulps, and `dx`
//!   subtracts sums of a batch's terms, which cancels).
//! - softmax cross-entropy: 1e-5 / 1e-5 (GPU `exp`/`log` are not correctly rounded).
//! - whole training steps: see `training_steps_match_cpu`.

mod common;
use metaplastic::nn::AdamHyper;
use common::*;
use metaplastic::cpu::batchnorm::{batchnorm_backward, batchnorm_backward_groups, batchnorm_forward, batchnorm_forward_groups, batchnorm_inference, batchnorm_inference_backward, batchnorm_track};
use metaplastic::cpu::bnn::CpuBnn;
use metaplastic::cpu::ewc::{ewc_consolidate, ewc_penalty_grad};
use metaplastic::cpu::metaplastic_adam::metaplastic_adam;
use metaplastic::cpu::sign::{binarize_all, sign_backward};
use metaplastic::cpu::softmax_ce::softmax_cross_entropy;
use metaplastic::gpu::batchnorm::BatchNormKernel;
use metaplastic::gpu::bnn::GpuBnn;
use metaplastic::gpu::ewc::EwcKernel;
use metaplastic::gpu::metaplastic_adam::AdamKernel;
use metaplastic::gpu::sign::SignKernel;
use metaplastic::gpu::xnor::{XnorKernel, words_per_row};
use metaplastic::cpu::matmul::matmul;
use metaplastic::cpu::xnor::PackedSigns;
use metaplastic::nn::MatmulShape;
use metaplastic::gpu::softmax_ce::{ROW_STATS_WORDS, STATS_WORDS, SoftmaxCeKernel, decode_stats};
use metaplastic::gpu::{GpuContext, GpuTensor};
use metaplastic::model::bnn::{BnnConfig, BnnParams, BnnTrainer, LAYERS};
use metaplastic::nn::{BatchStats, TrainError};
use std::rc::Rc;

// ---- sign.wgsl ----

#[test]
fn binarize_matches_cpu() {
    let Some(ctx) = gpu() else { return };
    let kernel = SignKernel::new(&ctx);
    // Exact zeros of both signs: sign(0) = sign(-0) = +1 on both.
    let mut w = scaled(70_001, 1, 0.05);
    w[..4].copy_from_slice(&[0.0, -0.0, 1e-30, -1e-30]);
    let mut want = vec![0.0; w.len()];
    binarize_all(&w, &mut want);
    let (gw, gout) = (GpuTensor::from_slice(&ctx, &w), GpuTensor::zeros(&ctx, w.len()));
    run(&ctx, |e| kernel.bind_binarize(&ctx, &gw, &gout).encode(e));
    assert_parity("binarize", &read(&ctx, &gout), &want, 0.0, 0.0);
}

#[test]
fn sign_forward_matches_cpu() {
    let Some(ctx) = gpu() else { return };
    let kernel = SignKernel::new(&ctx);
    let mut z = scaled(1_002, 2, 3.0);
    z[0] = 0.0;
    let mut want = vec![0.0; z.len()];
    binarize_all(&z, &mut want);
    let (gz, gh) = (GpuTensor::from_slice(&ctx, &z), GpuTensor::zeros(&ctx, z.len()));
    run(&ctx, |e| kernel.bind_forward(&ctx, &gz, &gh).encode(e));
    assert_parity("sign forward", &read(&ctx, &gh), &want, 0.0, 0.0);
}

#[test]
fn sign_backward_matches_cpu() {
    let Some(ctx) = gpu() else { return };
    let kernel = SignKernel::new(&ctx);
    // |z| up to 2 so about half the gradients pass; the edges |z| = 1 pass.
    let mut z = scaled(3_001, 3, 2.0);
    z[..3].copy_from_slice(&[1.0, -1.0, 1.0000001]);
    let dh = values(z.len(), 4);
    let mut want = vec![0.0; z.len()];
    sign_backward(&z, &dh, &mut want);
    let (gz, gdh, gdz) = (GpuTensor::from_slice(&ctx, &z), GpuTensor::from_slice(&ctx, &dh), GpuTensor::zeros(&ctx, z.len()));
    run(&ctx, |e| kernel.bind_backward(&ctx, &gz, &gdh, &gdz).encode(e));
    assert_parity("sign backward", &read(&ctx, &gdz), &want, 0.0, 0.0);
}

/// A layer of 4096 x 4096 weights is more than 65535 workgroups of 256 would cover without the
/// grid-stride loop; this checks the loop with a length past that bound.
#[test]
fn binarize_covers_arrays_longer_than_one_dispatch() {
    let Some(ctx) = gpu() else { return };
    let kernel = SignKernel::new(&ctx);
    let n = 65535 * 256 + 1000;
    let w: Vec<f32> = (0..n).map(|i| if i % 3 == 0 { -1.0 } else { 0.5 }).collect();
    let mut want = vec![0.0; n];
    binarize_all(&w, &mut want);
    let (gw, gout) = (GpuTensor::from_slice(&ctx, &w), GpuTensor::zeros(&ctx, n));
    run(&ctx, |e| kernel.bind_binarize(&ctx, &gw, &gout).encode(e));
    assert_parity("binarize, long", &read(&ctx, &gout), &want, 0.0, 0.0);
}

// ---- xnor.wgsl ----

/// +-1 values, as a sign layer leaves them.
fn signs_of(n: usize, seed: u64) -> Vec<f32> {
    values(n, seed).iter().map(|&x| if x < 0.0 { -1.0 } else { 1.0 }).collect()
}

#[test]
fn xnor_pack_matches_cpu() {
    let Some(ctx) = gpu() else { return };
    let kernel = XnorKernel::new(&ctx);
    // Rows that end mid-word, exactly on a word, and past one word into the second.
    for (rows, len) in [(3, 5), (4, 64), (7, 1000), (2, 33)] {
        let mut v = scaled(rows * len, 7, 1.0);
        v[..2].copy_from_slice(&[0.0, -0.0]);
        let mut want = PackedSigns::default();
        want.pack(&v, rows, len);
        let words = words_per_row(len);
        let (gv, gbits) = (GpuTensor::from_slice(&ctx, &v), GpuTensor::zeros(&ctx, rows * words));
        run(&ctx, |e| kernel.bind_pack(&ctx, &gv, rows, len, &gbits).encode(e));
        let got: Vec<u32> = read(&ctx, &gbits).iter().map(|f| f.to_bits()).collect();
        // The CPU packs 64 to a word: its word w holds our words 2w (low bits) and 2w + 1.
        let want: Vec<u32> = want
            .words
            .chunks_exact(want.words_per_row())
            .flat_map(|row| row.iter().flat_map(|&w| [w as u32, (w >> 32) as u32]).take(words).collect::<Vec<_>>())
            .collect();
        assert_eq!(got, want, "packed signs of {rows} x {len}");
    }
}

#[test]
fn xnor_product_equals_the_float_product() {
    let Some(ctx) = gpu() else { return };
    let kernel = XnorKernel::new(&ctx);
    // Batches and outputs that end inside a block of 4, lengths inside a word and across several;
    // bnn-1024's hidden layer, and its last.
    for (batch, len, outs) in [(5, 37, 6), (3, 32, 4), (13, 200, 9), (100, 1024, 1024), (100, 1024, 10)] {
        let (x, mut w) = (signs_of(batch * len, 3), scaled(outs * len, 4, 0.05));
        // Weights of both zero signs count as +1 (sign(0) = +1), as binarize makes them.
        w[..2].copy_from_slice(&[0.0, -0.0]);
        let mut wb = vec![0.0; w.len()];
        binarize_all(&w, &mut wb);
        let mut want = vec![0.0; batch * outs];
        matmul(MatmulShape::new(batch, len, outs).trans_b(), &x, &wb, &mut want);
        let words = words_per_row(len);
        let (gx, gw, gy) = (GpuTensor::from_slice(&ctx, &x), GpuTensor::from_slice(&ctx, &w), GpuTensor::zeros(&ctx, batch * outs));
        let (xb, wbits) = (GpuTensor::zeros(&ctx, batch * words), GpuTensor::zeros(&ctx, outs * words));
        run(&ctx, |e| {
            kernel.bind_pack(&ctx, &gx, batch, len, &xb).encode(e);
            kernel.bind_pack(&ctx, &gw, outs, len, &wbits).encode(e);
            kernel.bind_product(&ctx, &xb, &wbits, batch, len, outs, &gy).encode(e);
        });
        assert_parity(&format!("xnor product {batch} x {len} x {outs}"), &read(&ctx, &gy), &want, 0.0, 0.0);
    }
}

// ---- batchnorm.wgsl ----

#[test]
fn batchnorm_forward_matches_cpu() {
    let Some(ctx) = gpu() else { return };
    let kernel = BatchNormKernel::new(&ctx);
    // The last case is the autoencoder's: ten steps of an episode as groups with their own statistics.
    for (batch, features, groups) in [(2, 3, 1), (32, 64, 1), (100, 70, 1), (1000, 10, 1), (48, 16, 10)] {
        // Pre-activations of a binary layer: sums of ±1 · inputs, offset so the mean matters.
        let x: Vec<f32> = values(groups * batch * features, 10).iter().enumerate().map(|(i, v)| 20.0 * v + 3.0 + (i / (batch * features)) as f32).collect();
        let gamma: Vec<f32> = values(features, 11).iter().map(|v| 1.0 + 0.5 * v).collect();
        let beta = scaled(features, 12, 0.3);
        let (mut y, mut xhat, mut inv_std) = (vec![0.0; x.len()], vec![0.0; x.len()], vec![0.0; groups * features]);
        batchnorm_forward_groups(&x, features, groups, &gamma, &beta, &mut y, &mut xhat, &mut inv_std);
        if groups == 1 {
            // One group is the plain batch norm.
            let (mut y1, mut xhat1, mut inv1) = (vec![0.0; x.len()], vec![0.0; x.len()], vec![0.0; features]);
            batchnorm_forward(&x, features, &gamma, &beta, &mut y1, &mut xhat1, &mut inv1);
            assert!(y1 == y && xhat1 == xhat && inv1 == inv_std, "one group is batchnorm_forward");
        }
        let t = |v: &[f32]| GpuTensor::from_slice(&ctx, v);
        let (gx, gg, gb) = (t(&x), t(&gamma), t(&beta));
        let (gy, gxhat, ginv) = (GpuTensor::zeros(&ctx, x.len()), GpuTensor::zeros(&ctx, x.len()), GpuTensor::zeros(&ctx, groups * features));
        run(&ctx, |e| kernel.bind_forward(&ctx, features, groups, &gx, &gg, &gb, &gy, &gxhat, &ginv).encode(e));
        let what = format!("{groups} x batch {batch} x {features}");
        assert_parity(&format!("{what} y"), &read(&ctx, &gy), &y, 1e-4, 1e-4);
        assert_parity(&format!("{what} xhat"), &read(&ctx, &gxhat), &xhat, 1e-4, 1e-4);
        assert_parity(&format!("{what} inv_std"), &read(&ctx, &ginv), &inv_std, 1e-4, 1e-4);
    }
}

#[test]
fn batchnorm_backward_matches_cpu() {
    let Some(ctx) = gpu() else { return };
    let kernel = BatchNormKernel::new(&ctx);
    for (batch, features, groups) in [(2, 3, 1), (32, 64, 1), (100, 70, 1), (1000, 10, 1), (48, 16, 10)] {
        let x: Vec<f32> = values(groups * batch * features, 20).iter().map(|v| 20.0 * v + 3.0).collect();
        let gamma: Vec<f32> = values(features, 21).iter().map(|v| 1.0 + 0.5 * v).collect();
        let beta = scaled(features, 22, 0.3);
        let (mut y, mut xhat, mut inv_std) = (vec![0.0; x.len()], vec![0.0; x.len()], vec![0.0; groups * features]);
        batchnorm_forward_groups(&x, features, groups, &gamma, &beta, &mut y, &mut xhat, &mut inv_std);
        // Gradients of the size softmax cross-entropy gives: about 1/batch.
        let dy = scaled(x.len(), 23, 1.0 / batch as f32);
        let (mut dx, mut dgamma, mut dbeta) = (vec![0.0; x.len()], vec![0.0; features], vec![0.0; features]);
        batchnorm_backward_groups(&dy, &xhat, &inv_std, &gamma, features, &mut dx, &mut dgamma, &mut dbeta);
        if groups == 1 {
            let (mut dx1, mut dg1, mut db1) = (vec![0.0; x.len()], vec![0.0; features], vec![0.0; features]);
            batchnorm_backward(&dy, &xhat, &inv_std, &gamma, features, &mut dx1, &mut dg1, &mut db1);
            assert!(dx1 == dx && dg1 == dgamma && db1 == dbeta, "one group is batchnorm_backward");
        }
        // The GPU gets the CPU's saved xhat and inv_std, so this checks the backward kernel alone.
        let t = |v: &[f32]| GpuTensor::from_slice(&ctx, v);
        let (gdy, gxhat, ginv, gg) = (t(&dy), t(&xhat), t(&inv_std), t(&gamma));
        let (gdx, gdg, gdb) = (GpuTensor::zeros(&ctx, x.len()), GpuTensor::zeros(&ctx, features), GpuTensor::zeros(&ctx, features));
        run(&ctx, |e| kernel.bind_backward(&ctx, features, groups, &gdy, &gxhat, &ginv, &gg, &gdx, &gdg, &gdb, false).encode(e));
        let what = format!("{groups} x batch {batch} x {features}");
        // dx is about inv_std * dy (~1e-3 here): an absolute 1e-6 is ~1e-3 of it.
        assert_parity(&format!("{what} dx"), &read(&ctx, &gdx), &dx, 1e-6, 1e-4);
        assert_parity(&format!("{what} dgamma"), &read(&ctx, &gdg), &dgamma, 1e-5, 1e-4);
        assert_parity(&format!("{what} dbeta"), &read(&ctx, &gdb), &dbeta, 1e-5, 1e-4);
        // Accumulating (the autoencoder sums a stage's gradients over an episode's steps): the
        // same sums added to what the buffers held.
        let (g0, b0) = (scaled(features, 24, 1.0), scaled(features, 25, 1.0));
        let (gdg, gdb) = (t(&g0), t(&b0));
        run(&ctx, |e| kernel.bind_backward(&ctx, features, groups, &gdy, &gxhat, &ginv, &gg, &gdx, &gdg, &gdb, true).encode(e));
        let plus = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| x + y).collect::<Vec<f32>>();
        assert_parity(&format!("{what} dgamma accumulated"), &read(&ctx, &gdg), &plus(&g0, &dgamma), 1e-5, 1e-4);
        assert_parity(&format!("{what} dbeta accumulated"), &read(&ctx, &gdb), &plus(&b0, &dbeta), 1e-5, 1e-4);
        assert_parity(&format!("{what} dx when accumulating"), &read(&ctx, &gdx), &dx, 1e-6, 1e-4);
    }
}

/// Running statistics: the same sums in the same order, then one multiply-add each (1e-5 / 1e-5,
/// the forward pass's rounding of the mean and variance).
#[test]
fn batchnorm_running_statistics_match_cpu() {
    let Some(ctx) = gpu() else { return };
    let kernel = BatchNormKernel::new(&ctx);
    for (batch, features) in [(2, 3), (100, 70), (1000, 10)] {
        let x: Vec<f32> = values(batch * features, 30).iter().map(|v| 20.0 * v + 3.0).collect();
        let (mut rm, mut rv) = (scaled(features, 31, 0.5), values(features, 32).iter().map(|v| 1.0 + v.abs()).collect::<Vec<f32>>());
        let t = |v: &[f32]| GpuTensor::from_slice(&ctx, v);
        let (gx, grm, grv) = (t(&x), t(&rm), t(&rv));
        batchnorm_track(&x, features, &mut rm, &mut rv);
        run(&ctx, |e| kernel.bind_track(&ctx, features, &gx, &grm, &grv).encode(e));
        let what = format!("batch {batch} x {features}");
        assert_parity(&format!("{what} running mean"), &read(&ctx, &grm), &rm, 1e-5, 1e-5);
        assert_parity(&format!("{what} running var"), &read(&ctx, &grv), &rv, 1e-5, 1e-5);
    }
}

/// Inference on running statistics, forward and backward: element-wise but for the per-feature
/// sums of dgamma and dbeta (1e-5 / 1e-4, as batch norm's).
#[test]
fn batchnorm_inference_matches_cpu() {
    let Some(ctx) = gpu() else { return };
    let kernel = BatchNormKernel::new(&ctx);
    for (batch, features) in [(1, 5), (37, 64), (1000, 10)] {
        let x: Vec<f32> = values(batch * features, 40).iter().map(|v| 20.0 * v + 3.0).collect();
        let gamma: Vec<f32> = values(features, 41).iter().map(|v| 1.0 + 0.5 * v).collect();
        let beta = scaled(features, 42, 0.3);
        let mean = scaled(features, 43, 5.0);
        let var: Vec<f32> = values(features, 44).iter().map(|v| 50.0 * (1.0 + v)).collect();
        let (mut y, mut xhat, mut inv_std) = (vec![0.0; x.len()], vec![0.0; x.len()], vec![0.0; features]);
        batchnorm_inference(&x, features, &gamma, &beta, &mean, &var, &mut y, &mut xhat, &mut inv_std);
        let dy = scaled(x.len(), 45, 1.0);
        let (mut dx, mut dgamma, mut dbeta) = (vec![0.0; x.len()], vec![0.0; features], vec![0.0; features]);
        batchnorm_inference_backward(&dy, &xhat, &inv_std, &gamma, features, &mut dx, &mut dgamma, &mut dbeta);
        let t = |v: &[f32]| GpuTensor::from_slice(&ctx, v);
        let z = |n: usize| GpuTensor::zeros(&ctx, n);
        let (gx, gg, gb, gm, gv, gdy) = (t(&x), t(&gamma), t(&beta), t(&mean), t(&var), t(&dy));
        let (gy, gxhat, ginv, gdx, gdg, gdb) = (z(x.len()), z(x.len()), z(features), z(x.len()), z(features), z(features));
        run(&ctx, |e| {
            kernel.bind_inference(&ctx, features, &gx, &gg, &gb, (&gm, &gv), &gy, &gxhat, &ginv).encode(e);
            kernel.bind_inference_backward(&ctx, features, &gdy, &gxhat, &ginv, &gg, &gdx, &gdg, &gdb, false).encode(e);
        });
        let what = format!("batch {batch} x {features}");
        assert_parity(&format!("{what} y"), &read(&ctx, &gy), &y, 1e-5, 1e-5);
        assert_parity(&format!("{what} inv_std"), &read(&ctx, &ginv), &inv_std, 1e-6, 1e-6);
        assert_parity(&format!("{what} dx"), &read(&ctx, &gdx), &dx, 1e-6, 1e-5);
        assert_parity(&format!("{what} dgamma"), &read(&ctx, &gdg), &dgamma, 1e-5, 1e-4);
        assert_parity(&format!("{what} dbeta"), &read(&ctx, &gdb), &dbeta, 1e-5, 1e-4);
    }
}

// ---- softmax_ce.wgsl ----

/// Logits with exact ties in some rows (the first maximum must win) and labels 0..classes.
fn logits_and_labels(batch: usize, classes: usize, seed: u64) -> (Vec<f32>, Vec<u32>) {
    let mut logits = scaled(batch * classes, seed, 4.0);
    for b in (0..batch).step_by(5) {
        let row = &mut logits[b * classes..(b + 1) * classes];
        let (i, j) = (b % classes, (b * 7 + 3) % classes);
        row[i] = 9.0;
        row[j] = 9.0;
    }
    let labels = (0..batch).map(|b| ((b * 3 + seed as usize) % classes) as u32).collect();
    (logits, labels)
}

#[test]
fn softmax_rows_match_cpu() {
    let Some(ctx) = gpu() else { return };
    let kernel = SoftmaxCeKernel::new(&ctx);
    for (batch, classes) in [(1, 10), (32, 10), (100, 10), (257, 3)] {
        let (logits, labels) = logits_and_labels(batch, classes, 30);
        let mut dlogits = vec![0.0; logits.len()];
        softmax_cross_entropy(&logits, &labels, classes, &mut dlogits);
        // Per row, from the CPU function on that row alone (its loss sum is then one row's).
        let mut want_rows = Vec::new();
        for b in 0..batch {
            let mut d = vec![0.0; classes];
            let (loss, correct) = softmax_cross_entropy(&logits[b * classes..(b + 1) * classes], &labels[b..b + 1], classes, &mut d);
            want_rows.extend([loss, correct as f32]);
        }
        let glogits = GpuTensor::from_slice(&ctx, &logits);
        let glabels = GpuTensor::zeros(&ctx, batch);
        glabels.write_u32(&ctx, &labels);
        let (gd, grows) = (GpuTensor::zeros(&ctx, logits.len()), GpuTensor::zeros(&ctx, batch * ROW_STATS_WORDS));
        run(&ctx, |e| kernel.bind_rows(&ctx, classes, &glogits, &glabels, &gd, &grows).encode(e));
        let what = format!("batch {batch} x {classes}");
        assert_parity(&format!("{what} dlogits"), &read(&ctx, &gd), &dlogits, 1e-5, 1e-5);
        let rows = read(&ctx, &grows);
        let (got_loss, want_loss): (Vec<f32>, Vec<f32>) = (rows.iter().step_by(2).copied().collect(), want_rows.iter().step_by(2).copied().collect());
        assert_parity(&format!("{what} row loss"), &got_loss, &want_loss, 1e-5, 1e-5);
        let (got_ok, want_ok): (Vec<f32>, Vec<f32>) = (rows.iter().skip(1).step_by(2).copied().collect(), want_rows.iter().skip(1).step_by(2).copied().collect());
        assert_eq!(got_ok, want_ok, "{what}: correctness per row (first maximum wins ties)");
    }
}

#[test]
fn softmax_accumulate_adds_batches_into_persistent_stats() {
    let Some(ctx) = gpu() else { return };
    let kernel = SoftmaxCeKernel::new(&ctx);
    let (batch, classes) = (100, 10);
    let stats = GpuTensor::zeros(&ctx, STATS_WORDS);
    let mut want = BatchStats::default();
    for seed in [40, 41, 42] {
        let (logits, labels) = logits_and_labels(batch, classes, seed);
        let mut d = vec![0.0; logits.len()];
        let (loss, correct) = softmax_cross_entropy(&logits, &labels, classes, &mut d);
        want.add(BatchStats { loss_sum: loss, correct, count: batch as u32 });
        let glogits = GpuTensor::from_slice(&ctx, &logits);
        let glabels = GpuTensor::zeros(&ctx, batch);
        glabels.write_u32(&ctx, &labels);
        let (gd, grows) = (GpuTensor::zeros(&ctx, logits.len()), GpuTensor::zeros(&ctx, batch * ROW_STATS_WORDS));
        run(&ctx, |e| {
            kernel.bind_rows(&ctx, classes, &glogits, &glabels, &gd, &grows).encode(e);
            kernel.bind_accumulate(&ctx, &grows, &stats).encode(e);
        });
    }
    let got = decode_stats(&read(&ctx, &stats));
    assert_eq!((got.correct, got.count), (want.correct, want.count));
    assert_parity("loss sum", &[got.loss_sum], &[want.loss_sum], 1e-5, 1e-5);
}

// ---- metaplastic_adam.wgsl ----

#[test]
fn metaplastic_adam_matches_cpu_over_steps() {
    let Some(ctx) = gpu() else { return };
    let kernel = AdamKernel::new(&ctx);
    // Not a multiple of 4: the kernel's last vec4 runs into the buffer's padding.
    let n = 5_001;
    for meta in [0.0, 1.35, 5.0] {
        // Weights of both signs and sizes (|Wh| up to 2, where tanh(5|Wh|) saturates), exact
        // zeros of both signs, and gradients of both signs so sign(Wh) * m1 > 0 and <= 0 both occur.
        let mut w = scaled(n, 50, 2.0);
        w[..2].copy_from_slice(&[0.0, -0.0]);
        let (mut m1, mut m2) = (vec![0.0; n], vec![0.0; n]);
        let gw = GpuTensor::from_slice(&ctx, &w);
        let gg = GpuTensor::zeros(&ctx, n);
        let (gm1, gm2) = (GpuTensor::zeros(&ctx, n), GpuTensor::zeros(&ctx, n));
        let base = AdamHyper::new(0.005, meta, 1e-7);
        let call = kernel.bind(&ctx, &gw, &gg, &gm1, &gm2, &base.at_step(1));
        let (mut shrinking, mut growing) = (0, 0);
        for (t, grad_seed) in (1..=5).zip(60..) {
            let grad = scaled(n, grad_seed, 1e-2);
            let h = base.at_step(t);
            metaplastic_adam(&mut w, &grad, &mut m1, &mut m2, &h);
            for i in 0..n {
                if w[i].signum() * m1[i] > 0.0 { shrinking += 1 } else { growing += 1 }
            }
            gg.write(&ctx, &grad);
            call.set_hyper(&ctx, &h);
            run(&ctx, |e| call.encode(e));
            let what = format!("m {meta} step {t}");
            assert_parity(&format!("{what} Wh"), &read(&ctx, &gw), &w, 1e-6, 1e-6);
            assert_parity(&format!("{what} m1"), &read(&ctx, &gm1), &m1, 1e-6, 1e-6);
            assert_parity(&format!("{what} m2"), &read(&ctx, &gm2), &m2, 1e-6, 1e-6);
        }
        assert!(shrinking > n && growing > n, "both branches exercised: {shrinking} shrinking, {growing} growing");
    }
}

// ---- ewc.wgsl ----

#[test]
fn ewc_penalty_grad_matches_cpu() {
    let Some(ctx) = gpu() else { return };
    let kernel = EwcKernel::new(&ctx);
    let n = 10_007;
    let w = scaled(n, 70, 0.1);
    let fisher: Vec<f32> = values(n, 71).iter().map(|v| 1e-4 * (v + 1.0)).collect();
    let anchor: Vec<f32> = fisher.iter().zip(scaled(n, 72, 0.1)).map(|(f, w0)| f * w0).collect();
    let grad0 = scaled(n, 73, 1e-3);
    // On the hidden weights and on the binary ones the forward pass uses.
    for binary in [false, true] {
        let mut want = grad0.clone();
        ewc_penalty_grad(&w, &fisher, &anchor, 5e3, binary, &mut want);
        let t = |v: &[f32]| GpuTensor::from_slice(&ctx, v);
        let (gw, gf, ga, gg) = (t(&w), t(&fisher), t(&anchor), t(&grad0));
        run(&ctx, |e| kernel.bind_penalty_grad(&ctx, 5e3, binary, &gw, &gf, &ga, &gg).encode(e));
        assert_parity(&format!("penalty grad, binary {binary}"), &read(&ctx, &gg), &want, 1e-6, 1e-6);
    }
}

/// The squares of the per-example Fisher estimate and consolidation: one or two roundings each
/// (1e-9 absolute for values ~1e-4, 1e-6 relative).
#[test]
fn ewc_squares_and_consolidation_match_cpu() {
    let Some(ctx) = gpu() else { return };
    let kernel = EwcKernel::new(&ctx);
    let n = 10_007;
    let g = scaled(n, 80, 1e-2);
    let want: Vec<f32> = g.iter().map(|v| (32.0 * v) * (32.0 * v)).collect();
    let (gg, gsq) = (GpuTensor::from_slice(&ctx, &g), GpuTensor::zeros(&ctx, n));
    run(&ctx, |e| kernel.bind_square(&ctx, 32.0, &gg, &gsq).encode(e));
    assert_parity("squares", &read(&ctx, &gsq), &want, 1e-9, 1e-6);
    let f: Vec<f32> = values(n, 81).iter().map(|v| 0.1 * v.abs()).collect();
    let w = scaled(n, 90, 0.1);
    for binary in [false, true] {
        let mut fisher = scaled(n, 91, 1e-5).iter().map(|v| v.abs()).collect::<Vec<_>>();
        let mut anchor = scaled(n, 92, 1e-6);
        let t = |v: &[f32]| GpuTensor::from_slice(&ctx, v);
        let (gw, gf, gfisher, ganchor) = (t(&w), t(&f), t(&fisher), t(&anchor));
        ewc_consolidate(&w, &f, 1.0 / 5000.0, binary, &mut fisher, &mut anchor);
        run(&ctx, |e| kernel.bind_consolidate(&ctx, 1.0 / 5000.0, binary, &gw, &gf, &gfisher, &ganchor).encode(e));
        assert_parity(&format!("fisher sum, binary {binary}"), &read(&ctx, &gfisher), &fisher, 1e-9, 1e-6);
        assert_parity(&format!("anchor sum, binary {binary}"), &read(&ctx, &ganchor), &anchor, 1e-9, 1e-6);
    }
}

// ---- the whole trainer ----

/// A small network: sizes [784, 64, 64, 10].
fn small_config(meta: f32, batch: usize) -> BnnConfig {
    BnnConfig { batch, ..BnnConfig::authors_optimizer(64, meta) }
}

/// `batch` images in [0, 1] and labels 0..10.
fn batch_of(batch: usize, seed: u64) -> (Vec<f32>, Vec<u32>) {
    let x = values(batch * 784, seed).into_iter().map(|v| 0.5 * (v + 1.0)).collect();
    let y = (0..batch).map(|i| ((i as u64 * 7 + seed) % 10) as u32).collect();
    (x, y)
}

fn both(ctx: GpuContext, cfg: &BnnConfig, seed: u64) -> (CpuBnn, GpuBnn) {
    let params = BnnParams::init(cfg.sizes(), seed);
    let cpu = CpuBnn::new(cfg.clone(), params.clone()).unwrap();
    let gpu = GpuBnn::new(Rc::new(ctx), cfg.clone(), params).unwrap();
    (cpu, gpu)
}

/// Tolerances for parameters after a few steps.
///
/// Forward products are exact on both backends (±1 weights times ±1 or [0,1] inputs, summed in
/// the same order), so as long as no hidden weight lands on the other side of 0 the nets see the
/// same binary weights and activations, and the gradients differ by rounding only (the GPU may
/// fuse multiply-adds). Adam makes an update of about `lr` = 5e-3 whatever the gradient's size, so
/// 1e-5 absolute is 0.2% of one update: almost every element is that close.
///
/// Not all: Adam divides by `sqrt(m2) + eps` with eps = 1e-8, so where a weight's gradient
/// cancels over the batch to ~1e-8 (a few in 50 000 first-layer weights here) the update is
/// `lr * g / (|g| + eps)` and an ulp-level absolute difference in `g` (~1e-10) moves it by ~1e-5
/// to 1e-4. Such elements may be up to [`LOOSE_ATOL`] apart (20% of one update), and at most
/// [`OUTLIER_FRACTION`] of a layer's elements may use that allowance.
const PARAM_ATOL: f32 = 1e-5;
const PARAM_RTOL: f32 = 1e-4;
const LOOSE_ATOL: f32 = 1e-3;
const OUTLIER_FRACTION: f64 = 1e-3;

fn assert_layer_close(what: &str, got: &[f32], want: &[f32]) {
    // This catches NaN too, so the count below can use `>`.
    assert_parity(what, got, want, LOOSE_ATOL, 0.0);
    let outliers = got.iter().zip(want).filter(|(g, w)| (**g - **w).abs() > PARAM_ATOL + PARAM_RTOL * w.abs()).count();
    assert!(
        outliers as f64 <= OUTLIER_FRACTION * got.len() as f64,
        "{what}: {outliers} of {} elements differ by more than {PARAM_ATOL} + {PARAM_RTOL}·|cpu|",
        got.len()
    );
}

fn assert_params_close(what: &str, gpu: &BnnParams, cpu: &BnnParams) {
    for l in 0..LAYERS {
        // First the signs: one flipped binary weight and the two nets compute different functions.
        let flipped = gpu.wh[l].iter().zip(&cpu.wh[l]).filter(|(g, c)| (**g >= 0.0) != (**c >= 0.0)).count();
        assert_eq!(flipped, 0, "{what}: layer {l}: {flipped} binary weights differ");
        assert_layer_close(&format!("{what} Wh[{l}]"), &gpu.wh[l], &cpu.wh[l]);
        assert_layer_close(&format!("{what} gamma[{l}]"), &gpu.gamma[l], &cpu.gamma[l]);
        assert_layer_close(&format!("{what} beta[{l}]"), &gpu.beta[l], &cpu.beta[l]);
    }
}

fn assert_stats_close(what: &str, gpu: BatchStats, cpu: BatchStats) {
    assert_eq!((gpu.correct, gpu.count), (cpu.correct, cpu.count), "{what}: correct and count");
    assert_parity(&format!("{what} loss sum"), &[gpu.loss_sum], &[cpu.loss_sum], 1e-4, 1e-4);
}

fn block<T>(f: impl std::future::Future<Output = Result<T, TrainError>>) -> T {
    pollster::block_on(f).expect("the trainer call succeeds")
}

#[test]
fn training_steps_match_cpu() {
    let Some(ctx) = gpu() else { return };
    let cfg = small_config(1.35, 32);
    let (mut cpu, mut gpu) = both(ctx, &cfg, 7);
    assert_params_close("initial", &block(gpu.params()), &block(cpu.params()));
    for step in 0..5 {
        let (x, y) = batch_of(cfg.batch, 100 + step);
        cpu.train_step(&x, &y).unwrap();
        gpu.train_step(&x, &y).unwrap();
        assert_params_close(&format!("after step {}", step + 1), &block(gpu.params()), &block(cpu.params()));
        if step == 2 {
            assert_stats_close("train stats, steps 1-3", block(gpu.take_train_stats()), block(cpu.take_train_stats()));
        }
    }
    assert_stats_close("train stats, steps 4-5", block(gpu.take_train_stats()), block(cpu.take_train_stats()));
    assert_eq!(block(gpu.take_train_stats()), BatchStats::default(), "taking the stats zeroes them");
    // Evaluation at the training batch size, at the experiments' 1000, and at an odd size; twice
    // each, so the cached buffers are reused.
    for (size, seed) in [(32, 200), (1000, 201), (77, 202), (1000, 203)] {
        let (x, y) = batch_of(size, seed);
        let (g, c) = (block(gpu.evaluate(&x, &y)), block(cpu.evaluate(&x, &y)));
        assert_stats_close(&format!("evaluate {size}"), g, c);
    }
    // A training step after evaluation still matches (evaluation must not touch training state).
    let (x, y) = batch_of(cfg.batch, 300);
    cpu.train_step(&x, &y).unwrap();
    gpu.train_step(&x, &y).unwrap();
    assert_params_close("after evaluation and a step", &block(gpu.params()), &block(cpu.params()));
    assert_stats_close("train stats after evaluation", block(gpu.take_train_stats()), block(cpu.take_train_stats()));
}

/// The stream network's BatchNorm (no affine parameters, running statistics at evaluation): its
/// training steps, the running statistics they keep, and evaluations (a lone example included)
/// match the CPU with the tolerances above.
#[test]
fn stream_batch_norm_matches_cpu() {
    let Some(ctx) = gpu() else { return };
    let cfg = BnnConfig { norm: metaplastic::nn::Norm::STREAM, ..small_config(2.5, 32) };
    let (mut cpu, mut gpu) = both(ctx, &cfg, 18);
    for step in 0..4 {
        let (x, y) = batch_of(cfg.batch, 700 + step);
        cpu.train_step(&x, &y).unwrap();
        gpu.train_step(&x, &y).unwrap();
    }
    assert_params_close("stream BatchNorm", &block(gpu.params()), &block(cpu.params()));
    for (size, seed) in [(1, 710), (32, 711), (1000, 712)] {
        let (x, y) = batch_of(size, seed);
        assert_stats_close(&format!("evaluate {size} on running statistics"), block(gpu.evaluate(&x, &y)), block(cpu.evaluate(&x, &y)));
    }
}

#[test]
fn plain_bnn_with_another_batch_size_matches_cpu() {
    let Some(ctx) = gpu() else { return };
    let cfg = small_config(0.0, 100);
    let (mut cpu, mut gpu) = both(ctx, &cfg, 8);
    // The configured batch, then a short last batch of an epoch.
    for (size, seed) in [(100, 400), (100, 401), (37, 402), (100, 403)] {
        let (x, y) = batch_of(size, seed);
        cpu.train_step(&x, &y).unwrap();
        gpu.train_step(&x, &y).unwrap();
    }
    assert_params_close("m = 0", &block(gpu.params()), &block(cpu.params()));
    assert_stats_close("train stats", block(gpu.take_train_stats()), block(cpu.take_train_stats()));
}

#[test]
fn reset_optimizer_matches_cpu() {
    let Some(ctx) = gpu() else { return };
    let cfg = small_config(5.0, 32);
    let (mut cpu, mut gpu) = both(ctx, &cfg, 9);
    for step in 0..6 {
        if step == 3 {
            cpu.reset_optimizer();
            gpu.reset_optimizer();
        }
        let (x, y) = batch_of(cfg.batch, 500 + step);
        cpu.train_step(&x, &y).unwrap();
        gpu.train_step(&x, &y).unwrap();
    }
    assert_params_close("after a reset", &block(gpu.params()), &block(cpu.params()));
}

#[test]
fn ewc_consolidation_and_penalised_steps_match_cpu() {
    let Some(ctx) = gpu() else { return };
    let cfg = BnnConfig { ewc_lambda: 5e3, ..small_config(0.0, 32) };
    let (mut cpu, mut gpu) = both(ctx, &cfg, 10);
    let mut seed = 600;
    let mut batches = |n: usize, size: usize| -> Vec<(Vec<f32>, Vec<u32>)> {
        (0..n).map(|_| { seed += 1; batch_of(size, seed) }).collect()
    };
    // Two "tasks": train, consolidate (with batches of another size too), train against the penalty.
    for task in 0..2 {
        for (x, y) in batches(3, cfg.batch) {
            cpu.train_step(&x, &y).unwrap();
            gpu.train_step(&x, &y).unwrap();
        }
        let mut fisher_batches = batches(3, cfg.batch);
        fisher_batches.extend(batches(1, 50));
        block(cpu.consolidate_ewc(&fisher_batches));
        block(gpu.consolidate_ewc(&fisher_batches));
        cpu.reset_optimizer();
        gpu.reset_optimizer();
        for (x, y) in batches(3, cfg.batch) {
            cpu.train_step(&x, &y).unwrap();
            gpu.train_step(&x, &y).unwrap();
        }
        assert_params_close(&format!("task {task}, with the EWC penalty"), &block(gpu.params()), &block(cpu.params()));
    }
    // Consolidation does not count towards the training statistics.
    assert_stats_close("train stats", block(gpu.take_train_stats()), block(cpu.take_train_stats()));
}

/// The full-precision twin (real linear layers and ReLU) with EWC on its real weights: training
/// steps, a consolidation and penalised steps match the CPU. Its forward products round (they
/// are not sums of ±1 as in the binary network), so the same tolerances hold only because five
/// steps of Adam move each weight by about `lr` whatever a gradient's last bits.
#[test]
fn full_precision_twin_with_ewc_matches_cpu() {
    let Some(ctx) = gpu() else { return };
    let cfg = BnnConfig { weights: metaplastic::model::bnn::Weights::Full, ewc_lambda: 5e3, ..small_config(1.35, 32) };
    let (mut cpu, mut gpu) = both(ctx, &cfg, 11);
    for step in 0..3 {
        let (x, y) = batch_of(cfg.batch, 800 + step);
        cpu.train_step(&x, &y).unwrap();
        gpu.train_step(&x, &y).unwrap();
    }
    assert_params_close("full precision, 3 steps", &block(gpu.params()), &block(cpu.params()));
    let fisher: Vec<_> = (0..2).map(|i| batch_of(cfg.batch, 810 + i)).collect();
    block(cpu.consolidate_ewc(&fisher));
    block(gpu.consolidate_ewc(&fisher));
    cpu.reset_optimizer();
    gpu.reset_optimizer();
    for step in 0..2 {
        let (x, y) = batch_of(cfg.batch, 820 + step);
        cpu.train_step(&x, &y).unwrap();
        gpu.train_step(&x, &y).unwrap();
    }
    assert_params_close("full precision, with the EWC penalty", &block(gpu.params()), &block(cpu.params()));
    assert_stats_close("train stats", block(gpu.take_train_stats()), block(cpu.take_train_stats()));
    let (x, y) = batch_of(1000, 830);
    assert_stats_close("evaluate 1000", block(gpu.evaluate(&x, &y)), block(cpu.evaluate(&x, &y)));
}

#[test]
fn load_params_round_trips() {
    let Some(ctx) = gpu() else { return };
    let cfg = small_config(1.35, 32);
    let (_, mut gpu) = both(ctx, &cfg, 11);
    let other = BnnParams::init(cfg.sizes(), 12);
    gpu.load_params(&other);
    assert_eq!(block(gpu.params()), other);
}

#[test]
fn batchnorm_parameters_alone_round_trip() {
    let Some(ctx) = gpu() else { return };
    let cfg = small_config(1.35, 32);
    let (mut cpu, mut gpu) = both(ctx, &cfg, 14);
    let (x, y) = batch_of(32, 15);
    cpu.train_step(&x, &y).unwrap();
    gpu.train_step(&x, &y).unwrap();
    let trained = block(gpu.bn_params());
    let params = block(gpu.params()).bn();
    assert_eq!((&trained.gamma, &trained.beta), (&params.gamma, &params.beta), "bn_params is the BatchNorm part of params");
    // The running statistics, as the CPU tracks them.
    let (gpu_running, cpu_running) = (trained.running.expect("kept on the GPU"), block(cpu.bn_params()).running.expect("kept on the CPU"));
    for l in 0..LAYERS {
        assert_layer_close(&format!("running mean[{l}]"), &gpu_running[l].mean, &cpu_running[l].mean);
        assert_layer_close(&format!("running var[{l}]"), &gpu_running[l].var, &cpu_running[l].var);
    }
    // Restore another task's BatchNorm on both, then the nets still match.
    let mut other = BnnParams::init(cfg.sizes(), 16).bn();
    other.running = Some(std::array::from_fn(|l| metaplastic::nn::RunningStats { mean: vec![0.25; cfg.sizes()[l + 1]], var: vec![2.0; cfg.sizes()[l + 1]] }));
    block(gpu.load_bn(&other));
    block(cpu.load_bn(&other));
    assert_eq!(block(gpu.bn_params()), other);
    let (x, y) = batch_of(32, 17);
    cpu.train_step(&x, &y).unwrap();
    gpu.train_step(&x, &y).unwrap();
    assert_params_close("after load_bn and a step", &block(gpu.params()), &block(cpu.params()));
    let mut short = other.clone();
    short.gamma[1].pop();
    assert!(matches!(pollster::block_on(gpu.load_bn(&short)), Err(TrainError::Config(_))));
}

#[test]
fn bad_batches_are_errors_not_panics() {
    let Some(ctx) = gpu() else { return };
    let cfg = small_config(0.0, 32);
    let (_, mut gpu) = both(ctx, &cfg, 13);
    let (x, mut y) = batch_of(32, 1);
    assert!(matches!(gpu.train_step(&x[..100], &y), Err(TrainError::Config(_))));
    y[3] = 10;
    assert!(matches!(gpu.train_step(&x, &y), Err(TrainError::Config(_))));
    assert!(matches!(pollster::block_on(gpu.evaluate(&x, &y)), Err(TrainError::Config(_))));
}

#[test]
fn parameters_of_the_wrong_shape_are_refused() {
    let Some(ctx) = gpu() else { return };
    let cfg = small_config(0.0, 32);
    let params = BnnParams::init([784, 32, 32, 10], 1);
    assert!(matches!(GpuBnn::new(Rc::new(ctx), cfg, params), Err(TrainError::Config(_))));
}

#[test]
fn a_lost_device_is_reported() {
    let Some(ctx) = gpu() else { return };
    let cfg = small_config(0.0, 32);
    let ctx = Rc::new(ctx);
    let mut gpu = GpuBnn::new(ctx.clone(), cfg.clone(), BnnParams::init(cfg.sizes(), 1)).unwrap();
    ctx.device.destroy();
    let _ = ctx.wait();
    let (x, y) = batch_of(32, 1);
    assert!(matches!(gpu.train_step(&x, &y), Err(TrainError::Device(metaplastic::nn::DeviceError::Lost(_)))));
    assert!(matches!(pollster::block_on(gpu.evaluate(&x, &y)), Err(TrainError::Device(metaplastic::nn::DeviceError::Lost(_)))));
}

/// The logits the drawing pad asks for: on the CPU their argmax is what `evaluate` counts as
/// correct, and the GPU's match the CPU's. Forward products of ±1 weights are exact on both, so
/// the logits differ by BatchNorm's rounding only: 1e-4 absolute on logits of size ~10.
#[test]
fn logits_agree_with_evaluate_and_match_cpu() {
    let Some(ctx) = gpu() else { return };
    let cfg = small_config(1.35, 32);
    let (mut cpu, mut gpu) = both(ctx, &cfg, 11);
    for step in 0..3 {
        let (x, y) = batch_of(cfg.batch, 400 + step);
        cpu.train_step(&x, &y).unwrap();
        gpu.train_step(&x, &y).unwrap();
    }
    for (size, seed) in [(100, 500), (7, 501)] {
        let (x, y) = batch_of(size, seed);
        let (c, g) = (block(cpu.logits(&x)), block(gpu.logits(&x)));
        assert_eq!(c.len(), size * 10);
        let correct = c.chunks(10).zip(&y).filter(|(row, label)| {
            let best = row.iter().enumerate().fold((0, f32::MIN), |b, (i, &v)| if v > b.1 { (i, v) } else { b }).0;
            best == **label as usize
        });
        assert_eq!(correct.count() as u32, block(cpu.evaluate(&x, &y)).correct, "batch {size}: argmax of the logits is what evaluate counts");
        assert_parity(&format!("logits, batch {size}"), &g, &c, 1e-4, 1e-4);
    }
    // Asking for logits leaves training as it was.
    let (x, y) = batch_of(cfg.batch, 600);
    cpu.train_step(&x, &y).unwrap();
    gpu.train_step(&x, &y).unwrap();
    assert_params_close("a step after logits", &block(gpu.params()), &block(cpu.params()));
}
