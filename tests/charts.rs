//! The chart builders and the SVG renderer: structure of the figures, robustness to empty and
//! non-finite data, nice ticks and binning.
//!
//! `CHARTS_OUT=/tmp/charts cargo test --test charts` also writes one sample SVG of each chart there,
//! to look at.

use metaplastic::charts::{
    self, Anchor, BarChart, BarSeries, Color, Figure, Heatmap, Histogram, LineChart, Marker, NO_DATA, Path, Series,
    Shape, Trajectories, ValueSet, palette,
};

/// Checks that `svg` is one well-formed element tree: every tag closed, in order, one root `<svg>`.
fn assert_well_formed(svg: &str) {
    let body = svg.strip_prefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n").unwrap_or(svg);
    assert!(body.starts_with("<svg"), "the document starts with <svg: {}", &body[..body.len().min(60)]);
    let mut stack: Vec<String> = Vec::new();
    let mut roots = 0;
    let mut rest = body;
    while let Some(open) = rest.find('<') {
        let text = &rest[..open];
        assert!(!text.contains('>'), "a stray '>' in text: {text}");
        let close = rest[open..].find('>').expect("every tag is closed") + open;
        let tag = &rest[open + 1..close];
        assert!(!tag.contains('<'), "a '<' inside a tag: {tag}");
        assert_eq!(tag.matches('"').count() % 2, 0, "balanced quotes in {tag}");
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(stack.pop().as_deref(), Some(name), "closing tag matches the open one");
        } else if !tag.ends_with('/') {
            let name = tag.split_whitespace().next().expect("a tag has a name").to_string();
            if stack.is_empty() {
                roots += 1;
            }
            stack.push(name);
        } else if stack.is_empty() {
            roots += 1;
        }
        rest = &rest[close + 1..];
    }
    assert!(stack.is_empty(), "unclosed tags: {stack:?}");
    assert_eq!(roots, 1, "one root element");
    assert!(rest.trim().is_empty());
    assert!(!svg.contains("NaN") && !svg.contains("inf"), "no non-finite numbers in the document");
}

/// The number of points of each `<polyline>` stroked in `color`.
fn polylines(svg: &str, color: Color) -> Vec<usize> {
    let stroke = format!("stroke=\"{}\"", color.to_hex());
    svg.lines()
        .filter(|l| l.starts_with("<polyline") && l.contains(&stroke))
        .map(|l| {
            let start = l.find("points=\"").expect("a polyline has points") + 8;
            let end = l[start..].find('"').expect("closed attribute") + start;
            l[start..end].split_whitespace().count()
        })
        .collect()
}

fn texts(fig: &Figure) -> Vec<&str> {
    fig.shapes
        .iter()
        .filter_map(|s| match s {
            Shape::Text { text, .. } => Some(text.as_str()),
            _ => None,
        })
        .collect()
}

fn two_series() -> LineChart {
    let standard: Vec<(f32, f32)> = (0..12).map(|i| (i as f32 * 100.0, 0.1 + 0.07 * i as f32)).collect();
    let mut metaplastic: Vec<(f32, f32)> = (0..9).map(|i| (i as f32 * 150.0, 0.2 + 0.08 * i as f32)).collect();
    metaplastic[3].1 = f32::NAN;
    metaplastic[5].0 = f32::INFINITY;
    LineChart {
        title: "Test accuracy, task 1".into(),
        x_label: "training step".into(),
        y_label: "accuracy".into(),
        y_range: Some((0.0, 1.0)),
        series: vec![
            Series::new("standard", palette::STANDARD, standard),
            Series::new("metaplastic", palette::METAPLASTIC, metaplastic).dashed(),
        ],
        markers: vec![Marker::new(600.0, "task 2")],
        ..Default::default()
    }
}

#[test]
fn line_chart_draws_one_polyline_per_series_and_skips_non_finite_points() {
    let fig = charts::line_chart(&two_series());
    let svg = fig.to_svg();
    assert_well_formed(&svg);
    for name in ["standard", "metaplastic", "task 2", "Test accuracy, task 1", "training step", "accuracy"] {
        assert!(texts(&fig).contains(&name), "{name} is on the chart");
        assert!(svg.contains(&format!(">{name}</text>")), "{name} is in the SVG");
    }
    // One data line per series (the legend swatch is a second, two-point line of the same colour).
    let data = |c: Color| polylines(&svg, c).into_iter().filter(|&n| n > 2).collect::<Vec<_>>();
    assert_eq!(data(palette::STANDARD), vec![12]);
    assert_eq!(data(palette::METAPLASTIC), vec![7], "the NaN and the infinite point are skipped");
    assert!(svg.contains("stroke-dasharray"), "the metaplastic series is dashed");
}

