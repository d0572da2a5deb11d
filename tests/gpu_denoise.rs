//! The Hebbian denoising autoencoder on the GPU against the CPU reference, on whatever adapter wgpu
//! finds: the reconstruction kernels, then whole training steps of [`GpuDenoise`] against
//! [`CpuDenoise`] from the same parameters on the same episodes. Comparisons state
//! `|gpu - cpu| <= atol + rtol * |cpu|`:
//!
//! - `reconstruct.wgsl`: forward 1e-6 (GPU exp is not correctly rounded), backward and
//!   logits_grad 1e-7 (a product and a sum, elementwise).
//! - one training step from identical state: the parameters `ONE_STEP_ATOL`, three hundredths of
//!   one Adam step of lr 1e-3 (the gradient is a sum over convolutions, batch norm and two plastic
//!   layers over a whole episode, taken in another order; the CPU's products sum in blocks with
//!   fused multiply-adds, the GPU's in order, and Adam divides by the gradient's own size, so a
//!   near-zero gradient's rounding shows; it measured 1.4e-5 here).
//! - reconstructions by networks with identical parameters: `STEP_TOL`.
//! - three consecutive steps: the summed losses `STEP_TOL`, the parameters `TRAIN_ATOL`, one
//!   step's size. Adam divides each step by the gradient's own
//!   size, so a gradient that nearly cancels (a bias feeding batch norm through a near-linear
//!   tanh; a max-pooling window whose winner is a near tie) moves by a whole step in a direction
//!   its last bits decide: measured on llvmpipe, differences grow from 1e-7 after one step to
//!   5e-4 after three, while a state carried wrongly between steps (moments, step count,
//!   gradients not cleared) changes them by several steps.

mod common;
use metaplastic::nn::{Activation, PoolKind, PoolShape};
use common::*;
use metaplastic::backend::Backend;

use metaplastic::cpu::denoise::{CpuDenoise, logits_grad, reconstruct_backward, reconstruct_forward};
use metaplastic::nn::max_violation;

use metaplastic::gpu::denoise::GpuDenoise;
use metaplastic::gpu::reconstruct::ReconstructKernel;
use metaplastic::gpu::GpuTensor;
use metaplastic::nn::DeviceError;
use metaplastic::nn::TrainError;
use metaplastic::model::hebbian::{DenoiseConfig, DenoiseParams, DenoiseTrainer};
use std::rc::Rc;

fn upload(ctx: &metaplastic::gpu::GpuContext, v: &[f32]) -> GpuTensor {
    GpuTensor::from_slice(ctx, v)
}

const STEP_TOL: (f32, f32) = (2e-5, 1e-4);
const ONE_STEP_ATOL: f32 = 3e-5;
const TRAIN_ATOL: f32 = 1e-3;

