//! The images as the page and its workers hold them: each image without its runs of zero pixels.
//!
//! A classroom page holds both data sets at once (140,000 images, 110 MB as plain bytes) beside
//! the networks that train on them, in under 300 MB (issue 11). Most of an MNIST digit is black
//! background and so is the space around a Fashion-MNIST garment: leaving the zero runs out holds
//! MNIST in 26% of its bytes and Fashion-MNIST in 61% (48 MB for both), and gives back every pixel
//! exactly. Each image keeps its own code, so any one is read without the others (a batch is a
//! random sample), at the cost of a table of where each code starts.
//!
//! Layout of a set of `count` images, one buffer (so the page can share it with its workers, or
//! send it as one array):
//!
//! ```text
//! count + 1 little-endian u32   where each image's code starts, counted from the end of the
//!                               table; entry i + 1 is where image i's code ends
//! the codes, one after another
//! ```
//!
//! An image's code is either the image's 784 bytes as they are (a code of exactly 784 bytes: an
//! image with so many short runs that coding them would not save anything), or pairs of
//! `[zeros: u8][n: u8][n pixel bytes]`: skip that many zero pixels, then copy n pixels. Pixels past
//! the last pair are zero, so the background below a digit costs nothing.

use super::IMAGE_PIXELS;

/// Bytes per table entry.
const ENTRY: usize = 4;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompactError {
    #[error("the compact images are {0} bytes, too short for the table of {1} images")]
    ShortTable(usize, usize),
    #[error("the compact images' table is not in order at image {0}")]
    Table(usize),
    #[error("the compact images' table ends at byte {0} of codes {1} bytes long")]
    Length(usize, usize),
    #[error("an image's code runs past its 784 pixels")]
    Code,
}

/// The table's length in bytes for `count` images.
pub const fn table_len(count: usize) -> usize {
    ENTRY * (count + 1)
}

/// Appends the code of one image (784 bytes) to `out`.
pub fn encode(image: &[u8], out: &mut Vec<u8>) {
    debug_assert_eq!(image.len(), IMAGE_PIXELS);
    let start = out.len();
    let mut i = 0;
    // Stop at the last nonzero pixel: the zeros after it are implied.
    let end = image.iter().rposition(|&p| p != 0).map_or(0, |last| last + 1);
    while i < end {
        let zeros = image[i..end].iter().take(255).take_while(|&&p| p == 0).count();
        i += zeros;
        let n = image[i..end].iter().take(255).take_while(|&&p| p != 0).count();
        // Both counts fit a byte by the take(255) above.
        out.extend_from_slice(&[zeros as u8, n as u8]);
        out.extend_from_slice(&image[i..i + n]);
        i += n;
        if out.len() - start >= IMAGE_PIXELS {
            break;
        }
    }
    if out.len() - start >= IMAGE_PIXELS {
        out.truncate(start);
        out.extend_from_slice(image);
    }
}

/// Decodes one image's code into `out` (784 bytes).
pub fn decode(code: &[u8], out: &mut [u8]) -> Result<(), CompactError> {
    if code.len() == IMAGE_PIXELS {
        out.copy_from_slice(code);
        return Ok(());
    }
    out.fill(0);
    let (mut at, mut i) = (0, 0);
    while i < code.len() {
        let [zeros, n] = [*code.get(i).ok_or(CompactError::Code)?, *code.get(i + 1).ok_or(CompactError::Code)?].map(usize::from);
        at += zeros;
        let pixels = code.get(i + 2..i + 2 + n).ok_or(CompactError::Code)?;
        out.get_mut(at..at + n).ok_or(CompactError::Code)?.copy_from_slice(pixels);
        at += n;
        i += 2 + n;
    }
    Ok(())
}

