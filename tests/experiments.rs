//! The experiments' mechanics: the toy problem, refused settings, divergence, statistics, and a
//! short permuted-MNIST run on real data through the same runner the app and the tool use.

use metaplastic::backend::Backend;
use metaplastic::experiments::DivergenceWatch;
use metaplastic::experiments::permuted::{PermutedConfig, PermutedRun, Progress};
use metaplastic::experiments::stream::StreamConfig;
use metaplastic::experiments::toy::{AUTHORS_HESSIAN, IDENTITY, ToyConfig, run_toy};
use metaplastic::model::bnn::BnnConfig;
use metaplastic::nn::{BatchStats, TrainError};
use metaplastic::stats::{PairedDiff, mean_ci95, mean_sd, t95};

#[test]
fn toy_hidden_weight_of_the_important_binary_weight_diverges() {
    let paths = run_toy(&ToyConfig { metas: vec![0.0, 6.0], hessian: IDENTITY, ..ToyConfig::default() });
    for path in &paths {
        let w1: Vec<f32> = path.points.iter().map(|p| p[0]).collect();
        // Flipping weight 1 costs more (its optimum 1.5 is further from 0): its hidden value
        // only ever grows, 0.35 * 0.5 per step.
        assert!(w1.windows(2).all(|w| w[1] > w[0]), "m = {}", path.meta);
        assert!((w1[500] - (0.01 + 500.0 * 0.175)).abs() < 1e-2, "{}", w1[500]);
        assert!(path.points.iter().all(|p| p[0].is_finite() && p[1].is_finite()));
    }
    let flips = |i: usize| paths[i].points.windows(2).filter(|w| w[0][1].signum() != w[1][1].signum()).count();
    assert!(flips(0) > 100, "the unimportant weight keeps flipping without metaplasticity ({})", flips(0));
    assert!(ToyConfig::default().loss([1.5, 0.5]) == 0.0);
}

/// With the authors' H (the default, as their notebook): the loss is the quadratic form, the
/// first hidden weight still only grows, the second keeps flipping without metaplasticity, and
/// m = 6 holds it once it has grown: it flips far fewer times.
#[test]
fn toy_with_the_authors_curvature() {
    let cfg = ToyConfig { metas: vec![0.0, 6.0], ..ToyConfig::default() };
    assert_eq!(cfg.hessian, AUTHORS_HESSIAN);
    // 1/2 dᵀ H d at d = (1, -1): (2.4047 - 2 * 0.2158 + 0.7733) / 2.
    assert!((cfg.loss([2.5, -0.5]) - 1.3732).abs() < 1e-4, "{}", cfg.loss([2.5, -0.5]));
    let paths = run_toy(&cfg);
    for path in &paths {
        assert!(path.points.windows(2).all(|w| w[1][0] > w[0][0]), "m = {}: the first hidden weight grows", path.meta);
    }
    let flips = |i: usize| paths[i].points.windows(2).filter(|w| w[0][1].signum() != w[1][1].signum()).count();
    assert!(flips(0) > 100, "the second weight keeps flipping without metaplasticity ({})", flips(0));
    assert!(flips(1) * 3 < flips(0), "m = 6 holds it: {} flips against {}", flips(1), flips(0));
}

#[test]
fn out_of_range_settings_are_refused_with_the_reason() {
    let msg = |r: Result<(), TrainError>| r.expect_err("must be refused").to_string();
    assert!(msg(BnnConfig { hidden: 5, ..BnnConfig::authors_optimizer(512, 1.35) }.validate()).contains("hidden width 5"));
    assert!(msg(BnnConfig { lr: -1.0, ..BnnConfig::authors_optimizer(512, 0.0) }.validate()).contains("learning rate"));
    assert!(msg(BnnConfig { lr: f32::NAN, ..BnnConfig::authors_optimizer(512, 0.0) }.validate()).contains("learning rate"));
    assert!(msg(BnnConfig { meta: [-1.0; 3], ..BnnConfig::authors_optimizer(512, 0.0) }.validate()).contains("metaplasticity"));
    assert!(msg(BnnConfig { batch: 1, ..BnnConfig::authors_optimizer(512, 0.0) }.validate()).contains("batch"));
    assert!(msg(PermutedConfig { tasks: 0, ..PermutedConfig::authors_reduced(64, &[0.0]) }.validate()).contains("tasks"));
    assert!(msg(PermutedConfig { steps_per_task: Some(0), ..PermutedConfig::authors_reduced(64, &[0.0]) }.validate()).contains("step"));
    assert!(msg(PermutedConfig { learners: vec![], ..PermutedConfig::authors_reduced(64, &[0.0]) }.validate()).contains("learner"));
    assert!(msg(StreamConfig { subsets: 1000, ..StreamConfig::paper(&[0.0]) }.validate()).contains("subsets"));
    // Refused at construction: no trainer is made from a bad configuration.
    let made = std::cell::Cell::new(0);
    let bad = PermutedConfig { tasks: 0, ..PermutedConfig::authors_reduced(64, &[0.0]) };
    let result = PermutedRun::new(bad, |c, p| {
        made.set(made.get() + 1);
        Backend::Cpu.bnn(c, p)
    });
    assert!(result.is_err());
    assert_eq!(made.get(), 0);
}