#[test]
fn reconstruction_kernels_match_cpu() {
    let Some(ctx) = gpu() else { return };
    let kernel = ReconstructKernel::new(&ctx);
    // Even and odd sides (a dropped edge row and column in the upsampling).
    for half in [PoolShape::new(3, 8, 8, 1), PoolShape::new(2, 7, 5, 1)] {
        let (n, m) = (half.input_len(), half.output_len());
        let what = format!("{half:?}");
        let d = scaled(n, 1, 3.0);
        // p sits at an offset in a larger buffer, as a step's slice of an episode does.
        let offset = 2 * m;
        let p_all = scaled(4 * m, 2, 2.0);
        let p = &p_all[offset..offset + m];
        let mut images = vec![0.0; n];
        reconstruct_forward(&half, &d, p, &mut images);
        let gimages = upload(&ctx, &vec![7.0; n]);
        let (gd, gp) = (upload(&ctx, &d), upload(&ctx, &p_all));
        run(&ctx, |e| kernel.bind_forward(&ctx, half, &gd, &gp, offset, &gimages).encode(e));
        assert_parity(&format!("reconstruct forward {what}"), &read(&ctx, &gimages), &images, 1e-6, 0.0);

        let dimages = scaled(n, 3, 0.01);
        let mut dz = vec![0.0; n];
        reconstruct_backward(&images, &dimages, &mut dz);
        let gdz = GpuTensor::zeros(&ctx, n);
        let (gim, gdim) = (upload(&ctx, &images), upload(&ctx, &dimages));
        run(&ctx, |e| kernel.bind_backward(&ctx, half, &gim, &gdim, &gdz).encode(e));
        assert_parity(&format!("reconstruct backward {what}"), &read(&ctx, &gdz), &dz, 1e-7, 0.0);

        let g_all = scaled(4 * m, 4, 0.1);
        let g = &g_all[offset..offset + m];
        let gg = upload(&ctx, &g_all);
        for with_dz in [false, true] {
            let mut dd = vec![0.0; n];
            logits_grad(&half, g, with_dz.then_some(&dz[..]), &mut dd);
            let gdd = upload(&ctx, &vec![7.0; n]);
            run(&ctx, |e| kernel.bind_logits_grad(&ctx, half, &gg, offset, with_dz.then_some(&gdz), &gdd).encode(e));
            assert_parity(&format!("logits_grad {what}, dz {with_dz}"), &read(&ctx, &gdd), &dd, 1e-7, 0.0);
        }
        // Two steps at once, the image's gradient reaching the second (the last) only.
        let two = PoolShape::new(2 * half.batch as usize, half.h as usize, half.w as usize, 1);
        let mut dd = vec![0.0; 2 * n];
        logits_grad(&two, &g_all[m..3 * m], Some(&dz), &mut dd);
        let gdd = upload(&ctx, &vec![7.0; 2 * n]);
        run(&ctx, |e| kernel.bind_logits_grad(&ctx, two, &gg, m, Some(&gdz), &gdd).encode(e));
        assert_parity(&format!("logits_grad of two steps {what}"), &read(&ctx, &gdd), &dd, 1e-7, 0.0);
    }
}

/// A 8x8 autoencoder, 2 images shown once with a zero image after each (5 steps), 3 episodes per
/// batch; plastic parameters large enough that both traces change the output.
fn tiny(pool: PoolKind, activation: Activation, plastic: bool) -> (DenoiseConfig, DenoiseParams) {
    let cfg = DenoiseConfig {
        side: 8,
        channels: [2, 3, 2],
        activation,
        pool,
        images: 2,
        show_steps: 1,
        zero_steps: 1,
        batch: 3,
        ..DenoiseConfig::mnist(plastic)
    };
    let mut p = DenoiseParams::init(&cfg, 7);
    for (h, seed) in [(&mut p.code, 20), (&mut p.out, 30)] {
        h.w = scaled(h.w.len(), seed, 0.5);
        if plastic {
            h.alpha = scaled(h.alpha.len(), seed + 1, 0.8);
            h.eta = 0.3;
        }
    }
    (cfg, p)
}

/// Episodes of `batch` in `[T, batch, pixels]` with zero images at the zero steps, and targets.
fn episodes(cfg: &DenoiseConfig, batch: usize, seed: u64) -> (Vec<f32>, Vec<f32>) {
    let (steps, n) = (cfg.episode_steps(), cfg.pixels());
    let mut xs: Vec<f32> = values(steps * batch * n, seed).iter().map(|v| 0.5 + 0.5 * v).collect();
    for t in (cfg.show_steps..steps - 1).step_by(cfg.show_steps + cfg.zero_steps) {
        xs[t * batch * n..(t + cfg.zero_steps) * batch * n].fill(0.0);
    }
    let targets = values(batch * n, seed + 1).iter().map(|v| 0.5 + 0.5 * v).collect();
    (xs, targets)
}

fn flat(p: &DenoiseParams) -> Vec<(String, Vec<f32>)> {
    let mut out: Vec<(String, Vec<f32>)> = Vec::new();
    for (i, l) in p.layers.iter().enumerate() {
        out.push((format!("stage parameters {i} weight"), l.w.clone()));
        out.push((format!("stage parameters {i} bias"), l.b.clone()));
    }
    for (name, h) in [("code", &p.code), ("out", &p.out)] {
        out.push((format!("{name} W"), h.w.clone()));
        out.push((format!("{name} alpha"), h.alpha.clone()));
        out.push((format!("{name} eta"), vec![h.eta]));
    }
    out
}

