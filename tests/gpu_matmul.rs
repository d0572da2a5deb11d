//! `shaders/matmul.wgsl`'s kernels against `cpu::matmul` on whatever adapter wgpu finds.
//! Tolerance: |gpu - cpu| <= 1e-5 + 1e-5 * k * |cpu|, since both sum k products in f32 but group
//! them differently (the CPU's packed kernel blocks k; the tiled, vec4 and row kernels sum in
//! order, the split kernel in chunks of k added up in order).

mod common;
use common::*;
use metaplastic::cpu::activation::activation_forward;
use metaplastic::cpu::conv::add_bias;
use metaplastic::cpu::matmul::matmul;
use metaplastic::nn::{Activation, MatmulShape, max_violation};
use metaplastic::gpu::{kernel::record_all, matmul::{self, MatmulKernel}, GpuTensor};

#[test]
fn matmul_matches_cpu_for_every_layout() {
    let Some(ctx) = gpu() else { return };
    println!("adapter: {}", ctx.adapter);
    let kernel = MatmulKernel::new(&ctx);
    let serial = matmul::binds();
    // Sizes that are and are not multiples of the 32x32 tile and its 16-wide K step, the layer
    // shapes of the BNN, narrow products at and around the row kernel's 16 columns (a
    // convolution's forward product), and small products over a long k (its weight gradient,
    // split along k in chunks of 256 and more, the last one short).
    let shapes = [
        (1, 1, 1),
        (16, 16, 16),
        (17, 33, 5),
        (32, 32, 32),
        (33, 17, 65),
        (64, 40, 31),
        (100, 784, 64),
        (3, 5, 130),
        (300, 25, 6),
        (129, 150, 16),
        (70, 9, 17),
        (6, 5000, 25),
        (16, 2100, 150),
        (1, 2048, 1),
        // k a multiple of 4 with B stored transposed: `along_k`, on partial tiles both ways.
        (33, 20, 65),
        // m, k and n multiples of 4, not of the tile: the three vec4 kernels on partial tiles
        // (plain: along_n; A transposed: along_mn; B transposed: along_k).
        (36, 24, 68),
        (4, 4, 20),
        // quad (k a multiple of 4) on partial tiles of 64 both ways.
        (130, 36, 260),
    ];
    // `quad` runs where the device has subgroups: in CI (llvmpipe) it must have them, so that it
    // cannot go untested there.
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        assert!(ctx.subgroups, "{}: no subgroups, so quad goes untested", ctx.adapter);
    }
    // quad takes invocations 4g .. 4g + 3 to be one quad; the tuner checks that it agrees with
    // main on the device before it may pick it, and here it must.
    if ctx.subgroups {
        assert!(pollster::block_on(matmul::quad_agrees(&kernel, &ctx)).unwrap(), "{}: quad disagrees with main", ctx.adapter);
    }
    let mut quads = 0;
    let mut split = 0;
    let mut variants = std::collections::BTreeSet::new();
    for (m, k, n) in shapes {
        for flags in 0..8u32 {
            let shape = MatmulShape { flags, ..MatmulShape::new(m, k, n) };
            variants.insert(format!("{:?}", MatmulKernel::variant(shape)));
            let a = values(m * k, 1 + flags as u64);
            let b = values(k * n, 100 + flags as u64);
            let c0 = values(m * n, 7);
            let mut want = c0.clone();
            matmul(shape, &a, &b, &mut want);
            let (ga, gb) = (GpuTensor::from_slice(&ctx, &a), GpuTensor::from_slice(&ctx, &b));
            // A layer's bias fused into its product: the product, then the bias on every row.
            let bias = values(n, 9);
            let mut want_biased = want.clone();
            add_bias(&mut want_biased, &bias);
            let gbias = GpuTensor::from_slice(&ctx, &bias);
            // And the activation after it, fused too: the CPU's activation of the biased product.
            let mut want_relu = vec![0.0; want_biased.len()];
            activation_forward(Activation::Relu, &want_biased, &mut want_relu);
            let mut want_tanh = vec![0.0; want_biased.len()];
            activation_forward(Activation::Tanh, &want_biased, &mut want_tanh);
            let paths = ["tiled", "wide", "forced", "bind", "long", "tiled+bias", "bind+bias", "tiled+bias+relu", "wide+bias+tanh", "bind+bias+tanh", "quad", "quad+bias+relu", "quad+bias+tanh"];
            for path in paths {
                if path.contains("+bias") && shape.has(MatmulShape::ACCUMULATE) {
                    // A bias goes with a product that writes C (a layer's forward product).
                    continue;
                }
                if path.starts_with("quad") && !(ctx.subgroups && k % 4 == 0) {
                    continue;
                }
                let gc = GpuTensor::from_slice(&ctx, &c0);
                let calls = match path {
                    "tiled" => vec![kernel.bind_tiled(&ctx, shape, &ga, &gb, None, None, &gc)],
                    // The kernel `variant` names (a vec4 one, `rows` or `main`), as a forced choice.
                    "forced" => vec![kernel.bind_as(&ctx, MatmulKernel::variant(shape), shape, &ga, &gb, None, None, &gc)],
                    // Whichever the tuner timed faster on this adapter.
                    "bind" => vec![kernel.bind(&ctx, shape, &ga, &gb, &gc)],
                    "long" => kernel.bind_long(&ctx, shape, &ga, &gb, &gc),
                    "tiled+bias" => vec![kernel.bind_tiled(&ctx, shape, &ga, &gb, Some(&gbias), None, &gc)],
                    "bind+bias" => vec![kernel.bind_layer(&ctx, shape, &ga, &gb, Some(&gbias), None, &gc)],
                    "tiled+bias+relu" => vec![kernel.bind_tiled(&ctx, shape, &ga, &gb, Some(&gbias), Some(Activation::Relu), &gc)],
                    // The 8x8 blocks, on every shape (tiles of 64 partial both ways on most).
                    "wide" => vec![kernel.bind_as(&ctx, matmul::Variant::Wide, shape, &ga, &gb, None, None, &gc)],
                    "wide+bias+tanh" => vec![kernel.bind_as(&ctx, matmul::Variant::Wide, shape, &ga, &gb, Some(&gbias), Some(Activation::Tanh), &gc)],
                    // A quad of invocations sharing its rows of A (16x4 blocks).
                    "quad" => vec![kernel.bind_as(&ctx, matmul::Variant::Quad, shape, &ga, &gb, None, None, &gc)],
                    "quad+bias+relu" => vec![kernel.bind_as(&ctx, matmul::Variant::Quad, shape, &ga, &gb, Some(&gbias), Some(Activation::Relu), &gc)],
                    "quad+bias+tanh" => vec![kernel.bind_as(&ctx, matmul::Variant::Quad, shape, &ga, &gb, Some(&gbias), Some(Activation::Tanh), &gc)],
                    _ => vec![kernel.bind_layer(&ctx, shape, &ga, &gb, Some(&gbias), Some(Activation::Tanh), &gc)],
                };
                let want = match path {
                    "tiled+bias+relu" | "quad+bias+relu" => &want_relu,
                    "bind+bias+tanh" | "wide+bias+tanh" | "quad+bias+tanh" => &want_tanh,
                    p if p.ends_with("+bias") => &want_biased,
                    _ => &want,
                };
                split += usize::from(calls.len() == 2);
                quads += usize::from(path.starts_with("quad"));
                let mut encoder = ctx.device.create_command_encoder(&Default::default());
                record_all(&mut encoder, &calls);
                ctx.queue.submit([encoder.finish()]);
                let got = pollster::block_on(gc.read(&ctx)).unwrap();
                let rtol = 1e-5 * k as f32;
                if let Some((i, g, w)) = max_violation(&got, want, 1e-5, rtol) {
                    panic!("{m}x{k}x{n} flags {flags} ({path}): element {i}: GPU {g} vs CPU {w}");
                }
            }
        }
    }
    if ctx.subgroups {
        // Each shape whose k is a multiple of 4: in eight layouts, and twice with a bias in the
        // four that write C.
        let with_quads = shapes.iter().filter(|s| s.1 % 4 == 0).count();
        assert_eq!(quads, with_quads * (8 + 2 * 4), "quad ran on every shape it serves");
    }
    // The three long products, in all eight layouts.
    assert_eq!(split, 3 * 8, "the long products were split along k");
    // Every kernel `bind` can pick was among those compared.
    assert_eq!(variants.len(), 5, "kernels exercised: {variants:?}");
    // Every product was timed on each of its kernels and runs the fastest: `main` and `wide`,
    // `rows` or its vec4 kernel where it has one, and `quad` where it runs.
    let tuned = matmul::tuned_since(&ctx, serial);
    let chosen: Vec<MatmulShape> = shapes.iter().flat_map(|&(m, k, n)| (0..4).map(move |flags| MatmulShape { flags, ..MatmulShape::new(m, k, n) })).collect();
    assert!(chosen.iter().any(|&s| MatmulKernel::variant(s) == matmul::Variant::Rows), "products made for `rows`: {chosen:?}");
    assert!(chosen.iter().filter(|&&s| matches!(MatmulKernel::variant(s), matmul::Variant::Vec4 { .. })).count() >= 6, "products with a vec4 kernel: {chosen:?}");
    for s in &chosen {
        let t = tuned.iter().find(|t| t.shape == *s).unwrap_or_else(|| panic!("{s:?} has a choice: {tuned:?}"));
        let mut kernels: Vec<&str> = t.others.iter().map(|o| o.0).chain([t.kernel]).collect();
        kernels.sort();
        let mut want: Vec<&str> = kernel.candidates(*s).iter().map(|v| v.entry()).collect();
        want.sort();
        assert_eq!(kernels, want, "{t:?}: timed on each of its kernels");
    }
    for t in &tuned {
        let picked = t.ms.unwrap_or_else(|| panic!("{t:?} was not timed"));
        assert!(picked > 0.0, "{t:?}");
        for (kernel, ms) in &t.others {
            let ms = ms.unwrap_or_else(|| panic!("{t:?}: {kernel} was not timed"));
            assert!(picked <= ms, "{t:?}: the fastest kernel runs it");
        }
    }
}

#[test]
fn self_test_passes() {
    let Some(ctx) = gpu() else { return };
    pollster::block_on(metaplastic::backend::gpu_self_test(&ctx)).unwrap();
}
