//! The Hebbian plastic layer's CPU reference: finite-difference checks of backpropagation through
//! an episode (both rules, both nonlinearities), per-episode traces in a batch, refused settings,
//! and Miconi's result that plasticity completes patterns that fixed weights cannot.

mod common;
use metaplastic::nn::{HebbRule, Nonlinearity, PlasticDims, PlasticWeights};
use common::values;
use metaplastic::cpu::plastic::{EpisodeTape, episode_backward, episode_forward, hebb_update};
use metaplastic::experiments::completion::{CompletionSetup, completion_batch, run_completion};
use metaplastic::nn::TrainError;
use metaplastic::model::hebbian::HebbianConfig;
use rand::{SeedableRng, rngs::StdRng};

const DIMS: PlasticDims = PlasticDims { batch: 2, inputs: 4, outputs: 3 };
const STEPS: usize = 5;

/// A small episode whose trace matters: weights and alpha of order 0.5, eta 0.3, inputs in [-1, 1].
struct Case {
    w: Vec<f32>,
    alpha: Vec<f32>,
    eta: f32,
    xs: Vec<f32>,
    /// The loss is `sum_t sum proj(t) * y(t)`, so `dL/dy(t) = proj(t)` reaches every step.
    proj: Vec<f32>,
}

impl Case {
    fn new(seed: u64) -> Self {
        let syn = DIMS.synapses();
        Self {
            w: values(syn, seed).iter().map(|v| 0.6 * v).collect(),
            alpha: values(syn, seed + 1).iter().map(|v| 0.6 * v).collect(),
            eta: 0.3,
            xs: values(STEPS * DIMS.batch * DIMS.inputs, seed + 2),
            proj: values(STEPS * DIMS.batch * DIMS.outputs, seed + 3),
        }
    }

    fn loss(&self, w: &[f32], alpha: &[f32], eta: f32, xs: &[f32], rule: HebbRule, act: Nonlinearity) -> f64 {
        let tape = episode_forward(DIMS, PlasticWeights { w, alpha, eta }, rule, act, xs, STEPS);
        tape.y.iter().zip(&self.proj).map(|(y, p)| f64::from(y * p)).sum()
    }
}

/// Central difference in `x[i]`, in f64 from f32 evaluations.
fn numeric(x: &[f32], i: usize, h: f32, f: impl Fn(&[f32]) -> f64) -> f64 {
    let mut x = x.to_vec();
    let keep = x[i];
    x[i] = keep + h;
    let up = f(&x);
    x[i] = keep - h;
    let down = f(&x);
    (up - down) / (2.0 * f64::from(h))
}

/// With step 1e-2 the central difference's truncation error is ~h^2 = 1e-4 times the third
/// derivative (of order 1 here), and f32 rounding of a loss of order 1 adds ~1e-7 / h = 1e-5: so
/// 1e-3 absolute plus 1% relative separates a right gradient from a wrong one by orders of magnitude.
const H: f32 = 1e-2;
const ATOL: f64 = 1e-3;
const RTOL: f64 = 1e-2;

fn assert_close(name: &str, analytic: f32, numeric: f64) {
    let diff = (f64::from(analytic) - numeric).abs();
    assert!(diff <= ATOL + RTOL * numeric.abs(), "{name}: analytic {analytic} vs numeric {numeric}");
}

fn check_gradients(rule: HebbRule, act: Nonlinearity, seed: u64) {
    let c = Case::new(seed);
    let params = PlasticWeights { w: &c.w, alpha: &c.alpha, eta: c.eta };
    let tape = episode_forward(DIMS, params, rule, act, &c.xs, STEPS);
    let grads = episode_backward(params, rule, act, &c.xs, &tape, &c.proj);
    let tag = format!("{} rule, {}", rule.name(), act.name());
    for i in 0..c.w.len() {
        let num = numeric(&c.w, i, H, |w| c.loss(w, &c.alpha, c.eta, &c.xs, rule, act));
        assert_close(&format!("{tag}: dW[{i}]"), grads.w[i], num);
        let num = numeric(&c.alpha, i, H, |a| c.loss(&c.w, a, c.eta, &c.xs, rule, act));
        assert_close(&format!("{tag}: dalpha[{i}]"), grads.alpha[i], num);
    }
    let num = numeric(&[c.eta], 0, H, |e| c.loss(&c.w, &c.alpha, e[0], &c.xs, rule, act));
    assert_close(&format!("{tag}: deta"), grads.eta, num);
    for i in 0..c.xs.len() {
        let num = numeric(&c.xs, i, H, |x| c.loss(&c.w, &c.alpha, c.eta, x, rule, act));
        assert_close(&format!("{tag}: dx[{i}] (step {})", i / (DIMS.batch * DIMS.inputs)), grads.x[i], num);
    }
    // The trace must actually matter, or the alpha and eta checks prove nothing.
    assert!(grads.alpha.iter().any(|g| g.abs() > 1e-2) && grads.eta.abs() > 1e-3, "{tag}: the trace has no effect");
}

