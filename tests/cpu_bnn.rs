//! The binarized network's CPU reference: finite-difference checks of every backward pass, the
//! metaplastic rule against hand-computed values, and learning on real MNIST.

mod common;
use metaplastic::nn::AdamHyper;
use common::*;
use metaplastic::cpu::batchnorm::{batchnorm_backward, batchnorm_forward, batchnorm_inference, batchnorm_inference_backward, batchnorm_track};
use metaplastic::cpu::bnn::{CpuBnn, fisher_sums, loss_and_grads};
use metaplastic::cpu::ewc::EwcPenalty;
use metaplastic::cpu::walk::{NoHook, Tape, backward, forward_pass};
use metaplastic::nn::{Pass, RunningStats, TensorKey, TensorSet};
use metaplastic::nn::{Activation, Dims, Layer, LayerParams, Norm, PlannedLayer, plan};
use metaplastic::cpu::metaplastic_adam::{consolidation, exp_nonpositive, metaplastic_adam};
use metaplastic::cpu::sign::{HiddenActivation, sign_backward};
use metaplastic::cpu::softmax_ce::softmax_cross_entropy;
use metaplastic::model::bnn::{BnnConfig, BnnParams, BnnTrainer};

#[test]
fn softmax_cross_entropy_gradient() {
    let (batch, classes) = (4, 10);
    let mut logits = values(batch * classes, 3).iter().map(|v| 3.0 * v).collect::<Vec<_>>();
    let labels = [3u32, 0, 9, 5];
    let mut grad = vec![0.0; logits.len()];
    softmax_cross_entropy(&logits, &labels, classes, &mut grad);
    let mut scratch = vec![0.0; logits.len()];
    for i in 0..logits.len() {
        let num = numeric(&mut logits, i, 1e-2, &mut |z| {
            softmax_cross_entropy(z, &labels, classes, &mut scratch).0 as f64 / batch as f64
        });
        assert_close(&format!("dlogit {i}"), grad[i], num, 1e-4, 1e-2);
    }
}

#[test]
fn batchnorm_gradients() {
    let (batch, features) = (6, 5);
    let mut x = values(batch * features, 11);
    let mut gamma = values(features, 12).iter().map(|v| 1.0 + v).collect::<Vec<_>>();
    let mut beta = values(features, 13);
    let project = values(batch * features, 14); // loss = sum(project * y)
    let run = |x: &[f32], gamma: &[f32], beta: &[f32]| {
        let (mut y, mut xhat, mut s) = (vec![0.0; x.len()], vec![0.0; x.len()], vec![0.0; features]);
        batchnorm_forward(x, features, gamma, beta, &mut y, &mut xhat, &mut s);
        (y.iter().zip(&project).map(|(a, b)| (a * b) as f64).sum::<f64>(), xhat, s)
    };
    let (_, xhat, inv_std) = run(&x, &gamma, &beta);
    let (mut dx, mut dgamma, mut dbeta) = (vec![0.0; x.len()], vec![0.0; features], vec![0.0; features]);
    batchnorm_backward(&project, &xhat, &inv_std, &gamma, features, &mut dx, &mut dgamma, &mut dbeta);
    let (g0, b0) = (gamma.clone(), beta.clone());
    for i in 0..x.len() {
        let num = numeric(&mut x, i, 1e-2, &mut |x| run(x, &g0, &b0).0);
        assert_close(&format!("dx {i}"), dx[i], num, 2e-3, 2e-2);
    }
    let x0 = x.clone();
    for j in 0..features {
        let num = numeric(&mut gamma, j, 1e-2, &mut |g| run(&x0, g, &b0).0);
        assert_close(&format!("dgamma {j}"), dgamma[j], num, 1e-3, 1e-2);
        let num = numeric(&mut beta, j, 1e-2, &mut |b| run(&x0, &g0, b).0);
        assert_close(&format!("dbeta {j}"), dbeta[j], num, 1e-3, 1e-2);
    }
}

