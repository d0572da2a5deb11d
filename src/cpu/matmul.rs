//! Matrix product `C = op(A) · op(B)` (optionally `C += ...`), the workhorse of every dense layer:
//! forward `Y = X Wᵀ`, backward `dX = dY W` and `dW = dYᵀ X` are the same product with different
//! transposes, so one routine (and one GPU kernel, `shaders/matmul.wgsl`) serves all three.

use bytemuck::{Pod, Zeroable};

/// Shape and layout of a product, laid out as the WGSL uniform `Shape` in `shaders/matmul.wgsl`.
/// `A` is `m x k` (stored `k x m` when transposed), `B` is `k x n` (stored `n x k` when
/// transposed), `C` is `m x n`, all row-major.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Pod, Zeroable)]
pub struct MatmulShape {
    pub m: u32,
    pub k: u32,
    pub n: u32,
    pub flags: u32,
}

impl MatmulShape {
    pub const TRANS_A: u32 = 1;
    pub const TRANS_B: u32 = 2;
    pub const ACCUMULATE: u32 = 4;

    pub fn new(m: usize, k: usize, n: usize) -> Self {
        Self { m: m as u32, k: k as u32, n: n as u32, flags: 0 }
    }
    pub fn trans_a(mut self) -> Self {
        self.flags |= Self::TRANS_A;
        self
    }
    pub fn trans_b(mut self) -> Self {
        self.flags |= Self::TRANS_B;
        self
    }
    pub fn accumulate(mut self) -> Self {
        self.flags |= Self::ACCUMULATE;
        self
    }
    fn has(&self, flag: u32) -> bool {
        self.flags & flag != 0
    }
}

/// Reference matrix product. Sums run in f32 in the order of `k`, as the GPU tile loop does, so
/// the two differ only by rounding within tiles.
pub fn matmul(shape: MatmulShape, a: &[f32], b: &[f32], c: &mut [f32]) {
    let (m, k, n) = (shape.m as usize, shape.k as usize, shape.n as usize);
    assert_eq!(a.len(), m * k, "A must be m x k");
    assert_eq!(b.len(), k * n, "B must be k x n");
    assert_eq!(c.len(), m * n, "C must be m x n");
    let at = |i: usize, p: usize| if shape.has(MatmulShape::TRANS_A) { a[p * m + i] } else { a[i * k + p] };
    let bt = |p: usize, j: usize| if shape.has(MatmulShape::TRANS_B) { b[j * k + p] } else { b[p * n + j] };
    for i in 0..m {
        for j in 0..n {
            let mut acc = 0.0f32;
            for p in 0..k {
                acc += at(i, p) * bt(p, j);
            }
            let out = &mut c[i * n + j];
            *out = if shape.has(MatmulShape::ACCUMULATE) { *out + acc } else { acc };
        }
    }
}
