//! The Hebbian denoising autoencoder's CPU reference: the transposed convolution's gradients,
//! finite-difference checks of BPTT through a short episode of a tiny autoencoder (every kind of
//! stage, both plastic layers' W, alpha and eta), the episode layout, refused settings, and
//! learning on real MNIST.

mod common;
use metaplastic::nn::{Activation, ConvShape, PoolKind, PoolShape};
use common::{assert_close, numeric, values};

use metaplastic::cpu::conv::{conv_transpose_backward, conv_transpose_forward};
use metaplastic::cpu::denoise::{CpuDenoise, denoise_loss, logits_grad, reconstruct_backward, reconstruct_forward};
use metaplastic::model::hebbian::DenoiseTrainer;
use metaplastic::cpu::pool::{avg_pool_forward, upsample_backward, upsample_forward};
use metaplastic::data::{DataSet, DataSetId, Examples};
use metaplastic::experiments::denoise::{DenoiseRun, DenoiseSetup, denoise_batch, test_batches};
use metaplastic::nn::TrainError;
use metaplastic::model::hebbian::{DenoiseConfig, DenoiseParams, HebbianParams};
use rand::{SeedableRng, rngs::StdRng};

/// `sum(project * y)`: a scalar loss whose gradient with respect to `y` is `project`.
fn dot(y: &[f32], project: &[f32]) -> f64 {
    y.iter().zip(project).map(|(a, b)| f64::from(a * b)).sum()
}

fn conv_t(s: &ConvShape, x: &[f32], w: &[f32], b: &[f32]) -> Vec<f32> {
    let mut cols = vec![0.0; s.rows() * s.patch()];
    let mut y = vec![0.0; s.input_len()];
    conv_transpose_forward(s, x, w, b, &mut cols, &mut y);
    y
}

#[test]
fn transposed_convolution_gradients() {
    // (batch, h, w, channels out, channels in, k, pad): the mirrored convolution's shape.
    for (pad, k) in [(0, 3), (1, 3), (2, 5)] {
        let s = ConvShape::new(2, 5, 6, 3, 2, k, pad);
        let (cy, cx) = (s.cin as usize, s.cout as usize);
        let mut x = values(s.rows() * cx, 1);
        let mut w = values(s.weight_len(), 2);
        let mut b = values(cy, 3);
        let project = values(s.input_len(), 4);
        let y = conv_t(&s, &x, &w, &b);
        assert_eq!(y.len(), 2 * 5 * 6 * cy, "the output has the mirrored convolution's input shape");
        let mut cols = vec![0.0; s.rows() * s.patch()];
        let (mut dx, mut dw, mut db) = (vec![0.0; x.len()], vec![0.0; w.len()], vec![0.0; cy]);
        conv_transpose_backward(&s, &x, &w, &project, &mut cols, Some(&mut dx), &mut dw, &mut db);
        let (x0, w0, b0) = (x.clone(), w.clone(), b.clone());
        for i in 0..x.len() {
            let num = numeric(&mut x, i, 1e-2, &mut |x| dot(&conv_t(&s, x, &w0, &b0), &project));
            assert_close(&format!("pad {pad} dx {i}"), dx[i], num, 1e-3, 1e-3);
        }
        for i in 0..w.len() {
            let num = numeric(&mut w, i, 1e-2, &mut |w| dot(&conv_t(&s, &x0, w, &b0), &project));
            assert_close(&format!("pad {pad} dw {i}"), dw[i], num, 1e-3, 1e-3);
        }
        for i in 0..cy {
            let num = numeric(&mut b, i, 1e-2, &mut |b| dot(&conv_t(&s, &x0, &w0, b), &project));
            assert_close(&format!("pad {pad} db {i}"), db[i], num, 1e-3, 1e-3);
        }
        // dWt accumulates, so a layer used at every step sums its gradients.
        let before = dw.clone();
        conv_transpose_backward(&s, &x, &w, &project, &mut cols, None, &mut dw, &mut db);
        assert!(dw.iter().zip(&before).all(|(a, b)| (a - 2.0 * b).abs() <= 1e-5 * (1.0 + b.abs())), "dWt must accumulate");
    }
}

