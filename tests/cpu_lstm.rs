//! The LSTM baseline of pattern completion on the CPU: finite-difference checks of
//! backpropagation through an episode for every weight and bias, one step by hand (gates, the
//! input bit on its cell's candidate, the read-out), the episodes of a batch kept apart, the
//! parameter layout and refused settings, and that training lowers the loss.

mod common;
use common::values;
use metaplastic::cpu::activation::sigmoid;
use metaplastic::cpu::lstm::{lstm_backward, lstm_forward};
use metaplastic::cpu::recurrent::readout_mse;
use metaplastic::experiments::completion::{CompletionSetup, run_completion};
use metaplastic::model::hebbian::{HebbianConfig, HebbianParams, Network};
use metaplastic::nn::{LstmShape, TrainError};

/// Two episodes, 3 bits, 5 cells (3 read out, 2 hidden), 6 steps.
const BITS: usize = 3;
const CELLS: usize = 5;
const STEPS: usize = 6;

fn shape() -> LstmShape {
    LstmShape::new(2, CELLS, BITS)
}

/// Weights of order 0.5 and inputs in [-1, 1], so no gate saturates and every path matters.
struct Case {
    params: Vec<f32>,
    xs: Vec<f32>,
    targets: Vec<f32>,
}

impl Case {
    fn new(seed: u64) -> Self {
        let s = shape();
        Self {
            params: values(s.param_len(), seed).iter().map(|v| 0.7 * v).collect(),
            xs: values(STEPS * s.input_len(), seed + 1),
            targets: values(s.input_len(), seed + 2).iter().map(|v| v.signum()).collect(),
        }
    }

    fn loss(&self, params: &[f32]) -> f64 {
        let tape = lstm_forward(shape(), params, &self.xs, STEPS);
        f64::from(readout_mse(shape().readout(), tape.last(), &self.targets, None))
    }
}

/// Step 1e-2: truncation error ~h^2 = 1e-4 times a third derivative of order 1, f32 rounding of a
/// loss of order 1 ~1e-7 / h = 1e-5; so 2e-4 absolute plus 1% relative separates a right gradient
/// from a wrong one (the same tolerance as the recurrent network's check).
const H: f32 = 1e-2;
const ATOL: f64 = 2e-4;
const RTOL: f64 = 1e-2;

#[test]
fn bptt_matches_finite_differences_for_every_parameter() {
    let s = shape();
    for seed in [10, 20] {
        let c = Case::new(seed);
        let tape = lstm_forward(s, &c.params, &c.xs, STEPS);
        let mut dlast = vec![0.0; s.state_len()];
        readout_mse(s.readout(), tape.last(), &c.targets, Some(&mut dlast));
        let grads = lstm_backward(&c.params, &tape, &dlast);
        assert_eq!(grads.len(), s.param_len());
        let mut params = c.params.clone();
        for (i, &g) in grads.iter().enumerate() {
            let num = common::numeric(&mut params, i, H, &mut |p| c.loss(p));
            common::assert_close(&format!("seed {seed}: d/dparam[{i}]"), g, num, ATOL, RTOL);
        }
        // Gradients through time: the weights from the hidden cells' outputs (read only through
        // recurrence) and every gate's bias must move the loss, or the check proves little.
        let fan_in = s.fan_in();
        let recurrent_cols: Vec<f32> = (0..s.gates()).flat_map(|r| grads[r * fan_in + BITS..(r + 1) * fan_in].to_vec()).collect();
        assert!(recurrent_cols.iter().any(|g| g.abs() > 1e-3), "seed {seed}: no gradient through time");
        let biases = &grads[s.gates() * fan_in..];
        for gate in 0..4 {
            assert!(biases[gate * CELLS..(gate + 1) * CELLS].iter().any(|g| g.abs() > 1e-4), "seed {seed}: gate {gate}'s biases get no gradient");
        }
    }
}

#[test]
fn one_step_by_hand() {
    // One episode, 1 bit, 2 cells, one step from the zero state: a = W [x; 0] + b.
    let s = LstmShape::new(1, 2, 1);
    assert_eq!(s.param_len(), 8 * 3 + 8);
    let (wx, bias): (Vec<f32>, Vec<f32>) = ((0..8).map(|r| 0.1 * (r as f32 - 3.5)).collect(), (0..8).map(|r| 0.05 * r as f32).collect());
    let mut params = vec![0.0f32; s.param_len()];
    for r in 0..8 {
        params[r * 3] = wx[r];
        // The recurrent columns read h(0) = 0: any value leaves the first step alone.
        params[r * 3 + 1] = 9.0;
        params[r * 3 + 2] = -9.0;
        params[24 + r] = bias[r];
    }
    let x = 0.8f32;
    let tape = lstm_forward(s, &params, &[x], 1);
    let a = |r: usize| wx[r] * x + bias[r];
    for j in 0..2 {
        let i = sigmoid(a(j));
        let o = sigmoid(a(6 + j));
        // Cell 0's candidate also gets the input bit; cell 1 (not read out) does not.
        let g = (a(4 + j) + if j == 0 { x } else { 0.0 }).tanh();
        // c(0) = 0, so the forget gate has nothing to keep.
        let c = i * g;
        let h = o * c.tanh();
        assert!((tape.cs[2 + j] - c).abs() < 1e-6, "cell {j}: c {} vs {c}", tape.cs[2 + j]);
        assert!((tape.last()[j] - h).abs() < 1e-6, "cell {j}: h {} vs {h}", tape.last()[j]);
    }
    // Only cell 0 is read out, as the recurrent network's neurons 0..bits.
    let mut dlast = [7.0f32; 2];
    let loss = readout_mse(s.readout(), tape.last(), &[1.0], Some(&mut dlast));
    assert!((loss - (tape.last()[0] - 1.0).powi(2)).abs() < 1e-6);
    assert_eq!(dlast[1], 0.0, "no gradient on a cell that is not read out");
}

