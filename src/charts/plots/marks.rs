//! Point marks: the shape a learner's lines carry and the optimum's star.

use crate::charts::{Color, Figure, Shape, palette};
use std::f32::consts::FRAC_1_SQRT_2;

/// The shape a learner's lines carry, so that standard and metaplastic are told apart without
/// colour (colour-blind readers, a washed-out projector, a greyscale printout).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PointMark {
    /// The standard learner.
    Square,
    /// The metaplastic learner.
    Circle,
    /// Any other learner (EWC, a second m): an open circle.
    Ring,
}

impl PointMark {
    /// The marker of the learner drawn in `color`; `None` for reference lines (the grey baseline)
    /// and for colours that are not a learner's.
    /// A shade of a learner's colour (one task's line) carries that learner's marker.
    pub fn for_color(color: Color) -> Option<PointMark> {
        let same_family = |base: Color| color == base || palette::shade_of(color, base);
        if same_family(palette::STANDARD) {
            Some(PointMark::Square)
        } else if same_family(palette::METAPLASTIC) {
            Some(PointMark::Circle)
        } else if same_family(palette::EWC) || palette::EXTRA_LEARNERS.iter().any(|&c| same_family(c)) {
            Some(PointMark::Ring)
        } else {
            None
        }
    }

    pub(super) fn draw(self, fig: &mut Figure, x: f32, y: f32, color: Color) {
        match self {
            PointMark::Square => fig.push(Shape::Rect { x: x - 3.5, y: y - 3.5, w: 7.0, h: 7.0, fill: color, stroke: Some(palette::WHITE) }),
            PointMark::Circle => fig.push(Shape::Circle { cx: x, cy: y, r: 4.0, fill: color, stroke: Some(palette::WHITE) }),
            PointMark::Ring => fig.push(Shape::Circle { cx: x, cy: y, r: 3.8, fill: palette::WHITE, stroke: Some(color) }),
        }
    }
}

/// The optimum's marker: a black diamond-star drawn from lines, the same in every renderer.
pub(super) fn push_star(fig: &mut Figure, cx: f32, cy: f32, r: f32) {
    fig.push(Shape::Circle { cx, cy, r: r * 0.6, fill: palette::TEXT, stroke: Some(palette::WHITE) });
    for (dx, dy) in [(1.0, 0.0), (0.0, 1.0), (FRAC_1_SQRT_2, FRAC_1_SQRT_2), (FRAC_1_SQRT_2, -FRAC_1_SQRT_2)] {
        fig.push(Shape::Line {
            points: vec![(cx - dx * r * 1.5, cy - dy * r * 1.5), (cx + dx * r * 1.5, cy + dy * r * 1.5)],
            color: palette::TEXT,
            width: 1.6,
            dash: false,
        });
    }
}
