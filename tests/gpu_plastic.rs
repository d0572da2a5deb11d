//! The Hebbian plastic layer's kernels, whole episodes and pattern-completion training on the GPU
//! against the CPU reference, on whatever adapter wgpu finds. Every comparison states
//! `|gpu - cpu| <= atol + rtol * |cpu|`:
//!
//! - hebb_update: 1e-6 / 1e-6 (elementwise; a driver may fuse a multiply-add).
//! - step forward, the backwards' sums (dy, dx, dW, dalpha, dHebb): `SUM_TOL` (sums in the CPU's
//!   order; fused multiply-adds change the last bits of each term), plus 2e-6 where tanh is taken
//!   (GPU tanh is not correctly rounded).
//! - eta's gradient: `ETA_TOL`, since the CPU sums every term of a step in f64 and the GPU sums
//!   rows in f32 and then the rows.
//! - whole episodes of 5 steps: `EPISODE_TOL` (differences of the above carried through the steps).
//! - training: `TRAIN_ATOL` on the parameters after three Adam steps (see there).

mod common;
use metaplastic::nn::{HebbRule, Nonlinearity, PlasticDims, PlasticWeights};
use common::*;
use metaplastic::backend::Backend;
use metaplastic::nn::max_violation;
use metaplastic::cpu::plastic::{episode_backward, episode_forward, hebb_update, hebb_update_backward, plastic_step_backward, plastic_step_forward};
use metaplastic::experiments::completion::{CompletionSetup, run_completion, run_completion_with};
use metaplastic::gpu::kernel::Dispatch;
use metaplastic::gpu::plastic::{GpuEpisode, GpuHebbian, GpuPlasticParams, PlasticKernel, StepUniform};
use metaplastic::gpu::{GpuContext, GpuTensor};
use metaplastic::nn::DeviceError;
use metaplastic::nn::TrainError;
use metaplastic::model::hebbian::{HebbianConfig, HebbianParams, HebbianTrainer};
use std::rc::Rc;

const SUM_TOL: (f32, f32) = (1e-5, 1e-5);
const ETA_TOL: (f32, f32) = (1e-5, 1e-4);
const EPISODE_TOL: (f32, f32) = (1e-4, 1e-4);

/// Two episodes, more inputs than outputs, neither a multiple of the workgroup.
const DIMS: PlasticDims = PlasticDims { batch: 2, inputs: 7, outputs: 5 };
const RULES: [HebbRule; 2] = [HebbRule::Simple, HebbRule::Oja];
const ACTS: [Nonlinearity; 2] = [Nonlinearity::Identity, Nonlinearity::Tanh];

fn run(ctx: &GpuContext, calls: &[Dispatch]) {
    let mut encoder = ctx.device.create_command_encoder(&Default::default());
    for call in calls {
        call.encode(&mut encoder);
    }
    ctx.queue.submit([encoder.finish()]);
}

fn assert_close(what: &str, got: &[f32], want: &[f32], (atol, rtol): (f32, f32)) {
    if let Some((i, g, w)) = max_violation(got, want, atol, rtol) {
        panic!("{what}: element {i}: GPU {g} vs CPU {w} (atol {atol}, rtol {rtol})");
    }
}

fn upload(ctx: &GpuContext, v: &[f32]) -> GpuTensor {
    GpuTensor::from_slice(ctx, v)
}

fn plus_tanh(tol: (f32, f32), act: Nonlinearity) -> (f32, f32) {
    if act == Nonlinearity::Tanh { (tol.0 + 2e-6, tol.1) } else { tol }
}

/// Parameters and one step's state of order 1, so every term of every sum matters.
struct Case {
    w: Vec<f32>,
    alpha: Vec<f32>,
    eta: f32,
    hebb: Vec<f32>,
    x: Vec<f32>,
    y: Vec<f32>,
}

impl Case {
    fn new(seed: u64) -> Self {
        let d = DIMS;
        Self {
            w: scaled(d.synapses(), seed, 0.6),
            alpha: scaled(d.synapses(), seed + 1, 0.6),
            eta: 0.3,
            hebb: values(d.trace_len(), seed + 2),
            x: values(d.batch * d.inputs, seed + 3),
            // Inside (-1, 1), as a tanh output is.
            y: scaled(d.batch * d.outputs, seed + 4, 0.9),
        }
    }
}

