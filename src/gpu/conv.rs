//! Host side of `shaders/conv.wgsl`: im2col, its adjoint col2im, and the bias of a dense or
//! convolutional layer (add and gradient), tested against [`crate::cpu::conv`]. The products
//! around them are [`super::matmul`].

use super::kernel::{Dispatch, groups_for, pipelines, uniform};
use super::{GpuContext, GpuTensor};
use crate::nn::ConvShape;
use bytemuck::{Pod, Zeroable};

/// Workgroup size of the grid-stride entry points.
const WG: usize = 256;
/// Workgroup size of `bias_grad` (one invocation per column).
const WG_COLS: usize = 64;

/// The WGSL uniform `Rows`.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct Rows {
    rows: u32,
    cols: u32,
    n: u32,
    accumulate: u32,
}

pub struct ConvKernel {
    im2col: wgpu::ComputePipeline,
    col2im: wgpu::ComputePipeline,
    add_bias: wgpu::ComputePipeline,
    bias_grad: wgpu::ComputePipeline,
}

impl ConvKernel {
    pub fn new(ctx: &GpuContext) -> Self {
        let [im2col, col2im, add_bias, bias_grad] =
            pipelines(ctx, "conv.wgsl", include_str!("../../shaders/conv.wgsl"), ["im2col", "col2im", "add_bias", "bias_grad"]);
        Self { im2col, col2im, add_bias, bias_grad }
    }

    /// `cols = im2col(x)`: `x` is `batch x h x w x cin`, `cols` is `rows x patch`.
    pub fn bind_im2col(&self, ctx: &GpuContext, s: ConvShape, x: &GpuTensor, cols: &GpuTensor) -> Dispatch {
        assert_eq!(x.len, s.input_len(), "x must be batch x h x w x cin");
        assert_eq!(cols.len, s.rows() * s.patch(), "cols must be rows x patch");
        let shape = uniform(ctx, "conv shape", &s, false);
        Dispatch::new(ctx, &self.im2col, &[(0, &shape)], &[(2, x), (3, cols)], groups_for(cols.len, WG))
    }

    /// `dx = col2im(cols)`: every input element sums the entries of `cols` that copied it.
    pub fn bind_col2im(&self, ctx: &GpuContext, s: ConvShape, cols: &GpuTensor, dx: &GpuTensor) -> Dispatch {
        assert_eq!(dx.len, s.input_len(), "dx must be batch x h x w x cin");
        assert_eq!(cols.len, s.rows() * s.patch(), "cols must be rows x patch");
        let shape = uniform(ctx, "conv shape", &s, false);
        Dispatch::new(ctx, &self.col2im, &[(0, &shape)], &[(4, cols), (5, dx)], groups_for(dx.len, WG))
    }

    /// `y[r, c] += bias[c]` over `y` of rows of `bias.len` columns.
    pub fn bind_add_bias(&self, ctx: &GpuContext, y: &GpuTensor, bias: &GpuTensor) -> Dispatch {
        let rows = rows_uniform(ctx, y, bias.len, false);
        Dispatch::new(ctx, &self.add_bias, &[(1, &rows)], &[(6, y), (7, bias)], groups_for(y.len, WG))
    }

    /// `db[c] = sum_r dy[r, c]`, rows summed in order; with `accumulate`, `db[c] +=` that sum
    /// (the CPU's [`crate::cpu::conv::bias_grad`] then an add).
    pub fn bind_bias_grad(&self, ctx: &GpuContext, dy: &GpuTensor, db: &GpuTensor, accumulate: bool) -> Dispatch {
        let rows = rows_uniform(ctx, dy, db.len, accumulate);
        Dispatch::new(ctx, &self.bias_grad, &[(1, &rows)], &[(8, dy), (9, db)], (db.len.div_ceil(WG_COLS).max(1) as u32, 1))
    }
}

/// The `Rows` uniform of a matrix `m` with `cols` columns.
fn rows_uniform(ctx: &GpuContext, m: &GpuTensor, cols: usize, accumulate: bool) -> wgpu::Buffer {
    assert!(cols > 0 && m.len.is_multiple_of(cols), "a matrix of {} elements cannot have rows of {cols}", m.len);
    let rows = Rows { rows: (m.len / cols) as u32, cols: cols as u32, n: m.len as u32, accumulate: u32::from(accumulate) };
    uniform(ctx, "bias rows", &rows, false)
}
