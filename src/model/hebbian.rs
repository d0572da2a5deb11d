//! The pattern-completion networks of Miconi, Clune, Stanley (ICML 2018; docs/algorithms.md,
//! "Recurrent pattern completion" and "Feed-forward pattern completion"), trained on episodes of
//! `patterns` random ±1 patterns, each exactly half +1 and half -1 ([`balanced_pattern`]). Two
//! networks ([`Network`]):
//! - recurrent, Miconi's: `neurons` all-to-all plastic neurons, one per bit plus a bias neuron
//!   (plus, for a larger baseline, extra hidden ones), `y(t) = tanh(y(t-1)(W + alpha Hebb) + u(t))`
//!   ([`crate::cpu::recurrent`]). Its non-plastic twin is a plain RNN, which has memory in its state;
//! - feed-forward: one plastic layer of `bits` inputs and `bits` outputs
//!   ([`crate::cpu::plastic`]). Its non-plastic twin has no memory at all, so it fails by
//!   construction: kept as the simpler illustration, not as a fair baseline;
//! - the LSTM baseline of the recurrent network (Miconi's `lstm.py`): `neurons` LSTM cells on the
//!   same episodes, read out and scored as the recurrent network ([`crate::cpu::lstm`]; CPU only).
//!
//! A non-plastic network has `alpha` held at 0 and not trained, so the trace has no effect.
//!
//! Also the denoising autoencoder of Upadhyay & Bagad ([`DenoiseConfig`]): a convolutional
//! encoder and decoder with a plastic layer on the code and one on the output.

use crate::nn::{
    self, Activation, AdamHyper, Dims, HebbRule, Layer, LayerParams, Nonlinearity, Norm, ParamLayout, PlannedLayer, PlasticDims, PlasticWeights, PoolKind, RecurrentShape, TensorKey, TensorSet, LstmShape,
    TrainError, Update,
};
use crate::data::IMAGE_SIDE;
use rand::{RngExt, SeedableRng, rngs::StdRng, seq::SliceRandom};

/// The saved traces of one training batch may not exceed this: BPTT keeps `Hebb(t)` for every
/// step, `steps * batch * bits^2` floats, and the browser has a few GiB at most.
pub const MAX_TAPE_BYTES: u64 = 2 << 30;

/// Refuses an episode whose backpropagation tape would pass [`MAX_TAPE_BYTES`], naming `shrink`
/// among what to reduce.
fn check_tape(steps: usize, batch: usize, bytes: u64, shrink: &str) -> Result<(), TrainError> {
    if bytes <= MAX_TAPE_BYTES {
        return Ok(());
    }
    Err(TrainError::Config(format!(
        "backpropagation through {steps} steps of {batch} episodes would keep {:.1} GiB of traces (limit {} GiB); use fewer episodes per batch, {shrink} or steps",
        bytes as f64 / (1u64 << 30) as f64,
        MAX_TAPE_BYTES >> 30
    )))
}

/// Which pattern-completion network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Network {
    /// Miconi's recurrent network (see the module's documentation).
    Recurrent,
    /// One plastic layer from the input to the output, no recurrence.
    Feedforward,
    /// The recurrent network's LSTM baseline: `neurons` cells, none plastic.
    Lstm,
}

impl Network {
    pub fn name(self) -> &'static str {
        match self {
            Network::Recurrent => "recurrent",
            Network::Feedforward => "feedforward",
            Network::Lstm => "lstm",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "recurrent" => Some(Network::Recurrent),
            "feedforward" => Some(Network::Feedforward),
            "lstm" => Some(Network::Lstm),
            _ => None,
        }
    }
}

/// A pattern of `bits` ±1 values, exactly half of them -1 (the extra one of an odd length +1),
/// in a random order: Miconi's `full.py` permutes a fixed half-and-half vector, so every pattern
/// carries the same number of each sign and only their places differ.
pub fn balanced_pattern(bits: usize, rng: &mut StdRng) -> Vec<f32> {
    let mut p: Vec<f32> = (0..bits).map(|i| if i < bits / 2 { -1.0 } else { 1.0 }).collect();
    p.shuffle(rng);
    p
}

#[derive(Debug, Clone, PartialEq)]
pub struct HebbianConfig {
    pub network: Network,
    /// Pattern length `n`: the feed-forward layer is `n -> n`.
    pub bits: usize,
    /// Neurons of the recurrent network, the bias neuron included: at least `bits + 1` (Miconi:
    /// exactly that); more adds hidden neurons that get no input and are not read out. The LSTM's
    /// cells, also at least `bits + 1`. Unused by the feed-forward network.
    pub neurons: usize,
    /// Patterns per episode `P`.
    pub patterns: usize,
    /// How many times the whole set of patterns is shown before the test.
    pub presentations: usize,
    /// Steps each pattern is shown for.
    pub present_steps: usize,
    /// Zero-input steps after each shown pattern.
    pub blank_steps: usize,
    /// Steps the half-erased test pattern is shown for; the loss reads the last.
    pub test_steps: usize,
    /// Inputs are the ±1 patterns times this (Miconi: 20), so a shown pattern saturates tanh.
    pub input_gain: f32,
    pub rule: HebbRule,
    pub activation: Nonlinearity,
    /// `false`: alpha is fixed at 0, the non-plastic baseline.
    pub plastic: bool,
    pub lr: f32,
    /// Episodes per training batch.
    pub batch: usize,
}

