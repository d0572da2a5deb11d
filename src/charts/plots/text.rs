//! Text shapes and their sizes.

use crate::charts::{Anchor, Color, Shape};

pub(super) const TITLE_SIZE: f32 = 16.0;
pub(super) const NOTE_SIZE: f32 = 11.5;
pub(super) const LABEL_SIZE: f32 = 13.0;
pub(super) const TICK_SIZE: f32 = 11.5;

pub(super) fn text(x: f32, y: f32, s: &str, size: f32, anchor: Anchor, color: Color) -> Shape {
    Shape::Text { x, y, text: s.to_string(), size, anchor, color, bold: false, rotate: false }
}

/// A title reading bottom to top, centred on `y`, its glyphs to the left of `x`.
pub(super) fn rotated_text(x: f32, y: f32, s: &str, size: f32, color: Color) -> Shape {
    Shape::Text { x, y, text: s.to_string(), size, anchor: Anchor::Middle, color, bold: false, rotate: true }
}

/// An estimate of a text's width in pixels (no font metrics here; system-ui averages about 0.58 em
/// per character for digits and lower case).
pub(super) fn text_w(s: &str, size: f32) -> f32 {
    s.chars().count() as f32 * size * 0.58
}
