//! LeNet-5's CPU reference: finite-difference checks of every backward pass (convolution, pooling,
//! activations, dropout, whole networks), the metaplastic rule (its factors, its weighted gradient,
//! B = 0 being standard training exactly), and learning on real MNIST.

mod common;
use metaplastic::nn::{Activation, AmpEnergy, AmpHyper, ConvShape, Dims, Layer, MatmulShape, Norm, Pass, PlannedLayer, PoolKind, PoolShape, SgdHyper, plan};
use common::*;
use metaplastic::cpu::activation::{activation_backward, activation_forward};
use metaplastic::cpu::amp::{amp_factors, centre_rate, centre_rows, layer_factors, log_inverse_weight, scale_rows};
use metaplastic::cpu::conv::{add_bias, bias_grad, col2im, im2col};
use metaplastic::cpu::dropout::{dropout_backward, dropout_forward};
use metaplastic::cpu::lenet::{CpuLenet, forward, loss_and_grads};
use metaplastic::cpu::walk::{self, Tape};
use metaplastic::cpu::matmul::matmul;
use metaplastic::cpu::pool::{avg_pool_forward, max_pool_forward, pool_backward};
use metaplastic::cpu::sgd::sgd_step;
use metaplastic::model::lenet::{self, Arch, FactorSource, LenetConfig, LenetParams, LenetTrainer};

/// `sum(project * y)`: a scalar loss whose gradient with respect to `y` is `project`.
fn dot(y: &[f32], project: &[f32]) -> f64 {
    y.iter().zip(project).map(|(a, b)| (a * b) as f64).sum()
}

fn conv_forward(s: &ConvShape, x: &[f32], w: &[f32], b: &[f32]) -> Vec<f32> {
    let mut cols = vec![0.0; s.rows() * s.patch()];
    im2col(s, x, &mut cols);
    let mut y = vec![0.0; s.rows() * s.cout as usize];
    matmul(MatmulShape::new(s.rows(), s.patch(), s.cout as usize).trans_b(), &cols, w, &mut y);
    add_bias(&mut y, b);
    y
}

#[test]
fn convolution_gradients_with_and_without_padding() {
    for pad in [0, 1, 2] {
        let s = ConvShape::new(2, 5, 6, 2, 3, 3, pad);
        let mut x = values(s.input_len(), 1);
        let mut w = values(s.weight_len(), 2);
        let mut b = values(3, 3);
        let project = values(s.rows() * 3, 4);
        let mut cols = vec![0.0; s.rows() * s.patch()];
        im2col(&s, &x, &mut cols);
        let mut dw = vec![0.0; w.len()];
        matmul(MatmulShape::new(3, s.rows(), s.patch()).trans_a(), &project, &cols, &mut dw);
        let mut db = vec![0.0; 3];
        bias_grad(&project, &mut db);
        let mut dcols = vec![0.0; cols.len()];
        matmul(MatmulShape::new(s.rows(), 3, s.patch()), &project, &w, &mut dcols);
        let mut dx = vec![0.0; x.len()];
        col2im(&s, &dcols, &mut dx);
        let (x0, w0, b0) = (x.clone(), w.clone(), b.clone());
        for i in 0..x.len() {
            let num = numeric(&mut x, i, 1e-2, &mut |x| dot(&conv_forward(&s, x, &w0, &b0), &project));
            assert_close(&format!("pad {pad} dx {i}"), dx[i], num, 1e-3, 1e-3);
        }
        for i in 0..w.len() {
            let num = numeric(&mut w, i, 1e-2, &mut |w| dot(&conv_forward(&s, &x0, w, &b0), &project));
            assert_close(&format!("pad {pad} dw {i}"), dw[i], num, 1e-3, 1e-3);
        }
        for i in 0..3 {
            let num = numeric(&mut b, i, 1e-2, &mut |b| dot(&conv_forward(&s, &x0, &w0, b), &project));
            assert_close(&format!("pad {pad} db {i}"), db[i], num, 1e-3, 1e-3);
        }
    }
}

/// `im2col` copies a kernel row at a time, clipped at the padding: against its definition entry by
/// entry, on shapes where the padding covers part of a row, a whole row, or more than the image.
#[test]
fn im2col_matches_its_definition() {
    for (h, w, cin, k, pad) in [(5, 6, 2, 3, 0), (5, 6, 2, 3, 1), (4, 3, 1, 5, 2), (2, 2, 3, 5, 4), (1, 1, 2, 3, 1), (7, 5, 1, 5, 2)] {
        let s = ConvShape::new(2, h, w, cin, 3, k, pad);
        let x = values(s.input_len(), 5);
        let mut cols = vec![f32::NAN; s.rows() * s.patch()];
        im2col(&s, &x, &mut cols);
        let (oh, ow) = (s.out_h(), s.out_w());
        for b in 0..2 {
            for (oy, ox) in (0..oh).flat_map(|oy| (0..ow).map(move |ox| (oy, ox))) {
                for (ky, kx, ci) in (0..k).flat_map(|ky| (0..k).flat_map(move |kx| (0..cin).map(move |ci| (ky, kx, ci)))) {
                    let (y, xx) = ((oy + ky) as isize - pad as isize, (ox + kx) as isize - pad as isize);
                    let inside = (0..h as isize).contains(&y) && (0..w as isize).contains(&xx);
                    let want = if inside { x[((b * h + y as usize) * w + xx as usize) * cin + ci] } else { 0.0 };
                    let got = cols[((b * oh + oy) * ow + ox) * s.patch() + (ky * k + kx) * cin + ci];
                    assert_eq!(got, want, "{h}x{w}x{cin} k {k} pad {pad}: b {b} out ({oy}, {ox}) tap ({ky}, {kx}, {ci})");
                }
            }
        }
    }
}