impl HebbianConfig {
    /// The feed-forward layer, small enough to train in seconds on one core: 50 bits, 3 patterns,
    /// 2 presentations of 3 steps with 2 blank steps between, 3 test steps.
    pub fn small(plastic: bool) -> Self {
        Self {
            network: Network::Feedforward,
            bits: 50,
            neurons: 51,
            patterns: 3,
            presentations: 2,
            present_steps: 3,
            blank_steps: 2,
            test_steps: 3,
            input_gain: 20.0,
            rule: HebbRule::Simple,
            activation: Nonlinearity::Tanh,
            plastic,
            lr: 3e-4,
            batch: 8,
        }
    }

    /// Miconi's setting for the feed-forward layer: 1000 bits, 5 patterns, 2 presentations x 6
    /// steps, 4 blank steps, 3 test steps, inputs x 20, Adam 3e-4, one episode per batch.
    pub fn miconi(plastic: bool) -> Self {
        Self { bits: 1000, patterns: 5, presentations: 2, present_steps: 6, blank_steps: 4, batch: 1, ..Self::small(plastic) }
    }

    /// Miconi's small recurrent setting (`simple/README.md`'s `full.py --patternsize 50
    /// --nbaddneurons 0 --nbprescycles 1 --nbpatterns 2 --prestime 3 --interpresdelay 1 --lr
    /// 3e-4`): 50 bits, 51 neurons (one per bit and the bias), 2 patterns shown once for 3 steps
    /// each with 1 blank step after, then the half-erased test pattern for 3 steps, as `full.py`
    /// shows it (as long as the others; `simple.py` shows it for 6: `--test-steps 6`); inputs x 20,
    /// Adam 3e-4, one episode per batch as Miconi, simple rule with learned eta.
    pub fn recurrent_small(plastic: bool) -> Self {
        Self {
            network: Network::Recurrent,
            bits: 50,
            neurons: 51,
            patterns: 2,
            presentations: 1,
            present_steps: 3,
            blank_steps: 1,
            test_steps: 3,
            batch: 1,
            ..Self::small(plastic)
        }
    }

    /// Miconi's 1000-bit recurrent setting (`simple.py`): 1001 neurons, 5 patterns, 2
    /// presentations x 6 steps, 4 blank steps, 6 test steps.
    pub fn recurrent_miconi(plastic: bool) -> Self {
        Self { bits: 1000, neurons: 1001, patterns: 5, presentations: 2, present_steps: 6, blank_steps: 4, test_steps: 6, ..Self::recurrent_small(plastic) }
    }

    /// The side of the square weight matrices: the neurons of the recurrent network, the bits of
    /// the feed-forward layer; the LSTM's cells.
    pub fn size(&self) -> usize {
        match self.network {
            Network::Recurrent | Network::Lstm => self.neurons,
            Network::Feedforward => self.bits,
        }
    }

    /// The LSTM's shape for `batch` episodes.
    pub fn lstm_shape(&self, batch: usize) -> LstmShape {
        LstmShape::new(batch, self.neurons, self.bits)
    }

    /// The recurrent network's shape for `batch` episodes; the bias neuron's input is the gain
    /// (Miconi's bias input 1, strengthened like every input).
    pub fn recurrent_shape(&self, batch: usize) -> RecurrentShape {
        RecurrentShape::new(batch, self.neurons, self.bits, self.input_gain)
    }

    /// Steps in one episode: every pattern shown then followed by blanks, `presentations` times,
    /// then the test pattern.
    pub fn episode_steps(&self) -> usize {
        self.presentations * self.patterns * (self.present_steps + self.blank_steps) + self.test_steps
    }

    pub fn dims(&self, batch: usize) -> PlasticDims {
        PlasticDims { batch, inputs: self.bits, outputs: self.bits }
    }

    /// Bytes of saved traces for one training batch (u64: wasm32's usize would overflow); for the
    /// LSTM, its tape (each step's `[x; h]`, four gates, `c` and `h`).
    pub fn tape_bytes(&self) -> u64 {
        let per_episode_step = match self.network {
            Network::Lstm => (self.bits + self.neurons + 6 * self.neurons) as u64,
            _ => self.size() as u64 * self.size() as u64,
        };
        [self.episode_steps() as u64, self.batch as u64, per_episode_step, std::mem::size_of::<f32>() as u64].iter().product()
    }

