//! Miconi's recurrent plastic network on the CPU: finite-difference checks of backpropagation
//! through an episode for `W`, `alpha` and `eta` (both rules) and for the non-plastic network,
//! the drive and read-out by hand, the non-plastic shortcut (no trace) against alpha = 0 with the
//! trace, per-episode traces in a batch, balanced patterns, refused settings, and that training
//! lowers the loss.

mod common;
use common::values;
use metaplastic::cpu::recurrent::{readout_mse, recurrent_backward, recurrent_drive, recurrent_forward};
use metaplastic::experiments::completion::{CompletionSetup, completion_batch, run_completion};
use metaplastic::model::hebbian::{HebbianConfig, HebbianParams, Network, balanced_pattern};
use metaplastic::nn::{HebbRule, PlasticWeights, RecurrentShape, TrainError};
use rand::{SeedableRng, rngs::StdRng};

/// Two episodes, 3 bits, 5 neurons: the 3 read-out neurons, one hidden neuron with no input, the
/// bias neuron.
const BITS: usize = 3;
const NEURONS: usize = 5;
const STEPS: usize = 6;

fn shape() -> RecurrentShape {
    RecurrentShape::new(2, NEURONS, BITS, 0.7)
}

/// An episode whose trace matters: weights and alpha of order 0.5, eta 0.3, inputs in [-1, 1]
/// (not 20 times a pattern, which would saturate tanh and leave little to check).
struct Case {
    w: Vec<f32>,
    alpha: Vec<f32>,
    eta: f32,
    xs: Vec<f32>,
    targets: Vec<f32>,
}

impl Case {
    fn new(seed: u64, plastic: bool) -> Self {
        let syn = NEURONS * NEURONS;
        let s = shape();
        Self {
            w: values(syn, seed).iter().map(|v| 0.6 * v).collect(),
            alpha: if plastic { values(syn, seed + 1).iter().map(|v| 0.8 * v).collect() } else { vec![0.0; syn] },
            eta: 0.3,
            xs: values(STEPS * s.input_len(), seed + 2),
            targets: values(s.input_len(), seed + 3).iter().map(|v| v.signum()).collect(),
        }
    }

