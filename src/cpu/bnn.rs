//! The binarized network on the CPU: the reference the GPU trainer is checked against, and the
//! trainer the browser uses where WebGPU is missing. Definition: [`crate::model::bnn`].

use super::batchnorm::{batchnorm_backward, batchnorm_forward};
use super::ewc::{ewc_consolidate, ewc_penalty_grad};
use super::matmul::matmul;
use crate::nn::MatmulShape;
use super::metaplastic_adam::metaplastic_adam;
use super::sign::{HiddenActivation, binarize_all, sign_backward};
use super::softmax_ce::softmax_cross_entropy;
use crate::model::bnn::{BnnConfig, BnnParams, BnnTrainer, LAYERS};
use crate::nn::{BatchStats, TrainError};

/// Activations kept from the forward pass for the backward pass.
#[derive(Default)]
pub struct Caches {
    /// `h[l]`: input of linear layer `l` (`h[0]` is the batch of images).
    pub h: [Vec<f32>; LAYERS],
    /// `z[l]`: output of BatchNorm `l` (`z[2]` are the logits).
    pub z: [Vec<f32>; LAYERS],
    xhat: [Vec<f32>; LAYERS],
    inv_std: [Vec<f32>; LAYERS],
    pre_bn: Vec<f32>,
}

/// Gradients of the batch-mean loss.
#[derive(Debug, Clone, Default)]
pub struct Grads {
    /// With respect to the weights used in the forward pass (the binary ones, in training).
    pub w: [Vec<f32>; LAYERS],
    pub gamma: [Vec<f32>; LAYERS],
    pub beta: [Vec<f32>; LAYERS],
    /// With respect to the input images, when asked for.
    pub x: Option<Vec<f32>>,
}

/// Forward pass: `h[l+1] = act(BN_l(h[l] W_lᵀ))`, logits `z[2] = BN_2(h[2] W_2ᵀ)`.
pub fn forward(
    sizes: [usize; LAYERS + 1],
    w: [&[f32]; LAYERS],
    gamma: &[Vec<f32>; LAYERS],
    beta: &[Vec<f32>; LAYERS],
    x: &[f32],
    act: HiddenActivation,
    c: &mut Caches,
) {
    let batch = x.len() / sizes[0];
    c.h[0].clear();
    c.h[0].extend_from_slice(x);
    for l in 0..LAYERS {
        let (fan_in, fan_out) = (sizes[l], sizes[l + 1]);
        c.pre_bn.resize(batch * fan_out, 0.0);
        matmul(MatmulShape::new(batch, fan_in, fan_out).trans_b(), &c.h[l], w[l], &mut c.pre_bn);
        for v in [&mut c.z[l], &mut c.xhat[l]] {
            v.resize(batch * fan_out, 0.0);
        }
        c.inv_std[l].resize(fan_out, 0.0);
        batchnorm_forward(&c.pre_bn, fan_out, &gamma[l], &beta[l], &mut c.z[l], &mut c.xhat[l], &mut c.inv_std[l]);
        if l + 1 < LAYERS {
            let next = &mut c.h[l + 1];
            next.clear();
            next.extend(c.z[l].iter().map(|&v| act.forward(v)));
        }
    }
}

/// Backward pass from the logits' gradient, through BatchNorm, the linear layers and the
/// straight-through activations.
pub fn backward(
    sizes: [usize; LAYERS + 1],
    w: [&[f32]; LAYERS],
    gamma: &[Vec<f32>; LAYERS],
    c: &Caches,
    dlogits: Vec<f32>,
    want_input_grad: bool,
) -> Grads {
    let batch = dlogits.len() / sizes[LAYERS];
    let mut g = Grads::default();
    let mut dz = dlogits;
    for l in (0..LAYERS).rev() {
        let (fan_in, fan_out) = (sizes[l], sizes[l + 1]);
        let mut da = vec![0.0; batch * fan_out];
        g.gamma[l] = vec![0.0; fan_out];
        g.beta[l] = vec![0.0; fan_out];
        batchnorm_backward(&dz, &c.xhat[l], &c.inv_std[l], &gamma[l], fan_out, &mut da, &mut g.gamma[l], &mut g.beta[l]);
        g.w[l] = vec![0.0; fan_out * fan_in];
        matmul(MatmulShape::new(fan_out, batch, fan_in).trans_a(), &da, &c.h[l], &mut g.w[l]);
        if l > 0 || want_input_grad {
            let mut dh = vec![0.0; batch * fan_in];
            matmul(MatmulShape::new(batch, fan_out, fan_in), &da, w[l], &mut dh);
            if l == 0 {
                g.x = Some(dh);
                break;
            }
            dz = vec![0.0; batch * fan_in];
            sign_backward(&c.z[l - 1], &dh, &mut dz);
        }
    }
    g
}