/// `col2im` against its definition, to the bit: each input pixel is the sum of the columns'
/// entries that copied it, added in tap order (ky, then kx) from zero, on the same shapes.
#[test]
fn col2im_matches_its_definition() {
    for (h, w, cin, k, pad) in [(5, 6, 2, 3, 0), (5, 6, 2, 3, 1), (4, 3, 1, 5, 2), (2, 2, 3, 5, 4), (1, 1, 2, 3, 1), (7, 5, 1, 5, 2)] {
        let s = ConvShape::new(2, h, w, cin, 3, k, pad);
        let cols = values(s.rows() * s.patch(), 6);
        let mut dx = vec![f32::NAN; s.input_len()];
        col2im(&s, &cols, &mut dx);
        let (oh, ow) = (s.out_h(), s.out_w());
        for (b, y, x, ci) in (0..2).flat_map(|b| (0..h).flat_map(move |y| (0..w).flat_map(move |x| (0..cin).map(move |ci| (b, y, x, ci))))) {
            let mut want = 0.0f32;
            for (ky, kx) in (0..k).flat_map(|ky| (0..k).map(move |kx| (ky, kx))) {
                let (oy, ox) = ((y + pad) as isize - ky as isize, (x + pad) as isize - kx as isize);
                if (0..oh as isize).contains(&oy) && (0..ow as isize).contains(&ox) {
                    want += cols[((b * oh + oy as usize) * ow + ox as usize) * s.patch() + (ky * k + kx) * cin + ci];
                }
            }
            let got = dx[((b * h + y) * w + x) * cin + ci];
            assert_eq!(got.to_bits(), want.to_bits(), "{h}x{w}x{cin} k {k} pad {pad}: b {b} pixel ({y}, {x}, {ci})");
        }
    }
}

/// A 1x1 image through a 3x3 kernel with padding 1 sees only the centre tap: checks the weight
/// layout `[cout, ky, kx, cin]` against a hand-computed value.
#[test]
fn convolution_layout_by_hand() {
    let s = ConvShape::new(1, 1, 1, 2, 1, 3, 1);
    let w: Vec<f32> = (0..18).map(|i| i as f32).collect();
    // Centre tap (ky = kx = 1): weights 8 (ci 0) and 9 (ci 1).
    let y = conv_forward(&s, &[2.0, 3.0], &w, &[0.5]);
    assert_eq!(y, vec![2.0 * 8.0 + 3.0 * 9.0 + 0.5]);
}

#[test]
fn pooling_gradients_on_odd_sizes() {
    for kind in [PoolKind::Max, PoolKind::Average] {
        let s = PoolShape::new(2, 5, 4, 3);
        // Distinct values, spaced wider than the finite-difference step, so max never flips.
        let mut x: Vec<f32> = (0..s.input_len()).map(|i| ((i * 37) % 101) as f32 * 0.1).collect();
        let project = values(s.output_len(), 7);
        let run = |x: &[f32]| {
            let mut y = vec![0.0; s.output_len()];
            let mut arg = vec![0u32; s.output_len()];
            match kind {
                PoolKind::Max => max_pool_forward(&s, x, &mut y, &mut arg),
                PoolKind::Average => avg_pool_forward(&s, x, &mut y),
            }
            (y, arg)
        };
        let (_, arg) = run(&x);
        let mut dx = vec![0.0; x.len()];
        pool_backward(&s, kind, &project, &arg, &mut dx);
        for i in 0..x.len() {
            let num = numeric(&mut x, i, 1e-2, &mut |x| dot(&run(x).0, &project));
            assert_close(&format!("{kind:?} dx {i}"), dx[i], num, 1e-3, 1e-3);
        }
    }
}

#[test]
fn activation_gradients() {
    for act in [Activation::Relu, Activation::Tanh] {
        // Away from relu's kink at 0.
        let mut x: Vec<f32> = values(40, 9).iter().map(|v| if v.abs() < 0.05 { v + 0.1 } else { 2.0 * v }).collect();
        let project = values(40, 10);
        let run = |x: &[f32]| {
            let mut y = vec![0.0; x.len()];
            activation_forward(act, x, &mut y);
            y
        };
        let y = run(&x);
        let mut dx = vec![0.0; x.len()];
        activation_backward(act, &y, &project, &mut dx);
        for i in 0..x.len() {
            let num = numeric(&mut x, i, 1e-3, &mut |x| dot(&run(x), &project));
            assert_close(&format!("{act:?} dx {i}"), dx[i], num, 1e-3, 1e-3);
        }
    }
}