    fn loss(&self, w: &[f32], alpha: &[f32], eta: f32, rule: HebbRule, plastic: bool) -> f64 {
        let tape = recurrent_forward(shape(), PlasticWeights { w, alpha, eta }, rule, plastic, &self.xs, STEPS);
        f64::from(readout_mse(shape(), tape.last(), &self.targets, None))
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

/// Step 1e-2: truncation error ~h^2 = 1e-4 times a third derivative of order 1, f32 rounding of a
/// loss of order 1 ~1e-7 / h = 1e-5; so 1e-4 absolute plus 1% relative separates a right gradient
/// (these are of order 1e-2 to 1) from a wrong one.
const H: f32 = 1e-2;
const ATOL: f64 = 2e-4;
const RTOL: f64 = 1e-2;

fn assert_close(name: &str, analytic: f32, numeric: f64) {
    let diff = (f64::from(analytic) - numeric).abs();
    assert!(diff <= ATOL + RTOL * numeric.abs(), "{name}: analytic {analytic} vs numeric {numeric}");
}

fn check_gradients(rule: HebbRule, plastic: bool, seed: u64) {
    let c = Case::new(seed, plastic);
    let params = PlasticWeights { w: &c.w, alpha: &c.alpha, eta: c.eta };
    let tape = recurrent_forward(shape(), params, rule, plastic, &c.xs, STEPS);
    let mut dlast = vec![0.0; shape().state_len()];
    readout_mse(shape(), tape.last(), &c.targets, Some(&mut dlast));
    let grads = recurrent_backward(params, rule, &tape, &dlast);
    let tag = format!("{} rule, {}", rule.name(), if plastic { "plastic" } else { "non-plastic" });
    for i in 0..c.w.len() {
        let num = numeric(&c.w, i, H, |w| c.loss(w, &c.alpha, c.eta, rule, plastic));
        assert_close(&format!("{tag}: dW[{i}]"), grads.w[i], num);
        if plastic {
            let num = numeric(&c.alpha, i, H, |a| c.loss(&c.w, a, c.eta, rule, plastic));
            assert_close(&format!("{tag}: dalpha[{i}]"), grads.alpha[i], num);
        }
    }
    if plastic {
        let num = numeric(&[c.eta], 0, H, |e| c.loss(&c.w, &c.alpha, e[0], rule, plastic));
        assert_close(&format!("{tag}: deta"), grads.eta, num);
        // The trace must actually matter, or the alpha and eta checks prove nothing.
        assert!(grads.alpha.iter().any(|g| g.abs() > 1e-3) && grads.eta.abs() > 1e-4, "{tag}: the trace has no effect: {grads:?}");
    } else {
        assert!(grads.alpha.iter().all(|&g| g == 0.0) && grads.eta == 0.0, "{tag}: a non-plastic network has no alpha or eta gradient");
    }
    // Gradients through time: W's must reach beyond the last step's direct product, which alone
    // would make the hidden neuron's incoming row (fed only through recurrence) nearly free.
    assert!(grads.w.iter().all(|g| g.is_finite()) && grads.w.iter().any(|g| g.abs() > 1e-3), "{tag}: W's gradient is empty");
}

#[test]
fn bptt_matches_finite_differences_simple_rule() {
    check_gradients(HebbRule::Simple, true, 10);
}

#[test]
fn bptt_matches_finite_differences_oja_rule() {
    check_gradients(HebbRule::Oja, true, 20);
}

#[test]
fn bptt_matches_finite_differences_non_plastic() {
    check_gradients(HebbRule::Simple, false, 30);
}

#[test]
fn drive_feeds_bits_bias_and_nothing_else() {
    let s = RecurrentShape::new(1, 5, 2, 0.5);
    let z = [0.1f32, 0.2, 0.3, 0.4, 0.5];
    let mut y = [0.0f32; 5];
    recurrent_drive(s, &z, &[1.0, -2.0], &mut y);
    // Bits 0 and 1 get the input, neuron 2 (hidden) nothing, neuron 4 (last) the bias.
    let want = [(0.1f32 + 1.0).tanh(), (0.2f32 - 2.0).tanh(), 0.3f32.tanh(), 0.4f32.tanh(), (0.5f32 + 0.5).tanh()];
    for (g, w) in y.iter().zip(want) {
        assert!((g - w).abs() < 1e-6, "{y:?} vs {want:?}");
    }
    // The read-out is the first two neurons only.
    let targets = [1.0f32, -1.0];
    let mut dy = [9.0f32; 5];
    let loss = readout_mse(s, &y, &targets, Some(&mut dy));
    let want_loss = ((y[0] - 1.0).powi(2) + (y[1] + 1.0).powi(2)) / 2.0;
    assert!((loss - want_loss).abs() < 1e-6, "{loss} vs {want_loss}");
    assert_eq!(&dy[2..], &[0.0, 0.0, 0.0], "no gradient on neurons that are not read out");
    assert!((dy[0] - (y[0] - 1.0)).abs() < 1e-6, "d/dy of the mean over 2 bits is (y - p)");
}

#[test]
fn first_step_sees_only_its_input_and_the_trace_starts_empty() {
    let s = shape();
    let c = Case::new(5, true);
    let tape = recurrent_forward(s, PlasticWeights { w: &c.w, alpha: &c.alpha, eta: c.eta }, HebbRule::Simple, true, &c.xs, STEPS);
    // From the zero state the product is zero: y(1) = tanh(u(1)).
    let mut want = vec![0.0; s.state_len()];
    recurrent_drive(s, &vec![0.0; s.state_len()], &c.xs[..s.input_len()], &mut want);
    assert_eq!(tape.state_after(0), &want[..]);
    assert!(tape.hebb[..s.plastic().trace_len()].iter().all(|&h| h == 0.0), "Hebb(0) is zero");
    assert!(tape.hebb[s.plastic().trace_len()..].iter().any(|&h| h != 0.0), "the trace must follow activity");
}

#[test]
fn the_non_plastic_shortcut_is_alpha_zero_exactly() {
    let c = Case::new(40, false);
    let params = PlasticWeights { w: &c.w, alpha: &c.alpha, eta: c.eta };
    let with_trace = recurrent_forward(shape(), params, HebbRule::Simple, true, &c.xs, STEPS);
    let without = recurrent_forward(shape(), params, HebbRule::Simple, false, &c.xs, STEPS);
    assert_eq!(with_trace.ys, without.ys, "alpha = 0 hides the trace, so skipping it changes nothing");
    assert!(without.hebb.is_empty(), "the non-plastic network keeps no traces");
    let mut dlast = vec![0.0; shape().state_len()];
    readout_mse(shape(), with_trace.last(), &c.targets, Some(&mut dlast));
    let g1 = recurrent_backward(params, HebbRule::Simple, &with_trace, &dlast);
    let g2 = recurrent_backward(params, HebbRule::Simple, &without, &dlast);
    assert_eq!(g1.w, g2.w);
}

#[test]
fn each_episode_of_a_batch_has_its_own_trace() {
    let s = shape();
    let c = Case::new(50, true);
    let params = PlasticWeights { w: &c.w, alpha: &c.alpha, eta: c.eta };
    let both = recurrent_forward(s, params, HebbRule::Simple, true, &c.xs, STEPS);
    let one = RecurrentShape::new(1, NEURONS, BITS, s.bias);
    // Episode 1 alone: its slice of each step's input.
    let xs1: Vec<f32> = (0..STEPS).flat_map(|t| c.xs[t * s.input_len() + BITS..(t + 1) * s.input_len()].to_vec()).collect();
    let alone = recurrent_forward(one, params, HebbRule::Simple, true, &xs1, STEPS);
    for t in 0..STEPS {
        let got = &both.state_after(t)[NEURONS..];
        let want = alone.state_after(t);
        assert!(got.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-6), "step {t}: {got:?} vs {want:?}");
    }
}

#[test]
fn patterns_are_exactly_half_plus_one() {
    let mut rng = StdRng::seed_from_u64(3);
    for bits in [2, 10, 50, 51] {
        let p = balanced_pattern(bits, &mut rng);
        assert_eq!(p.len(), bits);
        assert_eq!(p.iter().filter(|&&v| v == -1.0).count(), bits / 2, "{p:?}");
        assert!(p.iter().all(|&v| v == 1.0 || v == -1.0));
    }
    // Every pattern of an episode, and the test pattern, is balanced; half its bits are erased.
    let cfg = HebbianConfig::recurrent_small(true);
    let data = completion_batch(&cfg, 4, &mut rng);
    let n = cfg.bits;
    for b in 0..4 {
        let target = &data.targets[b * n..(b + 1) * n];
        assert_eq!(target.iter().filter(|&&v| v == 1.0).count(), n / 2);
        let t_last = cfg.episode_steps() - 1;
        let last = &data.xs[(t_last * 4 + b) * n..(t_last * 4 + b + 1) * n];
        assert_eq!(last.iter().filter(|&&v| v == 0.0).count(), n / 2, "half the test pattern's bits are erased");
    }
}

#[test]
fn miconi_small_setting_has_his_episode() {
    let cfg = HebbianConfig::recurrent_small(true);
    assert_eq!(cfg.validate(), Ok(()));
    assert_eq!((cfg.bits, cfg.neurons, cfg.patterns, cfg.batch), (50, 51, 2, 1));
    // 2 patterns x (3 shown + 1 blank), then 3 test steps (full.py's; simple.py's 1,000-bit
    // setting shows it for 6).
    assert_eq!(cfg.episode_steps(), 11);
    assert_eq!(HebbianConfig::recurrent_miconi(true).test_steps, 6);
    let p = HebbianParams::init(&cfg, 1);
    assert_eq!(p.w.len(), 51 * 51);
    assert!((0..51).all(|i| p.alpha[i * 51 + i] == 0.0), "no plastic autapses at the start");
    let sd = (p.w.iter().map(|v| v * v).sum::<f32>() / p.w.len() as f32).sqrt();
    assert!((0.009..0.011).contains(&sd), "W ~ 0.01 randn, sd {sd}");
    let np = HebbianParams::init(&HebbianConfig::recurrent_small(false), 1);
    assert!(np.alpha.iter().all(|&a| a == 0.0));
}

#[test]
fn refuses_too_few_neurons() {
    let cfg = HebbianConfig { neurons: 50, ..HebbianConfig::recurrent_small(true) };
    match cfg.validate() {
        Err(TrainError::Config(msg)) => assert!(msg.contains("neurons"), "{msg}"),
        other => panic!("50 neurons for 50 bits left no bias neuron, yet {other:?}"),
    }
    // The feed-forward layer has no neurons setting to check.
    assert_eq!(HebbianConfig { neurons: 0, network: Network::Feedforward, ..HebbianConfig::small(true) }.validate(), Ok(()));
    let p = HebbianParams::init(&HebbianConfig::recurrent_small(true), 1);
    assert!(p.check(&HebbianConfig { neurons: 60, ..HebbianConfig::recurrent_small(true) }).is_err(), "parameters of another size");
}

/// Training works end to end: a short run of the recurrent plastic network on small patterns
/// lowers its test MSE well below that of its untrained start.
#[test]
fn training_lowers_the_loss() {
    let net = HebbianConfig { bits: 16, neurons: 17, batch: 4, lr: 3e-3, ..HebbianConfig::recurrent_small(true) };
    let untrained = CompletionSetup { net: net.clone(), train_steps: 1, test_episodes: 64, log_every: 1, seed: 2 };
    let (start, _) = run_completion(untrained).expect("runs");
    let trained = CompletionSetup { train_steps: 300, log_every: 50, ..CompletionSetup { net, train_steps: 1, test_episodes: 64, log_every: 1, seed: 2 } };
    let (end, params) = run_completion(trained).expect("runs");
    assert!(end.test_mse < 0.7 * start.test_mse, "test MSE {} after 300 steps vs {} at the start", end.test_mse, start.test_mse);
    assert!(params.eta.is_finite() && params.eta != 0.01, "eta is learned: {}", params.eta);
}