    /// Refuses settings that cannot train or would not fit, saying which and why.
    pub fn validate(&self) -> Result<(), TrainError> {
        let bad = |msg: String| Err(TrainError::Config(msg));
        if !(2..=2048).contains(&self.bits) {
            return bad(format!("pattern bits {} must be in 2..=2048", self.bits));
        }
        if self.network != Network::Feedforward && !(self.bits + 1..=4096).contains(&self.neurons) {
            return bad(format!("neurons {} must be in {}..=4096: one per bit ({}) plus the bias neuron", self.neurons, self.bits + 1, self.bits));
        }
        if !(1..=100).contains(&self.patterns) {
            return bad(format!("patterns per episode {} must be in 1..=100", self.patterns));
        }
        if !(1..=20).contains(&self.presentations) {
            return bad(format!("presentations {} must be in 1..=20", self.presentations));
        }
        if !(1..=50).contains(&self.present_steps) {
            return bad(format!("steps per presentation {} must be in 1..=50", self.present_steps));
        }
        if self.blank_steps > 50 {
            return bad(format!("blank steps {} must be in 0..=50", self.blank_steps));
        }
        if !(1..=50).contains(&self.test_steps) {
            return bad(format!("test steps {} must be in 1..=50", self.test_steps));
        }
        if !(self.input_gain > 0.0 && self.input_gain <= 1000.0) {
            return bad(format!("input gain {} must be in (0, 1000]", self.input_gain));
        }
        if !(self.lr > 0.0 && self.lr <= 1.0) {
            return bad(format!("learning rate {} must be in (0, 1]", self.lr));
        }
        if !(1..=1000).contains(&self.batch) {
            return bad(format!("episodes per batch {} must be in 1..=1000", self.batch));
        }
        check_tape(self.episode_steps(), self.batch, self.tape_bytes(), "bits, neurons")
    }

    /// Plain Adam (metaplasticity 0), no weight decay, as Miconi.
    pub fn hyper(&self) -> AdamHyper {
        AdamHyper::new(self.lr, 0.0, 0.0)
    }

    /// `W`, `alpha` and `eta` (plastic layer 0), with Adam on each; `alpha` and `eta` frozen in
    /// the non-plastic network, which keeps alpha at 0, so its trace never reaches the output,
    /// and leaves eta (whose gradient is then 0) alone too. The LSTM has one tensor, all its
    /// weights and biases ([`LstmShape::param_len`]), with Adam.
    pub fn layout(&self) -> ParamLayout {
        let adam = Update::Adam(self.hyper());
        if self.network == Network::Lstm {
            let mut layout = ParamLayout::default();
            layout.push(TensorKey::PlasticW(0), self.lstm_shape(1).param_len(), adam);
            return layout;
        }
        let plastic = if self.plastic { adam } else { Update::Frozen };
        let synapses = self.size() * self.size();
        let mut layout = ParamLayout::default();
        layout.push(TensorKey::PlasticW(0), synapses, adam);
        layout.push(TensorKey::PlasticAlpha(0), synapses, plastic);
        layout.push(TensorKey::PlasticEta(0), 1, plastic);
        layout
    }
}

/// The learned parameters of one plastic layer (or of a recurrent network's connections; or of
/// the LSTM, whose every weight and bias is in `w` and which has no `alpha` and no `eta`).
#[derive(Debug, Clone, PartialEq)]
pub struct HebbianParams {
    /// The side of `W` and `alpha`: a layer's width, a recurrent network's neurons; the LSTM's
    /// cells.
    pub bits: usize,
    /// `[out, in]`; the LSTM's `[W, b]` laid out as [`crate::cpu::lstm`] says.
    pub w: Vec<f32>,
    /// `[out, in]`; all zero in the non-plastic network, empty in the LSTM.
    pub alpha: Vec<f32>,
    pub eta: f32,
}

impl HebbianParams {
    /// `W ~ U(-a, a)` with `a = 1 / (gain sqrt(n))`, so a shown pattern's pre-activation starts of
    /// order 1, not saturated; `alpha ~ U(-a/gain, a/gain)`, since the trace carries the inputs'
    /// scale (up to `gain`) and the plastic term would otherwise start `gain` times larger;
    /// `eta = 0.01` (Miconi's start). Miconi's `0.01 * randn` is for inputs of order 1 reaching
    /// the plastic weights; here the inputs are `gain` times larger. Both variants draw the same
    /// `W` for a seed; the non-plastic one zeroes alpha.
    ///
    /// The recurrent network draws Miconi's `0.01 * randn` for `W` and `alpha` (its inputs, the
    /// previous state, are of order 1) with alpha's diagonal zeroed ("no plastic autapses", at
    /// the start only, as `full.py`), and eta 0.01.
    ///
    /// The LSTM draws PyTorch's `nn.LSTM` default, which Miconi's `lstm.py` keeps: every weight
    /// and bias `U(-k, k)` with `k = 1 / sqrt(cells)`, except that the input columns are divided
    /// by the gain, since the inputs are `gain` times a pattern.
    pub fn init(cfg: &HebbianConfig, seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        if cfg.network == Network::Lstm {
            let shape = cfg.lstm_shape(1);
            let k = 1.0 / (shape.hidden as f32).sqrt();
            let fan_in = shape.fan_in();
            let w = (0..shape.param_len())
                .map(|p| {
                    let input_column = p < shape.gates() * fan_in && p % fan_in < shape.bits;
                    let scale = if input_column { k / cfg.input_gain } else { k };
                    scale * rng.random_range(-1.0f32..1.0)
                })
                .collect();
            return Self { bits: shape.hidden, w, alpha: Vec::new(), eta: 0.0 };
        }
        if cfg.network == Network::Recurrent {
            let n = cfg.neurons;
            let w = (0..n * n).map(|_| 0.01 * standard_normal(&mut rng)).collect();
            let alpha = (0..n * n).map(|k| if k / n == k % n { 0.0 } else { 0.01 * standard_normal(&mut rng) }).collect();
            let alpha = if cfg.plastic { alpha } else { vec![0.0; n * n] };
            return Self { bits: n, w, alpha, eta: 0.01 };
        }
        let n = cfg.bits * cfg.bits;
        let w_scale = 1.0 / (cfg.input_gain * (cfg.bits as f32).sqrt());
        let alpha_scale = w_scale / cfg.input_gain;
        let w = (0..n).map(|_| w_scale * rng.random_range(-1.0f32..1.0)).collect();
        let alpha = (0..n).map(|_| alpha_scale * rng.random_range(-1.0f32..1.0)).collect();
        let alpha = if cfg.plastic { alpha } else { vec![0.0; n] };
        Self { bits: cfg.bits, w, alpha, eta: 0.01 }
    }