/// Batch norm on running statistics (the stream network's evaluation and every per-example
/// Fisher pass) against finite differences, and the running statistics against PyTorch's update
/// computed by hand.
#[test]
fn batchnorm_inference_gradients_and_running_statistics() {
    let (batch, features) = (4, 3);
    let mut x = scaled(batch * features, 51, 2.0);
    let mut gamma: Vec<f32> = values(features, 52).iter().map(|v| 1.0 + 0.5 * v).collect();
    let mut beta = scaled(features, 53, 0.3);
    let mean = scaled(features, 54, 0.5);
    let var: Vec<f32> = values(features, 55).iter().map(|v| 0.5 + v.abs()).collect();
    let project = values(batch * features, 56);
    let run = |x: &[f32], gamma: &[f32], beta: &[f32]| {
        let (mut y, mut xhat, mut s) = (vec![0.0; x.len()], vec![0.0; x.len()], vec![0.0; features]);
        batchnorm_inference(x, features, gamma, beta, &mean, &var, &mut y, &mut xhat, &mut s);
        (y.iter().zip(&project).map(|(a, b)| (a * b) as f64).sum::<f64>(), xhat, s)
    };
    let (_, xhat, inv_std) = run(&x, &gamma, &beta);
    let (mut dx, mut dgamma, mut dbeta) = (vec![0.0; x.len()], vec![7.0; features], vec![7.0; features]);
    batchnorm_inference_backward(&project, &xhat, &inv_std, &gamma, features, &mut dx, &mut dgamma, &mut dbeta);
    let (g0, b0, x0) = (gamma.clone(), beta.clone(), x.clone());
    for i in 0..x.len() {
        let num = numeric(&mut x, i, 1e-2, &mut |x| run(x, &g0, &b0).0);
        assert_close(&format!("dx {i}"), dx[i], num, 1e-3, 1e-2);
    }
    for j in 0..features {
        let num = numeric(&mut gamma, j, 1e-2, &mut |g| run(&x0, g, &b0).0);
        assert_close(&format!("dgamma {j}"), dgamma[j], num, 1e-3, 1e-2);
        let num = numeric(&mut beta, j, 1e-2, &mut |b| run(&x0, &g0, b).0);
        assert_close(&format!("dbeta {j}"), dbeta[j], num, 1e-3, 1e-2);
    }
    // running = 0.9 running + 0.1 batch, with the unbiased variance.
    let (mut rm, mut rv) = (vec![0.5; features], vec![2.0; features]);
    batchnorm_track(&x, features, &mut rm, &mut rv);
    for j in 0..features {
        let col: Vec<f64> = (0..batch).map(|b| x[b * features + j] as f64).collect();
        let m = col.iter().sum::<f64>() / batch as f64;
        let v = col.iter().map(|c| (c - m) * (c - m)).sum::<f64>() / (batch - 1) as f64;
        assert_close(&format!("running mean {j}"), rm[j], 0.9 * 0.5 + 0.1 * m, 1e-6, 1e-5);
        assert_close(&format!("running var {j}"), rv[j], 0.9 * 2.0 + 0.1 * v, 1e-6, 1e-5);
    }
}

/// The straight-through gradient of sign is the exact gradient of hardtanh: check it where
/// hardtanh is differentiable (away from its kinks at +-1).
#[test]
fn sign_straight_through_is_hardtanh_gradient() {
    let mut x: Vec<f32> = (-30..=30).map(|i| i as f32 * 0.07 + 0.013).collect();
    let dy = values(x.len(), 5);
    let mut dx = vec![0.0; x.len()];
    sign_backward(&x, &dy, &mut dx);
    for i in 0..x.len() {
        let dyi = dy[i] as f64;
        let num = numeric(&mut x, i, 1e-3, &mut |x| HiddenActivation::HardTanh.forward(x[i]) as f64 * dyi);
        assert_close(&format!("x = {}", x[i]), dx[i], num, 1e-4, 1e-3);
    }
    assert_eq!(HiddenActivation::Sign.forward(0.0), 1.0, "sign(0) is +1 so every weight is binary");
}

/// Small enough that no perturbation moves a pre-activation across a kink, large enough for f32
/// loss evaluations (noise ~1e-7 / H).
const H: f32 = 1e-3;

/// The binarized network's layer list (three linear layers, each followed by batch norm, the
/// first two by an activation), with `linear` and `act` as its linear layers and activations.
fn bnn_like(linear: fn(usize) -> Layer, act: Layer) -> Vec<PlannedLayer> {
    let norm = Layer::BatchNorm(Norm::BATCH);
    plan(&[linear(7), norm, act, linear(6), norm, act, linear(4), norm], Dims::flat(12), 0)
}

fn dense(out: usize) -> Layer {
    Layer::Dense { out }
}

fn binary(out: usize) -> Layer {
    Layer::BinaryDense { out }
}