#[test]
fn a_fixed_accuracy_range_gets_ticks_from_0_to_1() {
    let fig = charts::line_chart(&two_series());
    let labels = texts(&fig);
    for tick in ["0", "0.2", "0.4", "0.6", "0.8", "1"] {
        assert!(labels.contains(&tick), "tick {tick} in {labels:?}");
    }
}

#[test]
fn heatmap_has_one_cell_per_entry_and_prints_measured_values() {
    let (rows, cols) = (3, 4);
    let mut values: Vec<f32> = (0..rows * cols).map(|i| i as f32 / 11.0).collect();
    values[7] = f32::NAN;
    values[0] = 0.93;
    let fig = charts::heatmap(&Heatmap {
        title: "Accuracy matrix".into(),
        rows,
        cols,
        values: values.clone(),
        row_labels: (1..=rows).map(|i| format!("after task {i}")).collect(),
        col_labels: (1..=cols).map(|j| format!("task {j}")).collect(),
        ..Default::default()
    });
    assert_well_formed(&fig.to_svg());
    let cells: Vec<&Shape> = fig
        .shapes
        .iter()
        .filter(|s| matches!(s, Shape::Rect { stroke: Some(c), .. } if *c == palette::WHITE))
        .collect();
    assert_eq!(cells.len(), rows * cols);
    let labels = texts(&fig);
    assert!(labels.contains(&"0.93"));
    let printed =
        values.iter().filter(|v| v.is_finite()).filter(|v| labels.contains(&format!("{v:.2}").as_str())).count();
    assert_eq!(printed, rows * cols - 1, "every measured value is printed, the NaN cell is not");
    assert!(labels.contains(&"after task 3") && labels.contains(&"task 4"));
    let grey = cells.iter().filter(|s| matches!(s, Shape::Rect { fill, .. } if *fill == palette::MISSING)).count();
    assert_eq!(grey, 1, "the cell not measured yet is grey");
}

#[test]
fn heatmap_with_tiny_cells_prints_no_values() {
    let n = 60;
    let fig = charts::heatmap(&Heatmap { rows: n, cols: n, values: vec![0.5; n * n], ..Default::default() });
    assert!(!texts(&fig).contains(&"0.50"));
}

#[test]
fn binning_counts_every_value_in_range_once() {
    let values: Vec<f32> = (0..1000).map(|i| ((i * 7919) % 1000) as f32 / 37.0 - 9.0).collect();
    let (lo, hi) = values.iter().fold((f32::MAX, f32::MIN), |(a, b), &v| (a.min(v), b.max(v)));
    for bins in [1, 7, 40, 1000] {
        let counts = charts::bin(&values, lo, hi, bins);
        assert_eq!(counts.len(), bins);
        assert_eq!(counts.iter().sum::<u32>(), values.len() as u32, "{bins} bins");
    }
    assert_eq!(charts::bin(&[0.0, 0.5, 1.0, 1.5, -0.1, f32::NAN], 0.0, 1.0, 2), vec![1, 2], "hi falls in the last bin");
    assert_eq!(charts::bin(&[1.0], 1.0, 1.0, 3), vec![0, 0, 0], "an empty range counts nothing");
    assert!(charts::bin(&[1.0], 0.0, 2.0, 0).is_empty());
}

#[test]
fn histogram_bars_account_for_all_values() {
    let a: Vec<f32> = (0..500).map(|i| (i as f32 / 500.0 - 0.5) * 0.2).collect();
    let b: Vec<f32> = (0..300).map(|i| (i as f32 / 300.0 - 0.5) * 3.0).chain([f32::NAN]).collect();
    let spec = Histogram {
        title: "Hidden weights".into(),
        x_label: "hidden weight".into(),
        sets: vec![
            ValueSet::new("standard", palette::STANDARD, a),
            ValueSet::new("metaplastic", palette::METAPLASTIC, b),
        ],
        bins: 30,
        ..Default::default()
    };
    let fig = charts::histogram(&spec);
    assert_well_formed(&fig.to_svg());
    assert!(texts(&fig).contains(&"standard") && texts(&fig).contains(&"metaplastic"));
    let log = charts::histogram(&Histogram { log_counts: true, range: Some((-1.0, 1.0)), ..spec });
    assert_well_formed(&log.to_svg());
    assert!(
        texts(&log).iter().any(|t| t.contains("outside [-1, 1] not shown")),
        "values off the given range are noted"
    );
}