    /// Refuses parameters of another layer size.
    pub fn check(&self, cfg: &HebbianConfig) -> Result<(), TrainError> {
        let n = cfg.size();
        if cfg.network == Network::Lstm {
            let want = cfg.lstm_shape(1).param_len();
            if self.bits != n || self.w.len() != want || !self.alpha.is_empty() {
                return Err(TrainError::Config(format!("parameters of size {} ({} weights) do not fit an LSTM of {n} cells ({want} weights)", self.bits, self.w.len())));
            }
            return Ok(());
        }
        if self.bits != n || self.w.len() != n * n || self.alpha.len() != n * n {
            return Err(TrainError::Config(format!("parameters of size {} do not fit a {} network of size {n}", self.bits, cfg.network.name())));
        }
        if !cfg.plastic && self.alpha.iter().any(|&a| a != 0.0) {
            return Err(TrainError::Config("a non-plastic network's alpha must be zero".into()));
        }
        Ok(())
    }

    pub fn weights(&self) -> PlasticWeights<'_> {
        PlasticWeights { w: &self.w, alpha: &self.alpha, eta: self.eta }
    }
}

/// A standard normal draw (Box-Muller), for Miconi's `randn` initialisation.
fn standard_normal(rng: &mut StdRng) -> f32 {
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random::<f64>();
    ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
}

/// A pattern-completion network being trained, on one backend. The loss is the MSE of the last
/// step's outputs against the full patterns; reading results is `async` so the GPU can wait for
/// its readback without blocking a browser.
#[allow(async_fn_in_trait)]
pub trait HebbianTrainer {
    fn config(&self) -> &HebbianConfig;

    /// One Adam step on a batch of episodes: `xs` is `[T, batch, bits]`, `targets` `[batch, bits]`.
    fn train_step(&mut self, xs: &[f32], targets: &[f32]) -> Result<(), TrainError>;

    /// The sum and the number of the training losses since the last call.
    async fn take_train_loss(&mut self) -> Result<(f32, usize), TrainError>;

    /// The loss on a batch of episodes, without training.
    async fn loss(&mut self, xs: &[f32], targets: &[f32]) -> Result<f32, TrainError>;

    async fn params(&mut self) -> Result<HebbianParams, TrainError>;

    /// One episode of the recurrent network run without training (`xs` is `[T, 1, bits]`), step
    /// by step: what the page draws as the episode unfolds. The feed-forward layer has no state
    /// to show, and refuses.
    async fn episode(&mut self, xs: &[f32]) -> Result<EpisodeTrace, TrainError>;
}

/// Every step of one episode of the recurrent network.
#[derive(Debug, Clone, PartialEq)]
pub struct EpisodeTrace {
    pub steps: usize,
    pub neurons: usize,
    /// The state after each step, `[T, neurons]`.
    pub states: Vec<f32>,
    /// The trace `Hebb(t)` each step read, `[T, neurons, neurons]`; empty for a non-plastic network.
    pub hebb: Vec<f32>,
}

impl EpisodeTrace {
    /// The state after step `t` (from 0); `None` past the episode.
    pub fn state_after(&self, t: usize) -> Option<&[f32]> {
        self.states.get(t * self.neurons..(t + 1) * self.neurons)
    }

    /// The trace step `t` read; `None` past the episode or for a non-plastic network.
    pub fn trace_at(&self, t: usize) -> Option<&[f32]> {
        let nn = self.neurons * self.neurons;
        self.hebb.get(t * nn..(t + 1) * nn)
    }
}

