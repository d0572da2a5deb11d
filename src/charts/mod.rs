//! Charts as display lists: one code path builds a [`Figure`] (lines, rectangles, text, circles in
//! the figure's own pixel coordinates) and two renderers draw it, [`Figure::to_svg`] for the
//! command-line tool and `web::canvas_chart::paint` for the live canvas in the app, so both show the
//! same picture.
//!
//! - [`plots`]: the chart builders (line chart, heat map, histograms, 2-D trajectories, bars with
//!   error bars), pure functions from a spec to a `Figure`.
//! - [`svg`]: the SVG renderer.
//! - [`palette`]: the project's colours, one per learner, so every chart agrees on who is who.

pub mod bnn;
pub mod hebbian;
pub mod lenet;
pub mod pad;
pub mod plots;
pub mod svg;

pub use plots::{
    BarChart, BarSeries, BinnedSet, Heatmap, Histogram, LineChart, Marker, NO_DATA, Path, Series, Trajectories, ValueSet,
    bar_chart, bin, binned_histogram, heatmap, histogram, line_chart, nice_step, nice_ticks, normalize_rows, sample_grid,
    trajectory_plot,
};

/// The default figure size in pixels, sized for a page column and a projector alike.
pub const DEFAULT_WIDTH: f32 = 640.0;
pub const DEFAULT_HEIGHT: f32 = 400.0;

/// The font stack both renderers ask for.
pub const FONT_FAMILY: &str = "system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif";
/// The weight of bold text in both renderers.
pub const BOLD_WEIGHT: u32 = 600;
/// Stroke width of rectangle outlines and of circle outlines.
pub const RECT_STROKE_WIDTH: f32 = 1.0;
pub const CIRCLE_STROKE_WIDTH: f32 = 1.5;

/// The dash and gap lengths of a dashed line of width `width`, the same in both renderers.
pub fn dash_pattern(width: f32) -> [f32; 2] {
    [width * 3.0 + 2.0, width * 2.0 + 2.0]
}

/// A picture: a white canvas of `width` x `height` pixels and the shapes on it, painted in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    pub width: f32,
    pub height: f32,
    pub shapes: Vec<Shape>,
}

impl Figure {
    pub fn new(width: f32, height: f32) -> Self {
        Self { width, height, shapes: Vec::new() }
    }

    /// The figure in the projector palette (presenter mode): data lines (2 px and wider) and
    /// markers at [`palette::PROJECTOR_LINE_CONTRAST`], text at
    /// [`palette::PROJECTOR_TEXT_CONTRAST`], each colour darkened within its hue. Filled areas (heat
    /// maps, bars, the loss landscape) and the faint 1-px grid keep their colours: they are read by
    /// their shade or not at all.
    pub fn for_projector(&self) -> Figure {
        use palette::{PROJECTOR_LINE_CONTRAST as LINE, PROJECTOR_TEXT_CONTRAST as TEXT, projected};
        let shapes = self
            .shapes
            .iter()
            .map(|shape| match shape {
                Shape::Line { points, color, width, dash } if *width >= 2.0 => {
                    Shape::Line { points: points.clone(), color: projected(*color, LINE), width: *width, dash: *dash }
                }
                Shape::Text { x, y, text, size, anchor, color, bold, rotate } => Shape::Text {
                    x: *x,
                    y: *y,
                    text: text.clone(),
                    size: *size,
                    anchor: *anchor,
                    color: projected(*color, TEXT),
                    bold: *bold,
                    rotate: *rotate,
                },
                Shape::Circle { cx, cy, r, fill, stroke } => {
                    Shape::Circle { cx: *cx, cy: *cy, r: *r, fill: projected(*fill, LINE), stroke: stroke.map(|c| projected(c, LINE)) }
                }
                other => other.clone(),
            })
            .collect();
        Figure { width: self.width, height: self.height, shapes }
    }

    pub fn push(&mut self, shape: Shape) {
        self.shapes.push(shape);
    }
}

