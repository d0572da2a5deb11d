//! The pattern-completion networks trained on the CPU: the loss (MSE at the last step), its
//! gradient through the episode ([`super::recurrent`] for Miconi's recurrent network,
//! [`super::plastic`] for the feed-forward layer, [`super::lstm`] for the LSTM baseline) and Adam on
//! `W`, `alpha` and `eta` (on the LSTM's weights). The GPU trainer
//! ([`crate::gpu::hebbian::GpuCompletion`]) does the same on the same data, except the LSTM.

use super::lstm::{lstm_backward, lstm_forward};
use super::metaplastic_adam::AdamState;
use super::plastic::{PlasticGrads, episode_backward, episode_forward};
use super::recurrent::{RecurrentGrads, readout_mse, recurrent_backward, recurrent_forward};
use crate::nn::{ParamLayout, TrainError};
use crate::model::hebbian::{EpisodeTrace, HebbianConfig, HebbianParams, HebbianTrainer, Network};

/// Mean squared error of the last step's outputs against `targets` (`[batch, bits]`), over bits
/// and episodes, and when asked, its gradients. `xs` is `[T, batch, bits]`.
pub fn last_step_mse(
    cfg: &HebbianConfig,
    params: &HebbianParams,
    xs: &[f32],
    targets: &[f32],
    with_grads: bool,
) -> (f32, Option<PlasticGrads>) {
    let steps = cfg.episode_steps();
    let dims = cfg.dims(targets.len() / cfg.bits);
    let tape = episode_forward(dims, params.weights(), cfg.rule, cfg.activation, xs, steps);
    let last = tape.y_at(steps - 1);
    let count = last.len() as f32;
    let loss = last.iter().zip(targets).map(|(y, p)| (y - p) * (y - p)).sum::<f32>() / count;
    if !with_grads {
        return (loss, None);
    }
    let ny = last.len();
    let mut dys = vec![0.0f32; steps * ny];
    for ((d, y), p) in dys[(steps - 1) * ny..].iter_mut().zip(last).zip(targets) {
        *d = 2.0 * (y - p) / count;
    }
    let grads = episode_backward(params.weights(), cfg.rule, cfg.activation, xs, &tape, &dys);
    (loss, Some(grads))
}

/// The recurrent network's loss: the MSE of the read-out neurons' last state against `targets`
/// (`[batch, bits]`), over bits and episodes, and when asked, its gradients. `xs` is
/// `[T, batch, bits]`.
pub fn recurrent_last_step_mse(
    cfg: &HebbianConfig,
    params: &HebbianParams,
    xs: &[f32],
    targets: &[f32],
    with_grads: bool,
) -> (f32, Option<RecurrentGrads>) {
    let shape = cfg.recurrent_shape(targets.len() / cfg.bits);
    let tape = recurrent_forward(shape, params.weights(), cfg.rule, cfg.plastic, xs, cfg.episode_steps());
    if !with_grads {
        return (readout_mse(shape, tape.last(), targets, None), None);
    }
    let mut dlast = vec![0.0f32; shape.state_len()];
    let loss = readout_mse(shape, tape.last(), targets, Some(&mut dlast));
    (loss, Some(recurrent_backward(params.weights(), cfg.rule, &tape, &dlast)))
}

/// The LSTM baseline's loss: the recurrent network's read-out and loss on its first `bits` cells'
/// last output, and when asked, the gradient of every LSTM weight.
pub fn lstm_last_step_mse(cfg: &HebbianConfig, params: &HebbianParams, xs: &[f32], targets: &[f32], with_grads: bool) -> (f32, Option<Vec<f32>>) {
    let shape = cfg.lstm_shape(targets.len() / cfg.bits);
    let tape = lstm_forward(shape, &params.w, xs, cfg.episode_steps());
    if !with_grads {
        return (readout_mse(shape.readout(), tape.last(), targets, None), None);
    }
    let mut dlast = vec![0.0f32; shape.state_len()];
    let loss = readout_mse(shape.readout(), tape.last(), targets, Some(&mut dlast));
    (loss, Some(lstm_backward(&params.w, &tape, &dlast)))
}