impl HebbianConfig {
    /// Checks that `xs` is one whole episode of the recurrent network.
    pub fn check_episode(&self, xs: &[f32]) -> Result<(), TrainError> {
        if self.network == Network::Feedforward {
            return Err(TrainError::Config("only the recurrent networks have a state to replay step by step".into()));
        }
        if xs.len() != self.episode_steps() * self.bits {
            return Err(TrainError::Config(format!("{} inputs are not one episode of {} steps of {} bits", xs.len(), self.episode_steps(), self.bits)));
        }
        Ok(())
    }
}

impl HebbianConfig {
    /// Checks that `xs` and `targets` are whole episodes of this configuration, returning how many.
    pub fn check_batch(&self, xs: &[f32], targets: &[f32]) -> Result<usize, TrainError> {
        let batch = targets.len() / self.bits;
        if batch == 0 || targets.len() != batch * self.bits || xs.len() != self.episode_steps() * targets.len() {
            return Err(TrainError::Config(format!(
                "{} inputs and {} targets are not whole episodes of {} steps of {} bits (at least one)",
                xs.len(),
                targets.len(),
                self.episode_steps(),
                self.bits
            )));
        }
        Ok(batch)
    }
}

// -------------------------------------------------------------------------------------------------
// The Hebbian denoising autoencoder (Upadhyay & Bagad; docs/algorithms.md, "Denoising autoencoder")
// -------------------------------------------------------------------------------------------------

/// Kernel side and padding of every (transposed) convolution of the autoencoder: 3x3 with zero
/// padding 1 and stride 1, so it keeps the map's size and only pooling and upsampling change it.
pub const DAE_KERNEL: usize = 3;
pub const DAE_PAD: usize = 1;

/// The nonlinearity of both of the autoencoder's plastic layers: bounded, so the traces stay so.
pub const PLASTIC_ACT: Nonlinearity = Nonlinearity::Tanh;

/// The denoising autoencoder and its episodes.
///
/// ```text
/// image (side x side x 1)
///   encoder: [conv c1, ReLU, BN, pool] [conv c2, ReLU, BN, pool] [conv code, ReLU, BN]
///   code plastic layer: flattened code (side/4 x side/4 x code) -> same size, tanh, W starts at I
///   decoder: [convT c2, ReLU, BN, up] [convT c1, ReLU, BN, up] [convT 1]  -> logits d
///   output plastic layer on the 2x2-averaged logits p = avgpool(d) ((side/2)^2 -> same, tanh)
///   image out = sigmoid(d + up(plastic(p)))
/// ```
///
/// Why the output plastic layer acts on a half-resolution map: a full `784 x 784` layer keeps
/// `T * batch * 784^2` floats of traces for BPTT, 2.5 MB per episode and step, about 390 MB at
/// the default 16 episodes of 10 steps, and its ~20 floating-point operations per synapse per step
/// would cost three times the whole rest of the network on a CPU. On the `14 x 14` map it is 16
/// times smaller (25 MB), and added to the decoder's logits rather than replacing them, so the
/// reconstruction keeps its full resolution while the trace can still recall a stored image's
/// coarse shape. Its `W` starts at 0: the correction starts off and the decoder alone reconstructs
/// at first. The code layer's `W` starts at the identity, so the untrained autoencoder passes its
/// code through (squashed by tanh).
///
/// Episodes (docs/algorithms.md, "Denoising autoencoder"): each of `images` training images is
/// shown `show_steps` times and followed by `zero_steps` zero images; then one of them, with
/// Gaussian noise of std `noise_std` added, for one step; the loss is the MSE between that step's
/// output and the clean image. Traces start at zero in every episode; gradients flow back through
/// both traces over the episode, and the convolutional parts, applied at every step, sum their
/// gradients over steps. The non-plastic twin is the same network with both layers' `alpha` at 0
/// and not trained.
#[derive(Debug, Clone, PartialEq)]
pub struct DenoiseConfig {
    /// Image side: 28 for MNIST; tests use smaller images. A multiple of 4 (two poolings).
    pub side: usize,
    /// Channels of the first and second encoder stages, and of the code.
    pub channels: [usize; 3],
    /// The stages' nonlinearity: ReLU, as the paper; the finite-difference tests use tanh, which
    /// has no kink for a perturbation to step over.
    pub activation: Activation,
    pub pool: PoolKind,
    /// Images stored per episode `P`.
    pub images: usize,
    /// Steps each image is shown, `t_ns`.
    pub show_steps: usize,
    /// Zero images after each shown image, `t_zs`.
    pub zero_steps: usize,
    /// Standard deviation of the Gaussian noise on the test image (pixels in [0, 1]).
    pub noise_std: f32,
    pub rule: HebbRule,
    /// `false`: both plastic layers have alpha fixed at 0, the non-plastic twin.
    pub plastic: bool,
    pub lr: f32,
    /// Episodes per training batch; batch norm's statistics are over these.
    pub batch: usize,
}