/// Parameters for `layers`: weights of unit scale (so pre-activations are not all inside
/// (-1, 1)), gamma around 1, small beta, zero biases.
fn params_for(layers: &[PlannedLayer], seed: u64) -> Vec<LayerParams> {
    layers
        .iter()
        .filter_map(|l| {
            let (wl, bl) = l.param_lens()?;
            let s = seed + 10 * l.param_index() as u64;
            Some(match l.layer {
                Layer::BatchNorm(_) => LayerParams { w: values(wl, s).iter().map(|v| 1.0 + 0.3 * v).collect(), b: scaled(bl, s + 1, 0.2) },
                _ => LayerParams { w: values(wl, s), b: vec![0.0; bl] },
            })
        })
        .collect()
}

/// The walk's backward pass over the binarized network's layer list against finite differences,
/// for every weight, gamma, beta and input. Sign has no finite difference, so tanh stands in for
/// it here (sign's straight-through gradient is checked on its own above), and dense layers for
/// the binary ones (whose gradient is the dense layer's at `sign(Wh)`, checked below).
#[test]
fn network_backward_matches_finite_differences() {
    let layers = bnn_like(dense, Layer::Act(Activation::Tanh));
    let batch = 5;
    let params = params_for(&layers, 20);
    let mut x: Vec<f32> = values(batch * 12, 30).iter().map(|v| (v + 1.0) / 2.0).collect();
    let y = [0u32, 3, 1, 2, 3];
    let loss = |p: &[LayerParams], x: &[f32]| loss_and_grads(&layers, p, x, &y, false).0.loss_sum as f64 / batch as f64;
    let (_, grads) = loss_and_grads(&layers, &params, &x, &y, true);
    let mut checked = 0;
    for (slot, g) in grads.layers.iter().enumerate() {
        for (bias, analytic) in [(false, &g.w), (true, &g.b)] {
            for i in (0..analytic.len()).step_by(2) {
                let mut p = params.clone();
                let t = if bias { &mut p[slot].b } else { &mut p[slot].w };
                let num = numeric(t, i, H, &mut |t| {
                    let mut q = params.clone();
                    if bias { q[slot].b = t.to_vec() } else { q[slot].w = t.to_vec() }
                    loss(&q, &x)
                });
                assert_close(&format!("slot {slot} {} [{i}]", if bias { "b" } else { "w" }), analytic[i], num, 2e-3, 3e-2);
                checked += 1;
            }
        }
    }
    let dx = grads.x.expect("input gradient was asked for");
    for i in (0..x.len()).step_by(4) {
        let num = numeric(&mut x, i, H, &mut |x| loss(&params, x));
        assert_close(&format!("dx[{i}]"), dx[i], num, 2e-3, 3e-2);
        checked += 1;
    }
    assert!(checked > 100);
}

/// The full-precision twin (the paper's Fig. 2f) is the model's own layer list, real linear
/// layers, BatchNorm and ReLU: its backward pass against finite differences for a sample of every
/// weight, gamma and beta; its biases get no update (the authors' layers have none).
#[test]
fn full_precision_network_backward_matches_finite_differences() {
    use metaplastic::model::bnn::Weights;
    use metaplastic::nn::Update;
    let cfg = BnnConfig { weights: Weights::Full, ..BnnConfig::authors_optimizer(8, 1.35) };
    let layers = cfg.layers();
    assert!(layers.iter().any(|l| l.layer == Layer::Act(Activation::Relu)));
    assert!(!layers.iter().any(|l| matches!(l.layer, Layer::BinaryDense { .. } | Layer::Sign)));
    for t in &cfg.layout().tensors {
        if let TensorKey::Bias(slot) = t.key {
            if slot % 2 == 0 {
                assert_eq!(t.update, Update::Frozen, "a full-precision layer's bias stays at 0");
            }
        }
    }
    let mut init = BnnParams::init(cfg.sizes(), 3);
    // Gamma and beta away from their start, so their gradients are not a special case.
    for (l, g) in init.gamma.iter_mut().enumerate() {
        *g = values(g.len(), 90 + l as u64).iter().map(|v| 1.0 + 0.3 * v).collect();
    }
    let params = init.to_layers(cfg.weights);
    let batch = 4;
    let x: Vec<f32> = values(batch * 784, 91).iter().map(|v| (v + 1.0) / 2.0).collect();
    let y = [2u32, 7, 0, 9];
    let loss = |p: &[LayerParams]| loss_and_grads(&layers, p, &x, &y, false).0.loss_sum as f64 / batch as f64;
    let (_, grads) = loss_and_grads(&layers, &params, &x, &y, false);
    let mut checked = 0;
    for (slot, g) in grads.layers.iter().enumerate() {
        for (bias, analytic) in [(false, &g.w), (true, &g.b)] {
            // A sample of the first layer's 6,272 weights; every element of the others.
            let step = if analytic.len() > 1000 { 97 } else { 1 };
            for i in (0..analytic.len()).step_by(step) {
                let mut p = params.clone();
                let t = if bias { &mut p[slot].b } else { &mut p[slot].w };
                let num = numeric(t, i, H, &mut |t| {
                    let mut q = params.clone();
                    if bias { q[slot].b = t.to_vec() } else { q[slot].w = t.to_vec() }
                    loss(&q)
                });
                assert_close(&format!("slot {slot} {} [{i}]", if bias { "b" } else { "w" }), analytic[i], num, 2e-3, 3e-2);
                checked += 1;
            }
        }
    }
    assert!(checked > 200);
}

