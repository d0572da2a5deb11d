//! The layer vocabulary: every layer the networks are built from, the planner that works out
//! their shapes and parameter slots, and the parameter layout both backends hold.
//!
//! A network is a list of [`Layer`]s; [`plan`] turns it into [`PlannedLayer`]s (each with its input
//! and output [`Dims`] and, when it has parameters, its index into a `Vec<LayerParams>`). Both
//! backends walk the same plan. Activations are channels-last (`[batch, h, w, c]`), so a dense
//! layer reads a convolution's output flattened, and batch norm over channels is batch norm over
//! the rows `batch * h * w`.

use super::shapes::{ConvShape, Dims, PoolShape};
use super::TrainError;

/// An element-wise activation. Its gradient is written in terms of the output `y` (which is what
/// the backward pass keeps): `relu' = [y > 0]`, `tanh' = 1 - y^2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    Relu,
    Tanh,
}

impl Activation {
    /// The code the WGSL uniform carries.
    pub fn code(self) -> u32 {
        match self {
            Activation::Relu => 0,
            Activation::Tanh => 1,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Activation::Relu => "relu",
            Activation::Tanh => "tanh",
        }
    }
}

/// How a 2x2, stride-2 window is pooled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolKind {
    Max,
    Average,
}

impl PoolKind {
    pub fn name(self) -> &'static str {
        match self {
            PoolKind::Max => "max",
            PoolKind::Average => "average",
        }
    }
}

/// Which statistics batch norm normalises with when the network is evaluated (training always
/// uses the batch's own).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NormEval {
    /// The evaluated batch's statistics, as in the authors' latest continual-learning code
    /// (`track_running_stats=False`; docs/algorithms.md, "Batch normalisation").
    Batch,
    /// The running statistics gathered in training (PyTorch's `eval()` with
    /// `track_running_stats=True`), as in the authors' stream-learning code.
    Running,
}

impl NormEval {
    pub fn name(self) -> &'static str {
        match self {
            NormEval::Batch => "batch",
            NormEval::Running => "running",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "batch" => Some(NormEval::Batch),
            "running" => Some(NormEval::Running),
            _ => None,
        }
    }
}

/// How a batch-norm layer behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Norm {
    /// Learned gamma and beta. Without, the layer still holds gamma = 1 and beta = 0 (so both
    /// backends run the same kernel) but no optimizer touches them: PyTorch's `affine=False`.
    pub affine: bool,
    pub eval: NormEval,
}

impl Norm {
    /// Learned gamma and beta, batch statistics at evaluation too.
    pub const BATCH: Norm = Norm { affine: true, eval: NormEval::Batch };
    /// The authors' stream-learning BatchNorm1d: `affine=False`, running statistics at evaluation.
    pub const STREAM: Norm = Norm { affine: false, eval: NormEval::Running };

    /// What a summary says about it.
    pub fn describe(self) -> String {
        let stats = match self.eval {
            NormEval::Batch => "batch statistics at test time (batches of 1000)",
            NormEval::Running => "running statistics (momentum 0.1) at test time",
        };
        format!("{}, {stats}", if self.affine { "learned gamma and beta" } else { "no affine parameters (gamma 1, beta 0)" })
    }
}

/// Which pass a walk runs: it decides dropout and which statistics batch norm uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pass {
    /// Batch statistics (and running statistics updated, where the network keeps them), dropout on.
    Train,
    /// No dropout; batch norm as its [`NormEval`] says.
    Eval,
    /// Batch norm on the running statistics whatever its [`NormEval`], no dropout, and a backward
    /// pass: every example's gradient is then its own (no batch statistic couples them), which is
    /// what a per-example Fisher estimate needs.
    Inference,
}