impl DenoiseConfig {
    /// 28x28 images, channels 8, 8, 4 (a 7x7x4 = 196 code), average pooling, 3 images shown
    /// twice each with one zero image after, noise std 0.5, Adam 1e-3, 16 episodes per batch.
    ///
    /// Noise 0.5 (no clipping, so it stays Gaussian as the task states): the noisy input's MSE
    /// is 0.25, more than the mean squared ink of a digit (about 0.1), so single strokes are
    /// ambiguous and remembering the clean image shown earlier in the episode is worth something;
    /// yet which of the few stored images it is stays clear to the eye.
    pub fn mnist(plastic: bool) -> Self {
        Self {
            side: IMAGE_SIDE,
            channels: [8, 8, 4],
            activation: Activation::Relu,
            pool: PoolKind::Average,
            images: 3,
            show_steps: 2,
            zero_steps: 1,
            noise_std: 0.5,
            rule: HebbRule::Simple,
            plastic,
            lr: 1e-3,
            batch: 16,
        }
    }

    /// Steps per episode: `images * (show_steps + zero_steps) + 1`.
    pub fn episode_steps(&self) -> usize {
        self.images * (self.show_steps + self.zero_steps) + 1
    }

    /// The steps at the start of an episode whose encoder and decoder get no gradient: all of them
    /// in a pass that does not go backward, all but the last in the non-plastic twin (its traces
    /// reach nothing, so only the last step's loss reaches its stages), none in the plastic
    /// network. Both backends run these steps in a pass of their own, without a backward part.
    pub fn steps_without_grads(&self, with_grads: bool) -> usize {
        let steps = self.episode_steps();
        match (with_grads, self.plastic) {
            (false, _) => steps,
            (true, false) => steps - 1,
            (true, true) => 0,
        }
    }

    pub fn pixels(&self) -> usize {
        self.side * self.side
    }

    /// Length of the flattened code, the code plastic layer's width.
    pub fn code_len(&self) -> usize {
        (self.side / 4) * (self.side / 4) * self.channels[2]
    }

    /// Width of the output plastic layer: the half-resolution map.
    pub fn out_plastic_len(&self) -> usize {
        (self.side / 2) * (self.side / 2)
    }

    /// The encoder's stages, on `side x side x 1` images.
    pub fn encoder(&self) -> Vec<PlannedLayer> {
        use Layer::*;
        let [c1, c2, code] = self.channels;
        let (act, (k, pad)) = (Act(self.activation), (DAE_KERNEL, DAE_PAD));
        let specs = [
            Conv { out: c1, k, pad },
            act,
            BatchNorm(Norm::BATCH),
            Pool(self.pool),
            Conv { out: c2, k, pad },
            act,
            BatchNorm(Norm::BATCH),
            Pool(self.pool),
            Conv { out: code, k, pad },
            act,
            BatchNorm(Norm::BATCH),
        ];
        nn::plan(&specs, Dims { h: self.side, w: self.side, c: 1 }, 0)
    }

    /// The decoder's stages, mirroring the encoder, from the code to one channel of logits.
    pub fn decoder(&self) -> Vec<PlannedLayer> {
        use Layer::*;
        let [c1, c2, code] = self.channels;
        let (act, (k, pad)) = (Act(self.activation), (DAE_KERNEL, DAE_PAD));
        let specs = [ConvT { out: c2, k, pad }, act, BatchNorm(Norm::BATCH), Upsample, ConvT { out: c1, k, pad }, act, BatchNorm(Norm::BATCH), Upsample, ConvT { out: 1, k, pad }];
        let first = self.encoder().iter().filter(|s| s.param.is_some()).count();
        nn::plan(&specs, Dims { h: self.side / 4, w: self.side / 4, c: code }, first)
    }

    /// Floats the plastic layers keep for BPTT over one training batch, in bytes (u64: wasm32).
    pub fn tape_bytes(&self) -> u64 {
        let per_step = (self.code_len() * self.code_len() + self.out_plastic_len() * self.out_plastic_len()) as u64;
        per_step * self.episode_steps() as u64 * self.batch as u64 * std::mem::size_of::<f32>() as u64
    }

    pub fn validate(&self) -> Result<(), TrainError> {
        let bad = |msg: String| Err(TrainError::Config(msg));
        if !(4..=64).contains(&self.side) || !self.side.is_multiple_of(4) {
            return bad(format!("image side {} must be a multiple of 4 in 4..=64 (two 2x2 poolings)", self.side));
        }
        if self.channels.iter().any(|c| !(1..=64).contains(c)) {
            return bad(format!("channels {:?} must each be in 1..=64", self.channels));
        }
        if !(1..=20).contains(&self.images) {
            return bad(format!("images per episode {} must be in 1..=20", self.images));
        }
        if !(1..=20).contains(&self.show_steps) {
            return bad(format!("steps per shown image {} must be in 1..=20", self.show_steps));
        }
        if self.zero_steps > 20 {
            return bad(format!("zero steps {} must be in 0..=20", self.zero_steps));
        }
        if !(self.noise_std >= 0.0 && self.noise_std <= 10.0) {
            return bad(format!("noise std {} must be in [0, 10]", self.noise_std));
        }
        if !(self.lr > 0.0 && self.lr <= 1.0) {
            return bad(format!("learning rate {} must be in (0, 1]", self.lr));
        }
        // Batch norm over one episode would normalise every feature to beta.
        if !(2..=512).contains(&self.batch) {
            return bad(format!("episodes per batch {} must be in 2..=512 (batch norm needs two)", self.batch));
        }
        check_tape(self.episode_steps(), self.batch, self.tape_bytes(), "code channels")
    }

