//! The Hebbian-plasticity figures: loss curves, an episode with its trace, and reconstructions.

use super::palette;
use super::plots::{ImageGrid, LineChart, Series, Tile, TileScale, image_grid, line_chart};
use super::{Color, Figure};

/// Blue for the plastic network, vermillion for its non-plastic twin, as learners elsewhere.
pub fn variant_color(plastic: bool) -> Color {
    if plastic { palette::METAPLASTIC } else { palette::STANDARD }
}

pub fn variant_name(plastic: bool) -> &'static str {
    if plastic { "plastic" } else { "non-plastic" }
}

/// Training MSE over steps, one line per network, log scale.
pub fn loss_curves(curves: &[(bool, Vec<(f32, f32)>)], total_steps: usize, width: f32, height: f32) -> Figure {
    line_chart(&LineChart {
        title: "Training loss (MSE at the episode's last step)".into(),
        x_label: "training steps (batches of episodes)".into(),
        y_label: "MSE".into(),
        x_range: Some((0.0, total_steps.max(1) as f32)),
        log_y: true,
        series: curves.iter().map(|(plastic, points)| Series::new(variant_name(*plastic), variant_color(*plastic), points.clone())).collect(),
        width,
        height,
        ..Default::default()
    })
}

/// A ±1 pattern of `n` bits as a tile of `cols` columns: black +1, white -1, grey 0 (blank or
/// erased: no information).
fn bits_tile(values: &[f32], scale: f32, cols: usize, caption: String, frame: Option<Color>) -> Tile {
    let rows = values.len().div_ceil(cols);
    let mut pixels: Vec<f32> = values.iter().map(|v| 0.5 + 0.5 * (v / scale).clamp(-1.0, 1.0)).collect();
    pixels.resize(rows * cols, 0.5);
    Tile { pixels, w: cols, h: rows, caption, frame }
}

/// One episode of pattern completion, up to step `t`: the inputs of every step (the current one
/// framed), and the output at step `t` of each network against the full pattern.
pub fn episode(inputs: &[Vec<f32>], gain: f32, t: usize, outputs: &[(bool, Vec<f32>)], target: &[f32], width: f32, height: f32) -> Figure {
    let n = target.len();
    let cols = (n as f32).sqrt().ceil() as usize;
    let mut tiles: Vec<Tile> = inputs
        .iter()
        .enumerate()
        .map(|(s, x)| {
            let frame = (s == t).then_some(palette::ACCENT);
            let shown = if s <= t { x.clone() } else { vec![0.0; n] };
            bits_tile(&shown, gain, cols, format!("{}", s + 1), frame)
        })
        .collect();
    for (plastic, y) in outputs {
        // Short captions: a tile is about 30 px wide and its neighbours' captions must not meet.
        tiles.push(bits_tile(y, 1.0, cols, if *plastic { "plastic" } else { "fixed" }.into(), Some(variant_color(*plastic))));
    }
    tiles.push(bits_tile(target, 1.0, cols, "target".into(), Some(palette::TEXT)));
    image_grid(&ImageGrid {
        title: format!("An episode, step {} of {}: inputs, then outputs at this step", t + 1, inputs.len()),
        note: Some("black +1, white −1, grey 0 (blank step or erased bit) · fixed: the non-plastic network".into()),
        cols: tiles.len().min(12),
        tiles,
        scale: TileScale::Grey,
        width,
        height,
    })
}

/// The plastic network's trace `Hebb` (out x in) at one step: blue where co-active inputs and
/// outputs have strengthened a synapse, red where they weakened it.
pub fn trace(hebb: &[f32], n: usize, t: usize, width: f32, height: f32) -> Figure {
    image_grid(&ImageGrid {
        title: format!("The plastic network's trace Hebb before step {}", t + 1),
        note: Some("row: output, column: input · blue +, red −, scaled to the largest |value|".into()),
        tiles: vec![Tile { pixels: hebb.to_vec(), w: n, h: hebb.len() / n.max(1), caption: String::new(), frame: Some(palette::METAPLASTIC) }],
        cols: 1,
        scale: TileScale::Diverging,
        width,
        height,
    })
}

/// Test images in columns; rows clean, noisy, non-plastic and plastic reconstructions.
pub fn reconstructions(clean: &[Vec<f32>], noisy: &[Vec<f32>], standard: &[Vec<f32>], plastic: &[Vec<f32>], side: usize, width: f32, height: f32) -> Figure {
    let k = clean.len();
    let mut tiles = Vec::new();
    for (row, (name, frame)) in [clean, noisy, standard, plastic].iter().zip([
        ("clean", palette::TEXT),
        ("noisy input", palette::MUTED),
        ("non-plastic", palette::STANDARD),
        ("plastic", palette::METAPLASTIC),
    ]) {
        for (i, image) in row.iter().enumerate() {
            let caption = if i == 0 { name.to_string() } else { String::new() };
            tiles.push(Tile { pixels: image.clone(), w: side, h: side, caption, frame: Some(frame) });
        }
    }
    image_grid(&ImageGrid {
        title: "Test images never trained on: clean, noisy (last step of the episode), and the two reconstructions".into(),
        note: None,
        tiles,
        cols: k.max(1),
        scale: TileScale::Grey,
        width,
        height,
    })
}