/// Encodes images as their plain bytes arrive, in order and in chunks of any size (a download
/// being decoded). What it produces goes through `write(position, bytes)`: positions in the
/// layout above, so a buffer of [`Self::capacity`] bytes ends up holding the layout's first
/// [`Self::len`] bytes.
#[derive(Debug, Clone)]
pub struct CompactWriter {
    count: usize,
    /// The start of every code so far and the end of the last: the table, kept here to be read.
    offsets: Vec<u32>,
    /// The pixels of an image not complete yet.
    pending: Vec<u8>,
    code: Vec<u8>,
}

impl CompactWriter {
    pub fn new(count: usize) -> Self {
        Self { count, offsets: vec![0], pending: Vec::with_capacity(IMAGE_PIXELS), code: Vec::with_capacity(IMAGE_PIXELS) }
    }

    /// A buffer this long holds the layout whatever the images: the table and every image as it is.
    pub fn capacity(&self) -> usize {
        table_len(self.count) + self.count * IMAGE_PIXELS
    }

    pub fn count(&self) -> usize {
        self.count
    }

    /// Images encoded so far.
    pub fn done(&self) -> usize {
        self.offsets.len() - 1
    }

    /// Plain bytes taken so far.
    pub fn received(&self) -> usize {
        self.done() * IMAGE_PIXELS + self.pending.len()
    }

    pub fn is_complete(&self) -> bool {
        self.done() == self.count
    }

    /// The layout's length once complete (the table's entries past [`Self::done`] are written
    /// only then).
    pub fn len(&self) -> usize {
        table_len(self.count) + self.offsets.last().map_or(0, |&o| o as usize)
    }

    /// The table so far: where each encoded image's code starts, and where the last one ends.
    pub fn offsets(&self) -> &[u32] {
        &self.offsets
    }

    /// Takes the next plain bytes; returns how many it used (all, unless they run past the
    /// `count` images the writer was made for).
    pub fn push(&mut self, mut bytes: &[u8], write: &mut dyn FnMut(usize, &[u8])) -> usize {
        let room = self.count * IMAGE_PIXELS - self.received();
        bytes = &bytes[..bytes.len().min(room)];
        let used = bytes.len();
        if self.done() == 0 && self.pending.is_empty() && used > 0 {
            write(0, &0u32.to_le_bytes());
        }
        while !bytes.is_empty() {
            let take = (IMAGE_PIXELS - self.pending.len()).min(bytes.len());
            let whole = self.pending.is_empty() && take == IMAGE_PIXELS;
            let image = if whole {
                &bytes[..take]
            } else {
                self.pending.extend_from_slice(&bytes[..take]);
                if self.pending.len() < IMAGE_PIXELS {
                    break;
                }
                &self.pending[..]
            };
            self.code.clear();
            encode(image, &mut self.code);
            let start = self.offsets.last().copied().unwrap_or(0);
            // Codes of at most 784 bytes each, for a file of at most 64 MB (the loader's limit): u32 holds them.
            let end = start + self.code.len() as u32;
            write(table_len(self.count) + start as usize, &self.code);
            write(ENTRY * self.offsets.len(), &end.to_le_bytes());
            self.offsets.push(end);
            self.pending.clear();
            bytes = &bytes[take..];
        }
        used
    }
}

/// Where image `i`'s code lies in a layout whose whole table is `offsets`.
pub fn code_range(offsets: &[u32], count: usize, i: usize) -> Option<std::ops::Range<usize>> {
    let (start, end) = (*offsets.get(i)?, *offsets.get(i + 1)?);
    let base = table_len(count);
    Some(base + start as usize..base + end as usize)
}

/// A complete set of compact images in this memory: what a worker holds when the page cannot
/// share its buffers, and what the tests check the layout with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompactImages {
    offsets: Vec<u32>,
    bytes: Vec<u8>,
}

