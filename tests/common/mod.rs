//! Helpers shared by the integration tests.
#![allow(dead_code)]

use metaplastic::gpu::{GpuContext, GpuTensor};
use std::io::Write;

/// An IDX images file: magic 2051, count, rows, cols, pixels.
pub fn idx_images(count: u32, rows: u32, cols: u32, pixels: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for word in [2051, count, rows, cols] {
        out.extend_from_slice(&u32::to_be_bytes(word));
    }
    out.extend_from_slice(pixels);
    out
}

/// An IDX labels file: magic 2049, count, labels.
pub fn idx_labels(labels: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for word in [2049, labels.len() as u32] {
        out.extend_from_slice(&u32::to_be_bytes(word));
    }
    out.extend_from_slice(labels);
    out
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).expect("writing to a Vec cannot fail");
    enc.finish().expect("writing to a Vec cannot fail")
}

/// `n` deterministic 28x28 images and labels 0..10.
pub fn synthetic_split(n: usize, seed: u8) -> (Vec<u8>, Vec<u8>) {
    // Noisy like real images, so gzip cannot fold the whole file into one early block.
    let pixels = (0..n * 784).map(|i| ((i as u64 + seed as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as u8).collect();
    let labels = (0..n).map(|i| ((i + seed as usize) % 10) as u8).collect();
    (pixels, labels)
}

/// The GPU for parity tests: whatever adapter wgpu finds (llvmpipe on a machine without a GPU).
/// Under CI a missing adapter is a failure, never a skip; elsewhere the test says why it skipped.
pub fn gpu() -> Option<GpuContext> {
    match pollster::block_on(GpuContext::request()) {
        Ok(ctx) => Some(ctx),
        Err(e) if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("CI=true but no GPU adapter: {e}. Install mesa-vulkan-drivers (scripts/setup.sh does).")
        }
        Err(e) => {
            skipped(&format!("no GPU adapter ({e}); set CI=true to make this a failure"));
            None
        }
    }
}

/// Says that the running test skipped and why, and, where `scripts/test.sh` asked for it
/// (`SKIP_LOG`), appends `binary test: reason` to that file, which it prints at its end: cargo
/// shows a passing test's output to no one.
pub fn skipped(reason: &str) {
    eprintln!("SKIPPED: {reason}");
    let Ok(path) = std::env::var("SKIP_LOG") else { return };
    let binary = std::env::args().next().and_then(|a| std::path::Path::new(&a).file_name().map(|f| f.to_string_lossy().into_owned())).unwrap_or_default();
    // The binary's name ends in a hash (cpu_bnn-5a8b40a6b8fa225c).
    let binary = binary.rsplit_once('-').map_or(binary.clone(), |(name, _)| name.to_string());
    let test = std::thread::current().name().unwrap_or("?").to_string();
    if let Ok(mut log) = std::fs::OpenOptions::new().create(true).append(true).open(path) {
        let _ = writeln!(log, "{binary} {test}: {reason}");
    }
}

/// Deterministic pseudo-random values in [-1, 1) for parity inputs.
pub fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect()
}

/// Central difference of `f` around `x[i]`, in f64 from f32 evaluations.
pub fn numeric(x: &mut [f32], i: usize, h: f32, f: &mut dyn FnMut(&[f32]) -> f64) -> f64 {
    let keep = x[i];
    x[i] = keep + h;
    let up = f(x);
    x[i] = keep - h;
    let down = f(x);
    x[i] = keep;
    (up - down) / (2.0 * h as f64)
}

pub fn assert_close(name: &str, analytic: f32, numeric: f64, atol: f64, rtol: f64) {
    let diff = (analytic as f64 - numeric).abs();
    assert!(diff <= atol + rtol * numeric.abs(), "{name}: analytic {analytic} vs numeric {numeric}");
}

/// A GPU tensor's contents, for parity tests.
pub fn read(ctx: &GpuContext, t: &GpuTensor) -> Vec<f32> {
    pollster::block_on(t.read(ctx)).expect("readback")
}

/// Records what `record` encodes and submits it.
pub fn run(ctx: &GpuContext, record: impl FnOnce(&mut wgpu::CommandEncoder)) {
    let mut encoder = ctx.device.create_command_encoder(&Default::default());
    record(&mut encoder);
    ctx.queue.submit([encoder.finish()]);
}

/// GPU against CPU, elementwise: `|gpu - cpu| <= atol + rtol * |cpu|`.
pub fn assert_parity(what: &str, got: &[f32], want: &[f32], atol: f32, rtol: f32) {
    if let Some((i, g, w)) = metaplastic::nn::max_violation(got, want, atol, rtol) {
        panic!("{what}: element {i}: GPU {g} vs CPU {w} (atol {atol}, rtol {rtol})");
    }
}

/// [`values`] times `scale`.
pub fn scaled(n: usize, seed: u64, scale: f32) -> Vec<f32> {
    values(n, seed).into_iter().map(|v| v * scale).collect()
}
