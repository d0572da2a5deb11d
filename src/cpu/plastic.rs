//! Differentiable Hebbian plasticity (Miconi, Clune, Stanley, "Differentiable plasticity: training
//! plastic neural networks with backpropagation", ICML 2018; docs/algorithms.md, "Plastic
//! connection" and "Hebbian trace rules"), batched.
//!
//! ```text
//! y_j(t)       = sigma( sum_i (W_ji + alpha_ji * Hebb_ji(t)) * x_i(t) )
//! simple:  Hebb_ji(t+1) = (1 - eta) * Hebb_ji(t) + eta * y_j(t) * x_i(t)
//! Oja:     Hebb_ji(t+1) = Hebb_ji(t) + eta * y_j(t) * (x_i(t) - Hebb_ji(t) * y_j(t))
//! ```
//! `W` (fixed weights) and `alpha` (how plastic each synapse is) are per synapse and learned by
//! gradient descent; `eta` is one learned scalar; `Hebb` is not a parameter but a trace, zero at
//! the start of every episode, that the rule updates after every step. Training differentiates
//! through the whole episode (backpropagation through time), `Hebb` included.
//!
//! Miconi's code keeps one trace for one episode; here every episode of a batch has its own, so
//! episodes train in batches without their traces mixing (the seed "fails in batches").
//!
//! Layouts, all row-major f32, batch-major, indices `j` (output) before `i` (input) to match `W`:
//! - `W`, `alpha`: `[out, in]`
//! - `x`: `[batch, in]`, `y`: `[batch, out]` for one step; `[T, batch, in]` / `[T, batch, out]`
//!   for a whole episode
//! - `Hebb`: `[batch, out, in]` for one step; `[T, batch, out, in]` saved over an episode
//!
//! Each step is two primitives, [`plastic_step_forward`] and [`hebb_update`], each with its
//! backward, [`plastic_step_backward`] and [`hebb_update_backward`]: one GPU kernel per function
//! later. [`episode_forward`] and [`episode_backward`] chain them over time.

use super::matmul::matmul;
use crate::nn::{HebbRule, MatmulShape, Nonlinearity, PlasticDims, PlasticWeights};

/// One step: `y[b,j] = sigma( sum_i (W[j,i] + alpha[j,i] * Hebb[b,j,i]) * x[b,i] )`.
///
/// Shapes: `w`, `alpha` `[out, in]`; `hebb` `[batch, out, in]`; `x` `[batch, in]`; `y` `[batch, out]`.
pub fn plastic_step_forward(
    dims: PlasticDims,
    w: &[f32],
    alpha: &[f32],
    hebb: &[f32],
    x: &[f32],
    act: Nonlinearity,
    y: &mut [f32],
) {
    let PlasticDims { batch, inputs, outputs } = dims;
    assert_eq!(w.len(), dims.synapses(), "W must be out x in");
    assert_eq!(alpha.len(), dims.synapses(), "alpha must be out x in");
    assert_eq!(hebb.len(), dims.trace_len(), "Hebb must be batch x out x in");
    assert_eq!(x.len(), batch * inputs, "x must be batch x in");
    assert_eq!(y.len(), batch * outputs, "y must be batch x out");
    // The fixed part is the usual dense product x W^T; only the plastic part differs per episode.
    matmul(MatmulShape::new(batch, inputs, outputs).trans_b(), x, w, y);
    for b in 0..batch {
        let xb = &x[b * inputs..(b + 1) * inputs];
        for j in 0..outputs {
            let row = (b * outputs + j) * inputs;
            let hebb_row = &hebb[row..row + inputs];
            let alpha_row = &alpha[j * inputs..(j + 1) * inputs];
            let plastic: f32 = (0..inputs).map(|i| alpha_row[i] * hebb_row[i] * xb[i]).sum();
            let z = y[b * outputs + j] + plastic;
            y[b * outputs + j] = act.apply(z);
        }
    }
}