impl CompactImages {
    /// Encodes plain images (784 bytes each).
    pub fn encode_all(images: &[u8]) -> Self {
        let count = images.len() / IMAGE_PIXELS;
        let mut writer = CompactWriter::new(count);
        let mut bytes = vec![0; writer.capacity()];
        writer.push(images, &mut |at, b| bytes[at..at + b.len()].copy_from_slice(b));
        bytes.truncate(writer.len());
        Self { offsets: writer.offsets, bytes }
    }

    /// Takes a layout received whole, checking its table against `count` images.
    pub fn from_layout(bytes: Vec<u8>, count: usize) -> Result<Self, CompactError> {
        let offsets = read_table(&bytes, count)?;
        Ok(Self { offsets, bytes })
    }

    pub fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The whole layout.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Decodes image `i` into `out` (784 bytes); zeros for an index past the end.
    pub fn image_into(&self, i: usize, out: &mut [u8]) {
        let code = code_range(&self.offsets, self.len(), i).and_then(|r| self.bytes.get(r)).unwrap_or(&[]);
        // The table was checked on arrival; a code that does not decode is zeros, not a panic.
        if decode(code, out).is_err() {
            out.fill(0);
        }
    }
}

/// Reads and checks the table at the start of a whole layout of `count` images; returns the offsets.
pub fn read_table(bytes: &[u8], count: usize) -> Result<Vec<u32>, CompactError> {
    check_table(bytes.get(..table_len(count)).ok_or(CompactError::ShortTable(bytes.len(), count))?, count, bytes.len())
}