/// Loss, accuracy and gradients for one batch with the weights `w` used as given.
pub fn loss_and_grads(
    sizes: [usize; LAYERS + 1],
    w: [&[f32]; LAYERS],
    gamma: &[Vec<f32>; LAYERS],
    beta: &[Vec<f32>; LAYERS],
    x: &[f32],
    y: &[u32],
    act: HiddenActivation,
    want_input_grad: bool,
) -> (BatchStats, Grads) {
    let mut c = Caches::default();
    forward(sizes, w, gamma, beta, x, act, &mut c);
    let mut dlogits = vec![0.0; c.z[LAYERS - 1].len()];
    let (loss, correct) = softmax_cross_entropy(&c.z[LAYERS - 1], y, sizes[LAYERS], &mut dlogits);
    let grads = backward(sizes, w, gamma, &c, dlogits, want_input_grad);
    (BatchStats { loss_sum: loss, correct, count: y.len() as u32 }, grads)
}

#[derive(Clone)]
struct Moments {
    m1: Vec<f32>,
    m2: Vec<f32>,
}

impl Moments {
    fn zeros(n: usize) -> Self {
        Self { m1: vec![0.0; n], m2: vec![0.0; n] }
    }
    fn reset(&mut self) {
        self.m1.iter_mut().for_each(|v| *v = 0.0);
        self.m2.iter_mut().for_each(|v| *v = 0.0);
    }
}

/// EWC state of one layer: `F = sum_t F_t` and `FW = sum_t F_t W*_t`.
struct EwcSums {
    fisher: Vec<f32>,
    anchor: Vec<f32>,
}

pub struct CpuBnn {
    cfg: BnnConfig,
    params: BnnParams,
    wb: [Vec<f32>; LAYERS],
    opt_w: [Moments; LAYERS],
    opt_gamma: [Moments; LAYERS],
    opt_beta: [Moments; LAYERS],
    step: u32,
    ewc: Option<[EwcSums; LAYERS]>,
    stats: BatchStats,
    caches: Caches,
}

impl CpuBnn {
    pub fn new(cfg: BnnConfig, params: BnnParams) -> Result<Self, TrainError> {
        cfg.validate()?;
        if params.sizes != cfg.sizes() {
            return Err(TrainError::Config(format!("parameters of sizes {:?} for a network of {:?}", params.sizes, cfg.sizes())));
        }
        let sizes = cfg.sizes();
        Ok(Self {
            wb: std::array::from_fn(|l| vec![0.0; sizes[l] * sizes[l + 1]]),
            opt_w: std::array::from_fn(|l| Moments::zeros(sizes[l] * sizes[l + 1])),
            opt_gamma: std::array::from_fn(|l| Moments::zeros(sizes[l + 1])),
            opt_beta: std::array::from_fn(|l| Moments::zeros(sizes[l + 1])),
            cfg,
            params,
            step: 0,
            ewc: None,
            stats: BatchStats::default(),
            caches: Caches::default(),
        })
    }

    fn binarize_weights(&mut self) {
        for l in 0..LAYERS {
            binarize_all(&self.params.wh[l], &mut self.wb[l]);
        }
    }

    fn weights(&self) -> [&[f32]; LAYERS] {
        std::array::from_fn(|l| self.wb[l].as_slice())
    }