#[test]
fn empty_inputs_say_no_data_yet() {
    let figures = [
        charts::line_chart(&LineChart::default()),
        charts::line_chart(&LineChart {
            series: vec![Series::new("nan", palette::ACCENT, vec![(f32::NAN, 1.0), (0.0, f32::NAN)])],
            ..Default::default()
        }),
        charts::heatmap(&Heatmap::default()),
        charts::histogram(&Histogram::default()),
        charts::histogram(&Histogram {
            sets: vec![ValueSet::new("x", palette::ACCENT, vec![f32::NAN])],
            ..Default::default()
        }),
        charts::trajectory_plot(&Trajectories::default()),
        charts::bar_chart(&BarChart::default()),
        charts::bar_chart(&BarChart {
            groups: vec!["a".into()],
            series: vec![BarSeries::new("s", palette::ACCENT, vec![f32::NAN], vec![])],
            ..Default::default()
        }),
    ];
    for fig in &figures {
        assert!(texts(fig).contains(&NO_DATA));
        assert_well_formed(&fig.to_svg());
    }
}

#[test]
fn odd_inputs_do_not_panic() {
    let one_point = LineChart {
        series: vec![Series::new("one", palette::ACCENT, vec![(1.0, 1.0)])],
        x_range: Some((f32::NAN, 3.0)),
        y_range: Some((1.0, 1.0)),
        width: f32::NAN,
        height: -5.0,
        ..Default::default()
    };
    let fig = charts::line_chart(&one_point);
    assert!(fig.shapes.iter().any(|s| matches!(s, Shape::Circle { .. })), "a single point is a dot");
    assert_well_formed(&fig.to_svg());
    let log = LineChart {
        log_y: true,
        series: vec![Series::new("loss", palette::ACCENT, vec![(0.0, 2.3), (1.0, 0.0), (2.0, -1.0), (3.0, 0.04)])],
        ..Default::default()
    };
    assert_well_formed(&charts::line_chart(&log).to_svg());
    let short_values = Heatmap { rows: 2, cols: 2, values: vec![0.5], range: None, ..Default::default() };
    assert_well_formed(&charts::heatmap(&short_values).to_svg());
    let flat = Trajectories {
        grid: vec![1.0; 9],
        nx: 3,
        ny: 3,
        x_range: (1.0, 1.0),
        paths: vec![Path::new("p", palette::ACCENT, vec![(0.0, 0.0), (f32::NAN, 1.0), (50.0, 50.0)])],
        ..Default::default()
    };
    assert_well_formed(&charts::trajectory_plot(&flat).to_svg());
}

#[test]
fn ticks_are_nice() {
    let mantissa = |step: f32| {
        let m = step / 10f32.powf(step.log10().floor());
        [1.0, 2.0, 5.0, 10.0].into_iter().find(|n| (m - n).abs() < 1e-3)
    };
    for &(lo, hi) in &[(0.0, 1.0), (0.0, 0.93), (-3.7, 12.2), (0.0, 9375.0), (1e-4, 3e-3), (0.25, 0.26), (-1e6, 1e6)] {
        for max_ticks in [3, 5, 8] {
            let step = charts::nice_step(hi - lo, max_ticks);
            assert!(mantissa(step).is_some(), "step {step} for [{lo}, {hi}] is 1, 2 or 5 x 10^k");
            let ticks = charts::nice_ticks(lo, hi, max_ticks);
            assert!(!ticks.is_empty() && ticks.len() <= max_ticks + 1, "{ticks:?}");
            assert!(ticks.iter().all(|t| *t >= lo - step * 1e-3 && *t <= hi + step * 1e-3));
            for t in &ticks {
                let k = t / step;
                assert!((k - k.round()).abs() < 1e-3, "{t} is a multiple of {step}");
            }
        }
    }
    assert_eq!(charts::nice_ticks(0.0, 1.0, 5), vec![0.0, 0.2, 0.4, 0.6, 0.8, 1.0]);
    assert_eq!(charts::nice_ticks(0.0, 1.0, 10)[3], 0.3, "computed as 3 x 0.1, not by repeated addition");
    assert_eq!(charts::nice_ticks(2.0, 2.0, 5), vec![2.0]);
    assert!(charts::nice_ticks(f32::NAN, 1.0, 5).is_empty());
    assert_eq!(charts::nice_step(0.0, 5), 1.0);
}

#[test]
fn svg_text_is_escaped() {
    let mut spec = two_series();
    spec.title = "a < b & \"c\"".into();
    let svg = charts::line_chart(&spec).to_svg();
    assert!(svg.contains(">a &lt; b &amp; &quot;c&quot;</text>"));
    assert_well_formed(&svg);
}

