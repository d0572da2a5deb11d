//! Shapes of the operations, each laid out as the WGSL uniform its kernel reads, so the CPU
//! reference and the GPU kernel take the very same value.

use bytemuck::{Pod, Zeroable};

/// The shape of one example's activations: `h x w x c`, channels last (a dense layer's are
/// `1 x 1 x features`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dims {
    pub h: usize,
    pub w: usize,
    pub c: usize,
}

impl Dims {
    pub fn flat(features: usize) -> Self {
        Self { h: 1, w: 1, c: features }
    }
    pub fn len(&self) -> usize {
        self.h * self.w * self.c
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Shape and layout of a product, laid out as the WGSL uniform `Shape` in `shaders/matmul.wgsl`.
/// `A` is `m x k` (stored `k x m` when transposed), `B` is `k x n` (stored `n x k` when
/// transposed), `C` is `m x n`, all row-major.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Pod, Zeroable)]
pub struct MatmulShape {
    pub m: u32,
    pub k: u32,
    pub n: u32,
    pub flags: u32,
}

impl MatmulShape {
    pub const TRANS_A: u32 = 1;
    pub const TRANS_B: u32 = 2;
    pub const ACCUMULATE: u32 = 4;

    pub fn new(m: usize, k: usize, n: usize) -> Self {
        Self { m: m as u32, k: k as u32, n: n as u32, flags: 0 }
    }
    pub fn trans_a(mut self) -> Self {
        self.flags |= Self::TRANS_A;
        self
    }
    pub fn trans_b(mut self) -> Self {
        self.flags |= Self::TRANS_B;
        self
    }
    pub fn accumulate(mut self) -> Self {
        self.flags |= Self::ACCUMULATE;
        self
    }
    pub fn has(&self, flag: u32) -> bool {
        self.flags & flag != 0
    }
}

/// Shape of a convolution, laid out as the WGSL uniform `Conv` in `shaders/conv.wgsl`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Pod, Zeroable)]
pub struct ConvShape {
    pub batch: u32,
    pub h: u32,
    pub w: u32,
    pub cin: u32,
    pub cout: u32,
    pub k: u32,
    pub pad: u32,
    pub _pad: u32,
}

impl ConvShape {
    pub fn new(batch: usize, h: usize, w: usize, cin: usize, cout: usize, k: usize, pad: usize) -> Self {
        let s = Self { batch: batch as u32, h: h as u32, w: w as u32, cin: cin as u32, cout: cout as u32, k: k as u32, pad: pad as u32, _pad: 0 };
        assert!(s.h + 2 * s.pad >= s.k && s.w + 2 * s.pad >= s.k, "kernel larger than the padded input");
        s
    }
    pub fn out_h(&self) -> usize {
        (self.h + 2 * self.pad - self.k + 1) as usize
    }
    pub fn out_w(&self) -> usize {
        (self.w + 2 * self.pad - self.k + 1) as usize
    }
    /// Rows of `cols` and of the output: one per output pixel of every example.
    pub fn rows(&self) -> usize {
        self.batch as usize * self.out_h() * self.out_w()
    }
    /// Columns of `cols`: the receptive field `k*k*cin`.
    pub fn patch(&self) -> usize {
        (self.k * self.k * self.cin) as usize
    }
    pub fn input_len(&self) -> usize {
        (self.batch * self.h * self.w * self.cin) as usize
    }
    pub fn weight_len(&self) -> usize {
        self.cout as usize * self.patch()
    }
}

/// A 2x2, stride-2 window grid over `[batch, h, w, c]`; odd edges are dropped (floor), as in
/// Keras and PyTorch.
/// Laid out as the WGSL uniform `Pool`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Pod, Zeroable)]
pub struct PoolShape {
    pub batch: u32,
    pub h: u32,
    pub w: u32,
    pub c: u32,
}

impl PoolShape {
    pub fn new(batch: usize, h: usize, w: usize, c: usize) -> Self {
        assert!(h >= 2 && w >= 2, "pooling needs at least a 2x2 input");
        Self { batch: batch as u32, h: h as u32, w: w as u32, c: c as u32 }
    }
    pub fn out_h(&self) -> usize {
        self.h as usize / 2
    }
    pub fn out_w(&self) -> usize {
        self.w as usize / 2
    }
    pub fn input_len(&self) -> usize {
        (self.batch * self.h * self.w * self.c) as usize
    }
    pub fn output_len(&self) -> usize {
        self.batch as usize * self.out_h() * self.out_w() * self.c as usize
    }
}

/// Sizes of one batched step of a plastic layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlasticDims {
    pub batch: usize,
    pub inputs: usize,
    pub outputs: usize,
}

impl PlasticDims {
    pub fn synapses(&self) -> usize {
        self.inputs * self.outputs
    }
    /// Length of one step's `Hebb`: `batch * out * in`.
    pub fn trace_len(&self) -> usize {
        self.batch * self.synapses()
    }
}

/// Sizes of one batched step of Miconi's recurrent network (the rule: [`crate::cpu::recurrent`]),
/// laid out as the WGSL uniform `Shape` in `shaders/recurrent.wgsl`.
///
/// `neurons` neurons, all-to-all plastic recurrent connections. The episode's input, `bits` wide,
/// drives neurons `0..bits` one to one; the last neuron is Miconi's bias neuron, driven by `bias`
/// at every step so that its output is a constant; neurons between (a larger network's extra
/// hidden units) get no input. The read-out is neurons `0..bits`. So `neurons >= bits + 1`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Pod, Zeroable)]
pub struct RecurrentShape {
    pub batch: u32,
    pub neurons: u32,
    pub bits: u32,
    /// The bias neuron's input (Miconi: 1 times the input gain, 20).
    pub bias: f32,
}

impl RecurrentShape {
    pub fn new(batch: usize, neurons: usize, bits: usize, bias: f32) -> Self {
        assert!(neurons > bits, "a recurrent network needs a neuron per bit plus the bias neuron");
        Self { batch: batch as u32, neurons: neurons as u32, bits: bits as u32, bias }
    }