#[test]
fn dropout_gradient_and_rate() {
    let p = 0.7;
    let mut x = values(50, 11);
    let project = values(50, 12);
    let run = |x: &[f32]| {
        let (mut y, mut mask) = (vec![0.0; x.len()], vec![0.0; x.len()]);
        dropout_forward(p, 42, x, &mut y, &mut mask);
        (y, mask)
    };
    let (_, mask) = run(&x);
    let mut dx = vec![0.0; x.len()];
    dropout_backward(&mask, &project, &mut dx);
    for i in 0..x.len() {
        let num = numeric(&mut x, i, 1e-2, &mut |x| dot(&run(x).0, &project));
        assert_close(&format!("dropout dx {i}"), dx[i], num, 1e-3, 1e-3);
    }
    // The rate and the scale over many elements; another seed draws another mask.
    let big = vec![1.0; 100_000];
    let (mut y, mut mask) = (vec![0.0; big.len()], vec![0.0; big.len()]);
    dropout_forward(p, 7, &big, &mut y, &mut mask);
    let dropped = mask.iter().filter(|&&m| m == 0.0).count() as f64 / big.len() as f64;
    assert!((dropped - 0.7).abs() < 0.01, "dropped fraction {dropped}");
    assert!(mask.iter().all(|&m| m == 0.0 || (m - 1.0 / 0.3).abs() < 1e-6));
    let mean = y.iter().map(|&v| v as f64).sum::<f64>() / big.len() as f64;
    assert!((mean - 1.0).abs() < 0.03, "inverted dropout keeps the mean: {mean}");
    let mut other = vec![0.0; big.len()];
    dropout_forward(p, 8, &big, &mut y, &mut other);
    assert_ne!(mask, other);
}

/// A small network with every layer kind: conv (padded) tanh BN avg-pool, conv tanh max-pool,
/// dense tanh BN dropout, dense.
fn small_net() -> Vec<PlannedLayer> {
    use Layer::*;
    let specs = [
        Conv { out: 3, k: 3, pad: 1 },
        Act(Activation::Tanh),
        BatchNorm(Norm::BATCH),
        Pool(PoolKind::Average),
        Conv { out: 4, k: 3, pad: 0 },
        Act(Activation::Tanh),
        Pool(PoolKind::Max),
        Dense { out: 6 },
        Act(Activation::Tanh),
        BatchNorm(Norm::BATCH),
        Dropout(0.3),
        Dense { out: 10 },
    ];
    plan(&specs, Dims { h: 8, w: 8, c: 1 }, 0)
}

fn batch_loss(cfg: &LenetConfig, layers: &[PlannedLayer], p: &LenetParams, x: &[f32], y: &[u32]) -> f64 {
    let (stats, _) = loss_and_grads(cfg, layers, p, x, y, Some(5), false);
    stats.loss_sum as f64 / y.len() as f64
}

#[test]
fn whole_network_gradients() {
    let layers = small_net();
    assert_eq!(layers.last().map(|l| l.output.c), Some(10));
    let cfg = LenetConfig::authors_sgd(Arch::Classic); // only its rule (standard) is read
    let batch = 4;
    let mut params = LenetParams::init_layers(&layers, 3);
    for (i, p) in params.layers.iter_mut().enumerate() {
        // Non-zero biases and betas so their gradients are exercised off the initial point.
        p.b = values(p.b.len(), 100 + i as u64).iter().map(|v| 0.3 * v).collect();
    }
    let mut x: Vec<f32> = values(batch * 64, 21).iter().map(|v| 0.5 + 0.5 * v).collect();
    let y = [1u32, 7, 3, 9];
    let (_, grads) = loss_and_grads(&cfg, &layers, &params, &x, &y, Some(5), true);
    for li in 0..params.layers.len() {
        for which in 0..2 {
            let n = if which == 0 { params.layers[li].w.len() } else { params.layers[li].b.len() };
            for i in 0..n {
                let keep = if which == 0 { params.layers[li].w[i] } else { params.layers[li].b[i] };
                let probe = |v: f32| {
                    let mut q = params.clone();
                    if which == 0 { q.layers[li].w[i] = v } else { q.layers[li].b[i] = v }
                    batch_loss(&cfg, &layers, &q, &x, &y)
                };
                let h = 3e-3;
                let num = (probe(keep + h) - probe(keep - h)) / (2.0 * h as f64);
                let g = if which == 0 { grads.layers[li].w[i] } else { grads.layers[li].b[i] };
                assert_close(&format!("layer {li} {} {i}", ["w", "b"][which]), g, num, 2e-3, 2e-2);
            }
        }
    }
    let dx = grads.x.expect("input gradient was asked for");
    let p0 = params.clone();
    for i in (0..x.len()).step_by(5) {
        let num = numeric(&mut x, i, 3e-3, &mut |x| batch_loss(&cfg, &layers, &p0, x, &y));
        assert_close(&format!("dx {i}"), dx[i], num, 2e-3, 2e-2);
    }
}