/// Where a text's `x` is: at its start, its middle or its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Anchor {
    Start,
    Middle,
    End,
}

/// One thing to paint. Coordinates are pixels from the figure's top left corner.
#[derive(Debug, Clone, PartialEq)]
pub enum Shape {
    /// An open polyline.
    Line {
        points: Vec<(f32, f32)>,
        color: Color,
        width: f32,
        dash: bool,
    },
    Rect {
        x: f32,
        y: f32,
        w: f32,
        h: f32,
        fill: Color,
        stroke: Option<Color>,
    },
    /// `y` is the baseline. `rotate` turns the text by -90 degrees about `(x, y)`, so it reads
    /// bottom to top (y-axis titles).
    Text {
        x: f32,
        y: f32,
        text: String,
        size: f32,
        anchor: Anchor,
        color: Color,
        bold: bool,
        rotate: bool,
    },
    Circle {
        cx: f32,
        cy: f32,
        r: f32,
        fill: Color,
        stroke: Option<Color>,
    },
}

/// An sRGB colour with opacity `a` in [0, 1].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Color {
    pub r: u8,
    pub g: u8,
    pub b: u8,
    pub a: f32,
}

impl Default for Color {
    fn default() -> Self {
        palette::TEXT
    }
}

impl Color {
    pub const fn rgb(r: u8, g: u8, b: u8) -> Self {
        Self { r, g, b, a: 1.0 }
    }

    /// From `0xRRGGBB`.
    pub const fn hex(rgb: u32) -> Self {
        Self::rgb((rgb >> 16) as u8, (rgb >> 8) as u8, rgb as u8)
    }

    pub const fn with_alpha(self, a: f32) -> Self {
        Self { a, ..self }
    }

    /// `#rrggbb`, without the opacity (SVG takes it as a separate attribute).
    pub fn to_hex(&self) -> String {
        format!("#{:02x}{:02x}{:02x}", self.r, self.g, self.b)
    }

    /// A CSS colour: `#rrggbb` when opaque, `rgba(r,g,b,a)` otherwise.
    pub fn to_css(&self) -> String {
        if self.a >= 1.0 {
            self.to_hex()
        } else {
            format!("rgba({},{},{},{})", self.r, self.g, self.b, fmt_num(self.a.max(0.0), 3))
        }
    }

    /// The colour `t` of the way from `self` to `other` (t = 0: self, t = 1: other), in sRGB.
    pub fn mix(self, other: Color, t: f32) -> Color {
        let t = if t.is_finite() { t.clamp(0.0, 1.0) } else { 0.0 };
        let lerp = |a: u8, b: u8| (a as f32 + (b as f32 - a as f32) * t).round() as u8;
        Color {
            r: lerp(self.r, other.r),
            g: lerp(self.g, other.g),
            b: lerp(self.b, other.b),
            a: self.a + (other.a - self.a) * t,
        }
    }

    pub fn lighten(self, t: f32) -> Color {
        self.mix(palette::WHITE.with_alpha(self.a), t)
    }

    pub fn darken(self, t: f32) -> Color {
        self.mix(Color::rgb(0, 0, 0).with_alpha(self.a), t)
    }

    /// Relative luminance in [0, 1], to pick black or white text on a filled cell.
    pub fn luminance(&self) -> f32 {
        let lin = |c: u8| {
            let c = c as f32 / 255.0;
            if c <= 0.04045 { c / 12.92 } else { ((c + 0.055) / 1.055).powf(2.4) }
        };
        0.2126 * lin(self.r) + 0.7152 * lin(self.g) + 0.0722 * lin(self.b)
    }

    /// WCAG's contrast ratio `(L1 + 0.05) / (L2 + 0.05)` between two opaque colours, from 1 to 21.
    pub fn contrast(&self, other: &Color) -> f32 {
        let (a, b) = (self.luminance(), other.luminance());
        (a.max(b) + 0.05) / (a.min(b) + 0.05)
    }
}