/// The trace update after a step, in place: `hebb` (`[batch, out, in]`) from `Hebb(t)` to
/// `Hebb(t+1)`, given that step's `x` (`[batch, in]`) and `y` (`[batch, out]`).
pub fn hebb_update(dims: PlasticDims, rule: HebbRule, eta: f32, x: &[f32], y: &[f32], hebb: &mut [f32]) {
    let PlasticDims { batch, inputs, outputs } = dims;
    assert_eq!(hebb.len(), dims.trace_len(), "Hebb must be batch x out x in");
    assert_eq!(x.len(), batch * inputs, "x must be batch x in");
    assert_eq!(y.len(), batch * outputs, "y must be batch x out");
    for b in 0..batch {
        let xb = &x[b * inputs..(b + 1) * inputs];
        for j in 0..outputs {
            let yj = y[b * outputs + j];
            let row = (b * outputs + j) * inputs;
            for (h, &xi) in hebb[row..row + inputs].iter_mut().zip(xb) {
                *h = match rule {
                    HebbRule::Simple => (1.0 - eta) * *h + eta * yj * xi,
                    HebbRule::Oja => *h + eta * yj * (xi - *h * yj),
                };
            }
        }
    }
}

/// Backward of [`hebb_update`]. On entry `dhebb` holds `dL/dHebb(t+1)`; on return `dL/dHebb(t)`
/// through this update. Adds this update's share to `dx` (`[batch, in]`), `dy` (`[batch, out]`)
/// and `deta`. `hebb` is `Hebb(t)`, the trace before the update.
///
/// ```text
/// simple: dHebb(t) = (1-eta) dHebb(t+1)        deta += sum dHebb(t+1) * (y_j x_i - Hebb_ji)
///         dy_j += eta sum_i dHebb_ji x_i         dx_i += eta sum_j dHebb_ji y_j
/// Oja:    dHebb(t) = dHebb(t+1) (1 - eta y_j^2) deta += sum dHebb(t+1) * y_j (x_i - Hebb_ji y_j)
///         dy_j += eta sum_i dHebb_ji (x_i - 2 Hebb_ji y_j)   dx_i += eta sum_j dHebb_ji y_j
/// ```
#[allow(clippy::too_many_arguments)]
pub fn hebb_update_backward(
    dims: PlasticDims,
    rule: HebbRule,
    eta: f32,
    x: &[f32],
    y: &[f32],
    hebb: &[f32],
    dhebb: &mut [f32],
    dx: &mut [f32],
    dy: &mut [f32],
    deta: &mut f32,
) {
    let PlasticDims { batch, inputs, outputs } = dims;
    assert_eq!(hebb.len(), dims.trace_len(), "Hebb must be batch x out x in");
    assert_eq!(dhebb.len(), dims.trace_len(), "dHebb must be batch x out x in");
    assert_eq!(x.len(), batch * inputs, "x must be batch x in");
    assert_eq!(dx.len(), batch * inputs, "dx must be batch x in");
    assert_eq!(y.len(), batch * outputs, "y must be batch x out");
    assert_eq!(dy.len(), batch * outputs, "dy must be batch x out");
    // Summed in f64: eta's gradient gathers every synapse of every episode and step.
    let mut deta_sum = 0.0f64;
    for b in 0..batch {
        let xb = &x[b * inputs..(b + 1) * inputs];
        let dxb = &mut dx[b * inputs..(b + 1) * inputs];
        for j in 0..outputs {
            let yj = y[b * outputs + j];
            let row = (b * outputs + j) * inputs;
            let h_row = &hebb[row..row + inputs];
            let dh_row = &mut dhebb[row..row + inputs];
            let mut dyj = 0.0f32;
            for i in 0..inputs {
                let (g, h, xi) = (dh_row[i], h_row[i], xb[i]);
                match rule {
                    HebbRule::Simple => {
                        deta_sum += f64::from(g * (yj * xi - h));
                        dyj += eta * g * xi;
                        dh_row[i] = (1.0 - eta) * g;
                    }
                    HebbRule::Oja => {
                        deta_sum += f64::from(g * yj * (xi - h * yj));
                        dyj += eta * g * (xi - 2.0 * h * yj);
                        dh_row[i] = g * (1.0 - eta * yj * yj);
                    }
                }
                dxb[i] += eta * g * yj;
            }
            dy[b * outputs + j] += dyj;
        }
    }
    *deta += deta_sum as f32;
}

