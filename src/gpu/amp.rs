//! Host side of `shaders/amp.wgsl`: the per-example metaplastic factors of a batch and the
//! weighted output gradient, tested against [`crate::cpu::amp`].

use super::kernel::{Dispatch, groups_for, pipelines, uniform, Pipeline};
use super::{GpuContext, GpuTensor};
use crate::nn::{AMP_CENTRE_MIN_RATE, AmpHyper};
use bytemuck::{Pod, Zeroable};

const WG: usize = 256;
/// Workgroup size of `energy` (one invocation per example).
const WG_ROWS: usize = 64;

/// The WGSL uniform `Shape`.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct Shape {
    batch: u32,
    n: u32,
    cols: u32,
    rows_per_example: u32,
}

/// The WGSL uniform `Centring`.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct Centring {
    min_rate: f32,
    _pad: [f32; 3],
}

pub struct AmpKernel {
    energy: Pipeline,
    normalize: Pipeline,
    scale_rows: Pipeline,
    centre: Pipeline,
    tick: Pipeline,
}

/// A running mean of one layer's patterns (`n` values) and how often it has been moved, for the
/// centred energy; it lives as long as the network.
pub struct Centre {
    pub mean: GpuTensor,
    /// One u32: the count of earlier updates.
    pub updates: GpuTensor,
}

impl Centre {
    pub fn new(ctx: &GpuContext, n: usize) -> Self {
        Self { mean: GpuTensor::zeros(ctx, n), updates: GpuTensor::zeros(ctx, 1) }
    }
}

/// The two dispatches that turn a batch of patterns into its factors, in this order.
pub struct FactorCalls {
    pub energy: Dispatch,
    pub normalize: Dispatch,
}

impl FactorCalls {
    pub fn encode(&self, encoder: &mut wgpu::CommandEncoder) {
        self.energy.encode(encoder);
        self.normalize.encode(encoder);
    }
}

impl AmpKernel {
    pub fn new(ctx: &GpuContext) -> Self {
        let [energy, normalize, scale_rows, centre, tick] =
            pipelines(ctx, "amp.wgsl", include_str!("../../shaders/amp.wgsl"), ["energy", "normalize", "scale_rows", "centre", "tick"]);
        Self { energy, normalize, scale_rows, centre, tick }
    }

    /// `centred` = the patterns `x` (`batch x n`) minus `c`'s running mean, which this batch
    /// first moves ([`crate::cpu::amp::centre_rows`]); then the update is counted. In this order.
    pub fn bind_centre(&self, ctx: &GpuContext, x: &GpuTensor, c: &Centre, centred: &GpuTensor) -> [Dispatch; 2] {
        let n = c.mean.len;
        assert!(n > 0 && x.len.is_multiple_of(n), "x must be batch x n, n the mean's length");
        assert_eq!(centred.len, x.len, "centred must be shaped as x");
        let shape = uniform(ctx, "amp centre shape", &Shape { batch: (x.len / n) as u32, n: n as u32, cols: 0, rows_per_example: 0 }, false);
        let centring = uniform(ctx, "amp centring", &Centring { min_rate: AMP_CENTRE_MIN_RATE, _pad: [0.0; 3] }, false);
        [
            Dispatch::new(ctx, &self.centre, &[(1, &shape), (12, &centring)], &[(2, x), (9, &c.mean), (10, centred), (11, &c.updates)], groups_for(ctx, n, WG)),
            Dispatch::new(ctx, &self.tick, &[], &[(11, &c.updates)], (1, 1)),
        ]
    }

    /// `factors` (one per example) from the patterns `x` (`batch x n`); `logs` is scratch of
    /// `batch` words (each example's energy).
    pub fn bind_factors(&self, ctx: &GpuContext, h: &AmpHyper, x: &GpuTensor, logs: &GpuTensor, factors: &GpuTensor) -> FactorCalls {
        let batch = factors.len;
        assert!(batch > 0 && x.len.is_multiple_of(batch), "x must be batch x n");
        assert_eq!(logs.len, batch, "one log weight per example");
        let hyper = uniform(ctx, "amp hyper", h, false);
        let shape = uniform(ctx, "amp shape", &Shape { batch: batch as u32, n: (x.len / batch) as u32, cols: 0, rows_per_example: 0 }, false);
        FactorCalls {
            // `energy` does not read B: its pipeline's layout has no binding 0.
            energy: Dispatch::new(ctx, &self.energy, &[(1, &shape)], &[(2, x), (3, logs)], (batch.div_ceil(WG_ROWS) as u32, 1)),
            normalize: Dispatch::new(ctx, &self.normalize, &[(0, &hyper), (1, &shape)], &[(4, logs), (5, factors)], (1, 1)),
        }
    }

    /// `out[r, :] = dy[r, :] * factors[r / rows_per_example]` over `dy` of rows of `cols`.
    pub fn bind_scale_rows(&self, ctx: &GpuContext, cols: usize, rows_per_example: usize, dy: &GpuTensor, factors: &GpuTensor, out: &GpuTensor) -> Dispatch {
        assert_eq!(out.len, dy.len, "out must be shaped as dy");
        assert_eq!(dy.len, factors.len * rows_per_example * cols, "dy must be batch x rows_per_example x cols");
        let shape = uniform(ctx, "amp shape", &Shape { batch: factors.len as u32, n: dy.len as u32, cols: cols as u32, rows_per_example: rows_per_example as u32 }, false);
        Dispatch::new(ctx, &self.scale_rows, &[(1, &shape)], &[(6, factors), (7, dy), (8, out)], groups_for(ctx, dy.len, WG))
    }
}