/// A binary layer's forward product is the dense product with `sign(Wh)` and its weight gradient
/// is the dense layer's gradient there, applied to `Wh` unchanged: exactly, through the whole
/// network with sign activations.
#[test]
fn binary_layers_are_dense_layers_at_the_binary_weights() {
    let (bin, den) = (bnn_like(binary, Layer::Sign), bnn_like(dense, Layer::Sign));
    let wh = params_for(&bin, 40);
    let wb: Vec<LayerParams> = wh
        .iter()
        .zip(den.iter().filter(|l| l.param.is_some()))
        .map(|(p, l)| match l.layer {
            Layer::Dense { out } => LayerParams { w: p.w.iter().map(|&v| if v >= 0.0 { 1.0 } else { -1.0 }).collect(), b: vec![0.0; out] },
            _ => p.clone(),
        })
        .collect();
    let x: Vec<f32> = values(6 * 12, 41).iter().map(|v| (v + 1.0) / 2.0).collect();
    let y = [1u32, 0, 3, 2, 2, 1];
    let (sb, gb) = loss_and_grads(&bin, &wh, &x, &y, true);
    let (sd, gd) = loss_and_grads(&den, &wb, &x, &y, true);
    assert_eq!(sb, sd);
    assert!(gb.layers.iter().any(|g| g.w.iter().any(|&v| v != 0.0)), "gradients reach the weights");
    for (slot, (b, d)) in gb.layers.iter().zip(&gd.layers).enumerate() {
        assert_eq!(b.w, d.w, "slot {slot}: weight gradient");
        if b.b.len() == d.b.len() {
            assert_eq!(b.b, d.b, "slot {slot}: beta");
        }
    }
    assert_eq!(gb.x, gd.x);
}

/// The authors' Fisher estimate: each example's squared gradient, batch norm on the running
/// statistics. The batched sums (one product of squares per layer) against a brute force that
/// takes every example's gradient alone, through batches of different sizes.
#[test]
fn fisher_is_the_sum_of_per_example_squared_gradients() {
    let layers = bnn_like(binary, Layer::Sign);
    let params = params_for(&layers, 60);
    let mut running = RunningStats::for_layers(&layers);
    for (k, s) in running.iter_mut().enumerate().filter(|(_, s)| !s.mean.is_empty()) {
        s.mean = scaled(s.mean.len(), 61 + k as u64, 1.5);
        s.var = values(s.var.len(), 71 + k as u64).iter().map(|v| 2.0 + 1.5 * v).collect();
    }
    let examples = 8;
    let x: Vec<f32> = values(examples * 12, 62).iter().map(|v| (v + 1.0) / 2.0).collect();
    let y: Vec<u32> = (0..examples).map(|i| (i * 3 % 4) as u32).collect();
    let batches = vec![(x[..5 * 12].to_vec(), y[..5].to_vec()), (x[5 * 12..].to_vec(), y[5..].to_vec())];
    let keys = [TensorKey::Weight(0), TensorKey::Weight(2), TensorKey::Weight(4)];
    let (sums, count) = fisher_sums(&layers, &params, &mut running.clone(), &batches, &keys);
    assert_eq!(count, examples);
    let mut want: Vec<Vec<f32>> = keys.iter().map(|&k| vec![0.0; params.as_slice().tensor(k).len()]).collect();
    for b in 0..examples {
        let mut tape = Tape::default();
        forward_pass(&layers, &params, &mut running.clone(), &x[b * 12..(b + 1) * 12], 1, Pass::Inference, 0, &mut tape);
        let mut dlogits = vec![0.0; 4];
        softmax_cross_entropy(tape.output(), &y[b..b + 1], 4, &mut dlogits);
        let mut grads: Vec<LayerParams> = params.iter().map(LayerParams::zeros_like).collect();
        backward(&layers, &params, &mut tape, dlogits, &mut grads, &mut NoHook, false);
        for (w, &k) in want.iter_mut().zip(&keys) {
            w.iter_mut().zip(grads.as_slice().tensor(k)).for_each(|(w, g)| *w += g * g);
        }
    }
    for (l, (got, want)) in sums.iter().zip(&want).enumerate() {
        assert!(want.iter().any(|&v| v > 1e-6), "layer {l}: gradients reach it");
        if let Some((i, g, w)) = metaplastic::nn::max_violation(got, want, 1e-7, 1e-4) {
            panic!("layer {l} element {i}: batched {g} vs per example {w}");
        }
    }
}

