//! Miconi's recurrent network on the GPU against the CPU reference, on whatever adapter wgpu finds
//! (under `CI=true` a missing adapter fails). Every comparison states
//! `|gpu - cpu| <= atol + rtol * |cpu|`:
//!
//! - drive forward: 2e-6 absolute (one add and tanh, which a GPU need not round correctly);
//!   drive backward: 1e-6 / 1e-6 (elementwise; a driver may fuse the multiply-add).
//! - read-out loss and gradient: `SUM_TOL`, sums in the CPU's order.
//! - whole episodes of 6 steps: `EPISODE_TOL` (the product's sums and tanh's rounding carried
//!   through the steps; the CPU's non-plastic product is the packed, blocked one).
//! - training: `TRAIN_ATOL` on the parameters after three Adam steps (see there).

mod common;
use common::*;
use metaplastic::cpu::recurrent::{readout_mse, recurrent_backward, recurrent_drive, recurrent_drive_backward, recurrent_forward};
use metaplastic::experiments::completion::{CompletionRecord, CompletionSetup, run_completion, run_completion_with};
use metaplastic::gpu::kernel::Dispatch;
use metaplastic::gpu::plastic::{GpuPlasticParams, PlasticKernel};
use metaplastic::gpu::recurrent::{DriveUniform, GpuRecurrent, GpuRecurrentEpisode, RecurrentKernel};
use metaplastic::gpu::{GpuContext, GpuTensor};
use metaplastic::model::hebbian::{HebbianConfig, HebbianParams, HebbianTrainer};
use metaplastic::nn::{HebbRule, PlasticWeights, RecurrentShape, TrainError};
use std::rc::Rc;

const SUM_TOL: (f32, f32) = (1e-5, 1e-5);
const EPISODE_TOL: (f32, f32) = (1e-4, 1e-4);

/// Two episodes, 3 bits, 6 neurons (two hidden, one bias): none a multiple of the workgroup.
const BITS: usize = 3;
const NEURONS: usize = 6;
const STEPS: usize = 6;

fn shape() -> RecurrentShape {
    RecurrentShape::new(2, NEURONS, BITS, 0.7)
}

fn dispatch(ctx: &GpuContext, calls: &[Dispatch]) {
    run(ctx, |e| calls.iter().for_each(|c| c.encode(e)));
}

fn check(what: &str, got: &[f32], want: &[f32], (atol, rtol): (f32, f32)) {
    assert_parity(what, got, want, atol, rtol);
}

#[test]
fn drive_forward_matches_cpu() {
    let Some(ctx) = gpu() else { return };
    let kernel = RecurrentKernel::new(&ctx);
    let s = shape();
    let (ns, nx) = (s.state_len(), s.input_len());
    // Step 1 of 3, so every offset is non-zero; z of order 2 so tanh is neither linear nor flat.
    let xs = values(3 * nx, 1);
    let z = scaled(3 * ns, 2, 2.0);
    let mut want = vec![0.0; ns];
    recurrent_drive(s, &z[ns..2 * ns], &xs[nx..2 * nx], &mut want);
    let (g_xs, g_z, post, pre) = (GpuTensor::from_slice(&ctx, &xs), GpuTensor::from_slice(&ctx, &z), GpuTensor::zeros(&ctx, 3 * ns), GpuTensor::zeros(&ctx, 3 * ns));
    dispatch(&ctx, &[kernel.bind_drive(&ctx, &DriveUniform::at_step(s, 1, 3), &g_xs, &g_z, &post, &pre)]);
    let (post, pre) = (read(&ctx, &post), read(&ctx, &pre));
    check("post[1]", &post[ns..2 * ns], &want, (2e-6, 0.0));
    check("pre[2] is post[1]", &pre[2 * ns..], &post[ns..2 * ns], (0.0, 0.0));
    assert!(post[..ns].iter().chain(&post[2 * ns..]).chain(&pre[..2 * ns]).all(|&v| v == 0.0), "only step 1's slices are written");
    // At the last step there is no next state to feed.
    let pre_last = GpuTensor::zeros(&ctx, 3 * ns);
    let post_last = GpuTensor::zeros(&ctx, 3 * ns);
    dispatch(&ctx, &[kernel.bind_drive(&ctx, &DriveUniform::at_step(s, 2, 3), &g_xs, &g_z, &post_last, &pre_last)]);
    assert!(read(&ctx, &pre_last).iter().all(|&v| v == 0.0), "the last step writes no pre state");
}