/// The metaplastic rule's convolutional gradients are the gradients of the factor-weighted loss
/// `sum_b f_b CE_b / batch` (factors held fixed), while dense layers keep the plain gradient.
#[test]
fn metaplastic_gradient_is_the_factor_weighted_loss_gradient() {
    use Layer::*;
    let specs = [
        Conv { out: 3, k: 3, pad: 1 },
        Act(Activation::Tanh),
        Pool(PoolKind::Average),
        Conv { out: 4, k: 3, pad: 0 },
        Act(Activation::Tanh),
        Dense { out: 10 },
    ];
    let layers = plan(&specs, Dims { h: 6, w: 6, c: 1 }, 0);
    let cfg = LenetConfig::authors_sgd(Arch::Classic).with_amp(2.0, FactorSource::LayerInput);
    let batch = 5;
    let params = LenetParams::init_layers(&layers, 4);
    let x: Vec<f32> = values(batch * 36, 31).iter().enumerate().map(|(i, v)| (0.5 + 0.5 * v) * (1 + i / 36) as f32 * 0.5).collect();
    let y = [0u32, 1, 2, 3, 4];
    let (_, grads) = loss_and_grads(&cfg, &layers, &params, &x, &y, None, false);
    assert_eq!(grads.factors.len(), 2, "one factor vector per convolutional layer");
    let spread = grads.factors[0].iter().copied().fold(0.0f32, f32::max) - grads.factors[0].iter().copied().fold(f32::MAX, f32::min);
    assert!(spread > 0.2, "the test inputs should give different factors: {:?}", grads.factors[0]);
    // Per-example losses of the standard network.
    let per_example = |p: &LenetParams| -> Vec<f64> {
        let mut c = Tape::default();
        forward(&layers, p, &x, None, &mut c);
        c.output()
            .chunks_exact(10)
            .zip(&y)
            .map(|(z, &label)| {
                let max = z.iter().copied().fold(f32::MIN, f32::max) as f64;
                let sum: f64 = z.iter().map(|&v| (v as f64 - max).exp()).sum();
                sum.ln() - (z[label as usize] as f64 - max)
            })
            .collect()
    };
    let conv_params = [(0usize, 0usize), (1, 1)]; // (param index, conv ordinal)
    for (pi, ci) in conv_params {
        let f = &grads.factors[ci];
        for i in 0..params.layers[pi].w.len() {
            let probe = |v: f32| {
                let mut q = params.clone();
                q.layers[pi].w[i] = v;
                per_example(&q).iter().zip(f).map(|(l, &f)| l * f as f64).sum::<f64>() / batch as f64
            };
            let (keep, h) = (params.layers[pi].w[i], 3e-3);
            let num = (probe(keep + h) - probe(keep - h)) / (2.0 * h as f64);
            assert_close(&format!("conv {ci} dw {i}"), grads.layers[pi].w[i], num, 2e-3, 2e-2);
        }
    }
    // Parameters are conv 0, conv 1, dense: the dense layer gets the unweighted gradient.
    let standard = LenetConfig::authors_sgd(Arch::Classic);
    let (_, plain) = loss_and_grads(&standard, &layers, &params, &x, &y, None, false);
    assert_eq!(grads.layers[2], plain.layers[2], "dense gradients are not weighted");
    assert_ne!(grads.layers[0], plain.layers[0], "convolutional gradients are weighted");
}

fn random_batch(batch: usize, seed: u64) -> (Vec<f32>, Vec<u32>) {
    let x = values(batch * 784, seed).iter().map(|v| (0.5 + 0.5 * v).max(0.0)).collect();
    let y = (0..batch).map(|i| ((i as u64 * 7 + seed) % 10) as u32).collect();
    (x, y)
}

/// The requirement: B = 0 reproduces standard training exactly, bit for bit.
#[test]
fn b_zero_is_standard_training_exactly() {
    for arch in [Arch::Classic, Arch::Authors] {
        let mut cfg = LenetConfig::authors_sgd(arch);
        cfg.batch = 8;
        let params = LenetParams::init(arch, 9);
        let mut standard = CpuLenet::new(cfg.clone(), params.clone()).unwrap();
        let mut amp = CpuLenet::new(cfg.clone().with_amp(0.0, FactorSource::LayerInput), params).unwrap();
        for step in 0..3 {
            let (x, y) = random_batch(8, step);
            standard.train_step(&x, &y, step as u32).unwrap();
            amp.train_step(&x, &y, step as u32).unwrap();
        }
        let a = pollster::block_on(standard.params()).unwrap();
        let b = pollster::block_on(amp.params()).unwrap();
        assert_eq!(a, b, "{arch:?}: B = 0 must leave training unchanged");
        let f = pollster::block_on(amp.last_factors()).unwrap();
        assert!(f.iter().flatten().all(|&v| v == 1.0));
        // And B > 0 does change it.
        let mut strong = CpuLenet::new(cfg.with_amp(1.0, FactorSource::LayerInput), LenetParams::init(arch, 9)).unwrap();
        let (x, y) = random_batch(8, 0);
        strong.train_step(&x, &y, 0).unwrap();
        let mut plain = CpuLenet::new(LenetConfig { batch: 8, ..LenetConfig::authors_sgd(arch) }, LenetParams::init(arch, 9)).unwrap();
        plain.train_step(&x, &y, 0).unwrap();
        assert_ne!(pollster::block_on(strong.params()).unwrap(), pollster::block_on(plain.params()).unwrap());
    }
}

