//! Host side of `shaders/batchnorm.wgsl`: BatchNorm1d with batch statistics (per group of rows),
//! forward (saving `xhat` and `inv_std`) and backward; running statistics, tracked in training and used in
//! inference; tested against [`crate::cpu::batchnorm`].

use super::{GpuContext, GpuTensor};
use super::kernel::{Dispatch, pipelines, uniform, Pipeline};
use crate::nn::hyper::BN_MOMENTUM;
use bytemuck::{Pod, Zeroable};

/// One invocation per feature (and group), in workgroups of this size.
const WG: usize = 64;

/// The WGSL uniform `Size`.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct Size {
    batch: u32,
    features: u32,
    accumulate: u32,
    momentum: f32,
    groups: u32,
    _pad: [u32; 3],
}

pub struct BatchNormKernel {
    forward: Pipeline,
    backward: Pipeline,
    track: Pipeline,
    inference: Pipeline,
    inference_backward: Pipeline,
}

impl BatchNormKernel {
    pub fn new(ctx: &GpuContext) -> Self {
        let [forward, backward, track, inference, inference_backward] = pipelines(
            ctx,
            "batchnorm.wgsl",
            include_str!("../../shaders/batchnorm.wgsl"),
            ["forward", "backward", "track", "inference", "inference_backward"],
        );
        Self { forward, backward, track, inference, inference_backward }
    }

    /// Folds the batch statistics of `x` into `running_mean` and `running_var`.
    pub fn bind_track(&self, ctx: &GpuContext, features: usize, x: &GpuTensor, running_mean: &GpuTensor, running_var: &GpuTensor) -> Dispatch {
        let batch = x.len / features;
        assert_eq!(x.len, batch * features, "x must be batch x features");
        assert!(running_mean.len == features && running_var.len == features, "one running mean and variance per feature");
        bind(ctx, &self.track, (batch, 1), features, false, false, &[(1, x), (13, running_mean), (14, running_var)])
    }

    /// `y = gamma * (x - running_mean) / sqrt(running_var + eps) + beta`, saving `xhat` and `inv_std`.
    #[allow(clippy::too_many_arguments)]
    pub fn bind_inference(
        &self,
        ctx: &GpuContext,
        features: usize,
        x: &GpuTensor,
        gamma: &GpuTensor,
        beta: &GpuTensor,
        running: (&GpuTensor, &GpuTensor),
        y: &GpuTensor,
        xhat: &GpuTensor,
        inv_std: &GpuTensor,
    ) -> Dispatch {
        let batch = x.len / features;
        assert_eq!(x.len, batch * features, "x must be batch x features");
        assert!(y.len == x.len && xhat.len == x.len, "y and xhat must be shaped as x");
        assert!(running.0.len == features && running.1.len == features, "one running mean and variance per feature");
        let buffers = [(1, x), (2, gamma), (3, beta), (13, running.0), (14, running.1), (4, y), (5, xhat), (6, inv_std)];
        bind(ctx, &self.inference, (batch, 1), features, false, false, &buffers)
    }

    /// Backward through [`Self::bind_inference`]; arguments as [`Self::bind_backward`].
    #[allow(clippy::too_many_arguments)]
    pub fn bind_inference_backward(
        &self,
        ctx: &GpuContext,
        features: usize,
        dy: &GpuTensor,
        xhat: &GpuTensor,
        inv_std: &GpuTensor,
        gamma: &GpuTensor,
        dx: &GpuTensor,
        dgamma: &GpuTensor,
        dbeta: &GpuTensor,
        accumulate: bool,
    ) -> Dispatch {
        let batch = dy.len / features;
        assert!(xhat.len == dy.len && dx.len == dy.len, "xhat and dx must be shaped as dy");
        let buffers = [(7, dy), (8, xhat), (9, inv_std), (2, gamma), (10, dx), (11, dgamma), (12, dbeta)];
        bind(ctx, &self.inference_backward, (batch, 1), features, accumulate, false, &buffers)
    }

    /// `y = gamma * xhat + beta` over `x` (`rows x features`), each of `groups` blocks of
    /// consecutive rows normalised by its own statistics, saving `xhat` and `inv_std` (`groups x
    /// features`).
    #[allow(clippy::too_many_arguments)]
    pub fn bind_forward(
        &self,
        ctx: &GpuContext,
        features: usize,
        groups: usize,
        x: &GpuTensor,
        gamma: &GpuTensor,
        beta: &GpuTensor,
        y: &GpuTensor,
        xhat: &GpuTensor,
        inv_std: &GpuTensor,
    ) -> Dispatch {
        let batch = x.len / (features * groups);
        assert_eq!(x.len, groups * batch * features, "x must be groups x batch x features");
        assert!(y.len == x.len && xhat.len == x.len, "y and xhat must be shaped as x");
        assert!(gamma.len == features && beta.len == features, "one gamma and beta per feature");
        assert_eq!(inv_std.len, groups * features, "one inv_std per group and feature");
        let buffers = [(1, x), (2, gamma), (3, beta), (4, y), (5, xhat), (6, inv_std)];
        bind(ctx, &self.forward, (batch, groups), features, false, true, &buffers)
    }

    /// `dx`, `dgamma`, `dbeta` from `dy` and what the forward pass over `groups` groups saved (the
    /// parameter gradients summed over the groups); with `accumulate` the parameter gradients are
    /// added to (`dx` is always overwritten).
    #[allow(clippy::too_many_arguments)]
    pub fn bind_backward(
        &self,
        ctx: &GpuContext,
        features: usize,
        groups: usize,
        dy: &GpuTensor,
        xhat: &GpuTensor,
        inv_std: &GpuTensor,
        gamma: &GpuTensor,
        dx: &GpuTensor,
        dgamma: &GpuTensor,
        dbeta: &GpuTensor,
        accumulate: bool,
    ) -> Dispatch {
        let batch = dy.len / (features * groups);
        assert_eq!(dy.len, groups * batch * features, "dy must be groups x batch x features");
        assert!(xhat.len == dy.len && dx.len == dy.len, "xhat and dx must be shaped as dy");
        assert!(inv_std.len == groups * features && gamma.len == features, "one inv_std per group and feature, one gamma per feature");
        assert!(dgamma.len == features && dbeta.len == features, "one dgamma and dbeta per feature");
        let buffers = [(7, dy), (8, xhat), (9, inv_std), (2, gamma), (10, dx), (11, dgamma), (12, dbeta)];
        bind(ctx, &self.backward, (batch, groups), features, accumulate, false, &buffers)
    }
}

/// `(batch, groups)`: rows per group and groups. The grid has one invocation per feature, and in
/// `forward` (`per_group`) one per feature and group; the others walk the groups themselves.
#[allow(clippy::too_many_arguments)]
fn bind(
    ctx: &GpuContext,
    pipeline: &Pipeline,
    (batch, groups): (usize, usize),
    features: usize,
    accumulate: bool,
    per_group: bool,
    buffers: &[(u32, &GpuTensor)],
) -> Dispatch {
    assert!((1..=65535).contains(&groups), "1 to 65535 groups");
    let size = Size { batch: batch as u32, features: features as u32, accumulate: u32::from(accumulate), momentum: BN_MOMENTUM, groups: groups as u32, _pad: [0; 3] };
    let size = uniform(ctx, "batchnorm size", &size, false);
    let grid_y = if per_group { groups } else { 1 };
    Dispatch::new(ctx, pipeline, &[(0, &size)], buffers, (features.div_ceil(WG).max(1) as u32, grid_y as u32))
}
