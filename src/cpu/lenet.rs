//! LeNet-5 on the CPU, walking the layer list of [`crate::model::lenet`]: the reference the GPU
//! trainer is tested against and the browser's fallback.

use super::activation::{activation_backward, activation_forward};
use super::amp::{amp_factors, scale_rows};
use super::batchnorm::{batchnorm_backward, batchnorm_forward};
use super::conv::{ConvShape, add_bias, bias_grad, col2im, im2col};
use super::dropout::{dropout_backward, dropout_forward};
use super::matmul::{MatmulShape, matmul};
use super::pool::{PoolKind, PoolShape, avg_pool_forward, max_pool_forward, pool_backward};
use super::sgd::sgd_step;
use super::softmax_ce::softmax_cross_entropy;
use crate::model::lenet::{FactorSource, Layer, LayerParams, LayerSpec, LenetConfig, LenetParams, LenetTrainer, plan};
use crate::model::{BatchStats, TrainError};

/// What the forward pass keeps for the backward pass.
#[derive(Default)]
pub struct Caches {
    /// `acts[0]` is the batch of images, `acts[i + 1]` the output of layer `i` (the last: logits).
    pub acts: Vec<Vec<f32>>,
    /// Per layer: a convolution's `cols`, batch norm's `xhat`, dropout's mask (else empty).
    aux: Vec<Vec<f32>>,
    /// Per layer: batch norm's `inv_std` (else empty).
    inv_std: Vec<Vec<f32>>,
    /// Per layer: max pooling's winning taps (else empty).
    argmax: Vec<Vec<u32>>,
}

/// The convolution of layer `l` on `batch` examples.
fn conv_shape(l: &Layer, batch: usize) -> ConvShape {
    let LayerSpec::Conv { out, k, pad } = l.spec else { unreachable!("conv_shape of a {:?} layer", l.spec) };
    ConvShape::new(batch, l.input.h, l.input.w, l.input.c, out, k, pad)
}

/// Forward pass over `x` (`batch x 784`). `dropout_seed: None` is evaluation (no dropout).
pub fn forward(layers: &[Layer], params: &LenetParams, x: &[f32], dropout_seed: Option<u32>, c: &mut Caches) {
    let batch = x.len() / layers[0].input.len();
    let n = layers.len();
    c.acts.resize_with(n + 1, Vec::new);
    c.aux.resize_with(n, Vec::new);
    c.inv_std.resize_with(n, Vec::new);
    c.argmax.resize_with(n, Vec::new);
    c.acts[0].clear();
    c.acts[0].extend_from_slice(x);
    for (i, l) in layers.iter().enumerate() {
        let (before, after) = c.acts.split_at_mut(i + 1);
        let (input, out) = (&before[i], &mut after[0]);
        out.clear();
        out.resize(batch * l.output.len(), 0.0);
        match l.spec {
            LayerSpec::Conv { out: cout, .. } => {
                let s = conv_shape(l, batch);
                let p = &params.layers[l.param.unwrap_or_default()];
                c.aux[i].resize(s.rows() * s.patch(), 0.0);
                im2col(&s, input, &mut c.aux[i]);
                matmul(MatmulShape::new(s.rows(), s.patch(), cout).trans_b(), &c.aux[i], &p.w, out);
                add_bias(out, &p.b);
            }
            LayerSpec::Dense { out: fout } => {
                let p = &params.layers[l.param.unwrap_or_default()];
                matmul(MatmulShape::new(batch, l.input.len(), fout).trans_b(), input, &p.w, out);
                add_bias(out, &p.b);
            }
            LayerSpec::Act(act) => activation_forward(act, input, out),
            LayerSpec::Pool(kind) => {
                let s = PoolShape::new(batch, l.input.h, l.input.w, l.input.c);
                match kind {
                    PoolKind::Max => {
                        c.argmax[i].resize(s.output_len(), 0);
                        max_pool_forward(&s, input, out, &mut c.argmax[i]);
                    }
                    PoolKind::Average => avg_pool_forward(&s, input, out),
                }
            }
            LayerSpec::BatchNorm => {
                let p = &params.layers[l.param.unwrap_or_default()];
                c.aux[i].resize(input.len(), 0.0);
                c.inv_std[i].resize(l.output.c, 0.0);
                batchnorm_forward(input, l.output.c, &p.w, &p.b, out, &mut c.aux[i], &mut c.inv_std[i]);
            }
            LayerSpec::Dropout(p) => match dropout_seed {
                Some(seed) => {
                    c.aux[i].resize(input.len(), 0.0);
                    dropout_forward(p, seed.wrapping_add(i as u32), input, out, &mut c.aux[i]);
                }
                None => out.copy_from_slice(input),
            },
        }
    }
}

