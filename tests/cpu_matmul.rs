//! The fast CPU product (matrixmultiply's packed kernel) against the in-order reference, for
//! every transpose and accumulate flag and for shapes that are not multiples of its tiles.

use metaplastic::cpu::matmul::{matmul, matmul_reference};
use metaplastic::nn::{MatmulShape, max_violation};

fn values(n: usize, seed: u32) -> Vec<f32> {
    (0..n as u32).map(|i| ((i.wrapping_mul(2_654_435_761) ^ seed.wrapping_mul(40_503)) % 2001) as f32 / 1000.0 - 1.0).collect()
}

#[test]
fn fast_product_matches_the_reference() {
    for &(m, k, n) in &[(1, 1, 1), (3, 5, 7), (17, 33, 9), (64, 784, 100), (100, 512, 512), (6, 25, 784)] {
        for flags in 0..8u32 {
            let shape = MatmulShape { flags, ..MatmulShape::new(m, k, n) };
            let (a, b) = (values(m * k, 1 + flags), values(k * n, 7 + flags));
            let start = values(m * n, 99);
            let (mut fast, mut slow) = (start.clone(), start);
            matmul(shape, &a, &b, &mut fast);
            matmul_reference(shape, &a, &b, &mut slow);
            // Blocked sums with fused multiply-adds round differently from an in-order sum: the
            // error bound grows with k (terms here are at most 1 in magnitude).
            let atol = 4.0 * k as f32 * f32::EPSILON;
            if let Some((i, f, s)) = max_violation(&fast, &slow, atol, 1e-5) {
                panic!("{m}x{k}x{n} flags {flags}: element {i} fast {f}, reference {s}");
            }
        }
    }
}

#[test]
fn beta_zero_ignores_what_c_held() {
    let shape = MatmulShape::new(4, 3, 5);
    let (a, b) = (values(12, 3), values(15, 4));
    let mut c = vec![f32::NAN; 20];
    matmul(shape, &a, &b, &mut c);
    let mut want = vec![0.0; 20];
    matmul_reference(shape, &a, &b, &mut want);
    assert!(max_violation(&c, &want, 1e-5, 1e-5).is_none(), "{c:?} vs {want:?}");
}

/// A large product is cut into one block per thread, along its rows or its columns: the result is
/// the same bits for any number of blocks, for every transpose and accumulate flag.
#[test]
fn split_products_are_bit_identical() {
    for &(m, k, n) in &[(100, 784, 1024), (1024, 100, 784), (50, 512, 2003), (50176, 25, 6)] {
        for flags in 0..8u32 {
            let shape = MatmulShape { flags, ..MatmulShape::new(m, k, n) };
            let (a, b) = (values(m * k, 3 + flags), values(k * n, 11 + flags));
            let start = values(m * n, 5);
            let mut results = Vec::new();
            for threads in [1, 2, 3, 4] {
                metaplastic::cpu::set_threads(threads);
                let mut c = start.clone();
                matmul(shape, &a, &b, &mut c);
                results.push(c);
            }
            metaplastic::cpu::set_threads(0);
            for (i, r) in results.iter().enumerate().skip(1) {
                assert!(r.iter().zip(&results[0]).all(|(x, y)| x.to_bits() == y.to_bits()), "{m}x{k}x{n} flags {flags}: {} blocks differ from one", i + 1);
            }
        }
    }
}