#[test]
fn bptt_matches_finite_differences_simple_tanh() {
    check_gradients(HebbRule::Simple, Nonlinearity::Tanh, 10);
}

#[test]
fn bptt_matches_finite_differences_simple_identity() {
    check_gradients(HebbRule::Simple, Nonlinearity::Identity, 20);
}

#[test]
fn bptt_matches_finite_differences_oja_tanh() {
    check_gradients(HebbRule::Oja, Nonlinearity::Tanh, 30);
}

#[test]
fn bptt_matches_finite_differences_oja_identity() {
    check_gradients(HebbRule::Oja, Nonlinearity::Identity, 40);
}

#[test]
fn hebb_update_follows_the_rules_by_hand() {
    let dims = PlasticDims { batch: 1, inputs: 2, outputs: 1 };
    let (x, y) = ([2.0f32, -1.0], [0.5f32]);
    let mut simple = vec![0.4f32, 0.2];
    hebb_update(dims, HebbRule::Simple, 0.1, &x, &y, &mut simple);
    // (1 - 0.1) * 0.4 + 0.1 * 0.5 * 2 = 0.46;  0.9 * 0.2 + 0.1 * 0.5 * -1 = 0.13
    assert!((simple[0] - 0.46).abs() < 1e-6 && (simple[1] - 0.13).abs() < 1e-6, "{simple:?}");
    let mut oja = vec![0.4f32, 0.2];
    hebb_update(dims, HebbRule::Oja, 0.1, &x, &y, &mut oja);
    // 0.4 + 0.1 * 0.5 * (2 - 0.4 * 0.5) = 0.49;  0.2 + 0.1 * 0.5 * (-1 - 0.2 * 0.5) = 0.145
    assert!((oja[0] - 0.49).abs() < 1e-6 && (oja[1] - 0.145).abs() < 1e-6, "{oja:?}");
}

fn episode(dims: PlasticDims, c: &Case, xs: &[f32], rule: HebbRule) -> EpisodeTape {
    episode_forward(dims, PlasticWeights { w: &c.w, alpha: &c.alpha, eta: c.eta }, rule, Nonlinearity::Tanh, xs, STEPS)
}

/// Rows of episode `b` in a `[T, batch, width]` tensor.
fn rows_of(v: &[f32], batch: usize, width: usize, b: usize) -> Vec<f32> {
    v.chunks_exact(width).skip(b).step_by(batch).flatten().copied().collect()
}

#[test]
fn each_episode_has_its_own_trace_starting_at_zero() {
    let dims = PlasticDims { batch: 3, ..DIMS };
    let c = Case::new(50);
    let xs = values(STEPS * dims.batch * dims.inputs, 51);
    for rule in [HebbRule::Simple, HebbRule::Oja] {
        let base = episode(dims, &c, &xs, rule);
        assert!(base.hebb[..dims.trace_len()].iter().all(|&h| h == 0.0), "the trace starts every episode at zero");
        // Change everything episode 1 sees: episodes 0 and 2 must not notice.
        let mut changed = xs.clone();
        for (t, row) in changed.chunks_exact_mut(dims.inputs).enumerate() {
            if t % dims.batch == 1 {
                row.iter_mut().for_each(|v| *v = -2.0 * *v + 0.3);
            }
        }
        let other = episode(dims, &c, &changed, rule);
        for b in [0, 2] {
            assert_eq!(rows_of(&base.y, 3, dims.outputs, b), rows_of(&other.y, 3, dims.outputs, b), "episode {b} changed with episode 1");
        }
        assert_ne!(rows_of(&base.y, 3, dims.outputs, 1), rows_of(&other.y, 3, dims.outputs, 1), "episode 1 should change");
        // Run alone, an episode gives what it gave in the batch: nothing carries over between
        // episodes or from an earlier call.
        let single = PlasticDims { batch: 1, ..dims };
        let alone = episode(single, &c, &rows_of(&xs, 3, dims.inputs, 2), rule);
        let again = episode(single, &c, &rows_of(&xs, 3, dims.inputs, 2), rule);
        assert_eq!(alone.y, again.y);
        let in_batch = rows_of(&base.y, 3, dims.outputs, 2);
        let worst = alone.y.iter().zip(&in_batch).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        assert!(worst <= 1e-6, "episode 2 alone differs from episode 2 in the batch by {worst}");
    }
}