/// Factors stay finite and inside the clamp for all-zero, all-one and random inputs of every
/// convolutional layer's input size, with the log-domain formula agreeing with the factors.
#[test]
fn metaplastic_factors_are_finite_for_every_layer_size() {
    let batch = 16;
    for arch in [Arch::Classic, Arch::Authors] {
        for layer in lenet::plan(arch).iter().filter(|l| matches!(l.layer, Layer::Conv { .. })) {
            let n = layer.input.len();
            let inputs: [(&str, Vec<f32>); 4] = [
                ("zeros", vec![0.0; batch * n]),
                ("ones", vec![1.0; batch * n]),
                ("random", values(batch * n, n as u64).iter().map(|v| 0.5 + 0.5 * v).collect()),
                ("large", values(batch * n, 3).iter().map(|v| 100.0 * v).collect()),
            ];
            for (name, x) in &inputs {
                for b in [0.0, 0.5, 1.0, 20.0] {
                    let h = AmpHyper::new(b);
                    let mut f = vec![0.0; batch];
                    amp_factors(&h, x, batch, &mut f);
                    assert!(f.iter().all(|v| v.is_finite() && *v >= h.lo && *v <= h.hi), "{arch:?} n={n} {name} B={b}: {f:?}");
                    for row in x.chunks_exact(n) {
                        assert!(log_inverse_weight(h.a, h.b as f64, row).is_finite(), "ln(1/f*) overflowed for n={n} {name}");
                    }
                }
            }
        }
    }
}

/// Normalised factors are `batch * softmax(ln(1/f*))`: compare with the full f64 formula, and
/// check that A (which cancels) changes nothing.
#[test]
fn metaplastic_factors_match_the_log_domain_formula() {
    let (batch, n) = (6, 30);
    let x: Vec<f32> = values(batch * n, 5).iter().enumerate().map(|(i, v)| v * (1 + i / n) as f32 * 0.3).collect();
    let h = AmpHyper { a: 1.0, b: 2.0, lo: 1e-3, hi: 1e3 };
    let mut f = vec![0.0; batch];
    amp_factors(&h, &x, batch, &mut f);
    // The formula's own B is the user's B over the batch's mean energy.
    let mean_energy = x.iter().map(|&v| v as f64 * v as f64).sum::<f64>() / batch as f64;
    let logs: Vec<f64> = x.chunks_exact(n).map(|row| log_inverse_weight(h.a, h.b as f64 / mean_energy, row)).collect();
    let max = logs.iter().copied().fold(f64::MIN, f64::max);
    let sum: f64 = logs.iter().map(|l| (l - max).exp()).sum();
    for (got, l) in f.iter().zip(&logs) {
        let want = batch as f64 * (l - max).exp() / sum;
        assert!((*got as f64 - want).abs() < 1e-4 * want.max(1.0), "factor {got} vs formula {want}");
    }
    let mut other = vec![0.0; batch];
    amp_factors(&AmpHyper { a: 1e6, ..h }, &x, batch, &mut other);
    assert_eq!(f, other, "A cancels in the normalisation");
    // Rows with more energy get larger factors (rarer patterns move the weights more).
    let energies: Vec<f32> = x.chunks_exact(n).map(|r| r.iter().map(|v| v * v).sum()).collect();
    for i in 0..batch {
        for j in 0..batch {
            if energies[i] > energies[j] {
                assert!(f[i] >= f[j]);
            }
        }
    }
    // Scaling rows: every output row of an example carries that example's factor.
    let dy = values(batch * 2 * 3, 6);
    let mut out = vec![0.0; dy.len()];
    scale_rows(&dy, 3, 2, &f, &mut out);
    for (r, (o, g)) in out.chunks_exact(3).zip(dy.chunks_exact(3)).enumerate() {
        for (a, b) in o.iter().zip(g) {
            assert_eq!(*a, b * f[r / 2]);
        }
    }
}

