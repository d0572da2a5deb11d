//! Demo 3's settings: plastic networks against their non-plastic twins.

use super::{Choice, Demo, Setting};

const TASKS: &[Choice] = &[Choice::new("completion", "complete half-erased patterns"), Choice::new("denoise", "denoise images (autoencoder)")];
const DATASETS: &[Choice] = &[Choice::new("mnist", "MNIST digits"), Choice::new("fashion", "Fashion-MNIST clothes")];
const RULES: &[Choice] = &[
    Choice::new("simple", "decay: Hebb ← (1−η)Hebb + η y x"),
    Choice::new("oja", "Oja: Hebb ← Hebb + η y (x − Hebb y)"),
];

pub static DEMO: Demo = Demo {
    name: "hebbian",
    prefix: "hebb",
    settings: &[
        Setting::choice("task", "Task", TASKS, "completion", "Pattern completion, or a denoising autoencoder on test images"),
        Setting::choice("dataset", "Data set", DATASETS, "mnist", "The images the autoencoder learns").when("task", "denoise"),
        Setting::choice("rule", "Trace rule", RULES, "simple", "How the Hebbian trace is updated within an episode"),
        Setting::int("steps", "Training steps", 1, 100_000, "600", "Training steps, each a batch of episodes"),
        Setting::int("test", "Test episodes", 2, 10_000, "64", "Test episodes measured at the end").when("task", "denoise"),
        Setting::compute(),
        Setting::seed("Seed"),
    ],
};