#[test]
fn divergence_is_caught() {
    let stats = |loss: f32, correct: u32| BatchStats { loss_sum: loss, correct, count: 100 };
    let mut watch = DivergenceWatch::default();
    assert!(matches!(watch.check("m=0", stats(f32::NAN, 50), 10), Err(TrainError::Diverged(m)) if m.contains("m=0")));
    let mut watch = DivergenceWatch::default();
    // At chance early on is normal; late and for several evaluations it is not.
    for step in [100, 200] {
        assert!(watch.check("m=0", stats(230.0, 10), step).is_ok());
    }
    let mut results = (0..5).map(|i| watch.check("m=0", stats(230.0, 10), 400 + i * 100));
    assert!(results.by_ref().take(4).all(|r| r.is_ok()));
    assert!(matches!(results.next(), Some(Err(TrainError::Diverged(_)))));
    // Recovering resets the count.
    let mut watch = DivergenceWatch::default();
    for i in 0..4 {
        assert!(watch.check("m=0", stats(230.0, 10), 400 + i).is_ok());
    }
    assert!(watch.check("m=0", stats(50.0, 90), 500).is_ok());
    assert!(watch.check("m=0", stats(230.0, 10), 600).is_ok());
}

#[test]
fn statistics_over_seeds() {
    let (m, s) = mean_sd(&[0.5, 0.7, 0.9]);
    assert!((m - 0.7).abs() < 1e-6 && (s - 0.2).abs() < 1e-6);
    assert_eq!(mean_sd(&[0.3]), (0.3, 0.0));
    // The interval of a mean (a class's seats at one setting): t over n - 1 degrees of freedom.
    let (mean, sd, ci) = mean_ci95(&[0.5, 0.7, 0.9]);
    assert!((mean - 0.7).abs() < 1e-6 && (sd - 0.2).abs() < 1e-6);
    assert!((ci - 4.303 * 0.2 / 3f32.sqrt()).abs() < 1e-5, "{ci}");
    assert!(mean_ci95(&[0.3]).2.is_infinite());
    let d = PairedDiff::new(&[0.5, 0.6, 0.7], &[0.8, 0.85, 1.0]);
    assert!((d.mean - 0.2833333).abs() < 1e-5);
    assert!((d.ci95 - t95(2) * d.sd / 3f32.sqrt()).abs() < 1e-6);
    assert!(d.is_significant());
    let noisy = PairedDiff::new(&[0.5, 0.9], &[0.6, 0.7]);
    assert!(!noisy.is_significant());
}

/// The runner on real MNIST: the accuracy matrix fills row by row (NaN above the diagonal until
/// measured), every task is learned, and at this short setting the metaplastic network keeps
/// task 1 better (as the browser test checks in the page).
#[test]
fn short_permuted_run_on_mnist() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("static/data");
    let Ok(mnist) = metaplastic::data::DataSet::load(&root, metaplastic::data::DataSetId::Mnist) else {
        assert!(std::env::var("CI").map_or(true, |v| v != "true"), "CI=true but MNIST is missing under static/data");
        eprintln!("SKIPPED: MNIST missing (run scripts/fetch-data.sh)");
        return;
    };
    let mut cfg = PermutedConfig::authors_reduced(32, &[0.0, 10.0]);
    cfg.tasks = 2;
    cfg.steps_per_task = Some(80);
    cfg.lr = 0.02;
    cfg.test_examples = 2000;
    cfg.eval_every = 20;
    let mut run = PermutedRun::new(cfg, |c, p| Backend::Cpu.bnn(c, p)).unwrap();
    let first = pollster::block_on(run.advance(&mnist, 1000)).unwrap();
    assert_eq!(first, Progress::TaskDone(0));
    for r in run.records() {
        assert!(r.acc_matrix[0][0] > 0.6, "{} learned task 1: {:?}", r.spec.name, r.acc_matrix);
        assert!(r.acc_matrix[0][1].is_nan() && r.acc_matrix[1][0].is_nan(), "not measured yet");
        assert_eq!(r.curve.len(), 4);
    }
    assert_eq!(pollster::block_on(run.advance(&mnist, 1000)).unwrap(), Progress::Finished);
    let records: Vec<_> = run.records().collect();
    for r in &records {
        assert!(r.acc_matrix[1][1] > 0.6, "{} learned task 2", r.spec.name);
        assert!(r.final_mean_acc().is_some());
        // Curves cover every task seen so far.
        assert_eq!(r.curve.last().map(|p| p.task_acc.len()), Some(2));
    }
    let (standard, meta) = (records[0].acc_matrix[1][0], records[1].acc_matrix[1][0]);
    println!("task 1 after task 2: standard {standard:.3}, m = 10 {meta:.3}");
    assert!(meta > standard + 0.1, "metaplastic keeps task 1: {meta} vs {standard}");
}

