//! Matrix product `C = op(A) · op(B)` (optionally `C += ...`), the workhorse of every dense layer:
//! forward `Y = X Wᵀ`, backward `dX = dY W` and `dW = dYᵀ X` are the same product with different
//! transposes, so one routine (and one GPU kernel, `shaders/matmul.wgsl`) serves all three.

use crate::nn::MatmulShape;

/// The matrix product every layer runs on the CPU, through `matrixmultiply`'s packed, register-tiled
/// kernel (AVX2/FMA or AVX-512 where the processor has them, found at run time; its portable kernel
/// in wasm). Transposes are strides, never copies. It sums over `k` in blocks and with fused
/// multiply-adds, so it differs from [`matmul_reference`] (and the GPU) by rounding, about
/// `k * eps * sum |a b|`: the parity tests' tolerances are scaled with `k` for that reason.
pub fn matmul(shape: MatmulShape, a: &[f32], b: &[f32], c: &mut [f32]) {
    let (m, k, n) = (shape.m as usize, shape.k as usize, shape.n as usize);
    assert_eq!(a.len(), m * k, "A must be m x k");
    assert_eq!(b.len(), k * n, "B must be k x n");
    assert_eq!(c.len(), m * n, "C must be m x n");
    if m == 0 || n == 0 {
        return;
    }
    // Row and column strides of op(A) (m x k) and op(B) (k x n) as stored.
    let (rsa, csa) = if shape.has(MatmulShape::TRANS_A) { (1, m as isize) } else { (k as isize, 1) };
    let (rsb, csb) = if shape.has(MatmulShape::TRANS_B) { (1, k as isize) } else { (n as isize, 1) };
    let beta = if shape.has(MatmulShape::ACCUMULATE) { 1.0 } else { 0.0 };
    // SAFETY: the asserts above make every index the strides reach lie inside `a`, `b` and `c`
    // (op(A) is m x k, op(B) k x n, C m x n, all dense), and `c` does not alias `a` or `b`
    // (it is borrowed mutably).
    unsafe {
        matrixmultiply::sgemm(m, k, n, 1.0, a.as_ptr(), rsa, csa, b.as_ptr(), rsb, csb, beta, c.as_mut_ptr(), n as isize, 1);
    }
}

/// The readable reference product. Each output is summed in f32 over `k` in order, as the GPU tile
/// loop does, so the two differ only by rounding; [`matmul`] is tested against it.
///
/// Written as "row of C += a(i,p) · row p of B" so the inner loop runs over contiguous memory; a
/// transposed B is first copied into that layout.
pub fn matmul_reference(shape: MatmulShape, a: &[f32], b: &[f32], c: &mut [f32]) {
    let (m, k, n) = (shape.m as usize, shape.k as usize, shape.n as usize);
    assert_eq!(a.len(), m * k, "A must be m x k");
    assert_eq!(b.len(), k * n, "B must be k x n");
    assert_eq!(c.len(), m * n, "C must be m x n");
    let transposed;
    let b_rows: &[f32] = if shape.has(MatmulShape::TRANS_B) {
        transposed = transpose(b, n, k);
        &transposed
    } else {
        b
    };
    let trans_a = shape.has(MatmulShape::TRANS_A);
    let accumulate = shape.has(MatmulShape::ACCUMULATE);
    let rows = |first: usize, c_rows: &mut [f32]| {
        let mut acc = vec![0.0f32; n];
        for (r, c_row) in c_rows.chunks_exact_mut(n.max(1)).enumerate() {
            let i = first + r;
            acc.iter_mut().for_each(|v| *v = 0.0);
            for p in 0..k {
                let av = if trans_a { a[p * m + i] } else { a[i * k + p] };
                let b_row = &b_rows[p * n..(p + 1) * n];
                for (o, &bv) in acc.iter_mut().zip(b_row) {
                    *o += av * bv;
                }
            }
            if accumulate {
                c_row.iter_mut().zip(&acc).for_each(|(o, v)| *o += v);
            } else {
                c_row.copy_from_slice(&acc);
            }
        }
    };
    if n > 0 {
        rows(0, c);
    }
}

fn transpose(x: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut out = vec![0.0; x.len()];
    for r in 0..rows {
        for c in 0..cols {
            out[c * rows + r] = x[r * cols + c];
        }
    }
    out
}