#[test]
fn colors_and_palette() {
    // Okabe and Ito's colour-blind-safe colours; static/style.css repeats the first two.
    assert_eq!(palette::STANDARD.to_css(), "#d55e00");
    assert_eq!(palette::METAPLASTIC.to_css(), "#0072b2");
    assert_eq!(palette::EWC.to_css(), "#cc79a7");
    let css = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/static/style.css")).expect("style.css");
    assert!(css.contains("--standard: #d55e00;") && css.contains("--meta: #0072b2;"), "the page's tags use the charts' colours");
    assert_eq!(palette::BASELINE.to_css(), "#555555");
    assert_eq!(palette::ACCENT.to_css(), "#2f5bd3");
    assert_eq!(palette::ACCENT.with_alpha(0.5).to_css(), "rgba(47,91,211,0.5)");
    let colors = palette::distinct(14);
    for (i, a) in colors.iter().enumerate() {
        for b in &colors[i + 1..] {
            assert_ne!(a, b);
        }
    }
    let shades = palette::shades(palette::STANDARD, 5);
    assert!(shades.windows(2).all(|w| w[0].luminance() < w[1].luminance()), "dark to light");
    assert!(shades.iter().all(|&c| palette::shade_of(c, palette::STANDARD)), "a task's shade stays in its learner's family");
    assert!(!palette::shade_of(palette::METAPLASTIC, palette::STANDARD) && !palette::shade_of(palette::BASELINE, palette::STANDARD));
}

/// Every colour a chart can give a line, a marker or a bar stands out from the white background by
/// at least 3:1 (WCAG 2.1, 1.4.11): the learners, their shades for up to 50 tasks, the categorical
/// colours however many are asked for. The contrast formula itself against WCAG's known pairs.
#[test]
fn line_colours_contrast_with_the_background() {
    let white = palette::WHITE;
    assert!((Color::rgb(0, 0, 0).contrast(&white) - 21.0).abs() < 1e-3);
    assert!((white.contrast(&white) - 1.0).abs() < 1e-6);
    assert!((Color::hex(0x767676).contrast(&white) - 4.54).abs() < 0.01, "the lightest grey that passes 4.5:1");
    let enough = |c: Color, what: &str| {
        let ratio = c.contrast(&white);
        assert!(ratio >= palette::LINE_CONTRAST, "{what} {} has {ratio:.2}:1 on white", c.to_css());
    };
    let learners = [palette::STANDARD, palette::METAPLASTIC, palette::EWC, palette::BASELINE, palette::ACCENT, palette::EXTRA_LEARNERS[0], palette::EXTRA_LEARNERS[1]];
    for base in learners {
        enough(base, "learner");
        for n in 1..=50 {
            let shades = palette::shades(base, n);
            assert_eq!(shades.len(), n);
            for &c in &shades {
                enough(c, &format!("shade of {} (n = {n})", base.to_css()));
            }
            assert!(shades.windows(2).all(|w| w[0].luminance() <= w[1].luminance()), "dark to light");
        }
        let five = palette::shades(base, 5);
        assert!(five.windows(2).all(|w| w[0].luminance() < w[1].luminance()), "five tasks, five shades of {}", base.to_css());
    }
    for c in palette::distinct(60) {
        enough(c, "categorical colour");
    }
    // The darkened orange is still told from the vermillion it sits beside.
    assert!(!palette::shade_of(palette::EXTRA_LEARNERS[1], palette::STANDARD));
}