/// One layer of a network.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Layer {
    /// `y = x Wᵀ + b` on the flattened input; `W` is `[out, in]`.
    Dense { out: usize },
    /// The binarized network's linear layer (Laborieux et al. 2021; Courbariaux et al. 2016):
    /// `y = x sign(W)ᵀ`, no bias; `W` (the hidden weights `Wh`) is `[out, in]`. The gradient with
    /// respect to the binary weights is the one applied to `Wh` (straight through).
    BinaryDense { out: usize },
    /// `sign(x)` (with sign(0) = +1) forward; backward passes the gradient where `|x| <= 1`, the
    /// straight-through estimator (the gradient of hardtanh).
    Sign,
    /// `out` filters of `k x k`, stride 1, zero padding `pad`; `W` is `[out, k, k, in]`.
    Conv { out: usize, k: usize, pad: usize },
    /// The transposed convolution of a `Conv { out: in, k, pad }` from this layer's output back to
    /// its input; `W` is `[in, k, k, out]`, the layout of the convolution it mirrors.
    ConvT { out: usize, k: usize, pad: usize },
    Act(Activation),
    /// 2x2, stride 2.
    Pool(PoolKind),
    /// Nearest-neighbour 2x upsampling: four times the average pooling's backward pass.
    Upsample,
    /// Over channels (after a convolution) or features (after a dense layer); its parameters are
    /// gamma and beta.
    BatchNorm(Norm),
    /// Inverted dropout with this drop probability (training only).
    Dropout(f32),
}

impl Layer {
    pub fn has_params(&self) -> bool {
        matches!(self, Layer::Dense { .. } | Layer::BinaryDense { .. } | Layer::Conv { .. } | Layer::ConvT { .. } | Layer::BatchNorm(_))
    }

    /// The shape this layer makes of an input of shape `input`.
    pub fn output(&self, input: Dims) -> Dims {
        match *self {
            Layer::Dense { out } | Layer::BinaryDense { out } => Dims::flat(out),
            Layer::Conv { out, k, pad } => Dims { h: input.h + 2 * pad + 1 - k, w: input.w + 2 * pad + 1 - k, c: out },
            Layer::ConvT { out, k, pad } => Dims { h: input.h + k - 1 - 2 * pad, w: input.w + k - 1 - 2 * pad, c: out },
            Layer::Pool(_) => Dims { h: input.h / 2, w: input.w / 2, c: input.c },
            Layer::Upsample => Dims { h: input.h * 2, w: input.w * 2, c: input.c },
            Layer::Act(_) | Layer::Sign | Layer::BatchNorm(_) | Layer::Dropout(_) => input,
        }
    }
}

/// A layer with its input and output shapes and, for a layer with parameters, their index in
/// the network's `Vec<LayerParams>`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlannedLayer {
    pub layer: Layer,
    pub input: Dims,
    pub output: Dims,
    pub param: Option<usize>,
}

impl PlannedLayer {
    /// Weight and bias lengths (gamma and beta for batch norm; a binary layer has no bias).
    pub fn param_lens(&self) -> Option<(usize, usize)> {
        match self.layer {
            Layer::Dense { out } => Some((out * self.input.len(), out)),
            Layer::BinaryDense { out } => Some((out * self.input.len(), 0)),
            Layer::Conv { out, k, .. } | Layer::ConvT { out, k, .. } => Some((out * k * k * self.input.c, out)),
            Layer::BatchNorm(_) => Some((self.output.c, self.output.c)),
            _ => None,
        }
    }

    /// The parameter slot of a layer that has parameters.
    pub fn param_index(&self) -> usize {
        self.param.expect("plan numbers every layer with parameters")
    }

    /// The ordinary convolution of a (transposed) convolution layer on `batch` examples: for a
    /// transposed convolution, the one it is the adjoint of (from its output's shape back to its
    /// input's).
    pub fn conv_shape(&self, batch: usize) -> ConvShape {
        let (i, o) = (self.input, self.output);
        match self.layer {
            Layer::Conv { out, k, pad } => ConvShape::new(batch, i.h, i.w, i.c, out, k, pad),
            Layer::ConvT { k, pad, .. } => ConvShape::new(batch, o.h, o.w, o.c, i.c, k, pad),
            other => unreachable!("conv_shape of a {other:?} layer"),
        }
    }

    /// The 2x2 window grid of a pooling layer (its input) or an upsampling layer (its output).
    pub fn pool_shape(&self, batch: usize) -> PoolShape {
        let d = if self.layer == Layer::Upsample { self.output } else { self.input };
        PoolShape::new(batch, d.h, d.w, d.c)
    }
}

