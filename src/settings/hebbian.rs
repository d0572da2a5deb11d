//! Demo 3's settings: plastic networks against their non-plastic twins; each setting a constant,
//! the key the code reads it by.

use super::{Choice, Demo, Setting};

const TASKS: &[Choice] = &[Choice::new("completion", "complete half-erased patterns"), Choice::new("denoise", "denoise images (autoencoder)")];
const DATASETS: &[Choice] = &[Choice::new("mnist", "MNIST digits"), Choice::new("fashion", "Fashion-MNIST clothes")];
const RULES: &[Choice] = &[
    Choice::new("simple", "decay: Hebb ← (1−η)Hebb + η y x"),
    Choice::new("oja", "Oja: Hebb ← Hebb + η y (x − Hebb y)"),
];

pub const TASK: Setting = Setting::choice("task", "Task", TASKS, "completion", "Pattern completion, or a denoising autoencoder on test images");
pub const DATASET: Setting = Setting::choice("dataset", "Data set", DATASETS, "mnist", "The images the autoencoder learns").when("task", "denoise");
pub const RULE: Setting = Setting::choice("rule", "Trace rule", RULES, "simple", "How the Hebbian trace is updated within an episode");
pub const STEPS: Setting = Setting::int("steps", "Training steps", 1, 100_000, "600", "Training steps, each a batch of episodes");
pub const TEST: Setting = Setting::int("test", "Test episodes", 2, 10_000, "64", "Test episodes measured at the end").when("task", "denoise");
pub const COMPUTE: Setting = Setting::compute();
pub const SEED: Setting = Setting::seed("Seed");

pub static DEMO: Demo = Demo { name: "hebbian", prefix: "hebb", settings: &[TASK, DATASET, RULE, STEPS, TEST, COMPUTE, SEED] };