fn max_diff(a: &DenoiseParams, b: &DenoiseParams) -> (String, f32) {
    flat(a)
        .into_iter()
        .zip(flat(b))
        .map(|((name, x), (_, y))| (name, x.iter().zip(&y).map(|(p, q)| (p - q).abs()).fold(0.0, f32::max)))
        .fold((String::new(), 0.0), |best, d| if d.1 > best.1 { d } else { best })
}

/// Both backends from the same parameters: one step from each of three points of a CPU
/// trajectory (fresh trainers, so both start from identical state: `ONE_STEP_ATOL`), then three
/// consecutive steps of one pair of trainers (the moments, the step count and the cleared
/// gradients carried between steps: `TRAIN_ATOL`), the losses, and reconstructions of two batch
/// sizes by networks with the same trained parameters.
fn check_training(backend: &Backend, cfg: &DenoiseConfig, params: &DenoiseParams, what: &str) {
    let batches: Vec<(Vec<f32>, Vec<f32>)> = (0..3).map(|k| episodes(cfg, cfg.batch, 50 + k)).collect();
    let mut state = params.clone();
    for (k, (xs, targets)) in batches.iter().enumerate() {
        let mut cpu = CpuDenoise::new(cfg.clone(), state.clone()).expect("a valid setting");
        let mut gpu = backend.denoise(cfg.clone(), state.clone()).unwrap_or_else(|e| panic!("{what}: {e}"));
        cpu.train_step(xs, targets).expect("a whole batch");
        gpu.train_step(xs, targets).expect("a whole batch");
        let (cp, gp) = (pollster::block_on(cpu.params()).expect("cpu"), pollster::block_on(gpu.params()).expect("gpu"));
        let (name, d) = max_diff(&gp, &cp);
        assert!(d <= ONE_STEP_ATOL, "{what}: one step from state {k}: {name} differs by {d:e} (atol {ONE_STEP_ATOL:e})");
        // The next state: one more step of a trainer that keeps its moments.
        state = cp;
    }
    let mut cpu = CpuDenoise::new(cfg.clone(), params.clone()).expect("a valid setting");
    let mut gpu = backend.denoise(cfg.clone(), params.clone()).unwrap_or_else(|e| panic!("{what}: {e}"));
    for (xs, targets) in &batches {
        cpu.train_step(xs, targets).expect("a whole batch");
        gpu.train_step(xs, targets).expect("a whole batch");
    }
    let (cpu_loss, gpu_loss) = (pollster::block_on(cpu.take_train_loss()).expect("cpu"), pollster::block_on(gpu.take_train_loss()).expect("gpu"));
    assert_eq!(gpu_loss.1, 3, "{what}: three losses accumulated");
    assert_parity(&format!("{what}: summed training loss"), &[gpu_loss.0], &[cpu_loss.0], STEP_TOL.0, STEP_TOL.1);
    let (cp, gp) = (pollster::block_on(cpu.params()).expect("cpu"), pollster::block_on(gpu.params()).expect("gpu"));
    let (name, d) = max_diff(&gp, &cp);
    assert!(d <= TRAIN_ATOL, "{what}: after 3 steps {name} differs by {d:e} (atol {TRAIN_ATOL:e})");
    let moved = flat(&gp).iter().zip(flat(params)).any(|((_, g), (_, p))| max_violation(g, &p, 1e-4, 0.0).is_some());
    assert!(moved, "{what}: training moved the parameters");
    if !cfg.plastic {
        assert!(gp.code.alpha.iter().chain(&gp.out.alpha).all(|&a| a == 0.0), "{what}: alpha stays 0");
        assert_eq!((gp.code.eta, gp.out.eta), (params.code.eta, params.out.eta), "{what}: eta is not trained");
    }
    // Evaluation passes of other sizes, by trained networks with identical parameters.
    let mut trained = backend.denoise(cfg.clone(), cp.clone()).unwrap_or_else(|e| panic!("{what}: {e}"));
    for batch in [2, 4] {
        let (xs, _) = episodes(cfg, batch, 90);
        let (c, g) = (pollster::block_on(cpu.reconstruct(&xs)).expect("cpu"), pollster::block_on(trained.reconstruct(&xs)).expect("gpu"));
        assert_eq!(g.len(), batch * cfg.pixels());
        assert_parity(&format!("{what}: reconstructions of {batch} episodes"), &g, &c, STEP_TOL.0, STEP_TOL.1);
    }
}