/// The EWC penalty's gradient against finite differences of `lambda/2 sum_t F_t (w - w*_t)^2` over
/// two consolidated tasks; and on binary weights, the same gradient taken at `sign(Wh)` (the
/// weights the forward pass uses, anchored at their signs too).
#[test]
fn ewc_penalty_gradient_matches_finite_differences() {
    let n = 40;
    let keys = [TensorKey::Weight(0)];
    let layer = |w: Vec<f32>| vec![LayerParams { w, b: Vec::new() }];
    let tasks: Vec<(Vec<f32>, Vec<f32>)> = (0..2).map(|t| (scaled(n, 80 + t, 0.8), values(n, 90 + t).iter().map(|v| v.abs()).collect())).collect();
    let lambda = 3.0;
    let (mut real, mut bin) = (EwcPenalty::new(lambda, false, &keys, layer(vec![0.0; n]).as_slice()), EwcPenalty::new(lambda, true, &keys, layer(vec![0.0; n]).as_slice()));
    let mut signed = EwcPenalty::new(lambda, false, &keys, layer(vec![0.0; n]).as_slice());
    for (anchor, f) in &tasks {
        // Sums over 4 examples: the estimate is f.
        let sums = [f.iter().map(|v| 4.0 * v).collect::<Vec<f32>>()];
        real.consolidate(layer(anchor.clone()).as_slice(), &sums, 4);
        bin.consolidate(layer(anchor.clone()).as_slice(), &sums, 4);
        let signs = anchor.iter().map(|&v| if v >= 0.0 { 1.0 } else { -1.0 }).collect();
        signed.consolidate(layer(signs).as_slice(), &sums, 4);
    }
    let penalty = |w: &[f32]| -> f64 {
        tasks.iter().map(|(a, f)| w.iter().zip(a).zip(f).map(|((w, a), f)| (*f as f64) * ((w - a) as f64).powi(2)).sum::<f64>()).sum::<f64>() * lambda as f64 / 2.0
    };
    let mut w = scaled(n, 99, 1.0);
    let mut grad = layer(vec![0.0; n]);
    real.add_to(layer(w.clone()).as_slice(), grad.as_mut_slice());
    for i in 0..n {
        let num = numeric(&mut w, i, 1e-2, &mut |w| penalty(w));
        assert_close(&format!("penalty dW[{i}]"), grad[0].w[i], num, 1e-4, 1e-3);
    }
    let wb: Vec<f32> = w.iter().map(|&v| if v >= 0.0 { 1.0 } else { -1.0 }).collect();
    let (mut on_hidden, mut on_signs) = (layer(vec![0.0; n]), layer(vec![0.0; n]));
    bin.add_to(layer(w.clone()).as_slice(), on_hidden.as_mut_slice());
    signed.add_to(layer(wb).as_slice(), on_signs.as_mut_slice());
    assert_eq!(on_hidden, on_signs, "the binary penalty is the penalty on sign(Wh) anchored at sign(Wh*)");
    assert_ne!(on_hidden, grad, "and not the penalty on Wh");
}

/// Metaplastic Adam on one weight, first step, against values computed by hand
/// (lr 0.005, b1 0.9, b2 0.999, eps 1e-8, no weight decay, m = 1.35).
#[test]
fn metaplastic_adam_matches_hand_computed_values() {
    let h = AdamHyper::new(0.005, 1.35, 0.0).at_step(1);
    let step = |w: f32, g: f32| {
        let (mut w, mut m1, mut m2) = ([w], [0.0], [0.0]);
        metaplastic_adam(&mut w, &[g], &mut m1, &mut m2, &h);
        w[0]
    };
    // Positive weight, positive gradient: the step shrinks |w|, so it is attenuated by
    // 1 - tanh^2(1.35 * 0.5) = 0.653951; Adam's first step is lr * 1, so w = 0.5 - 0.005 * 0.653951.
    assert!((consolidation(1.35, 0.5) - 0.653_951).abs() < 1e-6);
    assert!((step(0.5, 0.2) - 0.496_730_24).abs() < 1e-7, "{}", step(0.5, 0.2));
    // Positive weight, negative gradient: the step grows |w| and is never attenuated.
    assert!((step(0.5, -0.2) - 0.505).abs() < 1e-7, "{}", step(0.5, -0.2));
    // Negative weight, negative gradient: the step moves it towards 0, attenuated by
    // 1 - tanh^2(1.35 * 0.8) = 0.370835.
    assert!((step(-0.8, -0.3) - (-0.798_145_8)).abs() < 1e-6, "{}", step(-0.8, -0.3));
    // m = 0 is plain Adam in both directions.
    let plain = AdamHyper::new(0.005, 0.0, 0.0).at_step(1);
    let (mut w, mut m1, mut m2) = ([0.5f32], [0.0], [0.0]);
    metaplastic_adam(&mut w, &[0.2], &mut m1, &mut m2, &plain);
    assert!((w[0] - 0.495).abs() < 1e-7);
}