/// Gradients of the batch-mean loss, one [`LayerParams`] per layer with parameters.
pub struct Grads {
    pub layers: Vec<LayerParams>,
    /// With respect to the input images, when asked for.
    pub x: Option<Vec<f32>>,
    /// The metaplastic factors used, one vector per convolutional layer (empty if standard).
    pub factors: Vec<Vec<f32>>,
}

/// Backward pass from the logits' gradient. Under the metaplastic rule, each convolutional
/// layer's weight and bias gradients are taken from its output gradient with every example's rows
/// scaled by that example's factor; the gradient passed down is not scaled.
pub fn backward(cfg: &LenetConfig, layers: &[Layer], params: &LenetParams, c: &Caches, dlogits: Vec<f32>, want_input_grad: bool) -> Grads {
    let batch = c.acts[0].len() / layers[0].input.len();
    let mut grads: Vec<LayerParams> = params.layers.iter().map(|p| LayerParams { w: vec![0.0; p.w.len()], b: vec![0.0; p.b.len()] }).collect();
    let mut factors = Vec::new();
    let mut input_grad = None;
    let mut d = dlogits;
    for (i, l) in layers.iter().enumerate().rev() {
        let needs_dx = i > 0 || want_input_grad;
        let input = &c.acts[i];
        let mut dx = vec![0.0; if needs_dx { input.len() } else { 0 }];
        match l.spec {
            LayerSpec::Conv { out: cout, .. } => {
                let s = conv_shape(l, batch);
                let (p, g) = (&params.layers[l.param.unwrap_or_default()], &mut grads[l.param.unwrap_or_default()]);
                let scaled;
                let dy_w = match cfg.amp {
                    Some(amp) => {
                        let source = match amp.source {
                            FactorSource::LayerInput => input,
                            FactorSource::NetworkInput => &c.acts[0],
                        };
                        let mut f = vec![0.0; batch];
                        amp_factors(&amp.hyper, source, batch, &mut f);
                        let mut out = vec![0.0; d.len()];
                        scale_rows(&d, cout, s.out_h() * s.out_w(), &f, &mut out);
                        factors.push(f);
                        scaled = out;
                        &scaled
                    }
                    None => &d,
                };
                matmul(MatmulShape::new(cout, s.rows(), s.patch()).trans_a(), dy_w, &c.aux[i], &mut g.w);
                bias_grad(dy_w, &mut g.b);
                if needs_dx {
                    let mut dcols = vec![0.0; s.rows() * s.patch()];
                    matmul(MatmulShape::new(s.rows(), cout, s.patch()), &d, &p.w, &mut dcols);
                    col2im(&s, &dcols, &mut dx);
                }
            }
            LayerSpec::Dense { out: fout } => {
                let (p, g) = (&params.layers[l.param.unwrap_or_default()], &mut grads[l.param.unwrap_or_default()]);
                let fin = l.input.len();
                matmul(MatmulShape::new(fout, batch, fin).trans_a(), &d, input, &mut g.w);
                bias_grad(&d, &mut g.b);
                if needs_dx {
                    matmul(MatmulShape::new(batch, fout, fin), &d, &p.w, &mut dx);
                }
            }
            LayerSpec::Act(act) => activation_backward(act, &c.acts[i + 1], &d, &mut dx),
            LayerSpec::Pool(kind) => {
                let s = PoolShape::new(batch, l.input.h, l.input.w, l.input.c);
                pool_backward(&s, kind, &d, &c.argmax[i], &mut dx);
            }
            LayerSpec::BatchNorm => {
                let (p, g) = (&params.layers[l.param.unwrap_or_default()], &mut grads[l.param.unwrap_or_default()]);
                let mut dxb = vec![0.0; input.len()];
                batchnorm_backward(&d, &c.aux[i], &c.inv_std[i], &p.w, l.output.c, &mut dxb, &mut g.w, &mut g.b);
                dx = dxb;
            }
            LayerSpec::Dropout(_) => dropout_backward(&c.aux[i], &d, &mut dx),
        }
        if i == 0 {
            input_grad = want_input_grad.then_some(dx);
            break;
        }
        d = dx;
    }
    factors.reverse();
    Grads { layers: grads, x: input_grad, factors }
}