/// Nesterov SGD against values worked by hand.
#[test]
fn sgd_nesterov_by_hand() {
    let h = SgdHyper::nesterov(0.1, 0.9, 0.01);
    let (mut w, mut v) = (vec![1.0f32, -2.0], vec![0.5f32, 0.0]);
    sgd_step(&h, &mut w, &[0.2, -0.4], &mut v);
    // g = 0.2 + 0.01 = 0.21; v = 0.45 + 0.21 = 0.66; w = 1 - 0.1 * (0.21 + 0.594) = 0.9196.
    // g = -0.4 - 0.02 = -0.42; v = -0.42; w = -2 - 0.1 * (-0.42 - 0.378) = -1.9202.
    assert!((w[0] - 0.9196).abs() < 1e-6 && (v[0] - 0.66).abs() < 1e-6, "{w:?} {v:?}");
    assert!((w[1] + 1.9202).abs() < 1e-6 && (v[1] + 0.42).abs() < 1e-6, "{w:?} {v:?}");
}

#[test]
fn refuses_bad_settings_and_parameters() {
    let ok = LenetConfig::authors_sgd(Arch::Classic);
    assert!(ok.validate().is_ok());
    for bad in [
        LenetConfig { lr: 0.0, ..ok.clone() },
        LenetConfig { lr: f32::NAN, ..ok.clone() },
        LenetConfig { momentum: 1.0, ..ok.clone() },
        LenetConfig { batch: 1, ..ok.clone() },
        ok.clone().with_amp(-1.0, FactorSource::LayerInput),
        ok.clone().with_amp(f32::INFINITY, FactorSource::NetworkInput),
    ] {
        assert!(bad.validate().is_err(), "{bad:?} should be refused");
    }
    let wrong = LenetParams::init(Arch::Authors, 1);
    assert!(CpuLenet::new(ok, wrong).is_err(), "parameters of another architecture are refused");
}

#[test]
fn classic_lenet_learns_mnist() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("static/data");
    let Ok(mnist) = metaplastic::data::DataSet::load(&root, metaplastic::data::DataSetId::Mnist) else {
        assert!(std::env::var("CI").map_or(true, |v| v != "true"), "CI=true but MNIST is missing under static/data");
        common::skipped("MNIST missing (run scripts/fetch-data.sh)");
        return;
    };
    use metaplastic::data::{Examples, fill_batch};
    let cfg = LenetConfig::authors_sgd(Arch::Classic);
    let mut net = CpuLenet::new(cfg, LenetParams::init(Arch::Classic, 1)).unwrap();
    let (mut x, mut y) = (vec![0.0; 64 * 784], vec![0u32; 64]);
    for step in 0..300 {
        let idx: Vec<usize> = (0..64).map(|i| (step * 64 + i * 7919) % mnist.train.len()).collect();
        fill_batch(&mnist.train, &idx, &mut x, &mut y);
        net.train_step(&x, &y, step as u32).unwrap();
    }
    let idx: Vec<usize> = (0..1000).collect();
    let (mut tx, mut ty) = (vec![0.0; 1000 * 784], vec![0u32; 1000]);
    fill_batch(&mnist.test, &idx, &mut tx, &mut ty);
    let logits = pollster::block_on(net.logits(&tx)).unwrap();
    let correct = logits
        .chunks_exact(10)
        .zip(&ty)
        .filter(|&(z, &label)| z.iter().enumerate().fold(0, |best, (i, &v)| if v > z[best] { i } else { best }) == label as usize)
        .count();
    println!("classic LeNet-5 after 300 steps of 64: test accuracy {:.3} on 1000 images", correct as f32 / 1000.0);
    assert!(correct >= 940, "accuracy {}", correct as f32 / 1000.0);
}

/// The running mean of the centred energy: the first batch sets it, the next 99 average with
/// equal weight per batch, after that it moves at the floor rate; every output row is its input
/// minus the mean as it stands after this batch.
#[test]
fn centred_energy_tracks_the_mean_of_the_patterns_seen() {
    let (batch, n) = (5, 12);
    let batches: Vec<Vec<f32>> = (0..4).map(|k| values(batch * n, 40 + k).iter().map(|v| v + k as f32).collect()).collect();
    let mut mean = vec![0.0; n];
    let mut out = vec![0.0; batch * n];
    for (k, x) in batches.iter().enumerate() {
        centre_rows(x, batch, &mut mean, k as u32, &mut out);
        for i in 0..n {
            let seen: f64 = batches[..=k].iter().flat_map(|x| x.chunks_exact(n).map(move |row| row[i] as f64)).sum::<f64>() / ((k + 1) * batch) as f64;
            assert!((mean[i] as f64 - seen).abs() < 1e-5, "after {} batches, element {i}: {} vs the mean of all seen {seen}", k + 1, mean[i]);
            for b in 0..batch {
                assert_eq!(out[b * n + i], x[b * n + i] - mean[i], "row {b} element {i} is centred on the updated mean");
            }
        }
    }
    assert_eq!(centre_rate(0), 1.0);
    assert_eq!(centre_rate(99), 0.01);
    assert_eq!(centre_rate(5000), 0.01, "the floor");
}