#[test]
fn training_steps_match_cpu() {
    let Some(ctx) = gpu() else { return };
    let backend = Backend::Gpu(Rc::new(ctx));
    // ReLU, the app's activation. Not tanh: near its linear middle a convolution's bias feeding
    // batch norm has a gradient that cancels to rounding noise (batch norm removes a constant
    // shift), and Adam's first step turns that noise's sign into a whole step (measured: 2e-3 on
    // that one bias, every other parameter within 1e-6). tanh's gradients are checked by the
    // finite differences of cpu_denoise and its kernel by gpu_lenet.
    for (pool, plastic) in [(PoolKind::Average, true), (PoolKind::Max, true), (PoolKind::Average, false)] {
        let (cfg, params) = tiny(pool, Activation::Relu, plastic);
        check_training(&backend, &cfg, &params, &format!("{pool:?} pooling, plastic {plastic}"));
    }
}

/// The app's own network (28x28, channels 8, 8, 4, ten steps per episode) at two episodes per
/// batch: every buffer at its real size, the Oja rule.
#[test]
fn the_default_network_matches_cpu() {
    let Some(ctx) = gpu() else { return };
    let backend = Backend::Gpu(Rc::new(ctx));
    let cfg = DenoiseConfig { batch: 2, rule: metaplastic::nn::HebbRule::Oja, ..DenoiseConfig::mnist(true) };
    let params = DenoiseParams::init(&cfg, 3);
    check_training(&backend, &cfg, &params, "default network");
}

#[test]
fn bad_batches_and_parameters_are_refused() {
    let Some(ctx) = gpu() else { return };
    let ctx = Rc::new(ctx);
    let (cfg, params) = tiny(PoolKind::Average, Activation::Relu, true);
    let mut net = GpuDenoise::new(ctx.clone(), cfg.clone(), params).expect("a valid setting");
    let (xs, targets) = episodes(&cfg, cfg.batch, 1);
    let config_error = |r: Result<(), TrainError>| matches!(r, Err(TrainError::Config(_)));
    assert!(config_error(net.train_step(&xs[1..], &targets)), "not whole episodes");
    assert!(config_error(net.train_step(&xs, &targets[1..])), "targets of another size");
    let (xs2, targets2) = episodes(&cfg, 2, 1);
    assert!(config_error(net.train_step(&xs2, &targets2)), "not the configured batch");
    let (one, _) = episodes(&cfg, 1, 1);
    assert!(config_error(pollster::block_on(net.reconstruct(&one)).map(drop)), "batch norm needs two episodes");
    let other = DenoiseParams::init(&DenoiseConfig { channels: [4, 4, 4], ..cfg.clone() }, 1);
    assert!(config_error(GpuDenoise::new(ctx, cfg, other).map(drop)), "parameters of another network");
}

#[test]
fn a_lost_device_is_reported() {
    let Some(ctx) = gpu() else { return };
    let ctx = Rc::new(ctx);
    let (cfg, params) = tiny(PoolKind::Average, Activation::Relu, true);
    let mut net = GpuDenoise::new(ctx.clone(), cfg.clone(), params.clone()).expect("a valid setting");
    ctx.device.destroy();
    let _ = ctx.wait();
    let (xs, targets) = episodes(&cfg, cfg.batch, 1);
    let lost = |r: Result<(), TrainError>| matches!(r, Err(TrainError::Device(DeviceError::Lost(_))));
    assert!(lost(net.train_step(&xs, &targets)));
    assert!(lost(pollster::block_on(net.take_train_loss()).map(drop)));
    assert!(lost(pollster::block_on(net.reconstruct(&xs)).map(drop)));
    assert!(lost(pollster::block_on(net.params()).map(drop)));
    assert!(lost(GpuDenoise::new(ctx, cfg, params).map(drop)));
}

