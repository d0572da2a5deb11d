//! Demo 2's settings: LeNet-5, standard against artificial metaplasticity; each setting a constant,
//! the key the code reads it by.

use super::{Choice, Demo, Setting};
use crate::model::lenet::AMP_B_RANGE;

const DATASETS: &[Choice] = &[Choice::new("mnist", "MNIST digits"), Choice::new("fashion", "Fashion-MNIST clothes")];
const ARCHS: &[Choice] = &[
    Choice::new("classic", "classic LeNet-5 (6, 16 filters of 5×5)"),
    Choice::new("authors", "authors' variant (32, 48 filters of 3×3, BN, dropout)"),
];
const POOLS: &[Choice] = &[Choice::new("max", "max (the presets)"), Choice::new("average", "average (the paper's section 4.3)")];
const SOURCES: &[Choice] = &[Choice::new("layer", "each conv layer's input"), Choice::new("input", "the image, for every layer")];
const ENERGIES: &[Choice] = &[Choice::new("raw", "raw: Σx² (ink, activity)"), Choice::new("centred", "centred: Σ(x − mean)² (how unusual)")];

pub const DATASET: Setting = Setting::choice("dataset", "Data set", DATASETS, "mnist", "The images both networks learn");
pub const ARCH: Setting = Setting::choice("arch", "Network", ARCHS, "classic", "Which LeNet-5");
pub const POOL: Setting = Setting::choice("pool", "Pooling", POOLS, "max", "How each 2×2 window is pooled: its largest value or its mean");
pub const B: Setting = Setting::float(
    "b",
    "Metaplasticity B",
    *AMP_B_RANGE.start() as f64,
    *AMP_B_RANGE.end() as f64,
    0.25,
    "1",
    "How strongly an image's energy raises its factor (see Energy); 0 is standard training",
);
pub const SOURCE: Setting = Setting::choice("source", "Factor reads", SOURCES, "layer", "What the factor 1/f*(x) is computed from");
pub const ENERGY: Setting = Setting::choice(
    "energy",
    "Energy",
    ENERGIES,
    "raw",
    "Σx² as the formula reads (measures how much ink or activity an image has), or centred on the running mean of the layer's input (measures how far it is from the usual image)",
);
pub const LR: Setting = Setting::float("lr", "Learning rate", 0.0001, 1.0, 0.005, "0.01", "SGD's learning rate (Nesterov momentum 0.9)");
pub const EPOCHS: Setting = Setting::int("epochs", "Epochs", 1, 200, "2", "Epochs per seed");
pub const STEPS: Setting = Setting::int("steps", "Batches per epoch", 1, 100_000, "200", "Batches of 64 images per epoch");
pub const TEST: Setting = Setting::int("test", "Test images", 100, 10_000, "2000", "Test images measured at the end of each epoch");
pub const SEEDS: Setting = Setting::int("seeds", "Seeds", 1, 20, "1", "Runs with new weights and a new batch order; two or more give the paired difference");
pub const COMPUTE: Setting = Setting::compute();
pub const SEED: Setting = Setting::seed("First seed");

pub static DEMO: Demo = Demo { name: "lenet", prefix: "lenet", settings: &[DATASET, ARCH, POOL, B, SOURCE, ENERGY, LR, EPOCHS, STEPS, TEST, SEEDS, COMPUTE, SEED] };
