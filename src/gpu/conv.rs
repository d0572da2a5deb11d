//! Host side of `shaders/conv.wgsl`: a convolution's three products read straight from its input
//! (implicit GEMM: the im2col matrix is never written), and the bias gradient of a dense or
//! transposed layer, tested against [`crate::cpu::conv`] and [`crate::cpu::matmul`].
//!
//! The same three kernels serve a transposed convolution, the adjoint of the convolution `s` it
//! mirrors: its forward pass is `s`'s input gradient plus a bias, its input gradient `s`'s forward
//! product, its weight gradient `s`'s with input and output gradient swapped.

use super::kernel::{Dispatch, pipelines, uniform, Pipeline};
use super::{GpuContext, GpuTensor};
use crate::nn::{Activation, ConvShape};
use bytemuck::{Pod, Zeroable};

/// Invocations per workgroup (`WG` in the shader): a workgroup of `forward` or `input_grad` covers
/// 4 rows (pixels) per invocation and 4 channels, of `forward8` or `input_grad8` one pixel of 8
/// examples and 8 channels, of
/// `weight_grad` 8 columns of cols and 8 channels (each invocation a share of the rows).
const WG: usize = 64;

/// The WGSL uniform `Rows`.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct Rows {
    rows: u32,
    cols: u32,
    n: u32,
    accumulate: u32,
}

/// The WGSL uniform `Extra`.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct Extra {
    with_bias: u32,
    /// 0 none, 1 ReLU, 2 tanh.
    act: u32,
    accumulate: u32,
    _pad: u32,
}

pub struct ConvKernel {
    /// 4x4 and 8x8 blocks of outputs per invocation.
    forward: [Pipeline; 2],
    input_grad: [Pipeline; 2],
    weight_grad: Pipeline,
    /// `weight_grad` reading dy four output channels at a time (cout a multiple of 4).
    weight_grad4: Pipeline,
    /// Adds up the weight gradient's per-invocation sums.
    weight_grad_sum: Pipeline,
    bias_grad: Pipeline,
}

impl ConvKernel {
    pub fn new(ctx: &GpuContext) -> Self {
        let [forward, forward8, input_grad, input_grad8, weight_grad, weight_grad4, weight_grad_sum, bias_grad] = pipelines(
            ctx,
            "conv.wgsl",
            include_str!("../../shaders/conv.wgsl"),
            ["forward", "forward8", "input_grad", "input_grad8", "weight_grad", "weight_grad4", "weight_grad_sum", "bias_grad"],
        );
        Self { forward: [forward, forward8], input_grad: [input_grad, input_grad8], weight_grad, weight_grad4, weight_grad_sum, bias_grad }
    }

    /// `y = act(im2col(x) · Wᵀ + bias)`: `x` is `batch x h x w x cin`, `w` is `cout x k x k x cin`,
    /// `y` is `rows x cout`; the bias and the activation each when given (the CPU's `im2col`,
    /// `matmul`, `add_bias` and `activation_forward`). On the block size that ran faster at this
    /// shape on this adapter ([`super::kernel::fastest`]).
    #[allow(clippy::too_many_arguments)]
    pub fn bind_forward(&self, ctx: &GpuContext, s: ConvShape, x: &GpuTensor, w: &GpuTensor, bias: Option<&GpuTensor>, act: Option<Activation>, y: &GpuTensor) -> Dispatch {
        let calls = Block::ALL.map(|b| self.bind_forward_on(b, ctx, s, x, w, bias, act, y)).to_vec();
        super::kernel::fastest(ctx, format!("conv forward {s:?}"), calls)
    }