/// Upsampling, the reconstruction's sigmoid and the gradient reaching the logits, each checked on
/// its own (they are also inside the whole-network checks below), on an odd grid whose dropped
/// edge must get no gradient.
#[test]
fn upsampling_and_reconstruction_gradients() {
    let half = PoolShape::new(2, 5, 6, 1);
    let (n, m) = (half.input_len(), half.output_len());
    let mut small = values(m, 1);
    let project = values(n, 2);
    let mut dsmall = vec![0.0; m];
    upsample_backward(&half, &project, &mut dsmall);
    let up = |x: &[f32]| {
        let mut y = vec![0.0; n];
        upsample_forward(&half, x, &mut y);
        y
    };
    for i in 0..m {
        let num = numeric(&mut small, i, 1e-2, &mut |x| dot(&up(x), &project));
        assert_close(&format!("upsample dx {i}"), dsmall[i], num, 1e-4, 1e-3);
    }
    // images = sigmoid(d + up(p)); loss = sum(project * images).
    let (mut d, mut p) = (values(n, 3), values(m, 4));
    let images = |d: &[f32], p: &[f32]| {
        let mut y = vec![0.0; n];
        reconstruct_forward(&half, d, p, &mut y);
        y
    };
    let y = images(&d, &p);
    let mut dz = vec![0.0; n];
    reconstruct_backward(&y, &project, &mut dz);
    let mut dp = vec![0.0; m];
    upsample_backward(&half, &dz, &mut dp);
    for i in 0..n {
        let pp = p.clone();
        let num = numeric(&mut d, i, 1e-2, &mut |d| dot(&images(d, &pp), &project));
        assert_close(&format!("reconstruction dd {i}"), dz[i], num, 1e-4, 1e-3);
    }
    for i in 0..m {
        let dd = d.clone();
        let num = numeric(&mut p, i, 1e-2, &mut |p| dot(&images(&dd, p), &project));
        assert_close(&format!("reconstruction dp {i}"), dp[i], num, 1e-4, 1e-3);
    }
    // The logits' gradient through avgpool(d) (whose output gradient is g), plus dz at the last step.
    let g = values(m, 5);
    let mut dd = vec![0.0; n];
    logits_grad(&half, &g, Some(&dz), &mut dd);
    let mut pooled = |d: &[f32]| {
        let mut y = vec![0.0; m];
        avg_pool_forward(&half, d, &mut y);
        dot(&y, &g) + dot(&images(d, &p), &project)
    };
    for i in 0..n {
        let num = numeric(&mut d, i, 1e-2, &mut pooled);
        assert_close(&format!("logits dd {i}"), dd[i], num, 1e-4, 1e-3);
    }
}

/// An 8x8 autoencoder with 2 or 3 channels, tanh instead of ReLU (a finite difference stepping
/// over ReLU's kink in one of hundreds of units is wrong by more than any tolerance; ReLU's own
/// gradient is checked in cpu_lenet), episodes of 2 images shown once with a zero
/// image after each (5 steps), 3 episodes per batch; plastic parameters large enough that both
/// traces change the output.
fn tiny(pool: PoolKind, plastic_net: bool) -> (DenoiseConfig, DenoiseParams) {
    // Max pooling: one image per episode and two episodes, so fewer windows whose winner a
    // perturbation could change (see `stable`).
    let (images, batch) = if pool == PoolKind::Max { (1, 2) } else { (2, 3) };
    let cfg = DenoiseConfig { side: 8, channels: [2, 3, 2], activation: Activation::Tanh, pool, images, show_steps: 1, zero_steps: 1, batch, ..DenoiseConfig::mnist(plastic_net) };
    let mut p = DenoiseParams::init(&cfg, 7);
    let strong = |h: &mut HebbianParams, seed: u64| {
        h.w = values(h.w.len(), seed).iter().map(|v| 0.5 * v).collect();
        if plastic_net {
            h.alpha = values(h.alpha.len(), seed + 1).iter().map(|v| 0.8 * v).collect();
        }
        h.eta = 0.3;
    };
    strong(&mut p.code, 20);
    strong(&mut p.out, 30);
    // Gamma away from 1 and nonzero beta, so batch norm's parameters are checked in general.
    for (l, layer) in p.layers.iter_mut().enumerate() {
        layer.b.iter_mut().enumerate().for_each(|(i, b)| *b = 0.1 * ((i + l) % 3) as f32 - 0.1);
    }
    (cfg, p)
}