#[test]
fn drive_backward_and_readout_match_cpu() {
    let Some(ctx) = gpu() else { return };
    let kernel = RecurrentKernel::new(&ctx);
    let s = shape();
    let ns = s.state_len();
    let post = scaled(2 * ns, 3, 0.95);
    let dy = values(ns, 4);
    let mut want_dz = vec![0.0; ns];
    recurrent_drive_backward(&post[ns..], &dy, &mut want_dz);
    let targets: Vec<f32> = values(s.input_len(), 5).iter().map(|v| v.signum()).collect();
    let mut want_dy = vec![0.0; ns];
    let want_loss = readout_mse(s, &post[ns..], &targets, Some(&mut want_dy));
    let step = DriveUniform::at_step(s, 1, 2);
    let (g_post, g_dy, g_dz) = (GpuTensor::from_slice(&ctx, &post), GpuTensor::from_slice(&ctx, &dy), GpuTensor::zeros(&ctx, ns));
    dispatch(&ctx, &[kernel.bind_drive_backward(&ctx, &step, &g_post, &g_dy, &g_dz)]);
    check("dz", &read(&ctx, &g_dz), &want_dz, (1e-6, 1e-6));
    // The read-out overwrites dy (stale values must go) and adds to a loss that holds something.
    let (g_targets, loss) = (GpuTensor::from_slice(&ctx, &targets), GpuTensor::from_slice(&ctx, &[0.5, 1.0]));
    dispatch(&ctx, &kernel.bind_readout(&ctx, &step, &g_post, &g_targets, &loss, Some(&g_dy)));
    check("read-out dy", &read(&ctx, &g_dy), &want_dy, SUM_TOL);
    check("read-out loss", &read(&ctx, &loss), &[0.5 + want_loss, 2.0], SUM_TOL);
}

/// A whole batch of episodes, forward (every state and saved trace) and backward (every
/// gradient), from the read-out loss at the last step: both rules, and the non-plastic network.
#[test]
fn episode_forward_and_backward_match_cpu() {
    let Some(ctx) = gpu() else { return };
    let kernels = (PlasticKernel::new(&ctx), RecurrentKernel::new(&ctx));
    let s = shape();
    let syn = NEURONS * NEURONS;
    let xs = values(STEPS * s.input_len(), 50);
    let targets: Vec<f32> = values(s.input_len(), 51).iter().map(|v| v.signum()).collect();
    let w = scaled(syn, 52, 0.6);
    for (rule, plastic) in [(HebbRule::Simple, true), (HebbRule::Oja, true), (HebbRule::Simple, false)] {
        let what = format!("{} rule, plastic {plastic}", rule.name());
        let alpha = if plastic { scaled(syn, 53, 0.8) } else { vec![0.0; syn] };
        let weights = PlasticWeights { w: &w, alpha: &alpha, eta: 0.3 };
        let tape = recurrent_forward(s, weights, rule, plastic, &xs, STEPS);
        let mut dlast = vec![0.0; s.state_len()];
        let want_loss = readout_mse(s, tape.last(), &targets, Some(&mut dlast));
        let grads = recurrent_backward(weights, rule, &tape, &dlast);
        let params = GpuPlasticParams::upload(&ctx, &w, &alpha, 0.3);
        let g = GpuPlasticParams::zeros(&ctx, syn);
        let (g_targets, loss) = (GpuTensor::from_slice(&ctx, &targets), GpuTensor::zeros(&ctx, 2));
        let episode = GpuRecurrentEpisode::new(&ctx, (&kernels.0, &kernels.1), s, STEPS, rule, plastic, &params, Some(&g), &g_targets, &loss, false);
        episode.xs.write(&ctx, &xs);
        // Twice, so the second pass shows that every tape and gradient is reset, not added to.
        for _ in 0..2 {
            run(&ctx, |e| {
                episode.encode_forward(e);
                episode.encode_backward(e);
            });
        }
        let tol = (EPISODE_TOL.0 + 2e-6, EPISODE_TOL.1);
        check(&format!("states, {what}"), &read(&ctx, &episode.post), &tape.ys[s.state_len()..], tol);
        check(&format!("pre states, {what}"), &read(&ctx, &episode.pre), &tape.ys[..STEPS * s.state_len()], tol);
        if plastic {
            check(&format!("Hebb tape, {what}"), &read(&ctx, &episode.hebb), &tape.hebb, tol);
        }
        check(&format!("loss, {what}"), &read(&ctx, &loss), &[2.0 * want_loss, 2.0], tol);
        check(&format!("dW, {what}"), &read(&ctx, &g.w), &grads.w, tol);
        check(&format!("dalpha, {what}"), &read(&ctx, &g.alpha), &grads.alpha, tol);
        check(&format!("deta, {what}"), &read(&ctx, &g.eta), &[grads.eta], tol);
        assert!(grads.w.iter().any(|v| v.abs() > 1e-3), "{what}: the gradient must not be trivially zero");
    }
}