/// MNIST then Fashion-MNIST, the paper's first example of forgetting: each task reads its own
/// data set, unpermuted; the second waits while only MNIST is at hand; the standard network
/// loses most of MNIST while it learns Fashion-MNIST.
#[test]
fn mnist_then_fashion_reads_each_task_from_its_own_data_set() {
    use metaplastic::data::{DataSet, DataSetId};
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("static/data");
    let (Ok(mnist), Ok(fashion)) = (DataSet::load(&root, DataSetId::Mnist), DataSet::load(&root, DataSetId::Fashion)) else {
        assert!(std::env::var("CI").map_or(true, |v| v != "true"), "CI=true but MNIST or Fashion-MNIST is missing under static/data");
        eprintln!("SKIPPED: MNIST or Fashion-MNIST missing (run scripts/fetch-data.sh)");
        return;
    };
    let mut cfg = PermutedConfig::authors_reduced(32, &[0.0]);
    cfg.tasks = 2;
    cfg.sequence = Some(vec![DataSetId::Mnist, DataSetId::Fashion]);
    cfg.steps_per_task = Some(150);
    cfg.lr = 0.02;
    cfg.test_examples = 2000;
    cfg.eval_every = 50;
    let mut run = PermutedRun::new(cfg.clone(), |c, p| Backend::Cpu.bnn(c, p)).unwrap();
    assert_eq!(run.permutation(0), None, "the images are shown as they are");
    let only_mnist = std::slice::from_ref(&mnist);
    assert_eq!(pollster::block_on(run.advance(only_mnist, 1000)).unwrap(), Progress::TaskDone(0));
    assert_eq!(pollster::block_on(run.advance(only_mnist, 1000)).unwrap(), Progress::WaitingForData, "Fashion-MNIST is not here");
    let both = [mnist, fashion];
    assert_eq!(pollster::block_on(run.advance(&both[..], 1000)).unwrap(), Progress::Finished);
    let r = run.records().next().unwrap();
    let (mnist_first, fashion_after, mnist_after) = (r.acc_matrix[0][0], r.acc_matrix[1][1], r.acc_matrix[1][0]);
    println!("MNIST {mnist_first:.3}, then Fashion-MNIST {fashion_after:.3} and MNIST {mnist_after:.3}");
    assert!(mnist_first > 0.7, "learned MNIST: {mnist_first}");
    assert!(fashion_after > 0.6, "learned Fashion-MNIST: {fashion_after}");
    assert!(mnist_after < mnist_first - 0.2, "the standard network forgets MNIST: {mnist_after} after {mnist_first}");
    // A sequence must name one data set per task.
    let mut bad = cfg;
    bad.tasks = 3;
    assert!(bad.validate().unwrap_err().to_string().contains("one per task"));
}

/// Stream learning defaults to the authors' stream BatchNorm (no affine parameters, running
/// statistics at test time), and every learner of a run gets what the configuration says.
#[test]
fn stream_learning_uses_the_authors_batch_norm() {
    use metaplastic::experiments::stream::StreamRun;
    use metaplastic::nn::{Norm, NormEval};
    let cfg = StreamConfig::paper(&[0.0, 2.5]);
    assert_eq!(cfg.norm, Norm { affine: false, eval: NormEval::Running });
    for norm in [Norm::STREAM, Norm::BATCH] {
        let cfg = StreamConfig { hidden: 16, norm, ..StreamConfig::paper(&[0.0, 2.5]) };
        let seen = std::cell::RefCell::new(Vec::new());
        let run = StreamRun::new(cfg, |c, p| {
            seen.borrow_mut().push(c.norm);
            Backend::Cpu.bnn(c, p)
        });
        assert!(run.is_ok());
        assert_eq!(*seen.borrow(), vec![norm; 4], "two stream learners and the full-data baselines at m = 0 and 2.5");
    }
}