/// The vectorisable consolidation factor against `1 - tanh^2` through libm, and its exponential
/// against `f32::exp`, over the whole range a hidden weight can reach (|m Wh| up to 50 and beyond).
#[test]
fn consolidation_matches_libm_tanh() {
    let ulp = |a: f32, b: f32| (a.to_bits() as i64 - b.to_bits() as i64).abs();
    for i in 0..=200_000 {
        let y = -87.0 * i as f32 / 200_000.0;
        let (fast, libm) = (exp_nonpositive(y), y.exp());
        assert!(ulp(fast, libm) <= 2, "e^{y}: {fast} vs {libm}");
    }
    assert_eq!(exp_nonpositive(-88.0), 0.0);
    assert_eq!(exp_nonpositive(f32::NEG_INFINITY), 0.0);
    assert!(exp_nonpositive(f32::NAN).is_nan() && consolidation(1.35, f32::NAN).is_nan(), "NaN is not hidden");
    for i in 0..=100_000 {
        let x = 50.0 * i as f32 / 100_000.0;
        let t = x.tanh();
        let (fast, libm) = (consolidation(1.0, x), 1.0 - t * t);
        // 1 - t^2 cancels once tanh rounds near 1 (x > 4 or so): there libm's form loses what the
        // sech^2 form keeps, so the bound is absolute (3 f32 ulp of 1) as well as relative.
        assert!((fast - libm).abs() <= 1e-6 * libm + 3.0 * f32::EPSILON, "x = {x}: {fast} vs {libm}");
    }
    assert_eq!(consolidation(1.35, 0.0), 1.0);
    assert_eq!(consolidation(6.0, -100.0), 0.0);
}

/// A large tensor's update is cut into one run per thread: the same bits for any number of runs.
#[test]
fn metaplastic_adam_split_over_threads_is_bit_identical() {
    let n = 300_001;
    let w0: Vec<f32> = (0..n).map(|i| ((i * 7919) % 2001) as f32 / 1000.0 - 1.0).collect();
    let grad: Vec<f32> = (0..n).map(|i| ((i * 104_729) % 1999) as f32 / 5000.0 - 0.2).collect();
    let h = AdamHyper::new(0.005, 1.35, 1e-7).at_step(3);
    let run = |threads: usize| {
        metaplastic::cpu::set_threads(threads);
        let (mut w, mut m1, mut m2) = (w0.clone(), vec![0.01f32; n], vec![0.001f32; n]);
        metaplastic_adam(&mut w, &grad, &mut m1, &mut m2, &h);
        metaplastic::cpu::set_threads(0);
        (w, m1, m2)
    };
    let one = run(1);
    for threads in [2, 3] {
        let many = run(threads);
        let same = |a: &[f32], b: &[f32]| a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits());
        assert!(same(&many.0, &one.0) && same(&many.1, &one.1) && same(&many.2, &one.2), "{threads} runs differ from one");
    }
    assert_ne!(one.0, w0, "the update moved the weights");
}

/// Over many steps pushing towards a flip, a large hidden weight resists in proportion to m.
#[test]
fn consolidation_slows_sign_flips() {
    let steps_to_flip = |meta: f32| {
        let h = AdamHyper::new(0.005, meta, 0.0);
        let (mut w, mut m1, mut m2) = ([0.3f32], [0.0], [0.0]);
        for t in 1..=100_000 {
            metaplastic_adam(&mut w, &[1.0], &mut m1, &mut m2, &h.at_step(t));
            if w[0] < 0.0 {
                return t;
            }
        }
        u32::MAX
    };
    let (plain, meta) = (steps_to_flip(0.0), steps_to_flip(5.0));
    assert!(plain < 100, "plain Adam flips a 0.3 weight in about 60 steps ({plain})");
    assert!(meta > 2 * plain, "m = 5 must resist: {meta} vs {plain} steps");
}