/// Backward of [`plastic_step_forward`], accumulating: given `dy` (`dL/dy` of this step, every
/// path included), adds to `dw` and `dalpha` (`[out, in]`), `dhebb` (`[batch, out, in]`, the
/// gradient reaching `Hebb(t)` through this step) and `dx` (`[batch, in]`).
///
/// ```text
/// dz[b,j] = dy[b,j] * sigma'(z)           dW[j,i] += sum_b dz[b,j] x[b,i]
/// dalpha[j,i] += sum_b dz[b,j] Hebb[b,j,i] x[b,i]    dHebb[b,j,i] += dz[b,j] alpha[j,i] x[b,i]
/// dx[b,i] += sum_j dz[b,j] (W[j,i] + alpha[j,i] Hebb[b,j,i])
/// ```
#[allow(clippy::too_many_arguments)]
pub fn plastic_step_backward(
    dims: PlasticDims,
    w: &[f32],
    alpha: &[f32],
    hebb: &[f32],
    x: &[f32],
    y: &[f32],
    dy: &[f32],
    act: Nonlinearity,
    dw: &mut [f32],
    dalpha: &mut [f32],
    dhebb: &mut [f32],
    dx: &mut [f32],
) {
    let PlasticDims { batch, inputs, outputs } = dims;
    assert_eq!(w.len(), dims.synapses(), "W must be out x in");
    assert_eq!(alpha.len(), dims.synapses(), "alpha must be out x in");
    assert_eq!(dw.len(), dims.synapses(), "dW must be out x in");
    assert_eq!(dalpha.len(), dims.synapses(), "dalpha must be out x in");
    assert_eq!(hebb.len(), dims.trace_len(), "Hebb must be batch x out x in");
    assert_eq!(dhebb.len(), dims.trace_len(), "dHebb must be batch x out x in");
    assert_eq!(x.len(), batch * inputs, "x must be batch x in");
    assert_eq!(dx.len(), batch * inputs, "dx must be batch x in");
    assert_eq!(y.len(), batch * outputs, "y must be batch x out");
    assert_eq!(dy.len(), batch * outputs, "dy must be batch x out");
    let dz: Vec<f32> = dy.iter().zip(y).map(|(&g, &yv)| g * act.derivative_from_output(yv)).collect();
    // The fixed part, as for any dense layer: dW += dz^T x and dx += dz W.
    matmul(MatmulShape::new(outputs, batch, inputs).trans_a().accumulate(), &dz, x, dw);
    matmul(MatmulShape::new(batch, outputs, inputs).accumulate(), &dz, w, dx);
    for b in 0..batch {
        let xb = &x[b * inputs..(b + 1) * inputs];
        let dxb = &mut dx[b * inputs..(b + 1) * inputs];
        for j in 0..outputs {
            let g = dz[b * outputs + j];
            let row = (b * outputs + j) * inputs;
            let syn = j * inputs;
            for i in 0..inputs {
                let (h, a, xi) = (hebb[row + i], alpha[syn + i], xb[i]);
                dalpha[syn + i] += g * h * xi;
                dhebb[row + i] += g * a * xi;
                dxb[i] += g * a * h;
            }
        }
    }
}

/// What backward needs from a forward pass over an episode.
#[derive(Debug, Clone, PartialEq)]
pub struct EpisodeTape {
    pub dims: PlasticDims,
    pub steps: usize,
    /// Outputs `[T, batch, out]`.
    pub y: Vec<f32>,
    /// The trace each step read, `Hebb(t)` before that step's update: `[T, batch, out, in]`
    /// (`Hebb(0)` is zero). This is the memory cost of BPTT: `T * batch * out * in` floats.
    pub hebb: Vec<f32>,
}

impl EpisodeTape {
    pub fn y_at(&self, t: usize) -> &[f32] {
        let n = self.dims.batch * self.dims.outputs;
        &self.y[t * n..(t + 1) * n]
    }
}

/// Gradients of a loss over one episode.
#[derive(Debug, Clone, PartialEq)]
pub struct PlasticGrads {
    /// `[out, in]`
    pub w: Vec<f32>,
    /// `[out, in]`
    pub alpha: Vec<f32>,
    pub eta: f32,
    /// `[T, batch, in]`
    pub x: Vec<f32>,
}

/// Runs an episode of `steps` steps from a zero trace: `xs` is `[T, batch, in]`. Saves the outputs
/// and every step's trace. The trace after the last step is not kept: nothing reads it.
pub fn episode_forward(
    dims: PlasticDims,
    params: PlasticWeights,
    rule: HebbRule,
    act: Nonlinearity,
    xs: &[f32],
    steps: usize,
) -> EpisodeTape {
    episode_run(dims, params, rule, act, xs, steps, true)
}

