//! Host side of `shaders/pool.wgsl`: 2x2 max and average pooling and their gradients, tested
//! against [`crate::cpu::pool`]. Max pooling's winning taps are kept as u32 words in a
//! [`GpuTensor`] (its `len` counts 4-byte words whatever their type).

use super::kernel::{Dispatch, groups_for, pipelines, uniform, Pipeline};
use super::{GpuContext, GpuTensor};
use crate::nn::{PoolKind, PoolShape};

const WG: usize = 256;

/// The rows of windows a pass walks (the shader's `row_of`): one per example, window row and
/// channel; `edges` counts a dropped edge's row too (the backward passes and upsample write its
/// zeros).
fn window_rows(s: PoolShape, edges: bool) -> usize {
    let rows = if edges { s.h.div_ceil(2) } else { s.h / 2 };
    (s.batch * rows * s.c) as usize
}

pub struct PoolKernel {
    max_forward: Pipeline,
    avg_forward: Pipeline,
    max_backward: Pipeline,
    avg_backward: Pipeline,
    upsample: Pipeline,
    upsample_backward: Pipeline,
}

impl PoolKernel {
    pub fn new(ctx: &GpuContext) -> Self {
        let [max_forward, avg_forward, max_backward, avg_backward, upsample, upsample_backward] = pipelines(
            ctx,
            "pool.wgsl",
            include_str!("../../shaders/pool.wgsl"),
            ["max_forward", "avg_forward", "max_backward", "avg_backward", "upsample", "upsample_backward"],
        );
        Self { max_forward, avg_forward, max_backward, avg_backward, upsample, upsample_backward }
    }

    /// Pooling of `x` into `y`; max pooling also writes `argmax` (average pooling ignores it, so
    /// pass `None`).
    pub fn bind_forward(&self, ctx: &GpuContext, s: PoolShape, kind: PoolKind, x: &GpuTensor, y: &GpuTensor, argmax: Option<&GpuTensor>) -> Dispatch {
        assert_eq!(x.len, s.input_len(), "x must be batch x h x w x c");
        assert_eq!(y.len, s.output_len(), "y must be the pooled size");
        let shape = uniform(ctx, "pool shape", &s, false);
        let groups = groups_for(ctx, window_rows(s, false), WG);
        match kind {
            PoolKind::Max => {
                let argmax = argmax.expect("max pooling keeps its winning taps");
                assert_eq!(argmax.len, s.output_len(), "argmax must be the pooled size");
                Dispatch::new(ctx, &self.max_forward, &[(0, &shape)], &[(1, x), (2, y), (3, argmax)], groups)
            }
            PoolKind::Average => Dispatch::new(ctx, &self.avg_forward, &[(0, &shape)], &[(1, x), (2, y)], groups),
        }
    }

    /// `dx` from the pooled gradient `dy` (and, for max pooling, the forward pass's `argmax`).
    pub fn bind_backward(&self, ctx: &GpuContext, s: PoolShape, kind: PoolKind, dy: &GpuTensor, argmax: Option<&GpuTensor>, dx: &GpuTensor) -> Dispatch {
        assert_eq!(dx.len, s.input_len(), "dx must be batch x h x w x c");
        assert_eq!(dy.len, s.output_len(), "dy must be the pooled size");
        let shape = uniform(ctx, "pool shape", &s, false);
        let groups = groups_for(ctx, window_rows(s, true), WG);
        match kind {
            PoolKind::Max => {
                let argmax = argmax.expect("max pooling's gradient needs the winning taps");
                assert_eq!(argmax.len, s.output_len(), "argmax must be the pooled size");
                Dispatch::new(ctx, &self.max_backward, &[(0, &shape)], &[(4, dy), (5, argmax), (6, dx)], groups)
            }
            // The shader's walk names the winning taps for both kinds and reads them only for
            // max pooling: dy stands in, unread.
            PoolKind::Average => Dispatch::new(ctx, &self.avg_backward, &[(0, &shape)], &[(4, dy), (5, dy), (6, dx)], groups),
        }
    }

    /// Nearest 2x upsampling of `x` (the pooled grid of `s`) into `y` (its full grid).
    pub fn bind_upsample(&self, ctx: &GpuContext, s: PoolShape, x: &GpuTensor, y: &GpuTensor) -> Dispatch {
        assert_eq!(x.len, s.output_len(), "x must be the pooled size");
        assert_eq!(y.len, s.input_len(), "y must be batch x h x w x c");
        let shape = uniform(ctx, "pool shape", &s, false);
        Dispatch::new(ctx, &self.upsample, &[(0, &shape)], &[(1, x), (2, y)], groups_for(ctx, window_rows(s, true), WG))
    }

    /// The gradient of [`Self::bind_upsample`]: `dx` (pooled grid) sums `dy` over each window.
    pub fn bind_upsample_backward(&self, ctx: &GpuContext, s: PoolShape, dy: &GpuTensor, dx: &GpuTensor) -> Dispatch {
        assert_eq!(dy.len, s.input_len(), "dy must be batch x h x w x c");
        assert_eq!(dx.len, s.output_len(), "dx must be the pooled size");
        let shape = uniform(ctx, "pool shape", &s, false);
        Dispatch::new(ctx, &self.upsample_backward, &[(0, &shape)], &[(4, dy), (6, dx)], groups_for(ctx, window_rows(s, false), WG))
    }
}