/// The project's colours. A learner keeps its colour in every chart, on the page and in print.
pub mod palette {
    use super::Color;

    // The learners' colours are Okabe and Ito's colour-blind-safe set (vermillion, blue, reddish
    // purple, bluish green, and their orange darkened), and each learner's lines also carry its own
    // marker (`plots::PointMark`), so no chart relies on colour alone. Every colour a line can get
    // has at least `LINE_CONTRAST` against the white chart (WCAG 2.1's 1.4.11 for graphics).
    /// The standard (non-metaplastic) learner: vermillion, square markers.
    pub const STANDARD: Color = Color::hex(0xd55e00);
    /// The metaplastic learner: blue, round markers.
    pub const METAPLASTIC: Color = Color::hex(0x0072b2);
    /// EWC, or any third learner: reddish purple, open round markers.
    pub const EWC: Color = Color::hex(0xcc79a7);
    /// The network trained on all the data at once (the upper bound).
    pub const BASELINE: Color = Color::hex(0x555555);
    /// Highlights, the heat-map scale.
    pub const ACCENT: Color = Color::hex(0x2f5bd3);

    pub const WHITE: Color = Color::rgb(255, 255, 255);
    /// The least contrast a line, marker or bar may have against the chart's white background.
    pub const LINE_CONTRAST: f32 = 3.0;
    pub const TEXT: Color = Color::hex(0x222222);
    pub const MUTED: Color = Color::hex(0x666666);
    pub const AXIS: Color = Color::hex(0x444444);
    pub const GRID: Color = Color::hex(0xe6e6e6);
    /// A cell that has no value yet.
    pub const MISSING: Color = Color::hex(0xf0f0f0);

    /// Categorical colours in the order [`distinct`] hands them out: the accent and the learner
    /// colours first, then colours far enough from them to tell apart on a projector.
    const CATEGORICAL: [Color; 10] = [
        ACCENT,
        STANDARD,
        METAPLASTIC,
        EWC,
        EXTRA_LEARNERS[0],
        EXTRA_LEARNERS[1],
        Color::hex(0x8a6d3b),
        Color::hex(0x882255),
        Color::hex(0x4c956c),
        Color::hex(0x555555),
    ];

    /// Further metaplastic learners of one run (a second and third m): bluish green and orange
    /// (Okabe and Ito's `#e69f00`, darkened to 3.4:1 on white from its 2.3:1).
    pub const EXTRA_LEARNERS: [Color; 2] = [Color::hex(0x009e73), Color::hex(0xb07a00)];

    /// `color`, darkened just enough (in steps of 2%) for [`LINE_CONTRAST`] on white.
    pub fn legible(color: Color) -> Color {
        at_least(color, LINE_CONTRAST)
    }

    /// `color`, darkened just enough (in steps of 2%, so its hue stays) for `ratio` on white.
    pub fn at_least(color: Color, ratio: f32) -> Color {
        (0..=50).map(|i| color.darken(i as f32 * 0.02)).find(|c| c.contrast(&WHITE) >= ratio).unwrap_or(Color::rgb(0, 0, 0))
    }

    // The projector palette (presenter mode). A washed-out projector lifts the dark end towards
    // the white one, so a contrast that is enough on a monitor fades on the wall: lines and markers
    // get 6:1 instead of 3:1 (the learners' lines as the page draws them mostly stand at 4.5:1, so the
    // projector's must be more), the charts' text 7:1 (WCAG's enhanced level).
    // Each colour is darkened within its own hue, so a learner keeps its colour family and marker.
    /// The least contrast a chart line or marker has against the white chart on a projector.
    pub const PROJECTOR_LINE_CONTRAST: f32 = 6.0;
    /// The least contrast a chart's text has on a projector.
    pub const PROJECTOR_TEXT_CONTRAST: f32 = 7.0;
    /// Colours paler than this against white are backgrounds (a marker's white fill, white text on
    /// a dark heat-map cell), not ink: the projector palette leaves them as they are.
    pub const INK: f32 = 1.5;