/// [`episode_forward`] for a pass that does not go backward: the outputs alone (`hebb` is empty),
/// so it holds one trace instead of `T`.
pub fn episode_outputs(dims: PlasticDims, params: PlasticWeights, rule: HebbRule, act: Nonlinearity, xs: &[f32], steps: usize) -> EpisodeTape {
    episode_run(dims, params, rule, act, xs, steps, false)
}

fn episode_run(dims: PlasticDims, params: PlasticWeights, rule: HebbRule, act: Nonlinearity, xs: &[f32], steps: usize, save: bool) -> EpisodeTape {
    let (nx, ny, nh) = (dims.batch * dims.inputs, dims.batch * dims.outputs, dims.trace_len());
    assert_eq!(xs.len(), steps * nx, "xs must be T x batch x in");
    let mut y = vec![0.0f32; steps * ny];
    // Filled by appending: zeroing `T` traces first would only be written over (a memset as long
    // as the step's own work).
    let mut saved = Vec::with_capacity(if save { steps * nh } else { 0 });
    // Every episode starts from an empty trace: nothing learned within one episode carries over.
    let mut hebb = vec![0.0f32; nh];
    for t in 0..steps {
        let x_t = &xs[t * nx..(t + 1) * nx];
        if save {
            saved.extend_from_slice(&hebb);
        }
        let y_t = &mut y[t * ny..(t + 1) * ny];
        plastic_step_forward(dims, params.w, params.alpha, &hebb, x_t, act, y_t);
        if t + 1 < steps {
            hebb_update(dims, rule, params.eta, x_t, y_t, &mut hebb);
        }
    }
    EpisodeTape { dims, steps, y, hebb: saved }
}

/// Backpropagation through time over an episode recorded by [`episode_forward`]. `dys` is
/// `dL/dy(t)` for every step, `[T, batch, out]` (zero where the loss does not look).
///
/// Going backwards, step `t`'s output matters to the loss directly and, through the update
/// `Hebb(t+1) = f(Hebb(t), x(t), y(t))`, to every later step; so each step first takes the
/// update's backward (which adds to `dy(t)`), then the step's own backward (which adds to the
/// gradient reaching `Hebb(t)`).
pub fn episode_backward(
    params: PlasticWeights,
    rule: HebbRule,
    act: Nonlinearity,
    xs: &[f32],
    tape: &EpisodeTape,
    dys: &[f32],
) -> PlasticGrads {
    let dims = tape.dims;
    let steps = tape.steps;
    let (nx, ny, nh) = (dims.batch * dims.inputs, dims.batch * dims.outputs, dims.trace_len());
    assert_eq!(xs.len(), steps * nx, "xs must be T x batch x in");
    assert_eq!(dys.len(), steps * ny, "dys must be T x batch x out");
    assert_eq!(tape.hebb.len(), steps * nh, "the tape keeps every trace (episode_forward, not episode_outputs)");
    let mut grads =
        PlasticGrads { w: vec![0.0; dims.synapses()], alpha: vec![0.0; dims.synapses()], eta: 0.0, x: vec![0.0; steps * nx] };
    // dL/dHebb(t+1): zero after the last step, whose update (skipped in forward) nothing reads.
    let mut dhebb = vec![0.0f32; nh];
    let mut dy = vec![0.0f32; ny];
    for t in (0..steps).rev() {
        let x_t = &xs[t * nx..(t + 1) * nx];
        let y_t = tape.y_at(t);
        let hebb_t = &tape.hebb[t * nh..(t + 1) * nh];
        let dx_t = &mut grads.x[t * nx..(t + 1) * nx];
        dy.copy_from_slice(&dys[t * ny..(t + 1) * ny]);
        if t + 1 < steps {
            hebb_update_backward(dims, rule, params.eta, x_t, y_t, hebb_t, &mut dhebb, dx_t, &mut dy, &mut grads.eta);
        }
        plastic_step_backward(
            dims,
            params.w,
            params.alpha,
            hebb_t,
            x_t,
            y_t,
            &dy,
            act,
            &mut grads.w,
            &mut grads.alpha,
            &mut dhebb,
            dx_t,
        );
    }
    grads
}