    /// [`Self::bind_forward`] on the given block size.
    #[allow(clippy::too_many_arguments)]
    pub fn bind_forward_on(&self, block: Block, ctx: &GpuContext, s: ConvShape, x: &GpuTensor, w: &GpuTensor, bias: Option<&GpuTensor>, act: Option<Activation>, y: &GpuTensor) -> Dispatch {
        assert_eq!(x.len, s.input_len(), "x must be batch x h x w x cin");
        assert_eq!(w.len, s.weight_len(), "w must be cout x k x k x cin");
        assert_eq!(y.len, s.rows() * s.cout as usize, "y must be rows x cout");
        assert!(bias.is_none_or(|b| b.len == s.cout as usize), "one bias per output channel");
        let extra = Extra { with_bias: u32::from(bias.is_some()), act: act.map_or(0, |a| a.code() + 1), accumulate: 0, _pad: 0 };
        let (shape, extra) = (uniform(ctx, "conv shape", &s, false), uniform(ctx, "conv call", &extra, false));
        let side = block.side();
        // forward8: an invocation per output pixel of the image and block of 8 examples.
        let rows = match block {
            Block::Four => s.rows(),
            Block::Eight => s.rows() / s.batch as usize * (s.batch as usize).div_ceil(8) * side,
        };
        let groups = (groups(rows, side * WG), groups(s.cout as usize, side));
        Dispatch::new(ctx, &self.forward[block as usize], &[(0, &shape), (2, &extra)], &[(3, x), (4, w), (5, bias.unwrap_or(w)), (6, y)], groups)
    }

    /// `dx = col2im(dy · W) + bias`: the input gradient (`dy` is `rows x cout`, `dx` is `batch x h
    /// x w x cin`), and with a bias of `cin` entries a transposed convolution's forward pass (the
    /// CPU's `matmul`, `col2im` and `add_bias`). On the block size that ran faster at this shape
    /// on this adapter.
    pub fn bind_input_grad(&self, ctx: &GpuContext, s: ConvShape, dy: &GpuTensor, w: &GpuTensor, bias: Option<&GpuTensor>, dx: &GpuTensor) -> Dispatch {
        let calls = Block::ALL.map(|b| self.bind_input_grad_on(b, ctx, s, dy, w, bias, dx)).to_vec();
        super::kernel::fastest(ctx, format!("conv input gradient {s:?} bias {}", bias.is_some()), calls)
    }

    /// [`Self::bind_input_grad`] on the given block size.
    #[allow(clippy::too_many_arguments)]
    pub fn bind_input_grad_on(&self, block: Block, ctx: &GpuContext, s: ConvShape, dy: &GpuTensor, w: &GpuTensor, bias: Option<&GpuTensor>, dx: &GpuTensor) -> Dispatch {
        assert_eq!(dy.len, s.rows() * s.cout as usize, "dy must be rows x cout");
        assert_eq!(w.len, s.weight_len(), "w must be cout x k x k x cin");
        assert_eq!(dx.len, s.input_len(), "dx must be batch x h x w x cin");
        assert!(bias.is_none_or(|b| b.len == s.cin as usize), "one bias per input channel");
        let extra = Extra { with_bias: u32::from(bias.is_some()), act: 0, accumulate: 0, _pad: 0 };
        let (shape, extra) = (uniform(ctx, "conv shape", &s, false), uniform(ctx, "conv call", &extra, false));
        let side = block.side();
        // input_grad8: an invocation per pixel of the image and block of 8 examples.
        let pixels = match block {
            Block::Four => s.input_len() / s.cin as usize,
            Block::Eight => (s.h * s.w) as usize * (s.batch as usize).div_ceil(8) * side,
        };
        let groups = (groups(pixels, side * WG), groups(s.cin as usize, side));
        Dispatch::new(ctx, &self.input_grad[block as usize], &[(0, &shape), (2, &extra)], &[(7, dy), (4, w), (5, bias.unwrap_or(w)), (6, dx)], groups)
    }