/// Learners are told apart without colour: standard lines (and every shade of them, one per task)
/// carry squares, metaplastic lines circles, the grey baseline nothing; the legend shows them too.
/// The projector palette (presenter mode): every colour a line or marker can get stands 6:1 off
/// the white, in its own hue, so the learners stay told apart; every text 7:1; backgrounds (a
/// marker's white fill, white text on a dark cell) and filled areas stay as they are. Checked on
/// the palette itself and on figures of each kind.
#[test]
fn the_projector_palette_has_the_contrast_a_washed_out_projector_needs() {
    let white = palette::WHITE;
    let learners = [palette::STANDARD, palette::METAPLASTIC, palette::EWC, palette::BASELINE, palette::ACCENT, palette::EXTRA_LEARNERS[0], palette::EXTRA_LEARNERS[1]];
    let mut colours: Vec<Color> = learners.to_vec();
    for base in learners {
        for n in 1..=50 {
            colours.extend(palette::shades(base, n));
        }
    }
    colours.extend(palette::distinct(60));
    for c in colours {
        let p = palette::projected(c, palette::PROJECTOR_LINE_CONTRAST);
        assert!(p.contrast(&white) >= palette::PROJECTOR_LINE_CONTRAST, "{} projected to {}: {:.2}:1", c.to_css(), p.to_css(), p.contrast(&white));
        assert!(p == c || palette::shade_of(p, c) || c.r.abs_diff(c.g).max(c.g.abs_diff(c.b)) < 21, "{} keeps its hue on a projector: {}", c.to_css(), p.to_css());
    }
    // The learners' colours stay apart from each other.
    let projected: Vec<Color> = learners[..3].iter().map(|&c| palette::projected(c, palette::PROJECTOR_LINE_CONTRAST)).collect();
    for (i, a) in projected.iter().enumerate() {
        for b in &projected[i + 1..] {
            assert!(!palette::shade_of(*a, *b), "{} and {} look alike", a.to_css(), b.to_css());
        }
    }
    assert_eq!(palette::projected(white, 7.0), white, "a white fill stays white");

    // Figures of every kind: a line chart with markers, a heat map, a histogram, the toy landscape, bars.
    let figures = [
        charts::line_chart(&two_series()),
        charts::heatmap(&Heatmap { title: "m".into(), rows: 2, cols: 2, values: vec![0.95, 0.1, 0.5, 0.9], ..Default::default() }),
        charts::trajectory_plot(&toy_landscape()),
        charts::bar_chart(&seed_bars()),
    ];
    for fig in figures {
        let shown = fig.for_projector();
        assert_eq!((shown.width, shown.height, shown.shapes.len()), (fig.width, fig.height, fig.shapes.len()));
        let mut lines = 0;
        for (before, after) in fig.shapes.iter().zip(&shown.shapes) {
            match (before, after) {
                (Shape::Line { color: was, width, .. }, Shape::Line { color, .. }) if *width >= 2.0 => {
                    lines += 1;
                    assert!(color.contrast(&white) >= palette::PROJECTOR_LINE_CONTRAST || was.contrast(&white) < palette::INK, "a line {}", color.to_css());
                }
                (Shape::Text { color: was, text, .. }, Shape::Text { color, .. }) => {
                    assert!(color.contrast(&white) >= palette::PROJECTOR_TEXT_CONTRAST || (was == color && was.contrast(&white) < palette::INK), "text '{text}' in {}", color.to_css());
                }
                (Shape::Rect { fill: was, .. }, Shape::Rect { fill, .. }) => assert_eq!(was, fill, "filled areas keep their colours"),
                (Shape::Circle { fill: was, .. }, Shape::Circle { fill, .. }) => {
                    assert!(fill.contrast(&white) >= palette::PROJECTOR_LINE_CONTRAST || was == fill, "a marker {}", fill.to_css());
                }
                (a, b) => assert_eq!(std::mem::discriminant(a), std::mem::discriminant(b)),
            }
        }
        assert!(lines > 0 || shown.shapes.iter().all(|s| !matches!(s, Shape::Line { width, .. } if *width >= 2.0)));
    }
}

#[test]
fn learner_lines_carry_their_markers() {
    use metaplastic::charts::plots::PointMark;
    let shades = palette::shades(palette::STANDARD, 3);
    assert_eq!(PointMark::for_color(shades[0]), Some(PointMark::Square));
    assert_eq!(PointMark::for_color(palette::shades(palette::METAPLASTIC, 4)[3]), Some(PointMark::Circle));
    assert_eq!(PointMark::for_color(palette::EWC), Some(PointMark::Ring));
    assert_eq!(PointMark::for_color(palette::shades(palette::EXTRA_LEARNERS[0], 3)[2]), Some(PointMark::Ring));
    assert_eq!(PointMark::for_color(palette::BASELINE), None);
    let points: Vec<(f32, f32)> = (0..50).map(|i| (i as f32, (i as f32).sqrt())).collect();
    let spec = LineChart {
        series: vec![
            Series::new("standard", palette::STANDARD, points.clone()),
            Series::new("metaplastic", palette::METAPLASTIC, points.clone()),
            Series::new("baseline", palette::BASELINE, points).dashed(),
        ],
        ..two_series()
    };
    let fig = charts::line_chart(&spec);
    let squares = fig.shapes.iter().filter(|s| matches!(s, Shape::Rect { fill, w, .. } if *fill == palette::STANDARD && *w == 7.0)).count();
    let circles = fig.shapes.iter().filter(|s| matches!(s, Shape::Circle { fill, .. } if *fill == palette::METAPLASTIC)).count();
    // Every fifth of 50 points and the last: 11 on the line, one more in the legend.
    assert_eq!((squares, circles), (12, 12));
    let grey_marks = fig.shapes.iter().filter(|s| matches!(s, Shape::Circle { fill, .. } | Shape::Rect { fill, .. } if *fill == palette::BASELINE)).count();
    assert_eq!(grey_marks, 0);
}