/// The loss of `cfg`'s network on a batch and, when asked, the gradients of `W`, `alpha`, `eta`
/// (as parameters of the same shape).
fn network_loss(cfg: &HebbianConfig, params: &HebbianParams, xs: &[f32], targets: &[f32], with_grads: bool) -> (f32, Option<HebbianParams>) {
    let bits = params.bits;
    match cfg.network {
        Network::Recurrent => {
            let (loss, grads) = recurrent_last_step_mse(cfg, params, xs, targets, with_grads);
            (loss, grads.map(|g: RecurrentGrads| HebbianParams { bits, w: g.w, alpha: g.alpha, eta: g.eta }))
        }
        Network::Feedforward => {
            let (loss, grads) = last_step_mse(cfg, params, xs, targets, with_grads);
            (loss, grads.map(|g: PlasticGrads| HebbianParams { bits, w: g.w, alpha: g.alpha, eta: g.eta }))
        }
        Network::Lstm => {
            let (loss, grads) = lstm_last_step_mse(cfg, params, xs, targets, with_grads);
            (loss, grads.map(|w| HebbianParams { bits, w, alpha: Vec::new(), eta: 0.0 }))
        }
    }
}

pub struct CpuHebbian {
    cfg: HebbianConfig,
    params: HebbianParams,
    layout: ParamLayout,
    adam: AdamState,
    /// Adam steps taken, named when the loss diverges.
    step: u32,
    losses: (f32, usize),
}

impl CpuHebbian {
    pub fn new(cfg: HebbianConfig, params: HebbianParams) -> Result<Self, TrainError> {
        cfg.validate()?;
        params.check(&cfg)?;
        let layout = cfg.layout();
        Ok(Self { adam: AdamState::new(&layout), layout, cfg, params, step: 0, losses: (0.0, 0) })
    }
}

impl HebbianTrainer for CpuHebbian {
    fn config(&self) -> &HebbianConfig {
        &self.cfg
    }

    fn train_step(&mut self, xs: &[f32], targets: &[f32]) -> Result<(), TrainError> {
        let cfg = &self.cfg;
        cfg.check_batch(xs, targets)?;
        let (loss, grads) = network_loss(cfg, &self.params, xs, targets, true);
        let grads = grads.expect("gradients were asked for");
        if !loss.is_finite() {
            return Err(TrainError::Diverged(format!("the loss became {loss} at step {}; try a smaller learning rate", self.step)));
        }
        self.step += 1;
        self.adam.step(&self.layout, &mut self.params, &grads);
        self.losses.0 += loss;
        self.losses.1 += 1;
        Ok(())
    }

    async fn take_train_loss(&mut self) -> Result<(f32, usize), TrainError> {
        Ok(std::mem::take(&mut self.losses))
    }

    async fn loss(&mut self, xs: &[f32], targets: &[f32]) -> Result<f32, TrainError> {
        self.cfg.check_batch(xs, targets)?;
        Ok(network_loss(&self.cfg, &self.params, xs, targets, false).0)
    }

    async fn params(&mut self) -> Result<HebbianParams, TrainError> {
        Ok(self.params.clone())
    }

    async fn episode(&mut self, xs: &[f32]) -> Result<EpisodeTrace, TrainError> {
        let cfg = &self.cfg;
        cfg.check_episode(xs)?;
        let steps = cfg.episode_steps();
        if cfg.network == Network::Lstm {
            // The cells' outputs; an LSTM has no trace to show.
            let tape = lstm_forward(cfg.lstm_shape(1), &self.params.w, xs, steps);
            return Ok(EpisodeTrace { steps, neurons: cfg.neurons, states: tape.hs[cfg.neurons..].to_vec(), hebb: Vec::new() });
        }
        let tape = recurrent_forward(cfg.recurrent_shape(1), self.params.weights(), cfg.rule, cfg.plastic, xs, steps);
        // Slot 0 of the tape is the zero state before the first step.
        let states = tape.ys[cfg.neurons..].to_vec();
        Ok(EpisodeTrace { steps, neurons: cfg.neurons, states, hebb: tape.hebb })
    }
}