/// The stream's baselines run at the m they are named for, and every learner is read on the whole
/// test set after each of the last subsets: `test_acc` is the last reading, the tail mean their
/// mean.
#[test]
fn stream_learners_are_read_after_each_of_the_last_subsets() {
    use metaplastic::experiments::stream::{StreamRun, TAIL_EVALS};
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("static/data");
    let Ok(fashion) = metaplastic::data::DataSet::load(&root, metaplastic::data::DataSetId::Fashion) else {
        assert!(std::env::var("CI").map_or(true, |v| v != "true"), "CI=true but Fashion-MNIST is missing under static/data");
        eprintln!("SKIPPED: Fashion-MNIST missing (run scripts/fetch-data.sh)");
        return;
    };
    let cfg = StreamConfig { hidden: 16, subsets: 7, epochs: 1, train_examples: 1400, test_examples: 300, live_test_examples: 100, eval_every: 5, ..StreamConfig::paper(&[0.0]) };
    let metas = std::cell::RefCell::new(Vec::new());
    let mut run = StreamRun::new(cfg, |c, p| {
        metas.borrow_mut().push(c.meta[0]);
        Backend::Cpu.bnn(c, p)
    })
    .unwrap();
    assert_eq!(*metas.borrow(), vec![0.0, 0.0, 2.5], "m = 0, then the baselines at 0 and 2.5");
    while pollster::block_on(run.advance(&fashion, 1000)).unwrap() != Progress::Finished {}
    let names: Vec<&str> = run.records().map(|r| r.spec.name.as_str()).collect();
    assert_eq!(names, ["m=0", "full-data", "full-data m=2.5"]);
    for r in run.records() {
        assert_eq!(r.tail_test_acc.len(), TAIL_EVALS, "{}", r.spec.name);
        assert_eq!(r.test_acc, r.tail_test_acc.last().copied());
        let mean = r.tail_test_acc.iter().sum::<f32>() / TAIL_EVALS as f32;
        assert_eq!(r.tail_mean_acc(), Some(mean));
        assert!(r.tail_test_acc.iter().all(|a| (0.0..=1.0).contains(a)) && mean > 0.3, "{}: {:?}", r.spec.name, r.tail_test_acc);
    }
}

/// The flip measure (the paper's Fig. 5c-e) leaves the network as it found it, skips the bins
/// with fewer weights than it flips, reports the magnitudes in order within [0, 1], and sees
/// flips: flipping a bin of a trained network's weights changes its loss.
#[test]
fn flipping_binary_weights_by_bin_of_magnitude() {
    use metaplastic::cpu::bnn::CpuBnn;
    use metaplastic::experiments::flips::{FlipConfig, flip_loss_increase};
    use metaplastic::model::bnn::{BnnConfig, BnnParams, BnnTrainer};
    let cfg = BnnConfig { batch: 50, ..BnnConfig::authors_optimizer(16, 1.35) };
    let mut net = CpuBnn::new(cfg.clone(), BnnParams::init(cfg.sizes(), 4)).unwrap();
    let batch = |seed: u64| -> (Vec<f32>, Vec<u32>) {
        let x = (0..50 * 784).map(|i| (((i as u64 * 2654435761 + seed * 97) >> 7) % 256) as f32 / 255.0).collect();
        (x, (0..50).map(|i| ((i as u64 + seed) % 10) as u32).collect())
    };
    for step in 0..60 {
        let (x, y) = batch(step % 4);
        net.train_step(&x, &y).unwrap();
    }
    let before = pollster::block_on(net.params()).unwrap();
    let batches: Vec<_> = (0..2).map(batch).collect();
    let flip = FlipConfig { layer: 1, bins: 5, sample: 10, runs: 2, seed: 3 };
    let bins = pollster::block_on(flip_loss_increase(&mut net, &batches, &flip)).unwrap();
    assert_eq!(pollster::block_on(net.params()).unwrap(), before, "the network is restored");
    assert!(!bins.is_empty());
    assert!(bins.windows(2).all(|w| w[0].bin < w[1].bin && w[0].magnitude < w[1].magnitude), "{bins:?}");
    for b in &bins {
        assert!(b.candidates >= 10 && b.increase.len() == 2 && (0.0..=1.0).contains(&b.magnitude), "{b:?}");
    }
    assert!(bins.iter().any(|b| b.increase.iter().any(|&d| d.abs() > 1e-4)), "flips change the loss: {bins:?}");
    let bad = FlipConfig { layer: 3, ..flip };
    assert!(pollster::block_on(flip_loss_increase(&mut net, &batches, &bad)).is_err());
}