#[test]
fn trajectories_draw_bands_contours_paths_and_the_optimum() {
    let spec = toy_landscape();
    let fig = charts::trajectory_plot(&spec);
    assert_well_formed(&fig.to_svg());
    let has_line = |c: Color, min_points: usize| {
        fig.shapes
            .iter()
            .any(|s| matches!(s, Shape::Line { color, points, .. } if *color == c && points.len() >= min_points))
    };
    assert!(has_line(palette::STANDARD, 20) && has_line(palette::METAPLASTIC, 20), "both paths");
    assert!(texts(&fig).contains(&"W*"));
    let contours = fig
        .shapes
        .iter()
        .filter(|s| matches!(s, Shape::Line { color, .. } if color.a < 0.5 && color.r == palette::ACCENT.r))
        .count();
    assert!(contours >= spec.levels, "at least one contour line per level, {contours}");
}

#[test]
fn bar_chart_draws_bars_and_error_bars() {
    let fig = charts::bar_chart(&seed_bars());
    assert_well_formed(&fig.to_svg());
    let bars = fig
        .shapes
        .iter()
        .filter(
            |s| matches!(s, Shape::Rect { fill, .. } if *fill == palette::STANDARD || *fill == palette::METAPLASTIC),
        )
        .count();
    assert_eq!(bars, 6 + 2, "six bars and the two legend swatches");
    assert!(texts(&fig).contains(&"permuted MNIST"));
    assert!(fig.shapes.iter().all(|s| !matches!(s, Shape::Text { anchor: Anchor::Middle, text, .. } if text == "NaN")));
}

fn toy_landscape() -> Trajectories {
    // L(w) = 1/2 (w - w*)^T H (w - w*), an elongated bowl with its optimum off the axes.
    let opt = (0.6, -0.4);
    let loss = move |x: f32, y: f32| {
        let (dx, dy) = (x - opt.0, y - opt.1);
        0.5 * (3.0 * dx * dx + 1.2 * dx * dy + 0.6 * dy * dy)
    };
    let (x_range, y_range) = ((-1.5, 1.5), (-1.5, 1.5));
    let grid = charts::sample_grid(loss, 61, 61, x_range, y_range);
    let descend = |lr: f32, steps: usize, damp: f32| {
        let mut w = (-1.2f32, 1.1f32);
        let mut path = vec![w];
        for _ in 0..steps {
            let (dx, dy) = (w.0 - opt.0, w.1 - opt.1);
            let g = (3.0 * dx + 0.6 * dy, 0.6 * dx + 0.6 * dy);
            w = (w.0 - lr * g.0 * damp, w.1 - lr * g.1);
            path.push(w);
        }
        path
    };
    Trajectories {
        title: "Two-weight toy problem".into(),
        x_label: "hidden weight w₁".into(),
        y_label: "hidden weight w₂".into(),
        grid,
        nx: 61,
        ny: 61,
        x_range,
        y_range,
        paths: vec![
            Path::new("standard", palette::STANDARD, descend(0.25, 40, 1.0)),
            Path::new("metaplastic", palette::METAPLASTIC, descend(0.25, 40, 0.3)),
        ],
        optimum: Some(opt),
        ..Default::default()
    }
}

fn seed_bars() -> BarChart {
    BarChart {
        title: "Mean accuracy over 5 seeds".into(),
        y_label: "mean test accuracy".into(),
        groups: vec!["permuted MNIST".into(), "stream Fashion-MNIST".into(), "MNIST → FMNIST".into()],
        series: vec![
            BarSeries::new("standard", palette::STANDARD, vec![0.62, 0.71, 0.48], vec![0.03, 0.02, 0.05]),
            BarSeries::new("metaplastic", palette::METAPLASTIC, vec![0.91, 0.84, 0.86], vec![0.01, 0.015, f32::NAN]),
        ],
        y_range: Some((0.0, 1.0)),
        ..Default::default()
    }
}

