//! Miconi's recurrent plastic network for pattern completion (Miconi, Clune, Stanley, ICML 2018,
//! §4.1; his `simple/full.py`; docs/algorithms.md, "Recurrent pattern completion"), batched: one
//! trace per episode of the batch.
//!
//! ```text
//! y(t)      = tanh( y(t-1) (W + alpha ⊙ Hebb(t)) + u(t) )      y(0) = 0 before the first step
//! Hebb(t+1) = (1 - eta) Hebb(t) + eta y(t-1) y(t)^T             (or Oja's rule, same pre and post)
//! ```
//! with the trace's pre-synaptic side the previous state and its post-synaptic side the new one.
//! `u(t)` is the episode's input on neurons `0..bits`, the bias on the last neuron and zero on the
//! others ([`RecurrentShape::drive`]). In our `[out, in]` layout `W[j,i]` is Miconi's `w[i,j]`.
//!
//! The recurrent connections are the plastic layer of [`super::plastic`] with the previous state
//! as its input and no nonlinearity; the step adds the drive and takes tanh
//! ([`recurrent_drive`]). So a step is `plastic_step_forward` (identity), `recurrent_drive`, and
//! `hebb_update(pre = y(t-1), post = y(t))`; backward walks the same three in reverse, and the
//! gradient reaching `y(t-1)` through the product becomes part of `dL/dy(t-1)`.
//!
//! The non-plastic network is the same with `alpha = 0`, not trained: its trace cannot reach
//! the state, so the trace is not computed at all (its gradient would be exactly zero), and the
//! product is the plain `y(t-1) W^T` of an RNN, through the packed matrix product (a much larger
//! non-plastic baseline is affordable only so).
//!
//! Layouts (row-major f32, batch-major): the state tape `ys` is `[T + 1, batch, neurons]` with
//! slot 0 the zero state before the first step, so step `t` (from 0) reads slot `t` and writes
//! slot `t + 1`; inputs `xs` are `[T, batch, bits]`; traces `[T, batch, neurons, neurons]`.

use super::matmul::matmul;
use super::plastic::{hebb_update, hebb_update_backward, plastic_step_backward, plastic_step_forward};
use crate::nn::{HebbRule, MatmulShape, Nonlinearity, PlasticWeights, RecurrentShape};

/// The new state from the recurrent product `z` (`[batch, neurons]`) and the step's input `x`
/// (`[batch, bits]`): `y[b,j] = tanh(z[b,j] + u_j(x_b))`.
pub fn recurrent_drive(shape: RecurrentShape, z: &[f32], x: &[f32], y: &mut [f32]) {
    let (n, bits) = (shape.neurons as usize, shape.bits as usize);
    assert_eq!(z.len(), shape.state_len(), "z must be batch x neurons");
    assert_eq!(y.len(), shape.state_len(), "y must be batch x neurons");
    assert_eq!(x.len(), shape.input_len(), "x must be batch x bits");
    for b in 0..shape.batch as usize {
        let xb = &x[b * bits..(b + 1) * bits];
        for j in 0..n {
            y[b * n + j] = (z[b * n + j] + shape.drive(xb, j)).tanh();
        }
    }
}

/// Backward of [`recurrent_drive`] to the product: `dz = dy (1 - y^2)`. The input is data, so
/// nothing flows to it.
pub fn recurrent_drive_backward(y: &[f32], dy: &[f32], dz: &mut [f32]) {
    assert!(y.len() == dy.len() && dy.len() == dz.len(), "y, dy and dz must have the same length");
    for ((d, &g), &yv) in dz.iter_mut().zip(dy).zip(y) {
        *d = g * (1.0 - yv * yv);
    }
}

/// The read-out's loss: the mean over bits and episodes of `(y_j - target_j)^2` for the read-out
/// neurons `j < bits` of a state `y` (`[batch, neurons]`), and when `dy` is given, its gradient
/// there (zero on the other neurons).
pub fn readout_mse(shape: RecurrentShape, y: &[f32], targets: &[f32], dy: Option<&mut [f32]>) -> f32 {
    let (n, bits) = (shape.neurons as usize, shape.bits as usize);
    assert_eq!(y.len(), shape.state_len(), "y must be batch x neurons");
    assert_eq!(targets.len(), shape.input_len(), "targets must be batch x bits");
    let count = targets.len() as f32;
    let mut sum = 0.0f32;
    for b in 0..shape.batch as usize {
        for j in 0..bits {
            let e = y[b * n + j] - targets[b * bits + j];
            sum += e * e;
        }
    }
    if let Some(dy) = dy {
        assert_eq!(dy.len(), shape.state_len(), "dy must be batch x neurons");
        dy.fill(0.0);
        for b in 0..shape.batch as usize {
            for j in 0..bits {
                dy[b * n + j] = 2.0 * (y[b * n + j] - targets[b * bits + j]) / count;
            }
        }
    }
    sum / count
}

/// What backward needs from a forward pass over an episode.
#[derive(Debug, Clone, PartialEq)]
pub struct RecurrentTape {
    pub shape: RecurrentShape,
    pub steps: usize,
    pub plastic: bool,
    /// States `[T + 1, batch, neurons]`, slot 0 the zero state.
    pub ys: Vec<f32>,
    /// `Hebb(t)` each step read, `[T, batch, neurons, neurons]`; empty for a non-plastic network.
    pub hebb: Vec<f32>,
}