fn tiny_batch(cfg: &DenoiseConfig) -> (Vec<f32>, Vec<f32>) {
    let steps = cfg.episode_steps();
    let n = cfg.pixels();
    let mut xs: Vec<f32> = values(steps * cfg.batch * n, 40).iter().map(|v| 0.5 + 0.5 * v).collect();
    // Zero images at the episode's zero steps (every other step), as in real episodes.
    for t in (1..steps).step_by(2) {
        xs[t * cfg.batch * n..(t + 1) * cfg.batch * n].fill(0.0);
    }
    let targets = values(cfg.batch * n, 41).iter().map(|v| 0.5 + 0.5 * v).collect();
    (xs, targets)
}

/// Against a loss of order 0.1 computed in f32: truncation ~h^2, rounding ~1e-8 / h; the
/// gradients checked here are 1e-4 to 1e-1, so 3% relative, and an absolute part that grows with
/// the rounding as the step shrinks (2e-5 at step 1e-2).
const RTOL: f64 = 3e-2;

/// Max pooling's loss has a kink wherever a perturbation changes which tap of a window wins, and
/// a network of hundreds of windows has some within any step: there a central difference says
/// nothing. `Some` is the difference at step `h` when the one at `h / 2` agrees with it, `None`
/// (not checked) when they disagree; `checked` counts both.
#[allow(non_snake_case)]
fn stable(x: &mut [f32], i: usize, h: f32, ATOL: f64, checked: &mut (usize, usize), f: &mut dyn FnMut(&[f32]) -> f64) -> Option<f64> {
    let a = numeric(x, i, h, f);
    let b = numeric(x, i, h / 2.0, f);
    checked.1 += 1;
    ((a - b).abs() <= ATOL + 0.3 * RTOL * a.abs()).then(|| {
        checked.0 += 1;
        a
    })
}

#[allow(non_snake_case)]
fn check_episode_gradients(pool: PoolKind, plastic_net: bool, H: f32, ATOL: f64) {
    let mut checked = (0, 0);
    let (cfg, params) = tiny(pool, plastic_net);
    let (xs, targets) = tiny_batch(&cfg);
    let loss = |p: &DenoiseParams| f64::from(denoise_loss(&cfg, p, &xs, &targets, cfg.batch, false).0);
    let (_, _, grads) = denoise_loss(&cfg, &params, &xs, &targets, cfg.batch, true);
    let grads = grads.expect("gradients were asked for");
    let tag = format!("{pool:?} pooling, plastic {plastic_net}");
    // A few weights and every bias of every stage with parameters: convolutions, batch norms,
    // transposed convolutions.
    for (l, g) in grads.layers.iter().enumerate() {
        for i in (0..g.w.len()).step_by((g.w.len() / 4).max(1)) {
            let Some(num) = stable(&mut params.layers[l].w.clone(), i, H, ATOL, &mut checked, &mut |w| {
                let mut q = params.clone();
                q.layers[l].w = w.to_vec();
                loss(&q)
            }) else { continue };
            assert_close(&format!("{tag}: layer {l} w[{i}]"), g.w[i], num, ATOL, RTOL);
        }
        for i in 0..g.b.len() {
            let Some(num) = stable(&mut params.layers[l].b.clone(), i, H, ATOL, &mut checked, &mut |b| {
                let mut q = params.clone();
                q.layers[l].b = b.to_vec();
                loss(&q)
            }) else { continue };
            assert_close(&format!("{tag}: layer {l} b[{i}]"), g.b[i], num, ATOL, RTOL);
        }
    }
    for name in ["code", "out"] {
        let layer = plastic(&mut params.clone(), name).clone();
        let g = plastic(&mut grads.clone(), name).clone();
        let n = layer.w.len();
        let with = |edit: &dyn Fn(&mut HebbianParams)| {
            let mut q = params.clone();
            edit(plastic(&mut q, name));
            loss(&q)
        };
        for i in (0..n).step_by(n / 7) {
            let Some(num) = stable(&mut layer.w.clone(), i, H, ATOL, &mut checked, &mut |w| with(&|h| h.w = w.to_vec())) else { continue };
            assert_close(&format!("{tag}: {name} W[{i}]"), g.w[i], num, ATOL, RTOL);
            if !plastic_net {
                // alpha is held at 0 and not trained: the trace reaches nothing.
                continue;
            }
            let Some(num) = stable(&mut layer.alpha.clone(), i, H, ATOL, &mut checked, &mut |a| with(&|h| h.alpha = a.to_vec())) else { continue };
            assert_close(&format!("{tag}: {name} alpha[{i}]"), g.alpha[i], num, ATOL, RTOL);
        }
        if !plastic_net {
            continue;
        }
        if let Some(num) = stable(&mut [layer.eta], 0, H, ATOL, &mut checked, &mut |e| with(&|h| h.eta = e[0])) {
            assert_close(&format!("{tag}: {name} eta"), g.eta, num, ATOL, RTOL);
        }
        // The traces must matter, or the alpha and eta checks prove nothing.
        assert!(g.alpha.iter().any(|v| v.abs() > 1e-4) && g.eta.abs() > 1e-5, "{tag}: the {name} trace has no effect (deta {})", g.eta);
    }
    eprintln!("{tag}: {} of {} gradients checked (the rest straddle a kink)", checked.0, checked.1);
    assert!(checked.0 * 10 >= checked.1 * 9, "{tag}: only {} of {} finite differences were stable", checked.0, checked.1);
}

