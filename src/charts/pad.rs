//! The drawing pad's answers: each network's class probabilities for the drawing, as bars, one row
//! per network, so standard and metaplastic read side by side.

use super::palette;
use super::{Anchor, Color, Figure, Shape};

/// One network's answer: its name, colour, the names of its classes and their probabilities.
pub struct AnswerRow<'a> {
    pub name: &'a str,
    pub color: Color,
    pub classes: [&'static str; 10],
    pub probs: &'a [f32],
}

/// The colour a learner of the page is drawn in elsewhere, from its name alone.
pub fn answer_color(name: &str) -> Color {
    match name {
        "m=0" | "standard" => palette::STANDARD,
        n if n.to_ascii_lowercase().starts_with("ewc") => palette::EWC,
        _ => palette::METAPLASTIC,
    }
}

const ROW: f32 = 86.0;
const LEFT: f32 = 150.0;

pub fn answer_bars(rows: &[AnswerRow], width: f32) -> Figure {
    let height = 24.0 + ROW * rows.len().max(1) as f32;
    let mut fig = Figure::new(width, height);
    let text = |x: f32, y: f32, s: String, size: f32, anchor: Anchor, color: Color, bold: bool| Shape::Text { x, y, text: s, size, anchor, color, bold, rotate: false };
    if rows.is_empty() {
        fig.push(text(width / 2.0, 50.0, "Train a network in demo 1 or 2, then draw: every trained network answers here.".into(), 14.0, Anchor::Middle, palette::MUTED, false));
        return fig;
    }
    let slot = (width - LEFT - 10.0) / 10.0;
    for (r, row) in rows.iter().enumerate() {
        let top = 16.0 + ROW * r as f32;
        let base = top + ROW - 30.0;
        let best = row.probs.iter().enumerate().fold((0, f32::MIN), |b, (i, &p)| if p > b.1 { (i, p) } else { b });
        fig.push(text(8.0, top + 22.0, row.name.to_string(), 15.0, Anchor::Start, row.color.darken(0.2), true));
        let says = row.classes.get(best.0).copied().unwrap_or("?");
        fig.push(text(8.0, top + 42.0, format!("says {says}"), 13.0, Anchor::Start, palette::TEXT, false));
        fig.push(text(8.0, top + 60.0, format!("{:.0}% sure", 100.0 * best.1.clamp(0.0, 1.0)), 13.0, Anchor::Start, palette::MUTED, false));
        fig.push(Shape::Line { points: vec![(LEFT, base), (width - 10.0, base)], color: palette::AXIS, width: 1.0, dash: false });
        for (c, class) in row.classes.iter().enumerate() {
            let p = row.probs.get(c).copied().unwrap_or(0.0).clamp(0.0, 1.0);
            let x = LEFT + slot * c as f32;
            let h = p * (ROW - 40.0);
            // The other bars lighter, but never below 3:1 on white (`palette::legible`).
            let fill = if c == best.0 { row.color } else { palette::legible(row.color.lighten(0.55)) };
            fig.push(Shape::Rect { x: x + 3.0, y: base - h, w: slot - 6.0, h, fill, stroke: None });
            // Short names only: a garment's name is cut to fit under its bar.
            let label: String = class.chars().take(((slot / 6.5) as usize).max(1)).collect();
            fig.push(text(x + slot / 2.0, base + 14.0, label, 11.0, Anchor::Middle, palette::TEXT, c == best.0));
        }
    }
    fig
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_row_of_ten_bars_per_network_with_its_guess() {
        let digits = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];
        let mut probs = [0.02f32; 10];
        probs[7] = 0.82;
        let rows = [AnswerRow { name: "m=0", color: answer_color("m=0"), classes: digits, probs: &probs }, AnswerRow { name: "m=10", color: answer_color("m=10"), classes: digits, probs: &probs }];
        let fig = answer_bars(&rows, 560.0);
        let bars = fig.shapes.iter().filter(|s| matches!(s, Shape::Rect { .. })).count();
        assert_eq!(bars, 20);
        let texts: Vec<&str> = fig.shapes.iter().filter_map(|s| if let Shape::Text { text, .. } = s { Some(text.as_str()) } else { None }).collect();
        assert_eq!(texts.iter().filter(|t| **t == "says 7").count(), 2);
        assert!(texts.contains(&"82% sure"));
        assert_eq!(answer_color("standard"), palette::STANDARD);
        assert_eq!(answer_color("m=1.35"), palette::METAPLASTIC);
    }
}
