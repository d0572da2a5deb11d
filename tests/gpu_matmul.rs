//! `shaders/matmul.wgsl` against `cpu::matmul` on whatever adapter wgpu finds.
//! Tolerance: |gpu - cpu| <= 1e-5 + 1e-5 * k * |cpu|, since both sum k products in f32 but group
//! them differently (the CPU's packed kernel blocks k; the GPU sums in order).

mod common;
use common::*;
use metaplastic::cpu::matmul::matmul;
use metaplastic::nn::{MatmulShape, max_violation};
use metaplastic::gpu::{matmul::MatmulKernel, GpuTensor};

#[test]
fn matmul_matches_cpu_for_every_layout() {
    let Some(ctx) = gpu() else { return };
    println!("adapter: {}", ctx.adapter);
    let kernel = MatmulKernel::new(&ctx);
    // Sizes that are and are not multiples of the 32x32 tile and its 16-wide K step, and the
    // layer shapes of the BNN.
    for (m, k, n) in [(1, 1, 1), (16, 16, 16), (17, 33, 5), (32, 32, 32), (33, 17, 65), (64, 40, 31), (100, 784, 64), (3, 5, 130)] {
        for flags in 0..8u32 {
            let shape = MatmulShape { flags, ..MatmulShape::new(m, k, n) };
            let a = values(m * k, 1 + flags as u64);
            let b = values(k * n, 100 + flags as u64);
            let c0 = values(m * n, 7);
            let mut want = c0.clone();
            matmul(shape, &a, &b, &mut want);
            let (ga, gb, gc) = (GpuTensor::from_slice(&ctx, &a), GpuTensor::from_slice(&ctx, &b), GpuTensor::from_slice(&ctx, &c0));
            let mut encoder = ctx.device.create_command_encoder(&Default::default());
            kernel.bind(&ctx, shape, &ga, &gb, &gc).encode(&mut encoder);
            ctx.queue.submit([encoder.finish()]);
            let got = pollster::block_on(gc.read(&ctx)).unwrap();
            let rtol = 1e-5 * k as f32;
            if let Some((i, g, w)) = max_violation(&got, &want, 1e-5, rtol) {
                panic!("{m}x{k}x{n} flags {flags}: element {i}: GPU {g} vs CPU {w}");
            }
        }
    }
}

#[test]
fn self_test_passes() {
    let Some(ctx) = gpu() else { return };
    pollster::block_on(metaplastic::backend::gpu_self_test(&ctx)).unwrap();
}