/// A recurrent setting of a few seconds: 8 bits, 11 neurons (two hidden), 2 patterns, 9 steps per
/// episode, 3 episodes per batch. Gain 2 and lr 0.01 keep tanh out of saturation and let the
/// parameters move, so a wrong gradient shows; the 5 test episodes end in a batch of 2.
fn tiny(plastic: bool, rule: HebbRule) -> CompletionSetup {
    let net = HebbianConfig {
        bits: 8,
        neurons: 11,
        present_steps: 2,
        blank_steps: 1,
        test_steps: 3,
        input_gain: 2.0,
        rule,
        lr: 0.01,
        batch: 3,
        ..HebbianConfig::recurrent_small(plastic)
    };
    CompletionSetup { net, train_steps: 3, test_episodes: 5, log_every: 1, seed: 7 }
}

/// Adam divides each step by the gradient's own size, so a gradient that differs in its last bits
/// moves a parameter by the same amount: after three steps of lr 0.01 the parameters agree to 1e-4
/// absolute (1% of one step).
const TRAIN_ATOL: f32 = 1e-4;

#[test]
fn completion_training_matches_cpu() {
    let Some(ctx) = gpu() else { return };
    let ctx = Rc::new(ctx);
    for (plastic, rule) in [(true, HebbRule::Simple), (true, HebbRule::Oja), (false, HebbRule::Simple)] {
        let what = format!("plastic {plastic}, {} rule", rule.name());
        let (cpu_record, cpu_params) = run_completion(tiny(plastic, rule)).expect("a valid setting");
        let run = run_completion_with(tiny(plastic, rule), |c, p| GpuRecurrent::new(ctx.clone(), c, p));
        let (gpu_record, gpu_params) = pollster::block_on(run).expect("a valid setting");
        let curve = |r: &CompletionRecord| r.curve.iter().map(|p| p.train_mse).collect::<Vec<_>>();
        assert_eq!(gpu_record.curve.len(), 3, "{what}: one loss per step");
        check(&format!("training losses, {what}"), &curve(&gpu_record), &curve(&cpu_record), EPISODE_TOL);
        check(&format!("test MSE, {what}"), &[gpu_record.test_mse], &[cpu_record.test_mse], EPISODE_TOL);
        check(&format!("W, {what}"), &gpu_params.w, &cpu_params.w, (TRAIN_ATOL, 0.0));
        check(&format!("alpha, {what}"), &gpu_params.alpha, &cpu_params.alpha, (TRAIN_ATOL, 0.0));
        check(&format!("eta, {what}"), &[gpu_params.eta], &[cpu_params.eta], (TRAIN_ATOL, 0.0));
        let init = HebbianParams::init(&tiny(plastic, rule).net, 7);
        assert!(metaplastic::nn::max_violation(&gpu_params.w, &init.w, 1e-3, 0.0).is_some(), "{what}: training moved W");
        if plastic {
            assert!(metaplastic::nn::max_violation(&gpu_params.alpha, &init.alpha, 1e-3, 0.0).is_some(), "{what}: training moved alpha");
        } else {
            assert!(gpu_params.alpha.iter().all(|&a| a == 0.0), "{what}: alpha stays 0");
            assert_eq!(gpu_params.eta, init.eta, "{what}: eta is not trained");
        }
    }
}

