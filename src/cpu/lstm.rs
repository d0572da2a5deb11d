//! The LSTM baseline of pattern completion (docs/algorithms.md, "LSTM baseline"): Miconi, Clune,
//! Stanley (ICML 2018, §4.1) compare their plastic network with an LSTM on the same episodes
//! (their `simple/lstm.py`). The cell is the LSTM of Hochreiter & Schmidhuber (1997) with the
//! forget gate of Gers, Schmidhuber & Cummins (2000), in PyTorch's `nn.LSTM` form, batched:
//!
//! ```text
//! z(t) = [x(t); h(t-1)]                      h(0) = c(0) = 0
//! a(t) = W z(t) + b                          W: [4H, bits + H], rows i, f, g, o (H each)
//! i = sigmoid(a_i)   f = sigmoid(a_f)   o = sigmoid(a_o)
//! g_j = tanh(a_g,j + x_j(t))  for j < bits,   tanh(a_g,j) otherwise
//! c(t) = f ⊙ c(t-1) + i ⊙ g
//! h(t) = o ⊙ tanh(c(t))
//! ```
//!
//! `x(t)` is the episode's input at step `t` (the pattern times the gain, as the recurrent
//! network gets it). Besides entering every gate through `W`, input bit `j` is added to the cell
//! candidate of cell `j`, as the recurrent network adds it to neuron `j`: Miconi's `lstm.py` does
//! the same with fixed weights ("clamping", which he found the LSTM needs), so a shown bit reaches
//! its read-out cell however the gates are set. The read-out is `h_j(T)` for `j < bits`, the loss
//! the recurrent network's ([`super::recurrent::readout_mse`]).
//!
//! Backpropagation through time, from `dh(T)` and `dc = 0`, step `t` going back:
//!
//! ```text
//! dc += dh ⊙ o ⊙ (1 - tanh²c(t))            do = dh ⊙ tanh c(t)
//! di = dc ⊙ g   df = dc ⊙ c(t-1)   dg = dc ⊙ i      dc(t-1) = dc ⊙ f
//! da = [di i(1-i), df f(1-f), dg (1-g²), do o(1-o)]
//! dW += da^T z(t)   db += sum over episodes of da   dh(t-1) = (da W)[bits..]
//! ```
//!
//! Layouts (row-major f32, batch-major): parameters `[W, b]` as [`LstmShape::param_len`]; inputs
//! `xs` `[T, batch, bits]`; the tape's states `hs`, `cs` `[T + 1, batch, H]` with slot 0 the zero
//! state, so step `t` (from 0) reads slot `t` and writes slot `t + 1`.
//!
//! CPU only: the GPU backend refuses it ([`crate::nn::TrainError::CpuOnly`]).

use super::activation::sigmoid;
use super::matmul::matmul;
use crate::nn::{LstmShape, MatmulShape};

/// What backward needs from a forward pass over an episode.
#[derive(Debug, Clone, PartialEq)]
pub struct LstmTape {
    pub shape: LstmShape,
    pub steps: usize,
    /// Each step's `[x(t); h(t-1)]`, `[T, batch, bits + H]`.
    pub zs: Vec<f32>,
    /// Each step's gates after their nonlinearities, `[T, batch, 4H]` (i, f, g, o).
    pub gates: Vec<f32>,
    /// Cell states `[T + 1, batch, H]`, slot 0 zero.
    pub cs: Vec<f32>,
    /// Outputs `[T + 1, batch, H]`, slot 0 zero.
    pub hs: Vec<f32>,
}

impl LstmTape {
    /// The output after step `t` (from 0).
    pub fn output_after(&self, t: usize) -> &[f32] {
        let n = self.shape.state_len();
        &self.hs[(t + 1) * n..(t + 2) * n]
    }

    /// The output after the last step, which the loss reads.
    pub fn last(&self) -> &[f32] {
        self.output_after(self.steps - 1)
    }
}

/// Splits the parameters into `W` and `b`.
fn split(shape: LstmShape, params: &[f32]) -> (&[f32], &[f32]) {
    assert_eq!(params.len(), shape.param_len(), "LSTM parameters must be W [4H, bits + H] then b [4H]");
    params.split_at(shape.gates() * shape.fan_in())
}