fn plastic<'a>(p: &'a mut DenoiseParams, name: &str) -> &'a mut HebbianParams {
    if name == "code" { &mut p.code } else { &mut p.out }
}

#[test]
fn bptt_through_the_autoencoder_matches_finite_differences_average_pooling() {
    check_episode_gradients(PoolKind::Average, true, 1e-2, 2e-5);
}

/// The non-plastic twin: its stages go backward at the last step alone (the earlier steps run in
/// a forward-only pass), which must still be the whole gradient.
#[test]
fn the_non_plastic_twin_matches_finite_differences() {
    check_episode_gradients(PoolKind::Average, false, 1e-2, 2e-5);
}

#[test]
fn bptt_through_the_autoencoder_matches_finite_differences_max_pooling() {
    check_episode_gradients(PoolKind::Max, true, 2.5e-4, 2e-4);
}

#[test]
fn refuses_out_of_range_settings() {
    let ok = DenoiseConfig::mnist(true);
    assert_eq!(ok.validate(), Ok(()));
    assert!(ok.tape_bytes() < 200 << 20, "the default batch's traces must stay under 200 MB");
    let cases: Vec<(DenoiseConfig, &str)> = vec![
        (DenoiseConfig { side: 30, ..ok.clone() }, "multiple of 4"),
        (DenoiseConfig { channels: [8, 0, 4], ..ok.clone() }, "channels"),
        (DenoiseConfig { images: 0, ..ok.clone() }, "images per episode"),
        (DenoiseConfig { show_steps: 0, ..ok.clone() }, "steps per shown image"),
        (DenoiseConfig { zero_steps: 21, ..ok.clone() }, "zero steps"),
        (DenoiseConfig { noise_std: f32::NAN, ..ok.clone() }, "noise std"),
        (DenoiseConfig { lr: 0.0, ..ok.clone() }, "learning rate"),
        (DenoiseConfig { batch: 1, ..ok.clone() }, "batch norm needs two"),
        (DenoiseConfig { channels: [8, 8, 64], batch: 256, ..ok.clone() }, "GiB of traces"),
    ];
    for (cfg, what) in cases {
        match cfg.validate() {
            Err(TrainError::Config(msg)) => assert!(msg.contains(what), "expected a message about {what}, got: {msg}"),
            other => panic!("expected a refusal about {what}, got {other:?}"),
        }
    }
    let cpu = |c, p| CpuDenoise::new(c, p);
    assert!(matches!(DenoiseRun::new(DenoiseSetup { train_steps: 0, ..DenoiseSetup::mnist(true) }, cpu), Err(TrainError::Config(_))));
    assert!(matches!(DenoiseRun::new(DenoiseSetup { test_episodes: 1, ..DenoiseSetup::mnist(true) }, cpu), Err(TrainError::Config(_))));
    // Parameters of another configuration, and batches that are not whole episodes.
    let small = DenoiseConfig { channels: [4, 4, 2], ..ok.clone() };
    assert!(matches!(CpuDenoise::new(ok.clone(), DenoiseParams::init(&small, 1)), Err(TrainError::Config(_))));
    let mut net = CpuDenoise::new(ok.clone(), DenoiseParams::init(&ok, 1)).expect("a valid setting");
    let steps = ok.episode_steps() * ok.pixels();
    assert!(matches!(net.train_step(&vec![0.0; steps * ok.batch + 1], &vec![0.0; ok.batch * ok.pixels()]), Err(TrainError::Config(_))));
    assert!(matches!(net.train_step(&vec![0.0; steps * 2], &vec![0.0; 2 * ok.pixels()]), Err(TrainError::Config(_))), "not the configured batch");
}