/// Writes one sample of each chart to `$CHARTS_OUT` (when set), to look at.
#[test]
fn write_samples() {
    let Some(dir) = std::env::var_os("CHARTS_OUT") else { return };
    let dir = std::path::PathBuf::from(dir);
    std::fs::create_dir_all(&dir).expect("the sample folder can be created");
    let tasks = 5;
    let steps_per_task = 2000.0;
    let mut series = Vec::new();
    for (learner, base, dashed) in [("standard", palette::STANDARD, false), ("metaplastic", palette::METAPLASTIC, true)]
    {
        for (task, shade) in palette::shades(base, tasks).into_iter().enumerate() {
            let points = (0..=50)
                .map(|i| i as f32 * tasks as f32 * steps_per_task / 50.0)
                .filter(|&s| s >= task as f32 * steps_per_task)
                .map(|s| {
                    let since = (s - task as f32 * steps_per_task) / steps_per_task;
                    let learned = 0.97 * (1.0 - (-since * 6.0).exp());
                    let keep = if dashed { 0.02 } else { 0.35 };
                    let forgotten = (since - 1.0).max(0.0) * keep;
                    (s, (learned - forgotten).clamp(0.1, 1.0))
                })
                .collect();
            let name = format!("{learner}, task {}", task + 1);
            series.push(Series { name, color: shade, points, dashed });
        }
    }
    let line = LineChart {
        title: "Permuted MNIST: test accuracy per task".into(),
        x_label: "training step".into(),
        y_label: "test accuracy".into(),
        y_range: Some((0.0, 1.0)),
        series,
        markers: (1..tasks).map(|t| Marker::new(t as f32 * steps_per_task, format!("task {}", t + 1))).collect(),
        ..Default::default()
    };
    let loss = LineChart {
        title: "Training loss".into(),
        x_label: "training step".into(),
        y_label: "cross-entropy".into(),
        log_y: true,
        series: vec![
            Series::new(
                "standard",
                palette::STANDARD,
                (0..200).map(|i| (i as f32 * 50.0, 2.3 * (-(i as f32) / 40.0).exp() + 0.03)).collect(),
            ),
            Series::new(
                "metaplastic",
                palette::METAPLASTIC,
                (0..200).map(|i| (i as f32 * 50.0, 2.3 * (-(i as f32) / 60.0).exp() + 0.05)).collect(),
            ),
        ],
        ..Default::default()
    };
    let n = 5;
    let matrix: Vec<f32> = (0..n * n)
        .map(|k| {
            let (i, j) = (k / n, k % n);
            if j > i { f32::NAN } else { 0.97 - 0.08 * (i - j) as f32 }
        })
        .collect();
    let heat = Heatmap {
        title: "Accuracy matrix (metaplastic)".into(),
        rows: n,
        cols: n,
        values: matrix,
        row_labels: (1..=n).map(|i| format!("after task {i}")).collect(),
        col_labels: (1..=n).map(|j| format!("task {j}")).collect(),
        x_label: "tested on".into(),
        y_label: "trained up to".into(),
        ..Default::default()
    };
    let counts: Vec<f32> = (0..100)
        .map(|k| if k / 10 == k % 10 { 900.0 + (k % 7) as f32 * 10.0 } else { ((k * 37) % 23) as f32 })
        .collect();
    let confusion = Heatmap {
        title: "Confusion matrix".into(),
        rows: 10,
        cols: 10,
        values: charts::normalize_rows(&counts, 10),
        row_labels: (0..10).map(|i| i.to_string()).collect(),
        col_labels: (0..10).map(|i| i.to_string()).collect(),
        x_label: "predicted".into(),
        y_label: "true class".into(),
        ..Default::default()
    };
    let gauss = |seed: u32, n: usize, scale: f32| -> Vec<f32> {
        let mut s = seed;
        let mut next = move || {
            s = s.wrapping_mul(1664525).wrapping_add(1013904223);
            (s >> 8) as f32 / (1u32 << 24) as f32
        };
        (0..n).map(|_| ((0..6).map(|_| next()).sum::<f32>() - 3.0) * scale).collect()
    };
    let hist = Histogram {
        title: "Hidden weights, layer 2".into(),
        x_label: "hidden weight".into(),
        sets: vec![
            ValueSet::new("standard", palette::STANDARD, gauss(1, 20000, 0.02)),
            ValueSet::new("metaplastic", palette::METAPLASTIC, gauss(2, 20000, 0.08)),
        ],
        bins: 60,
        ..Default::default()
    };
    let hist_log = Histogram { log_counts: true, title: "Hidden weights, layer 2 (log counts)".into(), ..hist.clone() };
    let ten = Heatmap {
        title: "Accuracy matrix, 10 tasks".into(),
        rows: 10,
        cols: 10,
        values: (0..100)
            .map(|k| if k % 10 > k / 10 { f32::NAN } else { 0.9 - 0.05 * (k / 10 - k % 10) as f32 })
            .collect(),
        row_labels: (1..=10).map(|i| format!("after task {i}")).collect(),
        col_labels: (1..=10).map(|j| format!("task {j}")).collect(),
        x_label: "tested on".into(),
        y_label: "trained up to".into(),
        ..Default::default()
    };
    let dense = LineChart {
        markers: (1..10).map(|t| Marker::new(t as f32 * 1000.0, format!("task {}", t + 1))).collect(),
        title: "Ten tasks".into(),
        ..line.clone()
    };
    let samples = [
        ("heatmap_10_tasks", charts::heatmap(&ten)),
        ("line_dense_markers", charts::line_chart(&dense)),
        ("line_accuracy", charts::line_chart(&line)),
        ("line_loss", charts::line_chart(&loss)),
        ("heatmap_accuracy", charts::heatmap(&heat)),
        ("heatmap_confusion", charts::heatmap(&confusion)),
        ("histogram", charts::histogram(&hist)),
        ("histogram_log", charts::histogram(&hist_log)),
        ("trajectories", charts::trajectory_plot(&toy_landscape())),
        ("bars", charts::bar_chart(&seed_bars())),
        ("empty", charts::line_chart(&LineChart { title: "Test accuracy".into(), ..Default::default() })),
    ];
    for (name, fig) in samples {
        std::fs::write(dir.join(format!("{name}.svg")), fig.to_svg()).expect("the sample can be written");
    }
}

