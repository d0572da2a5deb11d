//! A drawing prepared as MNIST's digits were (LeCun et al., the MNIST page): the ink's bounding box
//! scaled, keeping its aspect ratio, to fit a 20 x 20 box (anti-aliased), then placed in the
//! 28 x 28 image so that its centre of mass sits at the image's centre. Fashion-MNIST's garments
//! were scaled to 28 on their longer side instead; the same preparation is a fair stand-in for a
//! sketch, which has no background to trim.

use super::{IMAGE_PIXELS, IMAGE_SIDE};

/// The side of the box the ink is scaled into.
pub const INK_BOX: usize = 20;

/// Ink below this (of 1) does not count towards the bounding box: stray anti-aliasing.
const INK_THRESHOLD: f32 = 0.05;

/// `ink` is a `width` x `height` row-major picture, 0 (paper) to 1 (ink). Returns the 28 x 28
/// image as the data sets store theirs (0 to 255, ink bright), or `None` when there is no ink.
pub fn prepare_drawing(ink: &[f32], width: usize, height: usize) -> Option<Vec<u8>> {
    if width == 0 || height == 0 || ink.len() != width * height {
        return None;
    }
    let at = |x: usize, y: usize| ink[y * width + x].clamp(0.0, 1.0);
    let (mut x0, mut y0, mut x1, mut y1) = (usize::MAX, usize::MAX, 0, 0);
    for y in 0..height {
        for x in 0..width {
            if at(x, y) > INK_THRESHOLD {
                (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
            }
        }
    }
    if x0 == usize::MAX {
        return None;
    }
    let (bw, bh) = (x1 - x0 + 1, y1 - y0 + 1);
    // Output pixels per input pixel; the longer side becomes INK_BOX.
    let scale = INK_BOX as f32 / bw.max(bh) as f32;
    let (sw, sh) = (((bw as f32 * scale).round() as usize).clamp(1, INK_BOX), ((bh as f32 * scale).round() as usize).clamp(1, INK_BOX));
    // Area averaging: each output pixel is the mean ink over the input rectangle it covers.
    let mut small = vec![0.0f32; sw * sh];
    for oy in 0..sh {
        let (fy0, fy1) = (oy as f32 * bh as f32 / sh as f32, (oy + 1) as f32 * bh as f32 / sh as f32);
        for ox in 0..sw {
            let (fx0, fx1) = (ox as f32 * bw as f32 / sw as f32, (ox + 1) as f32 * bw as f32 / sw as f32);
            let (mut sum, mut area) = (0.0f32, 0.0f32);
            for iy in fy0.floor() as usize..(fy1.ceil() as usize).min(bh) {
                let wy = (fy1.min(iy as f32 + 1.0) - fy0.max(iy as f32)).max(0.0);
                for ix in fx0.floor() as usize..(fx1.ceil() as usize).min(bw) {
                    let wx = (fx1.min(ix as f32 + 1.0) - fx0.max(ix as f32)).max(0.0);
                    sum += wx * wy * at(x0 + ix, y0 + iy);
                    area += wx * wy;
                }
            }
            small[oy * sw + ox] = if area > 0.0 { sum / area } else { 0.0 };
        }
    }
    // The centre of mass of the scaled ink, then the shift that puts it at the image's centre.
    let (mut mass, mut mx, mut my) = (0.0f32, 0.0f32, 0.0f32);
    for y in 0..sh {
        for x in 0..sw {
            let v = small[y * sw + x];
            mass += v;
            mx += v * (x as f32 + 0.5);
            my += v * (y as f32 + 0.5);
        }
    }
    let centre = IMAGE_SIDE as f32 / 2.0;
    let (cx, cy) = if mass > 0.0 { (mx / mass, my / mass) } else { (sw as f32 / 2.0, sh as f32 / 2.0) };
    // Whole-pixel shifts, kept inside the image: a lopsided drawing stays whole rather than centred.
    let shift = |c: f32, len: usize| ((centre - c).round() as i64).clamp(0, (IMAGE_SIDE - len) as i64) as usize;
    let (dx, dy) = (shift(cx, sw), shift(cy, sh));
    let mut out = vec![0u8; IMAGE_PIXELS];
    for y in 0..sh {
        for x in 0..sw {
            out[(y + dy) * IMAGE_SIDE + x + dx] = (small[y * sw + x] * 255.0).round() as u8;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The ink's bounding box in a prepared image: (x0, y0, x1, y1) inclusive.
    fn bbox(img: &[u8]) -> (usize, usize, usize, usize) {
        let mut b = (usize::MAX, usize::MAX, 0, 0);
        for (i, &v) in img.iter().enumerate() {
            if v > 0 {
                let (x, y) = (i % IMAGE_SIDE, i / IMAGE_SIDE);
                b = (b.0.min(x), b.1.min(y), b.2.max(x), b.3.max(y));
            }
        }
        b
    }

    fn centre_of_mass(img: &[u8]) -> (f32, f32) {
        let (mut m, mut x, mut y) = (0.0, 0.0, 0.0);
        for (i, &v) in img.iter().enumerate() {
            let v = f32::from(v);
            m += v;
            x += v * ((i % IMAGE_SIDE) as f32 + 0.5);
            y += v * ((i / IMAGE_SIDE) as f32 + 0.5);
        }
        (x / m, y / m)
    }

    #[test]
    fn no_ink_gives_no_image() {
        assert_eq!(prepare_drawing(&[0.0; 100], 10, 10), None);
        assert_eq!(prepare_drawing(&[0.0; 99], 10, 10), None, "a picture of the wrong size");
    }

    #[test]
    fn a_tall_stroke_fills_twenty_rows_keeps_its_aspect_and_is_centred() {
        // A 20 x 100 bar in the corner of a 280 x 280 pad.
        let (w, h) = (280, 280);
        let mut ink = vec![0.0; w * h];
        for y in 10..110 {
            for x in 5..25 {
                ink[y * w + x] = 1.0;
            }
        }
        let img = prepare_drawing(&ink, w, h).expect("ink");
        let (x0, y0, x1, y1) = bbox(&img);
        assert_eq!(y1 - y0 + 1, INK_BOX, "the longer side is 20 pixels");
        assert_eq!(x1 - x0 + 1, 4, "100:20 becomes 20:4");
        let (cx, cy) = centre_of_mass(&img);
        assert!((cx - 14.0).abs() <= 0.5 && (cy - 14.0).abs() <= 0.5, "centre of mass ({cx}, {cy})");
        assert!(img.iter().all(|&v| v == 0 || v == 255), "a solid bar stays solid");
    }

    #[test]
    fn area_averaging_keeps_the_total_ink_in_proportion() {
        // A 40 x 40 checkerboard of single pixels is half ink: each output pixel averages to ~0.5.
        let (w, h) = (40, 40);
        let ink: Vec<f32> = (0..w * h).map(|i| ((i % w + i / w) % 2) as f32).collect();
        let img = prepare_drawing(&ink, w, h).expect("ink");
        let lit: Vec<u8> = img.iter().copied().filter(|&v| v > 0).collect();
        assert_eq!(lit.len(), INK_BOX * INK_BOX);
        assert!(lit.iter().all(|&v| (120..=135).contains(&v)), "{lit:?}");
    }

    #[test]
    fn the_centre_of_mass_not_the_box_is_centred() {
        // An L: a stem and a bottom bar, each 10 pixels thick. Its mass sits low and left of its
        // box's centre, so centring the mass moves the box up and right.
        let (w, h) = (100, 100);
        let mut ink = vec![0.0; w * h];
        for y in 0..100 {
            for x in 0..10 {
                ink[y * w + x] = 1.0;
            }
        }
        for y in 90..100 {
            for x in 0..100 {
                ink[y * w + x] = 1.0;
            }
        }
        let img = prepare_drawing(&ink, w, h).expect("ink");
        let (cx, cy) = centre_of_mass(&img);
        assert!((cx - 14.0).abs() <= 0.5 && (cy - 14.0).abs() <= 0.5, "centre of mass ({cx}, {cy})");
        let (x0, y0, x1, y1) = bbox(&img);
        assert!(x0 + x1 > 28 && y0 + y1 < 28, "the box sits right of and above the centre ({x0}..{x1}, {y0}..{y1})");
    }
}