/// A small binarized network learns real MNIST: the test command fetches the data first.
#[test]
fn learns_mnist() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("static/data");
    let Ok(mnist) = metaplastic::data::DataSet::load(&root, metaplastic::data::DataSetId::Mnist) else {
        assert!(std::env::var("CI").map_or(true, |v| v != "true"), "CI=true but MNIST is missing under static/data");
        common::skipped("MNIST missing (run scripts/fetch-data.sh)");
        return;
    };
    use metaplastic::data::{Examples, fill_batch};
    let cfg = BnnConfig::authors_optimizer(128, 0.0);
    let mut net = CpuBnn::new(cfg.clone(), BnnParams::init(cfg.sizes(), 1)).unwrap();
    let (mut x, mut y) = (vec![0.0; 100 * 784], vec![0u32; 100]);
    for step in 0..400 {
        let idx: Vec<usize> = (0..100).map(|i| (step * 100 + i * 7919) % mnist.train.len()).collect();
        fill_batch(&mnist.train, &idx, &mut x, &mut y);
        net.train_step(&x, &y).unwrap();
    }
    let idx: Vec<usize> = (0..2000).collect();
    let (mut tx, mut ty) = (vec![0.0; 2000 * 784], vec![0u32; 2000]);
    fill_batch(&mnist.test, &idx, &mut tx, &mut ty);
    let stats = pollster::block_on(net.evaluate(&tx, &ty)).unwrap();
    println!("784-128-128-10 after 400 steps: test accuracy {:.3} on 2000 images", stats.accuracy());
    assert!(stats.accuracy() > 0.85, "accuracy {}", stats.accuracy());
    assert!(mnist.test.len() == 10_000);
}

/// The stream network's BatchNorm: without affine parameters gamma and beta stay 1 and 0 however
/// long it trains, and evaluation on running statistics treats every example alone (the same
/// result in a batch as by itself), where batch statistics make a lone example meaningless.
#[test]
fn stream_batch_norm_is_frozen_and_per_example_at_evaluation() {
    use metaplastic::nn::{Norm, NormEval};
    let cfg = BnnConfig { batch: 20, norm: Norm { affine: false, eval: NormEval::Running }, ..BnnConfig::authors_optimizer(16, 2.5) };
    let init = BnnParams::init(cfg.sizes(), 5);
    let mut net = CpuBnn::new(cfg.clone(), init.clone()).unwrap();
    let x: Vec<f32> = values(20 * 784, 6).iter().map(|v| (v + 1.0) / 2.0).collect();
    let y: Vec<u32> = (0..20).map(|i| (i % 10) as u32).collect();
    for _ in 0..30 {
        net.train_step(&x, &y).unwrap();
    }
    let trained = pollster::block_on(net.params()).unwrap();
    assert_eq!(trained.bn(), init.bn(), "gamma 1 and beta 0, untouched");
    assert_ne!(trained.wh, init.wh, "the weights did train");
    let alone = |net: &mut CpuBnn| {
        let mut sum = metaplastic::nn::BatchStats::default();
        for b in 0..20 {
            sum.add(pollster::block_on(net.evaluate(&x[b * 784..(b + 1) * 784], &y[b..b + 1])).unwrap());
        }
        sum
    };
    let together = pollster::block_on(net.evaluate(&x, &y)).unwrap();
    let apart = alone(&mut net);
    assert_eq!(together.correct, apart.correct);
    assert!((together.loss_sum - apart.loss_sum).abs() <= 1e-3 * together.loss_sum.abs(), "{together:?} vs {apart:?}");
    assert!(together.correct > 10, "it learned the batch: {together:?}");
    // The same network evaluated with batch statistics: a lone example normalises to beta = 0,
    // so every logit is 0 and the loss is ln 10 whatever the weights.
    let mut batch_eval = CpuBnn::new(BnnConfig { norm: Norm { eval: NormEval::Batch, ..cfg.norm }, ..cfg }, trained).unwrap();
    let lone = alone(&mut batch_eval);
    assert!((lone.loss_sum / 20.0 - 10f32.ln()).abs() < 1e-4, "{lone:?}");
}

