//! Demo 1's settings: the binarized network, standard against metaplastic. Each setting is a
//! constant, the key the code reads it by (`values.count(&bnn::HIDDEN)`): a misspelt key does not
//! compile.

use super::{Choice, Demo, Setting};
use crate::model::bnn::{EWC_LAMBDA_RANGE, HIDDEN_RANGE, META_RANGE};

const SEQUENCES: &[Choice] = &[
    Choice::new("permuted", "MNIST, each task with its own pixel order"),
    Choice::new("mnist-fashion", "MNIST, then Fashion-MNIST"),
];

const EXPERIMENTS: &[Choice] = &[
    Choice::new("permuted", "Permuted MNIST (continual learning)"),
    Choice::new("stream", "Fashion-MNIST in a stream of subsets"),
];

/// The metaplastic learners beside the standard one: with the standard network, the EWC learner
/// and the stream's full-data baseline that is at most five workers, on a laptop's cores.
pub const MAX_METAS: usize = 3;

pub const EXPERIMENT: Setting =
    Setting::choice("experiment", "Experiment", EXPERIMENTS, "permuted", "Permuted MNIST: tasks one after another; stream: Fashion-MNIST in class-balanced subsets");
pub const HIDDEN: Setting =
    Setting::int("hidden", "Hidden units", *HIDDEN_RANGE.start() as i64, *HIDDEN_RANGE.end() as i64, "128", "Units in each of the two hidden layers");
pub const META: Setting = Setting::floats(
    "meta",
    "Metaplasticity m",
    *META_RANGE.start() as f64,
    *META_RANGE.end() as f64,
    0.05,
    MAX_METAS,
    "6",
    "m of the metaplastic network; several values separated by commas train one network each, beside the standard one (m = 0)",
);
pub const LR: Setting = Setting::float("lr", "Learning rate", 0.0001, 1.0, 0.0005, "0.005", "Adam's learning rate");
pub const WEIGHT_DECAY: Setting = Setting::float(
    "weight-decay",
    "Weight decay",
    0.0,
    0.001,
    1e-8,
    "1e-7",
    "Adam's weight decay on every parameter. The authors used 1e-7 for five tasks and 1e-8 for ten; under Adam even 1e-7 wears down the weights a task does not use, so old tasks are forgotten more",
);
pub const SEQUENCE: Setting = Setting::choice(
    "sequence",
    "Task sequence",
    SEQUENCES,
    "permuted",
    "Permuted MNIST (as many tasks as set), or two tasks: MNIST, then Fashion-MNIST as they are, the paper's first example of forgetting",
)
.when("experiment", "permuted");
pub const TASKS: Setting = Setting::int("tasks", "Tasks", 1, 50, "3", "Permuted-MNIST tasks, learned one after another (MNIST then Fashion-MNIST is always two)").when("experiment", "permuted");
pub const STEPS: Setting =
    Setting::int("steps", "Batches per task", 1, 100_000, "600", "Batches of 100 images per task (600 is one epoch)").when("experiment", "permuted");
pub const SUBSETS: Setting = Setting::int("subsets", "Subsets", 1, 600, "20", "Class-balanced subsets the training set arrives in").when("experiment", "stream");
pub const EPOCHS: Setting = Setting::int("epochs", "Epochs per subset", 1, 200, "5", "Passes over each subset before the next arrives").when("experiment", "stream");
pub const COMPUTE: Setting = Setting::compute();
pub const SEED: Setting = Setting::seed("Seed");
pub const EWC: Setting = Setting::flag("ewc", "add EWC", false, "Also train a standard network with elastic weight consolidation").when("experiment", "permuted");
pub const EWC_LAMBDA: Setting = Setting::float(
    "ewc-lambda",
    "EWC λ",
    *EWC_LAMBDA_RANGE.start() as f64,
    *EWC_LAMBDA_RANGE.end() as f64,
    500.0,
    "5000",
    "Strength of the EWC penalty",
)
.when("experiment", "permuted");
pub const BN_PER_TASK: Setting =
    Setting::flag("bn-per-task", "BatchNorm per task", true, "Each task keeps its own BatchNorm scale and shift (the authors' default)").when("experiment", "permuted");
pub const GAMMA_UNIFORM: Setting = Setting::flag(
    "gamma-uniform",
    "BatchNorm γ starts in U(0, 1), as the authors'",
    true,
    "The authors' README installs PyTorch 1.1, whose BatchNorm drew gamma from U(0, 1); later versions start it at 1",
)
.when("experiment", "permuted");
pub const BN_RUNNING: Setting = Setting::flag(
    "bn-running",
    "BatchNorm tests on running statistics",
    false,
    "Test each task on the running mean and variance saved at its end, as the authors' code did when the paper's runs were made; off: on each test batch's own statistics, as their later code",
)
.when("experiment", "permuted");
pub const FULL_PRECISION: Setting = Setting::flag(
    "full-precision",
    "Full-precision weights (no binarization)",
    false,
    "Every network keeps real weights and ReLU instead of sign(Wh) and sign: the same rule on a network that is not binary (the paper's Fig. 2f)",
)
.when("experiment", "permuted");
pub const TOY_META: Setting =
    Setting::float("toy-meta", "Toy problem: m", *META_RANGE.start() as f64, *META_RANGE.end() as f64, 0.05, "6", "m of the metaplastic learner in the two-weight picture");

pub static DEMO: Demo = Demo {
    name: "bnn",
    prefix: "bnn",
    settings: &[EXPERIMENT, HIDDEN, META, LR, WEIGHT_DECAY, SEQUENCE, TASKS, STEPS, SUBSETS, EPOCHS, COMPUTE, SEED, EWC, EWC_LAMBDA, BN_PER_TASK, GAMMA_UNIFORM, BN_RUNNING, FULL_PRECISION, TOY_META],
};