/// What the centred energy changes: a batch of one common bold pattern and one rare faint one.
/// Raw energy gives the bold (common) examples the large factors; centred on the mean pattern,
/// the rare one is the far one and gets the largest.
#[test]
fn centred_energy_favours_the_rare_pattern_raw_energy_the_bold_one() {
    let (batch, n) = (8, 40);
    let bold: Vec<f32> = (0..n).map(|i| if i < 20 { 1.0 } else { 0.0 }).collect();
    let faint: Vec<f32> = (0..n).map(|i| if i >= 30 { 0.3 } else { 0.0 }).collect();
    let x: Vec<f32> = (0..batch).flat_map(|b| if b == 3 { faint.clone() } else { bold.clone() }).collect();
    let h = AmpHyper::new(1.0);
    let (mut raw, mut centred) = (vec![0.0; batch], vec![0.0; batch]);
    let mut mean = Vec::new();
    layer_factors(&h, AmpEnergy::Raw, &x, batch, &mut mean, 0, &mut raw);
    assert!(mean.is_empty(), "the raw energy keeps no mean");
    layer_factors(&h, AmpEnergy::Centred, &x, batch, &mut mean, 0, &mut centred);
    assert_eq!(mean.len(), n);
    let argmax = |f: &[f32]| f.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map(|(i, _)| i).unwrap();
    assert!(raw[3] < raw[0], "raw: the faint example {} below the bold {}", raw[3], raw[0]);
    assert_eq!(argmax(&centred), 3, "centred: the rare example gets the largest factor: {centred:?}");
    assert!(centred[3] > 1.0 && centred[0] < 1.0, "{centred:?}");
}

/// A centred metaplastic network trains (its loss falls), differs from the raw one from the first
/// step, and keeps one running mean per convolution.
#[test]
fn centred_amp_trains_and_differs_from_raw() {
    let arch = Arch::Classic;
    let cfg = LenetConfig { batch: 8, ..LenetConfig::authors_sgd(arch) }.with_amp(1.0, FactorSource::LayerInput);
    let params = LenetParams::init(arch, 3);
    let mut raw = CpuLenet::new(cfg.clone(), params.clone()).unwrap();
    let mut centred = CpuLenet::new(cfg.with_amp_energy(AmpEnergy::Centred), params).unwrap();
    let (x, y) = random_batch(8, 21);
    raw.train_step(&x, &y, 1).unwrap();
    centred.train_step(&x, &y, 1).unwrap();
    let (fr, fc) = (pollster::block_on(raw.last_factors()).unwrap(), pollster::block_on(centred.last_factors()).unwrap());
    assert_eq!(fc.len(), 2, "one factor vector per convolution");
    assert_ne!(fr, fc, "centring changes the factors");
    let first = pollster::block_on(centred.take_train_stats()).unwrap().mean_loss();
    for step in 0..100 {
        centred.train_step(&x, &y, 2 + step).unwrap();
    }
    let _ = pollster::block_on(centred.take_train_stats());
    centred.train_step(&x, &y, 99).unwrap();
    let last = pollster::block_on(centred.take_train_stats()).unwrap().mean_loss();
    assert!(last < 0.5 * first, "loss {first} -> {last}");
}

/// Why the classic preset may evaluate in batches of 64 and the authors' must in 1000
/// (`Arch::eval_batch`): without batch norm an image's logits do not depend on the batch it is
/// in (the same bits in a batch of 200 as alone in a batch of 7); with batch norm they do. Logits
/// between training steps (the evaluation drops the training tape) change nothing either.
#[test]
fn evaluation_batch_matters_only_with_batch_norm() {
    assert_eq!(Arch::Classic.eval_batch(), 64);
    assert_eq!(Arch::Authors.eval_batch(), 1000);
    for arch in [Arch::Classic, Arch::Authors] {
        let mut trainer = CpuLenet::new(LenetConfig { batch: 8, ..LenetConfig::authors_sgd(arch) }, LenetParams::init(arch, 4)).unwrap();
        let (x, _) = random_batch(200, 5);
        let all = pollster::block_on(trainer.logits(&x)).unwrap();
        let few = pollster::block_on(trainer.logits(&x[..7 * 784])).unwrap();
        // A training step after an evaluation, and one without, end in the same parameters.
        let (tx, ty) = random_batch(8, 6);
        let mut twin = CpuLenet::new(LenetConfig { batch: 8, ..LenetConfig::authors_sgd(arch) }, LenetParams::init(arch, 4)).unwrap();
        trainer.train_step(&tx, &ty, 1).unwrap();
        twin.train_step(&tx, &ty, 1).unwrap();
        let _ = pollster::block_on(trainer.logits(&x)).unwrap();
        trainer.train_step(&tx, &ty, 2).unwrap();
        twin.train_step(&tx, &ty, 2).unwrap();
        let (p, q) = (pollster::block_on(trainer.params()).unwrap(), pollster::block_on(twin.params()).unwrap());
        assert!(p.layers.iter().zip(&q.layers).all(|(a, b)| a.w == b.w && a.b == b.b), "{arch:?}: an evaluation changed training");
        if arch == Arch::Classic {
            assert_eq!(&all[..70], &few[..], "classic: logits independent of the batch");
        } else {
            assert_ne!(&all[..70], &few[..], "authors': batch norm reads the batch");
        }
    }
}