/// Shapes of a layer list on inputs of `input`, parameter slots counted from `first_param` (a
/// network made of several lists numbers them on).
pub fn plan(layers: &[Layer], input: Dims, first_param: usize) -> Vec<PlannedLayer> {
    let mut dims = input;
    let mut next = first_param;
    layers
        .iter()
        .map(|&layer| {
            let input = dims;
            dims = layer.output(input);
            let param = layer.has_params().then(|| {
                next += 1;
                next - 1
            });
            PlannedLayer { layer, input, output: dims, param }
        })
        .collect()
}

/// Weights and biases of one layer with parameters: a convolution's `w` is `[cout, k, k, cin]`, a
/// dense layer's `[out, in]`, batch norm's are gamma and beta.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerParams {
    pub w: Vec<f32>,
    pub b: Vec<f32>,
}

impl LayerParams {
    /// Zeros of the same sizes: a gradient or an optimizer's state for these parameters.
    pub fn zeros_like(&self) -> Self {
        Self { w: vec![0.0; self.w.len()], b: vec![0.0; self.b.len()] }
    }
}

/// Batch norm's running statistics of one parameter slot (empty for every other layer): the
/// mean and the unbiased variance, averaged with PyTorch's momentum ([`super::hyper::BN_MOMENTUM`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunningStats {
    pub mean: Vec<f32>,
    pub var: Vec<f32>,
}

impl RunningStats {
    /// One per parameter slot of `layers`: mean 0 and variance 1 (PyTorch's start) for batch
    /// norm, empty for the rest.
    pub fn for_layers(layers: &[PlannedLayer]) -> Vec<RunningStats> {
        layers
            .iter()
            .filter(|l| l.param.is_some())
            .map(|l| match l.layer {
                Layer::BatchNorm(_) => RunningStats { mean: vec![0.0; l.output.c], var: vec![1.0; l.output.c] },
                _ => RunningStats { mean: Vec::new(), var: Vec::new() },
            })
            .collect()
    }
}

/// Refuses parameters that do not fit the planned layers (in slot order).
pub fn check_params(layers: &[PlannedLayer], params: &[LayerParams]) -> Result<(), TrainError> {
    let want: Vec<(usize, usize)> = layers.iter().filter_map(PlannedLayer::param_lens).collect();
    let have: Vec<(usize, usize)> = params.iter().map(|p| (p.w.len(), p.b.len())).collect();
    if want != have {
        return Err(TrainError::Config(format!("parameters of sizes {have:?} for a network of {want:?}")));
    }
    Ok(())
}

// -------------------------------------------------------------------------------------------------
// The plastic layer (Miconi et al. 2018): y = sigma((W + alpha * Hebb) x), the rule in
// [`crate::cpu::plastic`].
// -------------------------------------------------------------------------------------------------

/// The layer's nonlinearity `sigma`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nonlinearity {
    Identity,
    /// Miconi's choice: bounded outputs keep the Hebbian trace bounded too.
    Tanh,
}

impl Nonlinearity {
    pub fn apply(self, z: f32) -> f32 {
        match self {
            Nonlinearity::Identity => z,
            Nonlinearity::Tanh => z.tanh(),
        }
    }

    /// `sigma'(z)` written in terms of `y = sigma(z)`, so backward needs only the saved outputs.
    pub fn derivative_from_output(self, y: f32) -> f32 {
        match self {
            Nonlinearity::Identity => 1.0,
            Nonlinearity::Tanh => 1.0 - y * y,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Nonlinearity::Identity => "identity",
            Nonlinearity::Tanh => "tanh",
        }
    }
}

/// How the trace follows activity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HebbRule {
    /// `Hebb <- (1 - eta) Hebb + eta y x^T`: a running average of co-activity that decays.
    Simple,
    /// `Hebb_ji <- Hebb_ji + eta y_j (x_i - Hebb_ji y_j)`: Oja's rule, whose decay is driven by the
    /// output, so the trace stays bounded without forgetting while the layer is silent.
    Oja,
}

impl HebbRule {
    pub fn name(self) -> &'static str {
        match self {
            HebbRule::Simple => "simple",
            HebbRule::Oja => "oja",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "simple" => Some(HebbRule::Simple),
            "oja" => Some(HebbRule::Oja),
            _ => None,
        }
    }
}

/// The learned parameters, borrowed: `w` and `alpha` are `[out, in]`.
#[derive(Debug, Clone, Copy)]
pub struct PlasticWeights<'a> {
    pub w: &'a [f32],
    pub alpha: &'a [f32],
    pub eta: f32,
}