    /// `dw = dyᵀ · im2col(x)` and, when `db` is given, `db = column sums of dy`; with `accumulate`
    /// both are added in (the CPU's `im2col`, `matmul` and `bias_grad`). Two calls: 8 x 8 blocks
    /// of outputs, each summed by `WG` invocations over a share of the rows, then those sums added
    /// up in order.
    #[allow(clippy::too_many_arguments)]
    pub fn bind_weight_grad(&self, ctx: &GpuContext, s: ConvShape, x: &GpuTensor, dy: &GpuTensor, dw: &GpuTensor, db: Option<&GpuTensor>, accumulate: bool) -> [Dispatch; 2] {
        assert_eq!(x.len, s.input_len(), "x must be batch x h x w x cin");
        assert_eq!(dy.len, s.rows() * s.cout as usize, "dy must be rows x cout");
        assert_eq!(dw.len, s.weight_len(), "dw must be cout x k x k x cin");
        assert!(db.is_none_or(|b| b.len == s.cout as usize), "one bias gradient per output channel");
        let with_bias = db.is_some();
        let extra = Extra { with_bias: u32::from(with_bias), act: 0, accumulate: u32::from(accumulate), _pad: 0 };
        let (shape, extra) = (uniform(ctx, "conv shape", &s, false), uniform(ctx, "conv call", &extra, false));
        // The shader names db whether it writes it or not; without one, a buffer of its own stands
        // in (bound once, never written).
        let unused;
        let db = match db {
            Some(db) => db,
            None => {
                unused = GpuTensor::zeros(ctx, 1);
                &unused
            }
        };
        let columns = s.patch() + usize::from(with_bias);
        let grid = (groups(columns, 8), groups(s.cout as usize, 8));
        let blocks = grid.0 as usize * grid.1 as usize;
        // 8 x 8 sums per invocation.
        let partial = GpuTensor::zeros(ctx, blocks * WG * 64);
        let standin = GpuTensor::zeros(ctx, 4);
        let (pipeline, [dy, dy4]) = self.dy_by4(s, dy, &standin);
        [
            Dispatch::new(ctx, pipeline, &[(0, &shape), (2, &extra)], &[(3, x), dy, dy4, (11, &partial)], grid),
            Dispatch::new(ctx, &self.weight_grad_sum, &[(0, &shape), (2, &extra)], &[(11, &partial), (8, dw), (9, db)], (groups(blocks * 16, WG), 1)),
        ]
    }

    /// The weight gradient's variant that reads dy as vec4s when cout is a multiple of 4, else the
    /// one that reads it as floats, with dy's two bindings (7 as floats, 10 as vec4s). Both
    /// variants share one body, so both name both bindings: the one that does not read dy as
    /// vec4s gets `standin` (4 floats, never read) there, since dy itself may not hold a whole
    /// vec4.
    fn dy_by4<'a>(&'a self, s: ConvShape, dy: &'a GpuTensor, standin: &'a GpuTensor) -> (&'a Pipeline, [(u32, &'a GpuTensor); 2]) {
        if s.cout.is_multiple_of(4) { (&self.weight_grad4, [(7, dy), (10, dy)]) } else { (&self.weight_grad, [(7, dy), (10, standin)]) }
    }

    /// `db[c] = sum_r dy[r, c]`, rows summed in order; with `accumulate`, `db[c] +=` that sum
    /// (the CPU's [`crate::cpu::conv::bias_grad`] then an add).
    pub fn bind_bias_grad(&self, ctx: &GpuContext, dy: &GpuTensor, db: &GpuTensor, accumulate: bool) -> Dispatch {
        let cols = db.len;
        assert!(cols > 0 && dy.len.is_multiple_of(cols), "a matrix of {} elements cannot have rows of {cols}", dy.len);
        let rows = Rows { rows: (dy.len / cols) as u32, cols: cols as u32, n: dy.len as u32, accumulate: u32::from(accumulate) };
        let rows = uniform(ctx, "bias rows", &rows, false);
        Dispatch::new(ctx, &self.bias_grad, &[(1, &rows)], &[(7, dy), (9, db)], (groups(cols, WG), 1))
    }
}

/// The outputs an invocation of `forward` or `input_grad` computes: 4 rows (pixels) by 4 channels,
/// or one pixel of 8 examples by 8 channels (`forward8`, `input_grad8`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Block {
    Four = 0,
    Eight = 1,
}

impl Block {
    pub const ALL: [Block; 2] = [Block::Four, Block::Eight];

    fn side(self) -> usize {
        match self {
            Block::Four => 4,
            Block::Eight => 8,
        }
    }
}

/// Workgroups of `per` for `n` things, within the dispatch limit.
fn groups(n: usize, per: usize) -> u32 {
    let g = n.div_ceil(per).max(1);
    assert!(g <= 65535, "{n} things need {g} workgroups of {per}, more than one dispatch has");
    g as u32
}
