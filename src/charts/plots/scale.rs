//! Axis ranges and ticks: nice steps, data ranges made usable and widened to them, and the
//! labels the ticks get.

use crate::charts::fmt_num;

/// The step between ticks for a `span` that should get at most about `max_ticks` intervals:
/// 1, 2 or 5 times a power of ten, the smallest such step with `span / step <= max_ticks`.
pub fn nice_step(span: f32, max_ticks: usize) -> f32 {
    let span = span as f64;
    if !(span.is_finite() && span > 0.0) {
        return 1.0;
    }
    let raw = span / max_ticks.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let norm = raw / mag;
    let nice = if norm <= 1.0 + 1e-9 {
        1.0
    } else if norm <= 2.0 + 1e-9 {
        2.0
    } else if norm <= 5.0 + 1e-9 {
        5.0
    } else {
        10.0
    };
    (nice * mag) as f32
}

/// The multiples of [`nice_step`] that lie in `[lo, hi]` (at most `max_ticks + 1` of them).
pub fn nice_ticks(lo: f32, hi: f32, max_ticks: usize) -> Vec<f32> {
    if !(lo.is_finite() && hi.is_finite()) {
        return Vec::new();
    }
    let (lo, hi) = if lo <= hi { (lo, hi) } else { (hi, lo) };
    if lo == hi {
        return vec![lo];
    }
    let step = nice_step(hi - lo, max_ticks) as f64;
    let first = (lo as f64 / step - 1e-6).ceil() as i64;
    let last = (hi as f64 / step + 1e-6).floor() as i64;
    // Computing each tick as i * step (not by repeated addition) keeps 0.3 from becoming 0.30000001.
    (first..=last).take(1000).map(|i| (i as f64 * step) as f32).collect()
}

/// The smallest and largest finite value, if any.
pub(super) fn bounds(values: impl Iterator<Item = f32>) -> Option<(f32, f32)> {
    values.filter(|v| v.is_finite()).fold(None, |acc, v| match acc {
        None => Some((v, v)),
        Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
    })
}

/// A usable range: ordered, finite, not empty (and positive for a log axis).
pub(super) fn sane_range((lo, hi): (f32, f32), log: bool) -> (f32, f32) {
    let (lo, hi) = if lo.is_finite() && hi.is_finite() { (lo.min(hi), lo.max(hi)) } else { (0.0, 1.0) };
    if log {
        let lo = if lo > 0.0 { lo } else { hi.abs().max(1.0) * 1e-3 };
        let hi = if hi > lo { hi } else { lo * 10.0 };
        return (lo, hi);
    }
    if hi > lo {
        (lo, hi)
    } else {
        let pad = if lo == 0.0 { 0.5 } else { lo.abs() * 0.1 };
        (lo - pad, hi + pad)
    }
}

/// The data range widened to whole nice steps.
pub(super) fn nice_range(lo: f32, hi: f32, max_ticks: usize) -> (f32, f32) {
    let (lo, hi) = sane_range((lo, hi), false);
    let step = nice_step(hi - lo, max_ticks) as f64;
    let (lo, hi) = ((lo as f64 / step).floor() * step, (hi as f64 / step).ceil() * step);
    (lo as f32, hi as f32)
}

/// Whole decades around a positive range.
pub(super) fn log_range(lo: f32, hi: f32) -> (f32, f32) {
    let (lo, hi) = sane_range((lo, hi), true);
    let (a, b) = (lo.log10().floor(), hi.log10().ceil());
    (10f32.powf(a), 10f32.powf(if b > a { b } else { a + 1.0 }))
}

/// Tick values with their labels, on a linear or a log axis.
pub(super) fn tick_labels(lo: f32, hi: f32, log: bool, max_ticks: usize) -> Vec<(f32, String)> {
    if log {
        let (a, b) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
        let decades = (b - a).max(1) as usize;
        let mults: &[f32] = if decades <= 2 { &[1.0, 2.0, 5.0] } else { &[1.0] };
        let every = decades.div_ceil(max_ticks.max(1)).max(1);
        return (a..=b)
            .filter(|k| ((k - a) as usize).is_multiple_of(every))
            .flat_map(|k| mults.iter().map(move |m| m * 10f32.powi(k)))
            .filter(|v| *v >= lo * 0.999 && *v <= hi * 1.001)
            .map(|v| (v, log_label(v)))
            .collect();
    }
    let step = nice_step(hi - lo, max_ticks);
    nice_ticks(lo, hi, max_ticks).into_iter().map(|v| (v, linear_label(v, step))).collect()
}

/// A tick label with as many decimals as the step needs; thousands as "20k" for large steps.
fn linear_label(v: f32, step: f32) -> String {
    if step >= 1000.0 && v != 0.0 {
        return format!("{}k", fmt_num(v / 1000.0, decimals_for(step / 1000.0)));
    }
    fmt_num(v, decimals_for(step))
}

fn decimals_for(step: f32) -> usize {
    (-(step.log10() + 1e-4).floor()).max(0.0) as usize
}

fn log_label(v: f32) -> String {
    if (1e-3..1e5).contains(&v) { fmt_num(v, decimals_for(v)) } else { format!("1e{}", v.log10().round() as i32) }
}

/// A short number for notes: "-1", "0.25", "1.2e-5".
pub(super) fn short(v: f32) -> String {
    if v == 0.0 || (1e-3..1e5).contains(&v.abs()) { fmt_num(v, 3) } else { format!("{v:.1e}") }
}

/// `v` with exactly `decimals` decimals ("0.90"), as printed in cells.
pub(super) fn fmt_fixed(v: f32, decimals: usize) -> String {
    let s = format!("{v:.decimals$}");
    if s.starts_with('-') && s[1..].chars().all(|c| c == '0' || c == '.') { s[1..].to_string() } else { s }
}