/// Real MNIST, or `None` (a skip) outside CI; under CI=true missing data is a failure.
fn mnist() -> Option<DataSet> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("static/data");
    match DataSet::load(&root, DataSetId::Mnist) {
        Ok(set) => Some(set),
        Err(e) => {
            assert!(std::env::var("CI").map_or(true, |v| v != "true"), "CI=true but MNIST is missing under static/data: {e}");
            common::skipped("MNIST missing (run scripts/fetch-data.sh)");
            None
        }
    }
}

#[test]
fn episodes_follow_the_layout_and_are_the_same_for_both_variants() {
    let Some(data) = mnist() else { return };
    let cfg = DenoiseConfig { images: 2, show_steps: 2, zero_steps: 1, ..DenoiseConfig::mnist(true) };
    let n = cfg.pixels();
    let batch = denoise_batch(&cfg, &data.train, &[5, 9, 100, 200], &mut StdRng::seed_from_u64(3));
    assert_eq!((batch.batch, cfg.episode_steps()), (2, 7));
    let step = |t: usize, b: usize| &batch.xs[(t * 2 + b) * n..(t * 2 + b + 1) * n];
    let image = |i: usize| -> Vec<f32> { data.train.image(i).iter().map(|&v| f32::from(v) / 255.0).collect() };
    for (b, pair) in [[5, 9], [100, 200]].iter().enumerate() {
        // image, image, zero, image, image, zero, noisy
        assert_eq!((step(0, b), step(1, b)), (&image(pair[0])[..], &image(pair[0])[..]));
        assert_eq!((step(3, b), step(4, b)), (&image(pair[1])[..], &image(pair[1])[..]));
        assert!(step(2, b).iter().chain(step(5, b)).all(|&v| v == 0.0), "zero steps are zero");
        let clean = &batch.targets[b * n..(b + 1) * n];
        assert!(pair.iter().any(|&i| image(i) == clean), "the tested image is one the episode showed");
    }
    let noise = batch.noisy_mse();
    assert!((noise - 0.25).abs() < 0.02, "noise std 0.5 gives an input MSE near 0.25, not {noise}");
    // Test episodes depend on the seed only: identical for the plastic and non-plastic runs.
    let setup = DenoiseSetup { test_episodes: 17, ..DenoiseSetup::mnist(true) };
    let plastic = test_batches(&setup, &data).expect("MNIST is loaded");
    let fixed = test_batches(&DenoiseSetup { net: DenoiseConfig { plastic: false, ..setup.net.clone() }, ..setup.clone() }, &data);
    assert_eq!(Some(&plastic), fixed.as_ref());
    // 17 episodes in chunks of 8: 8, then 9 (a lone episode cannot take batch statistics).
    assert_eq!(plastic.iter().map(|b| b.batch).collect::<Vec<_>>(), vec![8, 9]);
}

/// A short run on real MNIST: the training loss falls well below where it starts, and two runs
/// of one seed agree exactly.
#[test]
fn denoising_autoencoder_learns_mnist() {
    let Some(data) = mnist() else { return };
    let net = DenoiseConfig { images: 2, show_steps: 1, zero_steps: 1, batch: 4, ..DenoiseConfig::mnist(true) };
    let setup = DenoiseSetup { net, train_steps: 60, test_episodes: 16, log_every: 10, seed: 5 };
    let mut run = DenoiseRun::new(setup.clone(), CpuDenoise::new).expect("a valid setting");
    while !pollster::block_on(run.advance(&data, 7)).expect("training runs") {}
    let curve: Vec<f32> = run.record().curve.iter().map(|p| p.train_mse).collect();
    eprintln!("training MSE every 10 steps: {curve:?}; test MSE {}", run.record().test_mse);
    assert!(curve[curve.len() - 1] < 0.6 * curve[0], "the loss did not fall: {curve:?}");
    assert!(run.record().test_mse < run.record().noisy_mse, "worse than the noisy input itself");
    let mut again = DenoiseRun::new(setup, CpuDenoise::new).expect("a valid setting");
    while !pollster::block_on(again.advance(&data, 60)).expect("training runs") {}
    assert_eq!(run.record(), again.record(), "one seed, one result");
}
