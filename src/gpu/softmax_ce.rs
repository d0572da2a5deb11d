//! Host side of `shaders/softmax_ce.wgsl`: softmax cross-entropy per row, and the statistics it
//! adds to a persistent buffer, tested against [`crate::cpu::softmax_ce`].

use super::{GpuContext, GpuTensor};
use crate::nn::BatchStats;
use super::kernel::{Dispatch, pipelines, uniform, Pipeline};
use bytemuck::{Pod, Zeroable};

/// One invocation per row, in workgroups of this size.
const WG: usize = 64;

/// Words in a statistics buffer (the WGSL struct `Stats`): loss sum (f32), correct (u32),
/// count (u32), padding.
pub const STATS_WORDS: usize = 4;

/// Words per row in the per-row buffer: the row's loss and 1.0 if it was classified correctly.
pub const ROW_STATS_WORDS: usize = 2;

/// The WGSL uniform `Size`.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct Size {
    batch: u32,
    classes: u32,
    _pad: [u32; 2],
}

/// Decodes a statistics buffer read back as f32 words (the counts are u32 bit patterns).
pub fn decode_stats(words: &[f32]) -> BatchStats {
    assert!(words.len() >= 3, "a statistics buffer has {STATS_WORDS} words");
    BatchStats { loss_sum: words[0], correct: words[1].to_bits(), count: words[2].to_bits() }
}

pub struct SoftmaxCeKernel {
    rows: Pipeline,
    accumulate: Pipeline,
}

impl SoftmaxCeKernel {
    pub fn new(ctx: &GpuContext) -> Self {
        let [rows, accumulate] = pipelines(ctx, "softmax_ce.wgsl", include_str!("../../shaders/softmax_ce.wgsl"), ["rows", "accumulate"]);
        Self { rows, accumulate }
    }

    /// Per row of `logits` (`batch x classes`): `dlogits`, and the row's loss and correctness into
    /// `row_stats` (`batch x 2`). `labels` holds `batch` u32 values (see [`GpuTensor::write_u32`]),
    /// each below `classes`: the caller checks.
    pub fn bind_rows(
        &self,
        ctx: &GpuContext,
        classes: usize,
        logits: &GpuTensor,
        labels: &GpuTensor,
        dlogits: &GpuTensor,
        row_stats: &GpuTensor,
    ) -> Dispatch {
        let batch = labels.len;
        assert_eq!(logits.len, batch * classes, "logits must be batch x classes");
        assert_eq!(dlogits.len, logits.len, "dlogits must be shaped as logits");
        assert_eq!(row_stats.len, batch * ROW_STATS_WORDS, "row_stats must be batch x {ROW_STATS_WORDS}");
        let buffers = [(1, logits), (2, labels), (3, dlogits), (4, row_stats)];
        bind(ctx, &self.rows, batch, classes, batch.div_ceil(WG), &buffers)
    }

    /// Adds the rows' loss sum, correct count and count to `stats` ([`STATS_WORDS`] words).
    pub fn bind_accumulate(&self, ctx: &GpuContext, row_stats: &GpuTensor, stats: &GpuTensor) -> Dispatch {
        let batch = row_stats.len / ROW_STATS_WORDS;
        assert_eq!(stats.len, STATS_WORDS, "stats holds {STATS_WORDS} words");
        bind(ctx, &self.accumulate, batch, 0, 1, &[(5, row_stats), (6, stats)])
    }
}

fn bind(
    ctx: &GpuContext,
    pipeline: &Pipeline,
    batch: usize,
    classes: usize,
    groups: usize,
    buffers: &[(u32, &GpuTensor)],
) -> Dispatch {
    let size = uniform(ctx, "softmax_ce size", &Size { batch: batch as u32, classes: classes as u32, _pad: [0; 2] }, false);
    Dispatch::new(ctx, pipeline, &[(0, &size)], buffers, (groups.max(1) as u32, 1))
}
