//! Matrix product `C = op(A) · op(B)` (optionally `C += ...`), the workhorse of every dense layer:
//! forward `Y = X Wᵀ`, backward `dX = dY W` and `dW = dYᵀ X` are the same product with different
//! transposes, so one routine (and one GPU kernel, `shaders/matmul.wgsl`) serves all three.

use crate::nn::MatmulShape;

/// Reference matrix product. Each output is summed in f32 over `k` in order, as the GPU tile loop
/// does, so the two differ only by rounding.
///
/// Written as "row of C += a(i,p) · row p of B" so the inner loop runs over contiguous memory and
/// the compiler vectorises it; a transposed B is first copied into that layout. Large products
/// split the rows of C over threads natively (the browser's CPU path has one thread).
pub fn matmul(shape: MatmulShape, a: &[f32], b: &[f32], c: &mut [f32]) {
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
    if n == 0 {
        return;
    }
    let threads = worker_threads(m * k * n);
    if threads <= 1 {
        rows(0, c);
        return;
    }
    #[cfg(not(target_arch = "wasm32"))]
    std::thread::scope(|s| {
        let per = m.div_ceil(threads);
        for (t, chunk) in c.chunks_mut(per * n).enumerate() {
            let rows = &rows;
            s.spawn(move || rows(t * per, chunk));
        }
    });
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

/// Threads worth starting for `work` multiply-adds: below about a million, spawning costs more
/// than it saves.
fn worker_threads(work: usize) -> usize {
    #[cfg(target_arch = "wasm32")]
    {
        let _ = work;
        1
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        if work < 1 << 20 {
            return 1;
        }
        std::thread::available_parallelism().map_or(1, |n| n.get()).min(8)
    }
}