impl RecurrentTape {
    /// The state after step `t` (from 0).
    pub fn state_after(&self, t: usize) -> &[f32] {
        let n = self.shape.state_len();
        &self.ys[(t + 1) * n..(t + 2) * n]
    }

    /// The state after the last step, which the loss reads.
    pub fn last(&self) -> &[f32] {
        self.state_after(self.steps - 1)
    }
}

/// Gradients of a loss over one episode of the recurrent network.
#[derive(Debug, Clone, PartialEq)]
pub struct RecurrentGrads {
    /// `[neurons, neurons]`
    pub w: Vec<f32>,
    /// `[neurons, neurons]`; zero for a non-plastic network.
    pub alpha: Vec<f32>,
    pub eta: f32,
}

/// Runs a batch of episodes of `steps` steps from a zero state and a zero trace; `xs` is
/// `[T, batch, bits]`. With `plastic` false the trace is neither computed nor read (`alpha` must
/// then be all zero, which is what makes skipping it exact).
pub fn recurrent_forward(
    shape: RecurrentShape,
    params: PlasticWeights,
    rule: HebbRule,
    plastic: bool,
    xs: &[f32],
    steps: usize,
) -> RecurrentTape {
    let dims = shape.plastic();
    let (nx, ns, nh) = (shape.input_len(), shape.state_len(), dims.trace_len());
    assert_eq!(xs.len(), steps * nx, "xs must be T x batch x bits");
    assert!(plastic || params.alpha.iter().all(|&a| a == 0.0), "a non-plastic network has alpha = 0");
    let mut ys = vec![0.0f32; (steps + 1) * ns];
    let mut saved = vec![0.0f32; if plastic { steps * nh } else { 0 }];
    let mut hebb = vec![0.0f32; if plastic { nh } else { 0 }];
    let mut z = vec![0.0f32; ns];
    for t in 0..steps {
        let (before, after) = ys.split_at_mut((t + 1) * ns);
        let (pre, post) = (&before[t * ns..], &mut after[..ns]);
        if plastic {
            saved[t * nh..(t + 1) * nh].copy_from_slice(&hebb);
            plastic_step_forward(dims, params.w, params.alpha, &hebb, pre, Nonlinearity::Identity, &mut z);
        } else {
            matmul(MatmulShape::new(dims.batch, dims.inputs, dims.outputs).trans_b(), pre, params.w, &mut z);
        }
        recurrent_drive(shape, &z, &xs[t * nx..(t + 1) * nx], post);
        if plastic && t + 1 < steps {
            hebb_update(dims, rule, params.eta, pre, post, &mut hebb);
        }
    }
    RecurrentTape { shape, steps, plastic, ys, hebb: saved }
}

/// Backpropagation through time over an episode recorded by [`recurrent_forward`], from `dlast`,
/// `dL/dy` of the last state (`[batch, neurons]`; the loss reads only that step, as Miconi's).
///
/// Going back from step `t`: `dy(t)` is what later steps sent back through their product (plus
/// the loss at the last step); the trace update's backward adds its share (the update reads
/// `y(t)` as post and `y(t-1)` as pre); tanh's backward gives the product's `dz`; the product's
/// backward adds to `dW`, `dalpha`, `dHebb(t)` and to the gradient of `y(t-1)`, which the next
/// iteration starts from.
pub fn recurrent_backward(params: PlasticWeights, rule: HebbRule, tape: &RecurrentTape, dlast: &[f32]) -> RecurrentGrads {
    let shape = tape.shape;
    let dims = shape.plastic();
    let (ns, nh, steps) = (shape.state_len(), dims.trace_len(), tape.steps);
    assert_eq!(dlast.len(), ns, "dL/dy of the last state must be batch x neurons");
    let mut grads = RecurrentGrads { w: vec![0.0; dims.synapses()], alpha: vec![0.0; dims.synapses()], eta: 0.0 };
    let mut dy = dlast.to_vec();
    let mut dprev = vec![0.0f32; ns];
    let mut dz = vec![0.0f32; ns];
    let mut dhebb = vec![0.0f32; if tape.plastic { nh } else { 0 }];
    for t in (0..steps).rev() {
        let pre = &tape.ys[t * ns..(t + 1) * ns];
        let post = &tape.ys[(t + 1) * ns..(t + 2) * ns];
        dprev.fill(0.0);
        if !tape.plastic {
            // A plain RNN step's backward: dW += dz^T y(t-1), dy(t-1) = dz W.
            recurrent_drive_backward(post, &dy, &mut dz);
            matmul(MatmulShape::new(dims.outputs, dims.batch, dims.inputs).trans_a().accumulate(), &dz, pre, &mut grads.w);
            matmul(MatmulShape::new(dims.batch, dims.outputs, dims.inputs), &dz, params.w, &mut dprev);
            std::mem::swap(&mut dy, &mut dprev);
            continue;
        }
        let hebb_t = &tape.hebb[t * nh..(t + 1) * nh];
        if t + 1 < steps {
            hebb_update_backward(dims, rule, params.eta, pre, post, hebb_t, &mut dhebb, &mut dprev, &mut dy, &mut grads.eta);
        }
        recurrent_drive_backward(post, &dy, &mut dz);
        // With no nonlinearity the product's backward never reads its output; `post` fills the slot.
        plastic_step_backward(dims, params.w, params.alpha, hebb_t, pre, post, &dz, Nonlinearity::Identity, &mut grads.w, &mut grads.alpha, &mut dhebb, &mut dprev);
        std::mem::swap(&mut dy, &mut dprev);
    }
    grads
}