/// The per-task BatchNorm state holds the running statistics: on a network that evaluates on
/// them, restoring the weights and a saved state gives back the evaluation exactly, and training
/// moves the statistics (so a state without them would not).
#[test]
fn batch_norm_state_carries_the_running_statistics() {
    use metaplastic::nn::{Norm, NormEval};
    let cfg = BnnConfig { batch: 20, norm: Norm { affine: true, eval: NormEval::Running }, ..BnnConfig::authors_optimizer(16, 1.35) };
    let mut net = CpuBnn::new(cfg.clone(), BnnParams::init(cfg.sizes(), 7)).unwrap();
    let x: Vec<f32> = values(20 * 784, 8).iter().map(|v| (v + 1.0) / 2.0).collect();
    let y: Vec<u32> = (0..20).map(|i| (i % 10) as u32).collect();
    for _ in 0..5 {
        net.train_step(&x, &y).unwrap();
    }
    let (weights, state) = (pollster::block_on(net.params()).unwrap(), pollster::block_on(net.bn_params()).unwrap());
    let running = state.running.clone().expect("the CPU network keeps running statistics");
    let before = pollster::block_on(net.evaluate(&x, &y)).unwrap();
    let other: Vec<f32> = values(20 * 784, 9).iter().map(|v| (v + 1.0) / 2.0).collect();
    for _ in 0..5 {
        net.train_step(&other, &y).unwrap();
    }
    let moved = pollster::block_on(net.bn_params()).unwrap().running.expect("kept");
    assert_ne!(moved[0].mean, running[0].mean, "training moves the running statistics");
    net.load_params(&weights);
    pollster::block_on(net.load_bn(&state)).unwrap();
    assert_eq!(pollster::block_on(net.bn_params()).unwrap(), state);
    assert_eq!(pollster::block_on(net.evaluate(&x, &y)).unwrap(), before);
    let mut short = state.clone();
    short.running.as_mut().expect("kept")[2].var.pop();
    assert!(pollster::block_on(net.load_bn(&short)).is_err(), "a state of the wrong size is refused");
}

/// The hidden layers' XNOR-popcount product equals the float product exactly, at lengths on
/// and off the 64-bit word boundary, zeros of both signs in the weights counting as +1.
#[test]
fn xnor_popcount_product_equals_the_float_product() {
    use metaplastic::cpu::matmul::matmul;
    use metaplastic::cpu::sign::binarize_all;
    use metaplastic::cpu::xnor::{PackedSigns, xnor_matmul};
    use metaplastic::nn::MatmulShape;
    for (batch, n, outs) in [(1, 1, 1), (3, 63, 5), (4, 64, 7), (5, 65, 3), (7, 130, 9), (100, 1024, 33)] {
        let x: Vec<f32> = values(batch * n, n as u64).iter().map(|&v| if v >= 0.0 { 1.0 } else { -1.0 }).collect();
        let mut wh = values(outs * n, 7 + n as u64);
        wh[0] = -0.0;
        if wh.len() > 1 {
            wh[1] = 0.0;
        }
        let mut wb = vec![0.0; wh.len()];
        binarize_all(&wh, &mut wb);
        let mut want = vec![0.0; batch * outs];
        matmul(MatmulShape::new(batch, n, outs).trans_b(), &x, &wb, &mut want);
        let (mut px, mut pw) = (PackedSigns::default(), PackedSigns::default());
        px.pack(&x, batch, n);
        pw.pack(&wh, outs, n);
        let mut got = vec![f32::NAN; batch * outs];
        xnor_matmul(&px, &pw, &mut got);
        assert_eq!(got, want, "batch {batch}, length {n}, outputs {outs}");
    }
}

/// The authors' PyTorch 1.1 drew BatchNorm's gamma from U(0, 1): the option changes gamma alone,
/// from its own stream, so both choices share the hidden weights of a seed.
#[test]
fn gamma_init_uniform_changes_gamma_alone() {
    use metaplastic::model::bnn::GammaInit;
    let sizes = [784, 16, 16, 10];
    let one = BnnParams::init_with(sizes, 4, GammaInit::One);
    let uniform = BnnParams::init_with(sizes, 4, GammaInit::Uniform);
    assert_eq!(one, BnnParams::init(sizes, 4));
    assert_eq!(one.wh, uniform.wh);
    assert_eq!(one.beta, uniform.beta);
    let g: Vec<f32> = uniform.gamma.iter().flatten().copied().collect();
    assert!(g.iter().all(|v| (0.0..1.0).contains(v)), "gamma in [0, 1)");
    let mean = g.iter().sum::<f32>() / g.len() as f32;
    assert!((mean - 0.5).abs() < 0.1, "uniform on [0, 1): mean {mean}");
    assert_eq!(GammaInit::parse("uniform"), Ok(GammaInit::Uniform));
    assert!(GammaInit::parse("normal").is_err());
}
