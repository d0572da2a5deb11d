//! Host side of `shaders/xnor.wgsl`: the binarized network's hidden forward products as XNOR and
//! popcount, signs packed 32 to a word. Exactly equal to the float product `x · sign(W)ᵀ` of +-1
//! values, and to [`crate::cpu::xnor::xnor_matmul`], which it is tested against.

use super::kernel::{Dispatch, Pipeline, groups_for, pipelines, uniform};
use super::{GpuContext, GpuTensor};
use bytemuck::{Pod, Zeroable};

/// The workgroup size of both entry points.
const WG: usize = 64;

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct Shape {
    rows: u32,
    len: u32,
    words: u32,
    outs: u32,
}

/// Words a row of `len` signs takes, 32 to a word.
pub fn words_per_row(len: usize) -> usize {
    len.div_ceil(32)
}

pub struct XnorKernel {
    pack: Pipeline,
    product: Pipeline,
}

impl XnorKernel {
    pub fn new(ctx: &GpuContext) -> Self {
        let [pack, product] = pipelines(ctx, "xnor.wgsl", include_str!("../../shaders/xnor.wgsl"), ["pack", "product"]);
        Self { pack, product }
    }

    /// `bits` = the signs of `v` (`rows x len`), one bit each (1 for a negative value), each row
    /// starting a word: `rows * words_per_row(len)` words.
    pub fn bind_pack(&self, ctx: &GpuContext, v: &GpuTensor, rows: usize, len: usize, bits: &GpuTensor) -> Dispatch {
        assert_eq!(v.len, rows * len, "v must be rows x len");
        let words = words_per_row(len);
        assert_eq!(bits.len, rows * words, "bits must hold rows x words_per_row(len) words");
        let shape = Shape { rows: rows as u32, len: len as u32, words: words as u32, outs: 0 };
        let shape = uniform(ctx, "xnor pack shape", &shape, false);
        Dispatch::new(ctx, &self.pack, &[(0, &shape)], &[(1, v), (2, bits)], groups_for(ctx, rows * words, WG))
    }

    /// `y = x · sign(W)ᵀ` (`batch x outs`) from the packed signs of `x` (`batch x len`) and `W`
    /// (`outs x len`), as [`Self::bind_pack`] leaves them.
    pub fn bind_product(&self, ctx: &GpuContext, xb: &GpuTensor, wb: &GpuTensor, batch: usize, len: usize, outs: usize, y: &GpuTensor) -> Dispatch {
        let words = words_per_row(len);
        assert!(xb.len == batch * words && wb.len == outs * words, "the operands must be packed rows of len signs");
        assert_eq!(y.len, batch * outs, "y must be batch x outs");
        let shape = Shape { rows: batch as u32, len: len as u32, words: words as u32, outs: outs as u32 };
        let shape = uniform(ctx, "xnor product shape", &shape, false);
        // An invocation per block of 4 rows by 4 outputs.
        let invocations = batch.div_ceil(4) * outs.div_ceil(4);
        let groups = invocations.div_ceil(WG).max(1);
        assert!(groups <= 65535, "{batch} x {outs} outputs need more workgroups than one dispatch has");
        Dispatch::new(ctx, &self.product, &[(0, &shape)], &[(3, xb), (4, wb), (5, y)], (groups as u32, 1))
    }
}