#[test]
fn refuses_out_of_range_settings() {
    let ok = HebbianConfig::small(true);
    assert_eq!(ok.validate(), Ok(()));
    assert_eq!(HebbianConfig::miconi(true).validate(), Ok(()));
    let cases: Vec<(HebbianConfig, &str)> = vec![
        (HebbianConfig { bits: 1, ..ok.clone() }, "pattern bits"),
        (HebbianConfig { patterns: 0, ..ok.clone() }, "patterns"),
        (HebbianConfig { presentations: 0, ..ok.clone() }, "presentations"),
        (HebbianConfig { present_steps: 0, ..ok.clone() }, "steps per presentation"),
        (HebbianConfig { blank_steps: 51, ..ok.clone() }, "blank steps"),
        (HebbianConfig { test_steps: 0, ..ok.clone() }, "test steps"),
        (HebbianConfig { input_gain: f32::NAN, ..ok.clone() }, "input gain"),
        (HebbianConfig { lr: 0.0, ..ok.clone() }, "learning rate"),
        (HebbianConfig { lr: f32::INFINITY, ..ok.clone() }, "learning rate"),
        (HebbianConfig { batch: 0, ..ok.clone() }, "episodes per batch"),
        (HebbianConfig { batch: 64, ..HebbianConfig::miconi(true) }, "GiB of traces"),
    ];
    for (cfg, what) in cases {
        match cfg.validate() {
            Err(TrainError::Config(msg)) => assert!(msg.contains(what), "expected a message about {what}, got: {msg}"),
            other => panic!("expected a refusal about {what}, got {other:?}"),
        }
    }
    let setup = CompletionSetup { train_steps: 0, ..CompletionSetup::small(true) };
    assert!(matches!(run_completion(setup), Err(TrainError::Config(_))));
    let setup = CompletionSetup { test_episodes: 0, ..CompletionSetup::small(true) };
    assert!(matches!(run_completion(setup), Err(TrainError::Config(_))));
}

#[test]
fn episodes_follow_miconis_layout() {
    let cfg = HebbianConfig { bits: 10, patterns: 2, presentations: 2, present_steps: 2, blank_steps: 1, test_steps: 2, ..HebbianConfig::small(true) };
    let data = completion_batch(&cfg, 3, &mut StdRng::seed_from_u64(1));
    let n = cfg.bits;
    let step = |t: usize, b: usize| &data.xs[(t * 3 + b) * n..(t * 3 + b + 1) * n];
    assert_eq!(data.xs.len(), cfg.episode_steps() * 3 * n);
    for b in 0..3 {
        // pattern, pattern, blank, pattern, pattern, blank, (again), test, test
        for t in [2, 5, 8, 11] {
            assert!(step(t, b).iter().all(|&v| v == 0.0), "step {t} should be blank");
        }
        assert!(step(0, b).iter().all(|v| v.abs() == cfg.input_gain), "shown patterns are ±gain");
        let test = step(cfg.episode_steps() - 1, b);
        assert_eq!(test.iter().filter(|&&v| v == 0.0).count(), n / 2, "half the test bits are erased");
        let target = &data.targets[b * n..(b + 1) * n];
        assert!(test.iter().zip(target).all(|(x, p)| *x == 0.0 || *x == cfg.input_gain * p), "the rest are the target's");
    }
}

/// Miconi's result, small: after the same training, the plastic layer completes the half-erased
/// pattern; the non-plastic one can at best output 0 on erased bits (MSE about 0.5).
#[test]
fn plastic_network_completes_patterns_the_fixed_one_cannot() {
    let start = std::time::Instant::now();
    let mut mse = Vec::new();
    for plastic in [true, false] {
        let setup = CompletionSetup { train_steps: 600, test_episodes: 128, ..CompletionSetup::small(plastic) };
        let (record, params) = run_completion(setup).expect("the small setting is valid");
        eprintln!(
            "plastic {plastic}: test MSE {:.4}, eta {:.4}, curve {:?}",
            record.test_mse,
            params.eta,
            record.curve.iter().map(|p| (p.step, (p.train_mse * 1e4).round() / 1e4)).collect::<Vec<_>>()
        );
        mse.push(record.test_mse);
    }
    eprintln!("took {:.1} s", start.elapsed().as_secs_f64());
    assert!(mse[0] < 0.5 * mse[1], "plastic test MSE {} is not under half the non-plastic {}", mse[0], mse[1]);
}