#[test]
fn step_forward_matches_cpu() {
    let Some(ctx) = gpu() else { return };
    let kernel = PlasticKernel::new(&ctx);
    let c = Case::new(1);
    for act in ACTS {
        let mut want = vec![0.0; DIMS.batch * DIMS.outputs];
        plastic_step_forward(DIMS, &c.w, &c.alpha, &c.hebb, &c.x, act, &mut want);
        let (w, alpha, hebb, x) = (upload(&ctx, &c.w), upload(&ctx, &c.alpha), upload(&ctx, &c.hebb), upload(&ctx, &c.x));
        let y = GpuTensor::zeros(&ctx, want.len());
        let step = StepUniform::new(DIMS, HebbRule::Simple, act);
        run(&ctx, &[kernel.bind_step_forward(&ctx, &step, &w, &alpha, &hebb, &x, &y)]);
        assert_close(&format!("step forward, {}", act.name()), &read(&ctx, &y), &want, plus_tanh(SUM_TOL, act));
    }
}

#[test]
fn hebb_update_matches_cpu() {
    let Some(ctx) = gpu() else { return };
    let kernel = PlasticKernel::new(&ctx);
    let c = Case::new(2);
    for rule in RULES {
        let mut want = c.hebb.clone();
        hebb_update(DIMS, rule, c.eta, &c.x, &c.y, &mut want);
        let (eta, x, y, hebb) = (upload(&ctx, &[c.eta]), upload(&ctx, &c.x), upload(&ctx, &c.y), upload(&ctx, &c.hebb));
        let step = StepUniform::new(DIMS, rule, Nonlinearity::Tanh);
        run(&ctx, &[kernel.bind_hebb_update(&ctx, &step, &eta, &x, &y, &hebb)]);
        assert_close(&format!("hebb update, {}", rule.name()), &read(&ctx, &hebb), &want, (1e-6, 1e-6));
    }
}

#[test]
fn hebb_update_backward_matches_cpu() {
    let Some(ctx) = gpu() else { return };
    let kernel = PlasticKernel::new(&ctx);
    let c = Case::new(3);
    let d = DIMS;
    for rule in RULES {
        // Gradients that already hold something, since the backward adds to them.
        let (dhebb0, dx0, dy0, deta0) = (values(d.trace_len(), 30), values(d.batch * d.inputs, 31), values(d.batch * d.outputs, 32), 0.25);
        let (mut dhebb, mut dx, mut dy, mut deta) = (dhebb0.clone(), dx0.clone(), dy0.clone(), deta0);
        hebb_update_backward(d, rule, c.eta, &c.x, &c.y, &c.hebb, &mut dhebb, &mut dx, &mut dy, &mut deta);
        let (eta, x, y, hebb) = (upload(&ctx, &[c.eta]), upload(&ctx, &c.x), upload(&ctx, &c.y), upload(&ctx, &c.hebb));
        let (g_dhebb, g_dx, g_dy, g_deta) = (upload(&ctx, &dhebb0), upload(&ctx, &dx0), upload(&ctx, &dy0), upload(&ctx, &[deta0]));
        let rows = GpuTensor::zeros(&ctx, d.batch * d.outputs);
        let step = StepUniform::new(d, rule, Nonlinearity::Tanh);
        run(&ctx, &kernel.bind_hebb_update_backward(&ctx, &step, &eta, &x, &y, &hebb, &g_dhebb, &g_dy, &g_dx, &rows, &g_deta));
        let name = rule.name();
        assert_close(&format!("dHebb(t), {name}"), &read(&ctx, &g_dhebb), &dhebb, (1e-6, 1e-6));
        assert_close(&format!("dx, {name}"), &read(&ctx, &g_dx), &dx, SUM_TOL);
        assert_close(&format!("dy, {name}"), &read(&ctx, &g_dy), &dy, SUM_TOL);
        assert_close(&format!("deta, {name}"), &read(&ctx, &g_deta), &[deta], ETA_TOL);
    }
}