    /// Plain Adam (metaplasticity 0), no weight decay.
    pub fn hyper(&self) -> AdamHyper {
        AdamHyper::new(self.lr, 0.0, 0.0)
    }

    /// Every tensor, with Adam on each: the stages' weights and biases and the plastic layers'
    /// `W` (code layer 0, output layer 1); then both `alpha`s and `eta`s, frozen in the
    /// non-plastic twin (it keeps alpha at 0, so its traces never reach an output and eta,
    /// whose gradient is then 0, stays too).
    pub fn layout(&self) -> ParamLayout {
        let adam = Update::Adam(self.hyper());
        let stages: Vec<PlannedLayer> = self.encoder().into_iter().chain(self.decoder()).collect();
        let mut layout = ParamLayout::of_layers(&stages, |_, _| adam);
        let (plastic, lens) = (if self.plastic { adam } else { Update::Frozen }, [self.code_len().pow(2), self.out_plastic_len().pow(2)]);
        for (n, &len) in lens.iter().enumerate() {
            layout.push(TensorKey::PlasticW(n), len, adam);
        }
        for (n, &len) in lens.iter().enumerate() {
            layout.push(TensorKey::PlasticAlpha(n), len, plastic);
        }
        for n in 0..lens.len() {
            layout.push(TensorKey::PlasticEta(n), 1, plastic);
        }
        layout
    }
}

impl DenoiseParams {
    fn plastic(&self, n: usize) -> &HebbianParams {
        if n == 0 { &self.code } else { &self.out }
    }
    fn plastic_mut(&mut self, n: usize) -> &mut HebbianParams {
        if n == 0 { &mut self.code } else { &mut self.out }
    }
}

/// The tensors of [`HebbianConfig::layout`].
impl TensorSet for HebbianParams {
    fn tensor(&self, key: TensorKey) -> &[f32] {
        match key {
            TensorKey::PlasticW(0) => &self.w,
            TensorKey::PlasticAlpha(0) => &self.alpha,
            TensorKey::PlasticEta(0) => std::slice::from_ref(&self.eta),
            other => unreachable!("a pattern-completion network holds no {other:?}"),
        }
    }
    fn tensor_mut(&mut self, key: TensorKey) -> &mut [f32] {
        match key {
            TensorKey::PlasticW(0) => &mut self.w,
            TensorKey::PlasticAlpha(0) => &mut self.alpha,
            TensorKey::PlasticEta(0) => std::slice::from_mut(&mut self.eta),
            other => unreachable!("a pattern-completion network holds no {other:?}"),
        }
    }
}

/// The tensors of [`DenoiseConfig::layout`].
impl TensorSet for DenoiseParams {
    fn tensor(&self, key: TensorKey) -> &[f32] {
        match key {
            TensorKey::PlasticW(n) => &self.plastic(n).w,
            TensorKey::PlasticAlpha(n) => &self.plastic(n).alpha,
            TensorKey::PlasticEta(n) => std::slice::from_ref(&self.plastic(n).eta),
            layer => self.layers.as_slice().tensor(layer),
        }
    }
    fn tensor_mut(&mut self, key: TensorKey) -> &mut [f32] {
        match key {
            TensorKey::PlasticW(n) => &mut self.plastic_mut(n).w,
            TensorKey::PlasticAlpha(n) => &mut self.plastic_mut(n).alpha,
            TensorKey::PlasticEta(n) => std::slice::from_mut(&mut self.plastic_mut(n).eta),
            layer => self.layers.as_mut_slice().tensor_mut(layer),
        }
    }
}

/// The autoencoder's parameters (or their gradients, same shapes).
#[derive(Debug, Clone, PartialEq)]
pub struct DenoiseParams {
    /// Encoder then decoder stages with parameters, in order: a (transposed) convolution's weight
    /// and bias, batch norm's gamma and beta.
    pub layers: Vec<LayerParams>,
    /// The plastic layer on the code.
    pub code: HebbianParams,
    /// The plastic layer on the half-resolution output logits.
    pub out: HebbianParams,
}

