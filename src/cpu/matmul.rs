//! Matrix product `C = op(A) · op(B)` (optionally `C += ...`), the workhorse of every dense layer:
//! forward `Y = X Wᵀ`, backward `dX = dY W` and `dW = dYᵀ X` are the same product with different
//! transposes, so one routine (and one GPU kernel, `shaders/matmul.wgsl`) serves all three.

use crate::nn::MatmulShape;

/// The matrix product every layer runs on the CPU, through `matrixmultiply`'s packed, register-tiled
/// kernel (AVX2/FMA or AVX-512 where the processor has them, found at run time; its portable kernel
/// in wasm). Transposes are strides, never copies. It sums over `k` in blocks and with fused
/// multiply-adds, so it differs from [`matmul_reference`] (and the GPU) by rounding, about
/// `k * eps * sum |a b|`: the parity tests' tolerances are scaled with `k` for that reason.
///
/// A large product is cut along the longer of `m` and `n` into one block per thread
/// ([`super::threads`]). The kernel's order of summation over `k` does not depend on which
/// outputs are computed together, so the result is the same bits however it is cut.
pub fn matmul(shape: MatmulShape, a: &[f32], b: &[f32], c: &mut [f32]) {
    let (m, k, n) = (shape.m as usize, shape.k as usize, shape.n as usize);
    assert_eq!(a.len(), m * k, "A must be m x k");
    assert_eq!(b.len(), k * n, "B must be k x n");
    assert_eq!(c.len(), m * n, "C must be m x n");
    if m == 0 || n == 0 {
        return;
    }
    // Below this many multiply-adds per thread, starting a thread costs more than it saves; and a
    // product whose C is small both ways (a convolution's weight gradient: k is every pixel of the
    // batch) is not cut at all, since each part would pack the whole of the other operand again.
    const PER_THREAD: usize = 1 << 21;
    const MIN_SIDE: usize = 64;
    let parts = super::threads().min(m * n * k / PER_THREAD).min(m.max(n) / MIN_SIDE).max(1);
    if parts == 1 {
        // SAFETY: `c` is m x n (asserted) and borrowed mutably for the call.
        return unsafe { block(shape, a, b, c.as_mut_ptr(), 0..m, 0..n) };
    }
    let along_rows = m >= n;
    let len = if along_rows { m } else { n };
    let step = len.div_ceil(parts);
    // The blocks write disjoint parts of `c`, which no other reference reaches while they run; they
    // get its address as a number so that the closures may cross threads.
    let c_addr = c.as_mut_ptr() as usize;
    std::thread::scope(|scope| {
        for start in (0..len).step_by(step) {
            let part = start..(start + step).min(len);
            let (rows, cols) = if along_rows { (part, 0..n) } else { (0..m, part) };
            // SAFETY: `c_addr` is the start of `c` (m x n, asserted), borrowed mutably until the
            // scope ends, and the blocks' row or column ranges are disjoint, so no element is
            // written by two threads and none is read by anyone else meanwhile.
            scope.spawn(move || unsafe { block(shape, a, b, c_addr as *mut f32, rows, cols) });
        }
    });
}

/// `C[rows, cols] (+)= op(A)[rows, :] · op(B)[:, cols]`, one call of the kernel.
///
/// # Safety
/// `c` points at an m x n matrix that nothing else reads or writes in the block while this runs.
unsafe fn block(shape: MatmulShape, a: &[f32], b: &[f32], c: *mut f32, rows: std::ops::Range<usize>, cols: std::ops::Range<usize>) {
    let (m, k, n) = (shape.m as usize, shape.k as usize, shape.n as usize);
    // Row and column strides of op(A) (m x k) and op(B) (k x n) as stored.
    let (rsa, csa) = if shape.has(MatmulShape::TRANS_A) { (1, m) } else { (k, 1) };
    let (rsb, csb) = if shape.has(MatmulShape::TRANS_B) { (1, k) } else { (n, 1) };
    let beta = if shape.has(MatmulShape::ACCUMULATE) { 1.0 } else { 0.0 };
    assert!(rows.end <= m && cols.end <= n, "the block lies inside C");
    assert!(a.len() == m * k && b.len() == k * n, "A is m x k and B k x n");
    // SAFETY: op(A) is m x k and op(B) k x n dense inside `a` and `b` (asserted), C m x n at `c`
    // (the caller's promise); the block lies inside C (asserted), so every index the offset
    // pointers and strides reach is inside the three; only the block of C is written.
    unsafe {
        let a0 = a.as_ptr().add(rows.start * rsa);
        let b0 = b.as_ptr().add(cols.start * csb);
        let c0 = c.add(rows.start * n + cols.start);
        let (rsa, csa, rsb, csb) = (rsa as isize, csa as isize, rsb as isize, csb as isize);
        matrixmultiply::sgemm(rows.len(), k, cols.len(), 1.0, a0, rsa, csa, b0, rsb, csb, beta, c0, n as isize, 1);
    }
}

/// The readable reference product. Each output is summed in f32 over `k` in order, as the GPU's
/// tiled and row kernels do (its split kernel adds up chunks of `k`), so they differ only by
/// rounding; [`matmul`] is tested against it.
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
