//! The parameter and optimizer-state layout: one ordered list of every tensor a network holds,
//! with the update each gets. A model builds its list once ([`crate::model`]); both backends keep
//! their optimizer state in that order and find each tensor by its [`TensorKey`], so no second
//! list has to be kept in step with the first.

use super::{AdamHyper, LayerParams, PlannedLayer};

/// Names one tensor of a network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TensorKey {
    /// The weight of parameter slot `n` (gamma for batch norm).
    Weight(usize),
    /// The bias of parameter slot `n` (beta for batch norm).
    Bias(usize),
    /// `W`, `alpha` and `eta` of plastic layer `n` (the autoencoder's code layer is 0, its output
    /// layer 1; a pattern-completion network's connections are 0).
    PlasticW(usize),
    PlasticAlpha(usize),
    PlasticEta(usize),
}

/// How a tensor is updated after each backward pass.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Update {
    /// Metaplastic Adam with these hyper-parameters (`meta = 0` is plain Adam); each step sets the
    /// bias corrections ([`AdamHyper::at_step`]).
    Adam(AdamHyper),
    /// Not trained: batch norm's gamma and beta without affine parameters, the non-plastic
    /// twin's alpha and eta.
    Frozen,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TensorSpec {
    pub key: TensorKey,
    pub len: usize,
    pub update: Update,
}

/// Every tensor of a network in one order: the order of the optimizer's state on both backends.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ParamLayout {
    pub tensors: Vec<TensorSpec>,
}

impl ParamLayout {
    /// The weight and bias of every parameter slot of `layers`, in slot order, each updated as
    /// `update(layer, is_bias)` says.
    pub fn of_layers(layers: &[PlannedLayer], update: impl Fn(&PlannedLayer, bool) -> Update) -> Self {
        let mut out = Self::default();
        for l in layers {
            let (Some(slot), Some((wl, bl))) = (l.param, l.param_lens()) else { continue };
            out.push(TensorKey::Weight(slot), wl, update(l, false));
            out.push(TensorKey::Bias(slot), bl, update(l, true));
        }
        out
    }

    pub fn push(&mut self, key: TensorKey, len: usize, update: Update) {
        self.tensors.push(TensorSpec { key, len, update });
    }

    /// The tensors an optimizer updates, in order: frozen and empty ones (a binary layer's
    /// bias) hold no optimizer state.
    pub fn trained(&self) -> impl Iterator<Item = (&TensorSpec, AdamHyper)> {
        self.tensors.iter().filter(|t| t.len > 0).filter_map(|t| match t.update {
            Update::Adam(h) => Some((t, h)),
            Update::Frozen => None,
        })
    }
}

/// Tensors found by key: where an optimizer reads gradients and writes parameters.
pub trait TensorSet {
    fn tensor(&self, key: TensorKey) -> &[f32];
    fn tensor_mut(&mut self, key: TensorKey) -> &mut [f32];
}

impl TensorSet for [LayerParams] {
    fn tensor(&self, key: TensorKey) -> &[f32] {
        match key {
            TensorKey::Weight(n) => &self[n].w,
            TensorKey::Bias(n) => &self[n].b,
            other => unreachable!("a layer list holds no {other:?}"),
        }
    }
    fn tensor_mut(&mut self, key: TensorKey) -> &mut [f32] {
        match key {
            TensorKey::Weight(n) => &mut self[n].w,
            TensorKey::Bias(n) => &mut self[n].b,
            other => unreachable!("a layer list holds no {other:?}"),
        }
    }
}
