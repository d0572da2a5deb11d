//! An incremental gzip (RFC 1952) reader: header, raw deflate body, CRC-32 and length trailer.
//!
//! flate2's own gzip readers either want the whole stream up front or give no way to tell a
//! complete stream from a truncated one. A download can stop anywhere, and "stopped early" must be
//! an error the user sees, so the framing is parsed here and only the deflate body is handed to
//! flate2's `Decompress`.

use flate2::{Crc, Decompress, FlushDecompress, Status};
use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum GzipError {
    #[error("not a gzip file (it starts with {0:02x?}, gzip starts with 1f 8b)")]
    NotGzip([u8; 2]),
    #[error("gzip compression method {0} is not deflate (8)")]
    UnsupportedMethod(u8),
    #[error("gzip header uses reserved flag bits {0:#04x}")]
    ReservedFlags(u8),
    #[error("corrupt deflate data: {0}")]
    CorruptDeflate(String),
    #[error("gzip checksum mismatch: the data is corrupt (CRC-32 {found:#010x}, trailer says {expected:#010x})")]
    ChecksumMismatch { expected: u32, found: u32 },
    #[error("gzip length mismatch: decoded {found} bytes, trailer says {expected}")]
    LengthMismatch { expected: u32, found: u32 },
    #[error("gzip stream ends early (truncated download?)")]
    Truncated,
    #[error("unexpected bytes after the end of the gzip stream")]
    TrailingData,
}

const FLAG_HCRC: u8 = 0x02;
const FLAG_EXTRA: u8 = 0x04;
const FLAG_NAME: u8 = 0x08;
const FLAG_COMMENT: u8 = 0x10;
const FLAG_RESERVED: u8 = 0xe0;

enum State {
    /// Header bytes seen so far; its length is variable, so it is buffered until complete.
    Header(Vec<u8>),
    Body,
    Trailer(Vec<u8>),
    Done,
}

pub struct GzipStream {
    state: State,
    inflate: Decompress,
    crc: Crc,
}

impl Default for GzipStream {
    fn default() -> Self {
        Self::new()
    }
}

impl GzipStream {
    pub fn new() -> Self {
        Self { state: State::Header(Vec::new()), inflate: Decompress::new(false), crc: Crc::new() }
    }

    /// Whether the whole stream, trailer included, has been read and verified.
    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// Makes one step of progress: consumes some of `input`, writes at most `out.len()` decoded
    /// bytes to `out`, and returns `(consumed, produced)`. Bounding the output per call is what lets
    /// the caller refuse a decompression bomb before it is in memory. Call again while either number
    /// is non-zero.
    pub fn inflate_some(&mut self, input: &[u8], out: &mut [u8]) -> Result<(usize, usize), GzipError> {
        match &mut self.state {
            State::Header(buf) => {
                let before = buf.len();
                buf.extend_from_slice(input);
                match parse_header(buf)? {
                    Some(header_len) => {
                        let consumed = header_len - before;
                        self.state = State::Body;
                        Ok((consumed, 0))
                    }
                    None => Ok((input.len(), 0)),
                }
            }
            State::Body => {
                let in_before = self.inflate.total_in();
                let out_before = self.inflate.total_out();
                let status = self
                    .inflate
                    .decompress(input, out, FlushDecompress::None)
                    .map_err(|e| GzipError::CorruptDeflate(e.to_string()))?;
                let consumed = (self.inflate.total_in() - in_before) as usize;
                let produced = (self.inflate.total_out() - out_before) as usize;
                self.crc.update(&out[..produced]);
                if status == Status::StreamEnd {
                    self.state = State::Trailer(Vec::with_capacity(8));
                }
                Ok((consumed, produced))
            }
            State::Trailer(buf) => {
                let take = input.len().min(8 - buf.len());
                buf.extend_from_slice(&input[..take]);
                if buf.len() == 8 {
                    let expected_crc = u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]);
                    let expected_len = u32::from_le_bytes([buf[4], buf[5], buf[6], buf[7]]);
                    if self.crc.sum() != expected_crc {
                        return Err(GzipError::ChecksumMismatch { expected: expected_crc, found: self.crc.sum() });
                    }
                    // ISIZE is the length modulo 2^32, by the format's definition.
                    let found_len = self.inflate.total_out() as u32;
                    if found_len != expected_len {
                        return Err(GzipError::LengthMismatch { expected: expected_len, found: found_len });
                    }
                    self.state = State::Done;
                }
                Ok((take, 0))
            }
            State::Done if input.is_empty() => Ok((0, 0)),
            State::Done => Err(GzipError::TrailingData),
        }
    }

    /// Fails unless the stream was read to its verified end.
    pub fn finish(&self) -> Result<(), GzipError> {
        if self.is_done() { Ok(()) } else { Err(GzipError::Truncated) }
    }
}

/// Returns the header's length once `buf` holds all of it, `None` while more bytes are needed.
fn parse_header(buf: &[u8]) -> Result<Option<usize>, GzipError> {
    if buf.len() >= 2 && buf[..2] != [0x1f, 0x8b] {
        return Err(GzipError::NotGzip([buf[0], buf[1]]));
    }
    if buf.len() < 10 {
        return Ok(None);
    }
    if buf[2] != 8 {
        return Err(GzipError::UnsupportedMethod(buf[2]));
    }
    let flags = buf[3];
    if flags & FLAG_RESERVED != 0 {
        return Err(GzipError::ReservedFlags(flags));
    }
    let mut pos = 10;
    if flags & FLAG_EXTRA != 0 {
        let Some(len) = buf.get(pos..pos + 2) else { return Ok(None) };
        pos += 2 + u16::from_le_bytes([len[0], len[1]]) as usize;
    }
    for flag in [FLAG_NAME, FLAG_COMMENT] {
        if flags & flag != 0 {
            let Some(rest) = buf.get(pos..) else { return Ok(None) };
            let Some(nul) = rest.iter().position(|&b| b == 0) else { return Ok(None) };
            pos += nul + 1;
        }
    }
    if flags & FLAG_HCRC != 0 {
        pos += 2;
    }
    Ok(if buf.len() >= pos { Some(pos) } else { None })
}