#[test]
fn step_backward_matches_cpu() {
    let Some(ctx) = gpu() else { return };
    let kernel = PlasticKernel::new(&ctx);
    let c = Case::new(4);
    let d = DIMS;
    for act in ACTS {
        let dy = values(d.batch * d.outputs, 40);
        let (dw0, dalpha0, dhebb0, dx0) = (values(d.synapses(), 41), values(d.synapses(), 42), values(d.trace_len(), 43), values(d.batch * d.inputs, 44));
        let (mut dw, mut dalpha, mut dhebb, mut dx) = (dw0.clone(), dalpha0.clone(), dhebb0.clone(), dx0.clone());
        plastic_step_backward(d, &c.w, &c.alpha, &c.hebb, &c.x, &c.y, &dy, act, &mut dw, &mut dalpha, &mut dhebb, &mut dx);
        let (w, alpha, hebb, x, y, g_dy) = (upload(&ctx, &c.w), upload(&ctx, &c.alpha), upload(&ctx, &c.hebb), upload(&ctx, &c.x), upload(&ctx, &c.y), upload(&ctx, &dy));
        let (g_dw, g_dalpha, g_dhebb, g_dx) = (upload(&ctx, &dw0), upload(&ctx, &dalpha0), upload(&ctx, &dhebb0), upload(&ctx, &dx0));
        let step = StepUniform::new(d, HebbRule::Simple, act);
        run(&ctx, &kernel.bind_step_backward(&ctx, &step, (&w, &alpha), &hebb, &x, &y, &g_dy, (&g_dw, &g_dalpha), &g_dhebb, &g_dx));
        let name = act.name();
        assert_close(&format!("dW, {name}"), &read(&ctx, &g_dw), &dw, SUM_TOL);
        assert_close(&format!("dalpha, {name}"), &read(&ctx, &g_dalpha), &dalpha, SUM_TOL);
        assert_close(&format!("dHebb, {name}"), &read(&ctx, &g_dhebb), &dhebb, SUM_TOL);
        assert_close(&format!("dx, {name}"), &read(&ctx, &g_dx), &dx, SUM_TOL);
    }
}

/// A whole episode of 5 steps, forward (outputs and every saved trace) and backward (every
/// gradient), from loss gradients at every step, for both rules and both nonlinearities.
#[test]
fn episode_forward_and_backward_match_cpu() {
    let Some(ctx) = gpu() else { return };
    let kernel = PlasticKernel::new(&ctx);
    let d = DIMS;
    let steps = 5;
    let (w, alpha, eta) = (scaled(d.synapses(), 50, 0.6), scaled(d.synapses(), 51, 0.6), 0.3);
    let xs = values(steps * d.batch * d.inputs, 52);
    let dys = values(steps * d.batch * d.outputs, 53);
    let weights = PlasticWeights { w: &w, alpha: &alpha, eta };
    for rule in RULES {
        for act in ACTS {
            let what = format!("{} rule, {}", rule.name(), act.name());
            let tape = episode_forward(d, weights, rule, act, &xs, steps);
            let grads = episode_backward(weights, rule, act, &xs, &tape, &dys);
            let params = GpuPlasticParams::upload(&ctx, &w, &alpha, eta);
            let g = GpuPlasticParams::zeros(&ctx, d.synapses());
            let episode = GpuEpisode::new(&ctx, &kernel, d, steps, rule, act, &params, Some(&g));
            episode.xs.write(&ctx, &xs);
            episode.dys().expect("made with gradients").write(&ctx, &dys);
            let mut encoder = ctx.device.create_command_encoder(&Default::default());
            episode.encode_forward(&mut encoder);
            episode.encode_backward(&mut encoder);
            ctx.queue.submit([encoder.finish()]);
            let tol = plus_tanh(EPISODE_TOL, act);
            assert_close(&format!("y, {what}"), &read(&ctx, &episode.ys), &tape.y, tol);
            assert_close(&format!("Hebb tape, {what}"), &read(&ctx, &episode.hebb), &tape.hebb, tol);
            assert_close(&format!("dW, {what}"), &read(&ctx, &g.w), &grads.w, tol);
            assert_close(&format!("dalpha, {what}"), &read(&ctx, &g.alpha), &grads.alpha, tol);
            assert_close(&format!("deta, {what}"), &read(&ctx, &g.eta), &[grads.eta], tol);
            assert_close(&format!("dx, {what}"), &read(&ctx, &episode.dxs), &grads.x, tol);
        }
    }
}

/// A pattern-completion setting of a few seconds: 12 bits, 2 patterns, 8 steps per episode, 3
/// episodes per batch. Gain 2 and lr 0.01 keep tanh out of saturation and let the parameters move,
/// so a wrong gradient shows; the test episodes (5) end in a batch of 2, a second pass size.
fn tiny(plastic: bool, rule: HebbRule) -> CompletionSetup {
    let net = HebbianConfig {
        bits: 12,
        patterns: 2,
        presentations: 1,
        present_steps: 2,
        blank_steps: 1,
        test_steps: 2,
        input_gain: 2.0,
        rule,
        lr: 0.01,
        batch: 3,
        ..HebbianConfig::small(plastic)
    };
    CompletionSetup { net, train_steps: 3, test_episodes: 5, log_every: 1, seed: 7 }
}