/// Loss, accuracy and gradients of one batch: the function the finite-difference tests probe.
pub fn loss_and_grads(
    cfg: &LenetConfig,
    layers: &[Layer],
    params: &LenetParams,
    x: &[f32],
    y: &[u32],
    dropout_seed: Option<u32>,
    want_input_grad: bool,
) -> (BatchStats, Grads) {
    let mut c = Caches::default();
    forward(layers, params, x, dropout_seed, &mut c);
    let logits = &c.acts[layers.len()];
    let mut dlogits = vec![0.0; logits.len()];
    let (loss, correct) = softmax_cross_entropy(logits, y, crate::data::NUM_CLASSES, &mut dlogits);
    let grads = backward(cfg, layers, params, &c, dlogits, want_input_grad);
    (BatchStats { loss_sum: loss, correct, count: y.len() as u32 }, grads)
}

pub struct CpuLenet {
    cfg: LenetConfig,
    layers: Vec<Layer>,
    params: LenetParams,
    velocity: LenetParams,
    stats: BatchStats,
    factors: Vec<Vec<f32>>,
    caches: Caches,
}

impl CpuLenet {
    pub fn new(cfg: LenetConfig, params: LenetParams) -> Result<Self, TrainError> {
        cfg.validate()?;
        let layers = plan(cfg.arch);
        check_params(&layers, &params)?;
        let velocity = LenetParams { layers: params.layers.iter().map(|p| LayerParams { w: vec![0.0; p.w.len()], b: vec![0.0; p.b.len()] }).collect() };
        Ok(Self { cfg, layers, params, velocity, stats: BatchStats::default(), factors: Vec::new(), caches: Caches::default() })
    }
}

/// Refuses parameters that do not fit the architecture's layers.
pub fn check_params(layers: &[Layer], params: &LenetParams) -> Result<(), TrainError> {
    let want: Vec<(usize, usize)> = layers.iter().filter_map(Layer::param_lens).collect();
    let have: Vec<(usize, usize)> = params.layers.iter().map(|p| (p.w.len(), p.b.len())).collect();
    if want != have {
        return Err(TrainError::Config(format!("parameters of sizes {have:?} for a network of {want:?}")));
    }
    Ok(())
}

impl LenetTrainer for CpuLenet {
    fn config(&self) -> &LenetConfig {
        &self.cfg
    }

    fn train_step(&mut self, x: &[f32], y: &[u32], seed: u32) -> Result<(), TrainError> {
        let mut c = std::mem::take(&mut self.caches);
        forward(&self.layers, &self.params, x, Some(seed), &mut c);
        let logits = &c.acts[self.layers.len()];
        let mut dlogits = vec![0.0; logits.len()];
        let (loss, correct) = softmax_cross_entropy(logits, y, crate::data::NUM_CLASSES, &mut dlogits);
        let grads = backward(&self.cfg, &self.layers, &self.params, &c, dlogits, false);
        self.caches = c;
        self.stats.add(BatchStats { loss_sum: loss, correct, count: y.len() as u32 });
        let h = self.cfg.sgd();
        for ((p, g), v) in self.params.layers.iter_mut().zip(&grads.layers).zip(&mut self.velocity.layers) {
            sgd_step(&h, &mut p.w, &g.w, &mut v.w);
            sgd_step(&h, &mut p.b, &g.b, &mut v.b);
        }
        self.factors = grads.factors;
        Ok(())
    }

    async fn take_train_stats(&mut self) -> Result<BatchStats, TrainError> {
        Ok(std::mem::take(&mut self.stats))
    }

    async fn logits(&mut self, x: &[f32]) -> Result<Vec<f32>, TrainError> {
        let mut c = std::mem::take(&mut self.caches);
        forward(&self.layers, &self.params, x, None, &mut c);
        let logits = c.acts[self.layers.len()].clone();
        self.caches = c;
        Ok(logits)
    }

    async fn params(&mut self) -> Result<LenetParams, TrainError> {
        Ok(self.params.clone())
    }

    fn load_params(&mut self, params: &LenetParams) {
        assert!(check_params(&self.layers, params).is_ok(), "parameters must fit the network");
        self.params.clone_from(params);
    }

    async fn last_factors(&mut self) -> Result<Vec<Vec<f32>>, TrainError> {
        Ok(self.factors.clone())
    }
}