/// Average pooling changes the pooling layers and nothing else: the same shapes and parameters,
/// a different function.
#[test]
fn average_pooling_replaces_only_the_pooling_layers() {
    for arch in [Arch::Classic, Arch::Authors] {
        let (max, avg) = (lenet::plan(arch), lenet::plan_pooled(arch, PoolKind::Average));
        assert_eq!(max.len(), avg.len());
        for (m, a) in max.iter().zip(&avg) {
            assert_eq!((m.input, m.output), (a.input, a.output), "{arch:?}");
            match (m.layer, a.layer) {
                (Layer::Pool(PoolKind::Max), Layer::Pool(PoolKind::Average)) => {}
                (x, y) => assert_eq!(x, y, "{arch:?}"),
            }
        }
        assert_eq!(avg.iter().filter(|l| matches!(l.layer, Layer::Pool(PoolKind::Average))).count(), 2, "{arch:?}");
        let params = LenetParams::init(arch, 3);
        let (x, _) = random_batch(4, 5);
        let logits = |layers: &[PlannedLayer]| {
            let mut tape = Tape::default();
            walk::forward_output(layers, &params.layers, &mut [], &x, 4, Pass::Eval, &mut tape);
            tape.output().to_vec()
        };
        assert_ne!(logits(&max), logits(&avg), "{arch:?}: pooling by the mean is another function");
    }
}

/// An evaluation run a chunk at a time gives the whole batch's output to the bit (batch norm on
/// the evaluated batch's statistics included), for chunks that do and do not divide the batch,
/// one example, and a chunk larger than the batch. Without batch norm (the classic preset) too.
#[test]
fn evaluation_in_chunks_is_the_whole_batch_to_the_bit() {
    for arch in [Arch::Authors, Arch::Classic] {
        let layers = lenet::plan(arch);
        let mut params = LenetParams::init(arch, 5);
        // Gamma and beta away from 1 and 0, so batch norm's affine part counts.
        for (k, p) in params.layers.iter_mut().enumerate() {
            let (w, b) = (scaled(p.w.len(), 40 + k as u64, 0.5), scaled(p.b.len(), 60 + k as u64, 0.3));
            p.w.iter_mut().zip(w).for_each(|(v, d)| *v += d);
            p.b.iter_mut().zip(b).for_each(|(v, d)| *v += d);
        }
        let batch = 150;
        let (x, _) = random_batch(batch, 3);
        let mut tape = Tape::default();
        walk::forward_output(&layers, &params.layers, &mut [], &x, batch, Pass::Eval, &mut tape);
        let whole = tape.output().to_vec();
        assert_eq!(whole.len(), batch * 10);
        for chunk in [64, 7, 1, 150, 400] {
            let chunked = walk::forward_output_chunked(&layers, &params.layers, &[], &x, batch, chunk);
            assert_eq!(chunked.len(), whole.len());
            let differ = chunked.iter().zip(&whole).filter(|(a, b)| a.to_bits() != b.to_bits()).count();
            assert_eq!(differ, 0, "{arch:?}, chunks of {chunk}: {differ} logits differ");
        }
    }
}

/// A tape spent as backward goes (a training worker's, `walk::Tape::new(true)`) gives the same
/// gradients to the bit as one that keeps every buffer (the tool's), over two steps on the same
/// tape (the second starts from a spent one), for both LeNet-5s and the binarized network.
#[test]
fn a_spent_tape_gives_the_same_gradients_to_the_bit() {
    use metaplastic::model::bnn::{BnnConfig, BnnParams};
    use metaplastic::nn::{LayerParams, RunningStats};
    let bnn = BnnConfig::authors_optimizer(32, 0.0);
    let nets: Vec<(&str, Vec<PlannedLayer>, Vec<LayerParams>)> = vec![
        ("classic", lenet::plan(Arch::Classic), LenetParams::init(Arch::Classic, 2).layers),
        ("authors", lenet::plan(Arch::Authors), LenetParams::init(Arch::Authors, 2).layers),
        ("binarized", bnn.layers(), BnnParams::init(bnn.sizes(), 2).to_layers(bnn.weights)),
    ];
    for (name, layers, params) in &nets {
        let run = |spend: bool| {
            let mut tape = Tape::new(spend);
            let mut running = RunningStats::for_layers(layers);
            let mut out = Vec::new();
            for step in 0..2u64 {
                let (x, y) = random_batch(16, 10 + step);
                walk::forward_pass(layers, params, &mut running, &x, 16, Pass::Train, step as u32, &mut tape);
                let mut dlogits = vec![0.0; tape.output().len()];
                metaplastic::cpu::softmax_ce::softmax_cross_entropy(tape.output(), &y, 10, &mut dlogits);
                let mut grads: Vec<LayerParams> = params.iter().map(LayerParams::zeros_like).collect();
                let dx = walk::backward(layers, params, &mut tape, dlogits, &mut grads, &mut walk::NoHook, true);
                out.push((grads, dx, tape.output().to_vec()));
            }
            out
        };
        assert!(run(true) == run(false), "{name}: a spent tape changed the gradients");
    }
}
