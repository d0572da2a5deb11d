//! IDX, the format MNIST and Fashion-MNIST ship in: a big-endian u32 magic (2051 for images, 2049
//! for labels), one big-endian u32 per dimension, then `u8` data.
//!
//! [`IdxDecoder`] takes the file in chunks of any size, so the browser can train on the first
//! examples while the rest is still downloading, and rejects every malformed input with a typed
//! [`IdxError`] rather than a panic.

use super::gzip::{GzipError, GzipStream};
use thiserror::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdxKind {
    Images,
    Labels,
}

impl IdxKind {
    pub const fn magic(self) -> u32 {
        match self {
            IdxKind::Images => 2051,
            IdxKind::Labels => 2049,
        }
    }
    const fn header_len(self) -> usize {
        match self {
            IdxKind::Images => 16,
            IdxKind::Labels => 8,
        }
    }
}

/// Refuse headers that ask for more than this, before allocating: a tampered count must give an
/// error, not an out-of-memory abort. The largest real file (60k images) is 47 MB.
const MAX_PAYLOAD: usize = 1 << 30;
const MAX_SIDE: usize = 1 << 12;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum IdxError {
    #[error("not an IDX {kind:?} file: magic number {found}, expected {}", kind.magic())]
    BadMagic { kind: IdxKind, found: u32 },
    #[error("bad dimensions in IDX header: {0}")]
    BadDimensions(String),
    #[error("file ends early: the header promises {expected} bytes of data, only {got} arrived")]
    Truncated { expected: usize, got: usize },
    #[error("file is longer than its header says ({expected} bytes of data)")]
    TooLong { expected: usize },
    #[error("label {label} at index {index} is outside 0..{classes}")]
    LabelOutOfRange { index: usize, label: u8, classes: u8 },
    #[error("{0}")]
    Gzip(#[from] GzipError),
    #[error("{images} images but {labels} labels: the two files do not belong together")]
    CountMismatch { images: usize, labels: usize },
    #[error("images are {rows}x{cols}, this app needs {expected}x{expected}")]
    WrongImageSize { rows: usize, cols: usize, expected: usize },
    #[error("cannot read {path}: {reason}")]
    Io { path: String, reason: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdxHeader {
    pub kind: IdxKind,
    pub count: usize,
    /// 1 for label files.
    pub rows: usize,
    pub cols: usize,
}

impl IdxHeader {
    pub fn item_len(&self) -> usize {
        self.rows * self.cols
    }
    pub fn payload_len(&self) -> usize {
        self.count * self.item_len()
    }

    fn parse(kind: IdxKind, bytes: &[u8]) -> Result<Self, IdxError> {
        let word = |i: usize| u32::from_be_bytes([bytes[4 * i], bytes[4 * i + 1], bytes[4 * i + 2], bytes[4 * i + 3]]);
        let magic = word(0);
        if magic != kind.magic() {
            return Err(IdxError::BadMagic { kind, found: magic });
        }
        let count = word(1) as usize;
        let (rows, cols) = match kind {
            IdxKind::Images => (word(2) as usize, word(3) as usize),
            IdxKind::Labels => (1, 1),
        };
        if rows == 0 || cols == 0 || rows > MAX_SIDE || cols > MAX_SIDE {
            return Err(IdxError::BadDimensions(format!("images of {rows}x{cols} pixels")));
        }
        let header = IdxHeader { kind, count, rows, cols };
        if count.checked_mul(header.item_len()).is_none_or(|n| n > MAX_PAYLOAD) {
            return Err(IdxError::BadDimensions(format!("{count} items of {rows}x{cols} is more than {MAX_PAYLOAD} bytes")));
        }
        Ok(header)
    }
}

/// Size of the decode window: the most that one step of gzip decoding may produce, and so the most
/// that can arrive past a header's promised length before the excess is caught.
const WINDOW: usize = 64 * 1024;

/// Incremental IDX decoder, reading gzip-compressed (the served form) or raw IDX.
pub struct IdxDecoder {
    kind: IdxKind,
    gzip: Option<GzipStream>,
    head: Vec<u8>,
    header: Option<IdxHeader>,
    data: Vec<u8>,
    window: Vec<u8>,
    consumed: u64,
    label_classes: u8,
    /// Payload bytes handed out by [`Self::take_decoded`]; `data` holds only what followed them.
    taken: usize,
    /// Set by [`Self::spilling`]: the payload is taken as it arrives, so no room is reserved for it.
    spill: bool,
}

impl IdxDecoder {
    /// A decoder for a `.gz` file. Label files are checked against `classes` as they stream in.
    pub fn gzip(kind: IdxKind, classes: u8) -> Self {
        Self::new(kind, Some(GzipStream::new()), classes)
    }

    /// A decoder for an uncompressed IDX file.
    pub fn raw(kind: IdxKind, classes: u8) -> Self {
        Self::new(kind, None, classes)
    }

    fn new(kind: IdxKind, gzip: Option<GzipStream>, label_classes: u8) -> Self {
        Self {
            kind,
            window: if gzip.is_some() { vec![0; WINDOW] } else { Vec::new() },
            gzip,
            head: Vec::with_capacity(kind.header_len()),
            header: None,
            data: Vec::new(),
            consumed: 0,
            label_classes,
            taken: 0,
            spill: false,
        }
    }

    /// A decoder whose owner takes the payload as it arrives ([`Self::take_decoded`]) and keeps it
    /// elsewhere (the page: in one buffer its workers share), so the decoder never holds it whole.
    pub fn spilling(mut self) -> Self {
        self.spill = true;
        self
    }

    pub fn is_spilling(&self) -> bool {
        self.spill
    }

    /// The payload decoded since the last call, with its offset in the whole payload; the decoder
    /// forgets it. [`Self::data`] then holds only what arrived after.
    pub fn take_decoded(&mut self) -> (usize, Vec<u8>) {
        let offset = self.taken;
        let bytes = std::mem::take(&mut self.data);
        self.taken += bytes.len();
        (offset, bytes)
    }

    pub fn header(&self) -> Option<&IdxHeader> {
        self.header.as_ref()
    }

    /// Number of input (file) bytes accepted so far; a resumed download starts here.
    pub fn bytes_consumed(&self) -> u64 {
        self.consumed
    }

    /// Number of items (images or labels) fully decoded so far (taken or not).
    pub fn items_ready(&self) -> usize {
        self.header.map_or(0, |h| self.decoded() / h.item_len())
    }

    /// Payload bytes decoded so far, taken or not.
    fn decoded(&self) -> usize {
        self.taken + self.data.len()
    }

    /// The decoded payload not yet taken (all of it, for a decoder that is not spilling):
    /// `items_ready() * item_len` bytes are complete.
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// Feeds the next chunk of the file.
    pub fn push(&mut self, chunk: &[u8]) -> Result<(), IdxError> {
        self.consumed += chunk.len() as u64;
        if self.gzip.is_none() {
            return self.accept(chunk);
        }
        let mut window = std::mem::take(&mut self.window);
        let mut input = chunk;
        let result = loop {
            let gzip = self.gzip.as_mut().expect("checked above");
            let (used, produced) = match gzip.inflate_some(input, &mut window) {
                Ok(step) => step,
                Err(e) => break Err(e.into()),
            };
            input = &input[used..];
            if let Err(e) = self.accept(&window[..produced]) {
                break Err(e);
            }
            let gzip = self.gzip.as_ref().expect("checked above");
            // A full window may leave decoded output pending inside the inflater even when the
            // input is used up, so only a short window with no input left means "need more".
            if (input.is_empty() && produced < window.len()) || (used == 0 && produced == 0) {
                if !input.is_empty() && gzip.is_done() {
                    break Err(GzipError::TrailingData.into());
                }
                break Ok(());
            }
        };
        self.window = window;
        result
    }

    fn accept(&mut self, mut bytes: &[u8]) -> Result<(), IdxError> {
        if self.header.is_none() {
            let need = self.kind.header_len() - self.head.len();
            let take = need.min(bytes.len());
            self.head.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            // The magic alone tells a swapped or foreign file; say so even if the file is short.
            if let Some(magic) = self.head.get(..4) {
                let found = u32::from_be_bytes([magic[0], magic[1], magic[2], magic[3]]);
                if found != self.kind.magic() {
                    return Err(IdxError::BadMagic { kind: self.kind, found });
                }
            }
            if self.head.len() < self.kind.header_len() {
                return Ok(());
            }
            let header = IdxHeader::parse(self.kind, &self.head)?;
            // Capped: the header is not yet proven by the data that follows it.
            if !self.spill {
                self.data.reserve_exact(header.payload_len().min(64 << 20));
            }
            self.header = Some(header);
        }
        let header = self.header.expect("parsed above");
        let room = header.payload_len() - self.decoded();
        if bytes.len() > room {
            return Err(IdxError::TooLong { expected: header.payload_len() });
        }
        if self.kind == IdxKind::Labels {
            if let Some(pos) = bytes.iter().position(|&l| l >= self.label_classes) {
                return Err(IdxError::LabelOutOfRange {
                    index: self.decoded() + pos,
                    label: bytes[pos],
                    classes: self.label_classes,
                });
            }
        }
        self.data.extend_from_slice(bytes);
        Ok(())
    }

    /// Checks that the file is complete: everything the header promised has arrived, and a gzip
    /// stream has ended with a matching checksum.
    pub fn check_complete(&self) -> Result<(), IdxError> {
        let Some(header) = self.header else {
            return Err(IdxError::Truncated { expected: self.kind.header_len(), got: self.head.len() });
        };
        if self.decoded() < header.payload_len() {
            return Err(IdxError::Truncated { expected: header.payload_len(), got: self.decoded() });
        }
        match &self.gzip {
            Some(gzip) => Ok(gzip.finish()?),
            None => Ok(()),
        }
    }

    /// Ends the file, returning its header and payload once [`Self::check_complete`] passes (the
    /// payload not yet taken: all of it unless [`Self::take_decoded`] was called).
    pub fn finish(self) -> Result<(IdxHeader, Vec<u8>), IdxError> {
        self.check_complete()?;
        Ok((self.header.expect("checked complete"), self.data))
    }

    /// Decodes a whole file at once.
    pub fn decode_all(mut self, file: &[u8]) -> Result<(IdxHeader, Vec<u8>), IdxError> {
        self.push(file)?;
        self.finish()
    }
}
