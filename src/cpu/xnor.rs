//! The binarized network's hidden products as XNOR and popcount (docs/architecture.md, "Speed on
//! the CPU"; Rastegari et al., XNOR-Net, ECCV 2016): where both the inputs and the weights are
//! +-1, each is one bit, 64 to a word, and a dot product of length `n` is
//!
//! ```text
//! x . w = (agreements) - (disagreements) = n - 2 * popcount(x XOR w)
//! ```
//! with bit 1 standing for -1 (sign(0) = +1, as [`super::sign::binarize`]). The result is an
//! integer below 2^24 in magnitude, so it equals the f32 product exactly, whatever order that sums
//! in. Padding bits are 0 in both operands, so they never disagree.

/// Rows of +-1 values packed one bit each (1 for a negative value), each row starting a word.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PackedSigns {
    pub rows: usize,
    /// Values per row.
    pub len: usize,
    pub words: Vec<u64>,
}

impl PackedSigns {
    pub fn words_per_row(&self) -> usize {
        self.len.div_ceil(64)
    }

    /// Packs the signs of `x` (`rows x len`, row-major) into `self`, reusing its memory.
    pub fn pack(&mut self, x: &[f32], rows: usize, len: usize) {
        assert_eq!(x.len(), rows * len, "x must be rows x len");
        (self.rows, self.len) = (rows, len);
        let per_row = self.words_per_row();
        self.words.clear();
        self.words.resize(rows * per_row, 0);
        for (row, out) in x.chunks_exact(len.max(1)).zip(self.words.chunks_exact_mut(per_row.max(1))) {
            for (chunk, word) in row.chunks(64).zip(out.iter_mut()) {
                *word = chunk.iter().enumerate().fold(0u64, |acc, (bit, &v)| acc | (u64::from(v < 0.0) << bit));
            }
        }
    }
}

/// `out = x sign(W)ᵀ` for packed `x` (`batch x n`) and `w` (`outs x n`): `out[b, o] = n - 2 *
/// popcount(x_b XOR w_o)`, as f32 (`batch x outs`).
pub fn xnor_matmul(x: &PackedSigns, w: &PackedSigns, out: &mut [f32]) {
    assert_eq!(x.len, w.len, "inputs and weights must have one length");
    assert_eq!(out.len(), x.rows * w.rows, "out must be batch x outs");
    let (per_row, n) = (x.words_per_row(), x.len as i64);
    if per_row == 0 {
        out.iter_mut().for_each(|v| *v = 0.0);
        return;
    }
    for (xr, out_row) in x.words.chunks_exact(per_row).zip(out.chunks_exact_mut(w.rows.max(1))) {
        for (wr, o) in w.words.chunks_exact(per_row).zip(out_row.iter_mut()) {
            let differ: u32 = xr.iter().zip(wr).map(|(a, b)| (a ^ b).count_ones()).sum();
            *o = (n - 2 * i64::from(differ)) as f32;
        }
    }
}