/// [`read_table`] for a table read out of a buffer elsewhere (the page's shared buffer).
pub fn check_table(table: &[u8], count: usize, total: usize) -> Result<Vec<u32>, CompactError> {
    if table.len() != table_len(count) || total < table.len() {
        return Err(CompactError::ShortTable(total, count));
    }
    let offsets: Vec<u32> = table.chunks_exact(ENTRY).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
    if offsets[0] != 0 {
        return Err(CompactError::Table(0));
    }
    for (i, w) in offsets.windows(2).enumerate() {
        if w[1] < w[0] || (w[1] - w[0]) as usize > IMAGE_PIXELS {
            return Err(CompactError::Table(i));
        }
    }
    let codes = total - table.len();
    match offsets.last() {
        Some(&end) if end as usize == codes => Ok(offsets),
        Some(&end) => Err(CompactError::Length(end as usize, codes)),
        None => Err(CompactError::ShortTable(total, count)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A digit-like image: a blob of ink on black, with `noise` scattered nonzero pixels.
    fn image(seed: u64, noise: usize) -> Vec<u8> {
        use rand::{RngExt, SeedableRng, rngs::StdRng};
        let mut rng = StdRng::seed_from_u64(seed);
        let mut img = vec![0u8; IMAGE_PIXELS];
        let (cx, cy): (usize, usize) = (rng.random_range(8..20), rng.random_range(8..20));
        for y in 0..28usize {
            for x in 0..28usize {
                if x.abs_diff(cx) + y.abs_diff(cy) < 6 {
                    img[y * 28 + x] = rng.random_range(1..=255);
                }
            }
        }
        for _ in 0..noise {
            img[rng.random_range(0..IMAGE_PIXELS)] = rng.random();
        }
        img
    }

    fn roundtrip(img: &[u8]) -> usize {
        let mut code = Vec::new();
        encode(img, &mut code);
        let mut out = vec![7u8; IMAGE_PIXELS];
        decode(&code, &mut out).expect("a code just made decodes");
        assert_eq!(out, img);
        code.len()
    }

    #[test]
    fn every_kind_of_image_comes_back_exactly() {
        assert_eq!(roundtrip(&[0; IMAGE_PIXELS]), 0, "a black image has an empty code");
        assert!(roundtrip(&[255; IMAGE_PIXELS]) == IMAGE_PIXELS, "a white image is stored as it is");
        // Runs longer than a byte counts, both of zeros and of ink.
        let mut long = vec![0u8; IMAGE_PIXELS];
        long[600..].fill(9);
        assert!(roundtrip(&long) < 200);
        // Alternating pixels: coding would grow the image, so it is stored as it is.
        let alternating: Vec<u8> = (0..IMAGE_PIXELS).map(|i| (i % 2) as u8 * 200).collect();
        assert_eq!(roundtrip(&alternating), IMAGE_PIXELS);
        let mut first_last = vec![0u8; IMAGE_PIXELS];
        first_last[0] = 1;
        first_last[IMAGE_PIXELS - 1] = 2;
        roundtrip(&first_last);
        for seed in 0..200 {
            let size = roundtrip(&image(seed, seed as usize % 40));
            assert!(size < IMAGE_PIXELS);
        }
    }

    #[test]
    fn a_digit_takes_a_fraction_of_its_bytes() {
        let size = roundtrip(&image(1, 0));
        // The blob covers 61 pixels in 11 rows: 61 + 2 x 11 bytes.
        assert!(size < 100, "{size} bytes");
    }

    #[test]
    fn chunks_of_any_size_give_the_same_layout() {
        let images: Vec<u8> = (0..37).flat_map(|s| image(s, s as usize)).collect();
        let whole = CompactImages::encode_all(&images);
        assert_eq!(whole.len(), 37);
        for chunk in [1, 100, 783, 784, 785, 5000] {
            let mut writer = CompactWriter::new(37);
            let mut buf = vec![0u8; writer.capacity()];
            let mut used = 0;
            for piece in images.chunks(chunk) {
                used += writer.push(piece, &mut |at, b| buf[at..at + b.len()].copy_from_slice(b));
            }
            assert!(writer.is_complete());
            assert_eq!(used, images.len());
            assert_eq!(&buf[..writer.len()], whole.as_bytes(), "chunks of {chunk}");
        }
        let mut out = vec![0u8; IMAGE_PIXELS];
        for i in 0..37 {
            whole.image_into(i, &mut out);
            assert_eq!(out, images[i * IMAGE_PIXELS..(i + 1) * IMAGE_PIXELS]);
        }
        let again = CompactImages::from_layout(whole.as_bytes().to_vec(), 37).expect("its own layout is valid");
        assert_eq!(again, whole);
    }

    #[test]
    fn bytes_past_the_promised_images_are_left() {
        let images: Vec<u8> = (0..3).flat_map(|s| image(s, 0)).collect();
        let mut writer = CompactWriter::new(2);
        let mut buf = vec![0u8; writer.capacity()];
        assert_eq!(writer.push(&images, &mut |at, b| buf[at..at + b.len()].copy_from_slice(b)), 2 * IMAGE_PIXELS);
        assert!(writer.is_complete());
    }

    #[test]
    fn a_damaged_layout_is_refused_and_a_damaged_code_does_not_panic() {
        let images: Vec<u8> = (0..5).flat_map(|s| image(s, 3)).collect();
        let good = CompactImages::encode_all(&images).as_bytes().to_vec();
        assert!(matches!(CompactImages::from_layout(good.clone(), 6), Err(_)), "a table for another count");
        assert!(CompactImages::from_layout(good[..good.len() - 1].to_vec(), 5).is_err(), "codes cut short");
        assert!(CompactImages::from_layout(good[..10].to_vec(), 5).is_err(), "a table cut short");
        let mut swapped = good.clone();
        swapped[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(CompactImages::from_layout(swapped, 5), Err(CompactError::Table(0)));
        let mut out = vec![0u8; IMAGE_PIXELS];
        assert_eq!(decode(&[0, 5, 1, 2], &mut out), Err(CompactError::Code), "fewer pixels than the pair says");
        assert_eq!(decode(&[255, 0, 255, 0, 255, 0, 30, 1, 7], &mut out), Err(CompactError::Code), "past the image's end");
        assert_eq!(decode(&[3], &mut out), Err(CompactError::Code), "half a pair");
    }
}