/// The mean accuracy over the tasks learned so far, after each task, averaged over seeds: one line
/// per learner through the right values (the chart's plot area maps x 1..3 and y 0..1 linearly, so
/// the ratios of the drawn coordinates give the values back), EWC dashed.
#[test]
fn mean_accuracy_over_tasks_learned() {
    use metaplastic::charts::bnn::{Learner, LearnerKind, mean_accuracy_vs_tasks};
    let specs = [Learner::new("m=0", 0.0, 0.0, false), Learner::new("ewc", 0.0, 5000.0, false)];
    assert_eq!(specs.map(|l| l.kind), [LearnerKind::Standard, LearnerKind::Ewc]);
    assert_eq!(Learner::new("m=1.35", 1.35, 0.0, false).kind, LearnerKind::Metaplastic);
    assert_eq!(Learner::new("full data", 0.0, 0.0, true).kind, LearnerKind::Baseline);
    let specs = [Learner::new("m=0", 0.0, 0.0, false), Learner::new("ewc", 0.0, 5000.0, false)];
    let seed = |a: f32| vec![vec![0.9, f32::NAN, f32::NAN], vec![a, 0.9, f32::NAN], vec![a / 2.0, 0.5, 0.9]];
    let matrices = vec![vec![seed(0.5), seed(0.7)], vec![seed(0.9)]];
    let fig = mean_accuracy_vs_tasks(&specs, &matrices, 760.0, 420.0);
    let lines: Vec<(&Vec<(f32, f32)>, bool)> = fig
        .shapes
        .iter()
        .filter_map(|s| match s {
            Shape::Line { color, points, dash, .. } if points.len() == 3 && (*color == palette::STANDARD || *color == palette::EWC) => Some((points, *dash)),
            _ => None,
        })
        .collect();
    assert_eq!(lines.len(), 2, "one line per learner");
    // Expected means: m = 0 (seeds a = 0.5, 0.7): 0.9; (0.6 + 0.9) / 2 = 0.75; ((0.25 + 0.35) / 2 + 0.5 + 0.9) / 3.
    let standard = [0.9, 0.75, (0.3 + 0.5 + 0.9) / 3.0];
    let ewc = [0.9, 0.9, (0.45 + 0.5 + 0.9) / 3.0];
    for ((points, dash), want) in lines.iter().zip([standard, ewc]) {
        let (x0, x1) = (points[0].0, points[2].0);
        assert!((points[1].0 - (x0 + x1) / 2.0).abs() < 0.01, "tasks 1, 2, 3 evenly spaced");
        // y in pixels is linear in the value: solve for the axis from two known accuracies.
        let y_of = |v: f32, p0: f32, p1: f32| p0 + (p1 - p0) * (v - want[0]) / (want[1] - want[0]);
        if (want[1] - want[0]).abs() > 1e-6 {
            let predicted = y_of(want[2], points[0].1, points[1].1);
            assert!((predicted - points[2].1).abs() < 0.5, "third point at {} px, expected {predicted}", points[2].1);
        } else {
            assert!((points[0].1 - points[1].1).abs() < 0.01);
            assert!(points[2].1 > points[1].1, "lower accuracy is lower on the chart (larger y)");
        }
        assert_eq!(*dash, want == ewc, "EWC dashed");
    }
    assert!(fig.to_svg().contains("m=0 (2 seeds)"));
}