    /// `color` as the projector palette draws it at `ratio` (a background stays as it is).
    pub fn projected(color: Color, ratio: f32) -> Color {
        if color.contrast(&WHITE) < INK { color } else { at_least(color, ratio).with_alpha(color.a) }
    }

    /// Whether `color` is one of [`shades`]' shades of `base` (darkened or lightened, so the same
    /// hue), allowing for 8-bit rounding.
    pub fn shade_of(color: Color, base: Color) -> bool {
        let hue_sat = |c: Color| {
            let (r, g, b) = (f32::from(c.r) / 255.0, f32::from(c.g) / 255.0, f32::from(c.b) / 255.0);
            let (max, min) = (r.max(g).max(b), r.min(g).min(b));
            let d = max - min;
            let h = if d == 0.0 {
                0.0
            } else if max == r {
                60.0 * ((g - b) / d).rem_euclid(6.0)
            } else if max == g {
                60.0 * ((b - r) / d + 2.0)
            } else {
                60.0 * ((r - g) / d + 4.0)
            };
            (h, d)
        };
        let ((h1, c1), (h2, c2)) = (hue_sat(color), hue_sat(base));
        let dh = (h1 - h2).abs().min(360.0 - (h1 - h2).abs());
        c1 > 0.08 && c2 > 0.08 && dh < 4.0
    }

    /// `n` colours that are easy to tell apart (several values of m, several tasks). The first ten
    /// are fixed; beyond, hues are spread by the golden angle.
    pub fn distinct(n: usize) -> Vec<Color> {
        (0..n)
            .map(|i| match CATEGORICAL.get(i) {
                Some(&c) => c,
                None => legible(hsl((i as f32 * 137.508) % 360.0, 0.55, 0.45)),
            })
            .collect()
    }

    /// `n` shades of one colour, dark to light, for one learner's series over several tasks: the
    /// learner gives the colour family, the task the shade. From 45% darker up to as light as
    /// [`LINE_CONTRAST`] allows (at most 45% lighter): a light vermillion would fade into the white.
    pub fn shades(base: Color, n: usize) -> Vec<Color> {
        let lightest = (0..=45).rev().map(|i| i as f32 / 100.0).find(|&t| base.lighten(t).contrast(&WHITE) >= LINE_CONTRAST).unwrap_or(0.0);
        (0..n)
            .map(|i| {
                let t = if n < 2 { 0.5 } else { i as f32 / (n - 1) as f32 };
                let amount = -0.45 + t * (0.45 + lightest);
                if amount < 0.0 { legible(base.darken(-amount)) } else { legible(base.lighten(amount)) }
            })
            .collect()
    }

    /// An opaque colour from hue (degrees), saturation and lightness in [0, 1].
    pub fn hsl(h: f32, s: f32, l: f32) -> Color {
        let c = (1.0 - (2.0 * l - 1.0).abs()) * s;
        let hp = (h.rem_euclid(360.0)) / 60.0;
        let x = c * (1.0 - (hp % 2.0 - 1.0).abs());
        let (r, g, b) = match hp as u32 {
            0 => (c, x, 0.0),
            1 => (x, c, 0.0),
            2 => (0.0, c, x),
            3 => (0.0, x, c),
            4 => (x, 0.0, c),
            _ => (c, 0.0, x),
        };
        let m = l - c / 2.0;
        let to = |v: f32| ((v + m).clamp(0.0, 1.0) * 255.0).round() as u8;
        Color::rgb(to(r), to(g), to(b))
    }
}

/// `v` with at most `decimals` decimals and no trailing zeros ("0.5", "12", "-0.25").
pub(crate) fn fmt_num(v: f32, decimals: usize) -> String {
    let s = format!("{v:.decimals$}");
    let s = if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_string() } else { s };
    if s == "-0" { "0".to_string() } else { s }
}