    /// The recurrent connections as a plastic layer from the neurons to themselves.
    pub fn plastic(&self) -> PlasticDims {
        let n = self.neurons as usize;
        PlasticDims { batch: self.batch as usize, inputs: n, outputs: n }
    }

    /// Length of one step's state (or drive), `[batch, neurons]`.
    pub fn state_len(&self) -> usize {
        (self.batch * self.neurons) as usize
    }

    /// Length of one step's input (or read-out), `[batch, bits]`.
    pub fn input_len(&self) -> usize {
        (self.batch * self.bits) as usize
    }

    /// The external drive of neuron `j` given this episode's input `x` (`[bits]`) at a step.
    pub fn drive(&self, x: &[f32], j: usize) -> f32 {
        if j < self.bits as usize {
            x[j]
        } else if j + 1 == self.neurons as usize {
            self.bias
        } else {
            0.0
        }
    }
}

/// Sizes of the LSTM baseline of pattern completion (the cell: [`crate::cpu::lstm`]): `hidden`
/// cells over `batch` episodes, the episode's input `bits` wide, the read-out the first `bits`
/// cells' outputs (so `hidden > bits`, as the recurrent network's neurons). CPU only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LstmShape {
    pub batch: usize,
    pub hidden: usize,
    pub bits: usize,
}

impl LstmShape {
    pub fn new(batch: usize, hidden: usize, bits: usize) -> Self {
        assert!(hidden > bits, "the LSTM reads its output from its first `bits` cells and needs at least one more");
        Self { batch, hidden, bits }
    }

    /// Columns of the weight matrix: the step's input then the previous output, `[x; h]`.
    pub fn fan_in(&self) -> usize {
        self.bits + self.hidden
    }

    /// Rows of the weight matrix and length of the bias: four gates of `hidden` cells.
    pub fn gates(&self) -> usize {
        4 * self.hidden
    }

    /// Every parameter, `W` (`[4 hidden, bits + hidden]`) then `b` (`[4 hidden]`).
    pub fn param_len(&self) -> usize {
        self.gates() * (self.fan_in() + 1)
    }

    /// Length of one step's state (`h` or `c`), `[batch, hidden]`.
    pub fn state_len(&self) -> usize {
        self.batch * self.hidden
    }

    /// Length of one step's input, `[batch, bits]`.
    pub fn input_len(&self) -> usize {
        self.batch * self.bits
    }

    /// The same cells read out as the recurrent network's neurons are ([`RecurrentShape`]'s
    /// read-out, `0..bits`), so both share one loss.
    pub fn readout(&self) -> RecurrentShape {
        RecurrentShape::new(self.batch, self.hidden, self.bits, 0.0)
    }
}