/// Runs a batch of episodes of `steps` steps from a zero state; `xs` is `[T, batch, bits]`.
pub fn lstm_forward(shape: LstmShape, params: &[f32], xs: &[f32], steps: usize) -> LstmTape {
    let (w, bias) = split(shape, params);
    let (batch, hidden, bits, fan_in, gates) = (shape.batch, shape.hidden, shape.bits, shape.fan_in(), shape.gates());
    let (nx, ns) = (shape.input_len(), shape.state_len());
    assert_eq!(xs.len(), steps * nx, "xs must be T x batch x bits");
    let mut zs = vec![0.0f32; steps * batch * fan_in];
    let mut acts = vec![0.0f32; steps * batch * gates];
    let mut cs = vec![0.0f32; (steps + 1) * ns];
    let mut hs = vec![0.0f32; (steps + 1) * ns];
    for t in 0..steps {
        let x = &xs[t * nx..(t + 1) * nx];
        let z = &mut zs[t * batch * fan_in..(t + 1) * batch * fan_in];
        for b in 0..batch {
            z[b * fan_in..b * fan_in + bits].copy_from_slice(&x[b * bits..(b + 1) * bits]);
            z[b * fan_in + bits..(b + 1) * fan_in].copy_from_slice(&hs[t * ns + b * hidden..t * ns + (b + 1) * hidden]);
        }
        let a = &mut acts[t * batch * gates..(t + 1) * batch * gates];
        matmul(MatmulShape::new(batch, fan_in, gates).trans_b(), z, w, a);
        for b in 0..batch {
            let row = &mut a[b * gates..(b + 1) * gates];
            for (r, v) in row.iter_mut().enumerate() {
                let pre = *v + bias[r];
                // Gate blocks: i, f, g (the cell candidate, which also gets the input bit), o.
                *v = match r / hidden {
                    2 => (pre + if r % hidden < bits { x[b * bits + r % hidden] } else { 0.0 }).tanh(),
                    _ => sigmoid(pre),
                };
            }
            for j in 0..hidden {
                let (i, f, g, o) = (row[j], row[hidden + j], row[2 * hidden + j], row[3 * hidden + j]);
                let c = f * cs[t * ns + b * hidden + j] + i * g;
                cs[(t + 1) * ns + b * hidden + j] = c;
                hs[(t + 1) * ns + b * hidden + j] = o * c.tanh();
            }
        }
    }
    LstmTape { shape, steps, zs, gates: acts, cs, hs }
}

/// Backpropagation through time over an episode recorded by [`lstm_forward`], from `dlast`,
/// `dL/dh` of the last output (`[batch, H]`; the loss reads only that step). Returns the gradient
/// of every parameter, laid out as the parameters.
pub fn lstm_backward(params: &[f32], tape: &LstmTape, dlast: &[f32]) -> Vec<f32> {
    let shape = tape.shape;
    let (w, _) = split(shape, params);
    let (batch, hidden, bits, fan_in, gates) = (shape.batch, shape.hidden, shape.bits, shape.fan_in(), shape.gates());
    let ns = shape.state_len();
    assert_eq!(dlast.len(), ns, "dL/dh of the last output must be batch x hidden");
    let mut grads = vec![0.0f32; shape.param_len()];
    let (dw, db) = grads.split_at_mut(gates * fan_in);
    let mut dh = dlast.to_vec();
    let mut dc = vec![0.0f32; ns];
    let mut da = vec![0.0f32; batch * gates];
    let mut dz = vec![0.0f32; batch * fan_in];
    for t in (0..tape.steps).rev() {
        let acts = &tape.gates[t * batch * gates..(t + 1) * batch * gates];
        for b in 0..batch {
            let row = &acts[b * gates..(b + 1) * gates];
            let d = &mut da[b * gates..(b + 1) * gates];
            for j in 0..hidden {
                let s = b * hidden + j;
                let (i, f, g, o) = (row[j], row[hidden + j], row[2 * hidden + j], row[3 * hidden + j]);
                let tc = tape.cs[(t + 1) * ns + s].tanh();
                let c_prev = tape.cs[t * ns + s];
                let dcs = dc[s] + dh[s] * o * (1.0 - tc * tc);
                d[j] = dcs * g * i * (1.0 - i);
                d[hidden + j] = dcs * c_prev * f * (1.0 - f);
                d[2 * hidden + j] = dcs * i * (1.0 - g * g);
                d[3 * hidden + j] = dh[s] * tc * o * (1.0 - o);
                dc[s] = dcs * f;
            }
            for (acc, &v) in db.iter_mut().zip(d.iter()) {
                *acc += v;
            }
        }
        let z = &tape.zs[t * batch * fan_in..(t + 1) * batch * fan_in];
        matmul(MatmulShape::new(gates, batch, fan_in).trans_a().accumulate(), &da, z, dw);
        matmul(MatmulShape::new(batch, gates, fan_in), &da, w, &mut dz);
        // The input part of dz is the data's gradient, which nothing needs.
        for b in 0..batch {
            dh[b * hidden..(b + 1) * hidden].copy_from_slice(&dz[b * fan_in + bits..(b + 1) * fan_in]);
        }
    }
    grads
}