    /// Loss and gradients with respect to the binary weights for one batch.
    fn batch_grads(&mut self, x: &[f32], y: &[u32]) -> (BatchStats, Grads) {
        self.binarize_weights();
        let sizes = self.cfg.sizes();
        let mut caches = std::mem::take(&mut self.caches);
        let w = self.weights();
        forward(sizes, w, &self.params.gamma, &self.params.beta, x, HiddenActivation::Sign, &mut caches);
        let mut dlogits = vec![0.0; caches.z[LAYERS - 1].len()];
        let (loss, correct) = softmax_cross_entropy(&caches.z[LAYERS - 1], y, sizes[LAYERS], &mut dlogits);
        let grads = backward(sizes, w, &self.params.gamma, &caches, dlogits, false);
        self.caches = caches;
        (BatchStats { loss_sum: loss, correct, count: y.len() as u32 }, grads)
    }
}

impl BnnTrainer for CpuBnn {
    fn config(&self) -> &BnnConfig {
        &self.cfg
    }

    fn train_step(&mut self, x: &[f32], y: &[u32]) -> Result<(), TrainError> {
        let (stats, mut grads) = self.batch_grads(x, y);
        self.stats.add(stats);
        self.step += 1;
        for l in 0..LAYERS {
            if let Some(ewc) = &self.ewc {
                ewc_penalty_grad(&self.params.wh[l], &ewc[l].fisher, &ewc[l].anchor, self.cfg.ewc_lambda, &mut grads.w[l]);
            }
            let h = self.cfg.hyper(l).at_step(self.step);
            let o = &mut self.opt_w[l];
            metaplastic_adam(&mut self.params.wh[l], &grads.w[l], &mut o.m1, &mut o.m2, &h);
            let hb = self.cfg.bn_hyper().at_step(self.step);
            let o = &mut self.opt_gamma[l];
            metaplastic_adam(&mut self.params.gamma[l], &grads.gamma[l], &mut o.m1, &mut o.m2, &hb);
            let o = &mut self.opt_beta[l];
            metaplastic_adam(&mut self.params.beta[l], &grads.beta[l], &mut o.m1, &mut o.m2, &hb);
        }
        Ok(())
    }

    async fn take_train_stats(&mut self) -> Result<BatchStats, TrainError> {
        Ok(std::mem::take(&mut self.stats))
    }

    async fn evaluate(&mut self, x: &[f32], y: &[u32]) -> Result<BatchStats, TrainError> {
        self.binarize_weights();
        let sizes = self.cfg.sizes();
        let mut caches = std::mem::take(&mut self.caches);
        forward(sizes, self.weights(), &self.params.gamma, &self.params.beta, x, HiddenActivation::Sign, &mut caches);
        let mut dlogits = vec![0.0; caches.z[LAYERS - 1].len()];
        let (loss, correct) = softmax_cross_entropy(&caches.z[LAYERS - 1], y, sizes[LAYERS], &mut dlogits);
        self.caches = caches;
        Ok(BatchStats { loss_sum: loss, correct, count: y.len() as u32 })
    }

    async fn params(&mut self) -> Result<BnnParams, TrainError> {
        Ok(self.params.clone())
    }

    fn load_params(&mut self, params: &BnnParams) {
        assert_eq!(params.sizes, self.params.sizes, "parameters must fit the network");
        self.params.clone_from(params);
    }

    fn reset_optimizer(&mut self) {
        self.step = 0;
        for o in self.opt_w.iter_mut().chain(&mut self.opt_gamma).chain(&mut self.opt_beta) {
            o.reset();
        }
    }

    async fn consolidate_ewc(&mut self, batches: &[(Vec<f32>, Vec<u32>)]) -> Result<(), TrainError> {
        let sizes = self.cfg.sizes();
        let mut f: [Vec<f32>; LAYERS] = std::array::from_fn(|l| vec![0.0; sizes[l] * sizes[l + 1]]);
        for (x, y) in batches {
            let (_, grads) = self.batch_grads(x, y);
            for l in 0..LAYERS {
                for (fi, g) in f[l].iter_mut().zip(&grads.w[l]) {
                    *fi += g * g / batches.len() as f32;
                }
            }
        }
        let ewc = self.ewc.get_or_insert_with(|| {
            std::array::from_fn(|l| EwcSums { fisher: vec![0.0; sizes[l] * sizes[l + 1]], anchor: vec![0.0; sizes[l] * sizes[l + 1]] })
        });
        for l in 0..LAYERS {
            ewc_consolidate(&self.params.wh[l], &f[l], &mut ewc[l].fisher, &mut ewc[l].anchor);
        }
        Ok(())
    }
}