impl DenoiseParams {
    /// Glorot-uniform convolution weights, zero biases, gamma 1, beta 0; the code layer's `W` is
    /// the identity and the output layer's 0 (see [`DenoiseConfig`]); alpha `U(-0.01, 0.01)`
    /// (Miconi's scale, zero in the non-plastic twin) and eta 0.01. Both variants of a seed draw
    /// the same numbers.
    pub fn init(cfg: &DenoiseConfig, seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let k2 = DAE_KERNEL * DAE_KERNEL;
        let layers = cfg
            .encoder()
            .iter()
            .chain(cfg.decoder().iter())
            .filter_map(|stage| {
                let (wl, bl) = stage.param_lens()?;
                Some(match stage.layer {
                    Layer::BatchNorm(_) => LayerParams { w: vec![1.0; wl], b: vec![0.0; bl] },
                    _ => {
                        let limit = (6.0 / (k2 * (stage.input.c + stage.output.c)) as f32).sqrt();
                        LayerParams { w: (0..wl).map(|_| rng.random_range(-limit..limit)).collect(), b: vec![0.0; bl] }
                    }
                })
            })
            .collect();
        let mut plastic = |n: usize, w: Vec<f32>| {
            let alpha: Vec<f32> = (0..n * n).map(|_| 0.01 * rng.random_range(-1.0f32..1.0)).collect();
            HebbianParams { bits: n, w, alpha: if cfg.plastic { alpha } else { vec![0.0; n * n] }, eta: 0.01 }
        };
        let n = cfg.code_len();
        let identity = (0..n * n).map(|i| if i / n == i % n { 1.0 } else { 0.0 }).collect();
        let code = plastic(n, identity);
        let m = cfg.out_plastic_len();
        let out = plastic(m, vec![0.0; m * m]);
        Self { layers, code, out }
    }

    /// All zeros, shaped as `self`: a gradient accumulator.
    pub fn zeros_like(&self) -> Self {
        let zero = |p: &HebbianParams| HebbianParams { bits: p.bits, w: vec![0.0; p.w.len()], alpha: vec![0.0; p.alpha.len()], eta: 0.0 };
        Self {
            layers: self.layers.iter().map(|l| LayerParams { w: vec![0.0; l.w.len()], b: vec![0.0; l.b.len()] }).collect(),
            code: zero(&self.code),
            out: zero(&self.out),
        }
    }
}

impl DenoiseConfig {
    /// Checks that `xs` is whole episodes of this configuration (and `targets`, when given, one
    /// clean image per episode), returning how many.
    pub fn check_batch(&self, xs: &[f32], targets: Option<&[f32]>) -> Result<usize, TrainError> {
        let per_episode = self.episode_steps() * self.pixels();
        let batch = xs.len() / per_episode;
        let targets_fit = targets.is_none_or(|t| t.len() == batch * self.pixels());
        if batch == 0 || xs.len() != batch * per_episode || !targets_fit {
            return Err(TrainError::Config(format!(
                "{} inputs and {} targets are not whole episodes of {} steps of {}x{} images (at least one)",
                xs.len(),
                targets.map_or(0, <[f32]>::len),
                self.episode_steps(),
                self.side,
                self.side
            )));
        }
        Ok(batch)
    }
}

impl DenoiseParams {
    /// Refuses parameters shaped for another configuration (a file or another run's).
    pub fn check(&self, cfg: &DenoiseConfig) -> Result<(), TrainError> {
        let stages: Vec<PlannedLayer> = cfg.encoder().into_iter().chain(cfg.decoder()).collect();
        let layers_fit = nn::check_params(&stages, &self.layers).is_ok();
        let plastic_fits = |p: &HebbianParams, n: usize| p.bits == n && p.w.len() == n * n && p.alpha.len() == n * n;
        if !layers_fit || !plastic_fits(&self.code, cfg.code_len()) || !plastic_fits(&self.out, cfg.out_plastic_len()) {
            return Err(TrainError::Config("these autoencoder parameters do not fit the configured network".into()));
        }
        Ok(())
    }
}

/// The MSE of reconstructions against clean images, summed in f64: what every backend's test
/// loss and training loss is.
pub fn reconstruction_mse(images: &[f32], targets: &[f32]) -> f32 {
    assert_eq!(images.len(), targets.len(), "one clean image per reconstruction");
    let sum: f64 = images.iter().zip(targets).map(|(y, p)| f64::from((y - p) * (y - p))).sum();
    (sum / images.len() as f64) as f32
}

/// A denoising autoencoder being trained, on one backend: Adam on the MSE between the last step's
/// reconstruction and the clean image. Reading results is `async` so the GPU can wait for its
/// readback without blocking a browser.
#[allow(async_fn_in_trait)]
pub trait DenoiseTrainer {
    fn config(&self) -> &DenoiseConfig;

    /// One Adam step on a batch of episodes: `xs` is `[T, batch, pixels]`, `targets` `[batch,
    /// pixels]`, and the batch must be the configured one.
    fn train_step(&mut self, xs: &[f32], targets: &[f32]) -> Result<(), TrainError>;

    /// The sum and the number of the training losses since the last call.
    async fn take_train_loss(&mut self) -> Result<(f32, usize), TrainError>;

    /// The last step's reconstructions, `[batch, pixels]`, of a batch of episodes (any size of
    /// two or more: batch norm takes that batch's statistics), without training.
    async fn reconstruct(&mut self, xs: &[f32]) -> Result<Vec<f32>, TrainError>;

    async fn params(&mut self) -> Result<DenoiseParams, TrainError>;
}