/// Adam divides each step by the gradient's own size, so a gradient that differs in its last bits
/// moves a parameter by the same amount: the parameters after three steps of lr 0.01 agree to
/// 1e-4 absolute (1% of one step), the losses as sums (`EPISODE_TOL`).
const TRAIN_ATOL: f32 = 1e-4;

#[test]
fn completion_training_matches_cpu() {
    let Some(ctx) = gpu() else { return };
    let backend = Backend::Gpu(Rc::new(ctx));
    for (plastic, rule) in [(true, HebbRule::Simple), (true, HebbRule::Oja), (false, HebbRule::Simple)] {
        let what = format!("plastic {plastic}, {} rule", rule.name());
        let (cpu_record, cpu_params) = run_completion(tiny(plastic, rule)).expect("a valid setting");
        let run = run_completion_with(tiny(plastic, rule), |c, p| backend.hebbian(c, p));
        let (gpu_record, gpu_params) = pollster::block_on(run).expect("a valid setting");
        let curve = |r: &metaplastic::experiments::completion::CompletionRecord| r.curve.iter().map(|p| p.train_mse).collect::<Vec<_>>();
        assert_eq!(gpu_record.curve.len(), 3, "{what}: one loss per step");
        assert_close(&format!("training losses, {what}"), &curve(&gpu_record), &curve(&cpu_record), EPISODE_TOL);
        assert_close(&format!("test MSE, {what}"), &[gpu_record.test_mse], &[cpu_record.test_mse], EPISODE_TOL);
        assert_close(&format!("W, {what}"), &gpu_params.w, &cpu_params.w, (TRAIN_ATOL, 0.0));
        assert_close(&format!("alpha, {what}"), &gpu_params.alpha, &cpu_params.alpha, (TRAIN_ATOL, 0.0));
        assert_close(&format!("eta, {what}"), &[gpu_params.eta], &[cpu_params.eta], (TRAIN_ATOL, 0.0));
        let init = HebbianParams::init(&tiny(plastic, rule).net, 7);
        assert!(max_violation(&gpu_params.w, &init.w, 1e-3, 0.0).is_some(), "{what}: training moved W");
        if !plastic {
            assert!(gpu_params.alpha.iter().all(|&a| a == 0.0), "{what}: alpha stays 0");
            assert_eq!(gpu_params.eta, init.eta, "{what}: eta is not trained");
        }
    }
}

#[test]
fn a_wrong_batch_is_refused() {
    let Some(ctx) = gpu() else { return };
    let setup = tiny(true, HebbRule::Simple);
    let cfg = setup.net.clone();
    let mut gpu = GpuHebbian::new(Rc::new(ctx), cfg.clone(), HebbianParams::init(&cfg, 1)).expect("a valid setting");
    let targets = vec![0.0; cfg.bits * cfg.batch];
    let short = vec![0.0; cfg.bits];
    assert!(matches!(gpu.train_step(&short, &targets), Err(TrainError::Config(_))));
    assert!(matches!(gpu.train_step(&vec![0.0; cfg.episode_steps() * cfg.bits], &short), Err(TrainError::Config(_))));
    let wrong = HebbianParams::init(&HebbianConfig { bits: 10, ..cfg.clone() }, 1);
    let ctx = pollster::block_on(GpuContext::request()).expect("an adapter was found above");
    assert!(matches!(GpuHebbian::new(Rc::new(ctx), cfg, wrong).map(drop), Err(TrainError::Config(_))));
}

#[test]
fn a_lost_device_is_reported() {
    let Some(ctx) = gpu() else { return };
    let cfg = tiny(true, HebbRule::Simple).net;
    let ctx = Rc::new(ctx);
    let mut gpu = GpuHebbian::new(ctx.clone(), cfg.clone(), HebbianParams::init(&cfg, 1)).expect("a valid setting");
    ctx.device.destroy();
    let _ = ctx.wait();
    let xs = vec![0.0; cfg.episode_steps() * cfg.batch * cfg.bits];
    let targets = vec![0.0; cfg.batch * cfg.bits];
    let lost = |r: Result<(), TrainError>| matches!(r, Err(TrainError::Device(DeviceError::Lost(_))));
    assert!(lost(gpu.train_step(&xs, &targets)));
    assert!(lost(pollster::block_on(gpu.take_train_loss()).map(drop)));
    assert!(lost(pollster::block_on(gpu.loss(&xs, &targets)).map(drop)));
    assert!(lost(pollster::block_on(gpu.params()).map(drop)));
    assert!(lost(GpuHebbian::new(ctx.clone(), cfg.clone(), HebbianParams::init(&cfg, 1)).map(drop)));
}