/// The episode the page steps through, run on the GPU and read back, against the CPU trainer's:
/// every state and (plastic) every trace, `EPISODE_TOL`. Parameters after a few training steps, so
/// alpha and eta are not their initial values.
#[test]
fn episode_replay_matches_cpu() {
    use metaplastic::cpu::hebbian::CpuHebbian;
    let Some(ctx) = gpu() else { return };
    let ctx = Rc::new(ctx);
    for (plastic, rule) in [(true, HebbRule::Simple), (true, HebbRule::Oja), (false, HebbRule::Simple)] {
        let what = format!("plastic {plastic}, {} rule", rule.name());
        let (_, trained) = run_completion(tiny(plastic, rule)).expect("a valid setting");
        let cfg = tiny(plastic, rule).net;
        let xs: Vec<f32> = values(cfg.episode_steps() * cfg.bits, 11).iter().map(|v| v.signum()).collect();
        let mut cpu = CpuHebbian::new(cfg.clone(), trained.clone()).expect("a valid setting");
        let mut gpu = GpuRecurrent::new(ctx.clone(), cfg.clone(), trained).expect("a valid setting");
        let want = pollster::block_on(cpu.episode(&xs)).expect("one episode");
        let got = pollster::block_on(gpu.episode(&xs)).expect("one episode");
        assert_eq!((got.steps, got.neurons), (cfg.episode_steps(), cfg.neurons), "{what}");
        assert_eq!(want.states.len(), cfg.episode_steps() * cfg.neurons, "{what}: a state per step");
        assert_eq!(want.hebb.len(), if plastic { cfg.episode_steps() * cfg.neurons * cfg.neurons } else { 0 }, "{what}: a trace per step when plastic");
        check(&format!("states, {what}"), &got.states, &want.states, EPISODE_TOL);
        check(&format!("traces, {what}"), &got.hebb, &want.hebb, EPISODE_TOL);
        if plastic {
            let last = want.trace_at(cfg.episode_steps() - 1).expect("the last step's trace");
            assert!(last.iter().any(|&h| h != 0.0), "{what}: the trace fills up during the episode");
        }
        // Twice in a row gives the same (the replay pass starts from a zero state and trace).
        assert_eq!(pollster::block_on(gpu.episode(&xs)).expect("one episode"), got, "{what}: a second replay");
        assert!(matches!(pollster::block_on(gpu.episode(&xs[1..])), Err(TrainError::Config(_))), "{what}: not one episode");
    }
    let ff = HebbianConfig { bits: 8, ..HebbianConfig::small(true) };
    let xs = vec![1.0; ff.episode_steps() * ff.bits];
    let mut cpu_ff = CpuHebbian::new(ff.clone(), HebbianParams::init(&ff, 1)).expect("a valid setting");
    assert!(matches!(pollster::block_on(cpu_ff.episode(&xs)), Err(TrainError::Config(_))), "the feed-forward layer has no state to replay");
}

