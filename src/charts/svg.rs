//! The SVG renderer: a [`Figure`] as a standalone SVG document (white background, system fonts).

use super::{
    Anchor, BOLD_WEIGHT, CIRCLE_STROKE_WIDTH, Color, FONT_FAMILY, Figure, RECT_STROKE_WIDTH, Shape, dash_pattern,
    fmt_num,
};
use std::fmt::Write;

impl Figure {
    /// The figure as an SVG document, ready to be written to a `.svg` file.
    pub fn to_svg(&self) -> String {
        let (w, h) = (num(self.width), num(self.height));
        let mut out = String::with_capacity(256 + self.shapes.len() * 96);
        out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        // `write!` to a String cannot fail.
        let _ = writeln!(
            out,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" \
             font-family=\"{FONT_FAMILY}\">"
        );
        let _ = writeln!(out, "<rect x=\"0\" y=\"0\" width=\"{w}\" height=\"{h}\" fill=\"#ffffff\"/>");
        for shape in &self.shapes {
            write_shape(&mut out, shape);
        }
        out.push_str("</svg>\n");
        out
    }
}

fn write_shape(out: &mut String, shape: &Shape) {
    match shape {
        Shape::Line { points, color, width, dash } => {
            let pts: Vec<String> = points
                .iter()
                .filter(|(x, y)| x.is_finite() && y.is_finite())
                .map(|&(x, y)| format!("{},{}", num(x), num(y)))
                .collect();
            if pts.is_empty() {
                return;
            }
            let dash = if *dash {
                let [on, off] = dash_pattern(*width);
                format!(" stroke-dasharray=\"{} {}\"", num(on), num(off))
            } else {
                String::new()
            };
            let _ = writeln!(
                out,
                "<polyline points=\"{}\" fill=\"none\"{} stroke-width=\"{}\" stroke-linejoin=\"round\" \
                 stroke-linecap=\"round\"{dash}/>",
                pts.join(" "),
                paint("stroke", *color),
                num(*width)
            );
        }
        Shape::Rect { x, y, w, h, fill, stroke } => {
            let _ = writeln!(
                out,
                "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"{}{}/>",
                num(*x),
                num(*y),
                num(w.max(0.0)),
                num(h.max(0.0)),
                paint("fill", *fill),
                stroke
                    .map(|s| format!("{} stroke-width=\"{}\"", paint("stroke", s), num(RECT_STROKE_WIDTH)))
                    .unwrap_or_default()
            );
        }
        Shape::Text { x, y, text, size, anchor, color, bold, rotate } => {
            let anchor = match anchor {
                Anchor::Start => "start",
                Anchor::Middle => "middle",
                Anchor::End => "end",
            };
            let weight = if *bold { format!(" font-weight=\"{BOLD_WEIGHT}\"") } else { String::new() };
            let (x, y) = (num(*x), num(*y));
            let transform = if *rotate { format!(" transform=\"rotate(-90 {x} {y})\"") } else { String::new() };
            let _ = writeln!(
                out,
                "<text x=\"{x}\" y=\"{y}\" font-size=\"{}\" text-anchor=\"{anchor}\"{}{weight}{transform}>{}</text>",
                num(*size),
                paint("fill", *color),
                escape(text)
            );
        }
        Shape::Circle { cx, cy, r, fill, stroke } => {
            let _ = writeln!(
                out,
                "<circle cx=\"{}\" cy=\"{}\" r=\"{}\"{}{}/>",
                num(*cx),
                num(*cy),
                num(r.max(0.0)),
                paint("fill", *fill),
                stroke
                    .map(|s| format!("{} stroke-width=\"{}\"", paint("stroke", s), num(CIRCLE_STROKE_WIDTH)))
                    .unwrap_or_default()
            );
        }
    }
}

/// ` fill="#rrggbb"` plus ` fill-opacity="a"` when translucent (SVG 1.1 has no rgba()).
fn paint(attr: &str, c: Color) -> String {
    if c.a <= 0.0 {
        format!(" {attr}=\"none\"")
    } else if c.a >= 1.0 {
        format!(" {attr}=\"{}\"", c.to_hex())
    } else {
        format!(" {attr}=\"{}\" {attr}-opacity=\"{}\"", c.to_hex(), fmt_num(c.a, 3))
    }
}

/// A coordinate with at most two decimals; non-finite values become 0 so the document stays valid.
fn num(v: f32) -> String {
    if v.is_finite() { fmt_num(v, 2) } else { "0".into() }
}

/// Text content and attribute values with XML's special characters escaped.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Control characters other than tab/newline are not allowed in XML 1.0.
            c if (c as u32) < 0x20 && c != '\t' && c != '\n' => {}
            c => out.push(c),
        }
    }
    out
}