#[test]
fn the_forget_gate_carries_the_cell_over_a_blank_step() {
    // One cell, one bit; W = 0, biases: i and o open, f set by the test. A shown bit then a blank
    // step: with f open the cell keeps the bit, with f shut it forgets it.
    let s = LstmShape::new(1, 2, 1);
    let run = |forget_bias: f32| {
        let mut params = vec![0.0f32; s.param_len()];
        let b = 8 * s.fan_in();
        for j in 0..2 {
            params[b + j] = 20.0; // input gate open
            params[b + 2 + j] = forget_bias;
            params[b + 6 + j] = 20.0; // output gate open
        }
        let tape = lstm_forward(s, &params, &[20.0, 0.0], 2);
        tape.last()[0]
    };
    let kept = run(20.0);
    let forgot = run(-20.0);
    assert!((kept - 1.0f32.tanh()).abs() < 1e-4, "the cell keeps c = 1 from the shown bit: h = {kept}");
    assert!(forgot.abs() < 1e-4, "a shut forget gate empties the cell: h = {forgot}");
}

#[test]
fn each_episode_of_a_batch_is_its_own() {
    let s = shape();
    let c = Case::new(50);
    let both = lstm_forward(s, &c.params, &c.xs, STEPS);
    let one = LstmShape::new(1, CELLS, BITS);
    let xs1: Vec<f32> = (0..STEPS).flat_map(|t| c.xs[t * s.input_len() + BITS..(t + 1) * s.input_len()].to_vec()).collect();
    let alone = lstm_forward(one, &c.params, &xs1, STEPS);
    for t in 0..STEPS {
        let got = &both.output_after(t)[CELLS..];
        let want = alone.output_after(t);
        assert!(got.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-6), "step {t}: {got:?} vs {want:?}");
    }
}

fn lstm_small() -> HebbianConfig {
    HebbianConfig { network: Network::Lstm, plastic: false, ..HebbianConfig::recurrent_small(false) }
}

#[test]
fn parameters_are_laid_out_and_checked() {
    let cfg = lstm_small();
    assert_eq!(cfg.validate(), Ok(()));
    let p = HebbianParams::init(&cfg, 1);
    // 51 cells on 50 bits: W [204, 101] and b [204].
    assert_eq!(p.w.len(), 204 * 101 + 204);
    assert!(p.alpha.is_empty() && p.bits == 51);
    let k = 1.0 / 51f32.sqrt();
    let input_cols = (0..204).flat_map(|r| p.w[r * 101..r * 101 + 50].to_vec());
    assert!(input_cols.clone().all(|v| v.abs() <= k / 20.0) && input_cols.clone().any(|v| v.abs() > 0.5 * k / 20.0), "input columns U(+-k / gain)");
    assert!(p.w[50..101].iter().all(|v| v.abs() <= k) && p.w[50..101].iter().any(|v| v.abs() > 0.5 * k), "recurrent columns U(+-k)");
    assert_eq!(cfg.layout().tensors.len(), 1, "one tensor, trained with Adam");
    assert!(p.check(&HebbianConfig { neurons: 60, ..cfg.clone() }).is_err(), "parameters of another size");
    assert!(HebbianParams::init(&HebbianConfig::recurrent_small(true), 1).check(&cfg).is_err(), "the recurrent network's parameters do not fit the LSTM");
    match (HebbianConfig { neurons: 50, ..cfg }).validate() {
        Err(TrainError::Config(msg)) => assert!(msg.contains("neurons"), "{msg}"),
        other => panic!("50 cells for 50 bits left none beyond the read-out, yet {other:?}"),
    }
}

/// Training works end to end through the same experiment and CPU trainer as the other variants:
/// a short run on small patterns lowers the test MSE clearly below its untrained start (an LSTM
/// learns this task slowly: about 0.70 to 0.58 here).
#[test]
fn training_lowers_the_loss() {
    let net = HebbianConfig { bits: 16, neurons: 17, batch: 4, lr: 3e-3, ..lstm_small() };
    let setup = |train_steps| CompletionSetup { net: net.clone(), train_steps, test_episodes: 64, log_every: 1, seed: 2 };
    let (start, _) = run_completion(setup(1)).expect("runs");
    let (end, _) = run_completion(setup(1000)).expect("runs");
    assert!(end.test_mse < 0.88 * start.test_mse, "test MSE {} after 1000 steps vs {} at the start", end.test_mse, start.test_mse);
}