#[test]
fn a_wrong_batch_or_size_is_refused() {
    let Some(ctx) = gpu() else { return };
    let cfg = tiny(true, HebbRule::Simple).net;
    let ctx = Rc::new(ctx);
    let mut gpu = GpuRecurrent::new(ctx.clone(), cfg.clone(), HebbianParams::init(&cfg, 1)).expect("a valid setting");
    let targets = vec![0.0; cfg.bits * cfg.batch];
    assert!(matches!(gpu.train_step(&vec![0.0; cfg.bits], &targets), Err(TrainError::Config(_))));
    let wrong = HebbianParams::init(&HebbianConfig { neurons: 12, ..cfg.clone() }, 1);
    assert!(matches!(GpuRecurrent::new(ctx, cfg, wrong).map(drop), Err(TrainError::Config(_))));
}

/// The backend switch picks the trainer from the configuration: the recurrent network's on the
/// GPU for a recurrent setting, the feed-forward layer's otherwise; the CPU trainer runs both, and
/// the LSTM baseline, which the GPU refuses with a typed error.
#[test]
fn the_backend_picks_the_network_the_setting_names() {
    use metaplastic::backend::{Backend, Hebbian};
    let Some(ctx) = gpu() else { return };
    let gpu = Backend::Gpu(Rc::new(ctx));
    let rec = tiny(true, HebbRule::Simple).net;
    let ff = HebbianConfig { bits: 8, ..HebbianConfig::small(true) };
    assert!(matches!(gpu.hebbian(rec.clone(), HebbianParams::init(&rec, 1)), Ok(Hebbian::GpuRecurrent(_))));
    assert!(matches!(gpu.hebbian(ff.clone(), HebbianParams::init(&ff, 1)), Ok(Hebbian::Gpu(_))));
    assert!(matches!(Backend::Cpu.hebbian(rec.clone(), HebbianParams::init(&rec, 1)), Ok(Hebbian::Cpu(_))));
    // Parameters of one network do not fit the other.
    assert!(matches!(gpu.hebbian(rec.clone(), HebbianParams::init(&ff, 1)).map(drop), Err(TrainError::Config(_))));
    // The LSTM baseline is the CPU's alone: the GPU says so rather than run something else.
    let lstm = HebbianConfig { network: metaplastic::model::hebbian::Network::Lstm, plastic: false, ..rec };
    assert_eq!(gpu.hebbian(lstm.clone(), HebbianParams::init(&lstm, 1)).map(drop), Err(TrainError::CpuOnly("the LSTM baseline")));
    assert!(matches!(Backend::Cpu.hebbian(lstm.clone(), HebbianParams::init(&lstm, 1)), Ok(Hebbian::Cpu(_))));
}

#[test]
fn a_lost_device_is_reported() {
    use metaplastic::nn::DeviceError;
    let Some(ctx) = gpu() else { return };
    let cfg = tiny(true, HebbRule::Simple).net;
    let ctx = Rc::new(ctx);
    let mut gpu = GpuRecurrent::new(ctx.clone(), cfg.clone(), HebbianParams::init(&cfg, 1)).expect("a valid setting");
    ctx.device.destroy();
    let _ = ctx.wait();
    let xs = vec![0.0; cfg.episode_steps() * cfg.batch * cfg.bits];
    let targets = vec![0.0; cfg.batch * cfg.bits];
    let lost = |r: Result<(), TrainError>| matches!(r, Err(TrainError::Device(DeviceError::Lost(_))));
    assert!(lost(gpu.train_step(&xs, &targets)));
    assert!(lost(pollster::block_on(gpu.take_train_loss()).map(drop)));
    assert!(lost(pollster::block_on(gpu.loss(&xs, &targets)).map(drop)));
    assert!(lost(pollster::block_on(gpu.params()).map(drop)));
    assert!(lost(pollster::block_on(gpu.episode(&xs[..cfg.episode_steps() * cfg.bits])).map(drop)));
    assert!(lost(GpuRecurrent::new(ctx.clone(), cfg.clone(), HebbianParams::init(&cfg, 1)).map(drop)));
}
