//! Standard and metaplastic learning, side by side.
//!
//! The crate is laid out by layer, so the architecture reads off the tree:
//!
//! - [`data`]: MNIST / Fashion-MNIST as IDX files, decoded incrementally from gzip, kept as `u8`.
//! - [`cpu`]: the reference implementation of every operation, in plain Rust. It is what the GPU is
//!   tested against and what runs where WebGPU is missing.
//! - [`model`]: network definitions and the trainer interface both backends implement.
//! - [`gpu`]: the wgpu backend, one Rust file per WGSL file in `shaders/`.
//! - [`backend`]: the one switch between the two backends.
//! - [`charts`]: charts as display lists, built once and drawn as SVG (command line) or on a canvas (app).
//! - [`settings`]: every demo's settings declared once (range, default, help), the page's URL
//!   state and the guided path's presets; plain Rust, so tested natively.
//! - [`experiments`]: permuted MNIST, stream learning and the toy problem, written once against the
//!   trainer interface, run alike by the browser and the command-line tool.
//! - [`demos`]: the page's three demos, each one module (its settings, what its workers train,
//!   what its page draws) and one line in [`demos::REGISTRY`]; plain Rust, tested natively.
//! - [`docs`]: the tables the docs and the page show that code or results can move, generated
//!   (`metaplastic reproduce --tables`) and checked by `tests/docs.rs`.
//! - `web` (wasm32 only): the browser app, the only place that knows about the DOM; its two entry
//!   points are the binaries `src/bin/app.rs` (the page) and `src/bin/worker.rs` (a training worker).
//! - `src/main.rs` + `src/cli/`: the native command-line tool `metaplastic`.

pub mod backend;
pub mod charts;
pub mod cpu;
pub mod data;
pub mod demos;
pub mod docs;
pub mod experiments;
pub mod gpu;
pub mod model;
pub mod nn;
pub mod settings;
pub mod stats;

#[cfg(target_arch = "wasm32")]
pub mod web;
