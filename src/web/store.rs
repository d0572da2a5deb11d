//! Where the page keeps the data sets: one JavaScript buffer per file, written as the download is
//! decoded (`SplitBuilder::spilling` hands the bytes over as they arrive, so the page's wasm memory
//! never holds a data set). Images are kept without their runs of zero pixels (`data::compact`:
//! both data sets in 48 MB instead of 110), each decoded when read.
//!
//! When the page is cross-origin isolated (COOP `same-origin` and COEP `require-corp`, which
//! `trunk serve`, the service worker and the tests' server send), the buffers are
//! `SharedArrayBuffer`s: every training worker reads the same bytes, so each data set is held once
//! however many networks train. Elsewhere (a static host without those headers, before the service
//! worker controls the page) they are plain buffers and each worker gets its own copy, as before.

use crate::data::{CompactError, CompactWriter, Examples, IMAGE_PIXELS, IdxKind, check_table, code_range, decode, table_len};
use js_sys::{Reflect, SharedArrayBuffer, Uint8Array};
use wasm_bindgen::JsValue;
use std::borrow::Cow;
use wasm_bindgen::JsCast;

/// Why the page's buffers cannot hold a file.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The browser would not grow the buffer (out of memory).
    #[error("its images could not grow to {:.0} MB", *.bytes as f64 / 1e6)]
    Grow { bytes: usize },
    /// The page's shared images do not belong to its labels.
    #[error("the shared images for {labels} labels: {source}")]
    Shared { labels: usize, source: CompactError },
}

/// Whether buffers can be shared with the workers: the page is cross-origin isolated.
pub fn shareable() -> bool {
    Reflect::get(&js_sys::global(), &"crossOriginIsolated".into()).is_ok_and(|v| v.as_bool() == Some(true))
}

/// A zeroed buffer of `len` bytes, shared where the page can share.
fn new_buffer(len: usize) -> Uint8Array {
    if shareable() { Uint8Array::new(&SharedArrayBuffer::new(len as u32)) } else { Uint8Array::new_with_length(len as u32) }
}

/// One file's payload as it is (the labels), allocated at its full length once the header gives
/// it; `ready` bytes from the start are written.
#[derive(Default)]
struct HeldFile {
    bytes: Option<Uint8Array>,
    ready: usize,
}

impl HeldFile {
    fn write(&mut self, payload_len: usize, offset: usize, chunk: &[u8]) {
        if chunk.is_empty() {
            return;
        }
        let fits = self.bytes.as_ref().is_some_and(|b| b.length() as usize == payload_len);
        if !fits {
            self.bytes = Some(new_buffer(payload_len));
        }
        let Some(bytes) = &self.bytes else { return };
        // The decoder checked the length against its header; a chunk past the end is a bug there.
        let end = (offset + chunk.len()).min(payload_len);
        if offset < end {
            bytes.subarray(offset as u32, end as u32).copy_from(&chunk[..end - offset]);
        }
        self.ready = self.ready.max(end);
    }

    fn complete(&self) -> Option<Uint8Array> {
        self.bytes.as_ref().filter(|b| b.length() as usize == self.ready && self.ready > 0).cloned()
    }
}

/// The images file, compact (`data::compact`'s layout). The codes' length is not known before
/// they are written, so the buffer grows as they are (a growable `SharedArrayBuffer`, or a
/// resizable `ArrayBuffer` where the page cannot share): only what is written is ever allocated.
/// A browser without either gets a buffer as long as the plain images (the table and the codes
/// written from its start: the untouched rest is never made resident) and a view of the written
/// length.
#[derive(Default)]
struct HeldImages {
    /// The written bytes (length-tracking where the buffer grows).
    bytes: Option<Uint8Array>,
    /// The buffer, when it grows.
    growable: Option<JsValue>,
    /// Encodes the images as they arrive and keeps the table.
    writer: Option<CompactWriter>,
    /// The table of a buffer received whole (a worker's), where there is no writer.
    table: Vec<u32>,
}

/// A buffer of no bytes that grows up to `max`: growable where the page shares, resizable
/// elsewhere; `None` where the browser has neither.
fn growable_buffer(max: usize) -> Option<JsValue> {
    let name = if shareable() { "SharedArrayBuffer" } else { "ArrayBuffer" };
    let class: js_sys::Function = Reflect::get(&js_sys::global(), &name.into()).ok()?.dyn_into().ok()?;
    let options = js_sys::Object::new();
    Reflect::set(&options, &"maxByteLength".into(), &(max as f64).into()).ok()?;
    let buffer = Reflect::construct(&class, &js_sys::Array::of2(&0.into(), &options)).ok()?;
    // A browser that ignores the option made a fixed buffer of no bytes.
    let grows = ["growable", "resizable"].iter().any(|p| Reflect::get(&buffer, &(*p).into()).is_ok_and(|v| v.as_bool() == Some(true)));
    grows.then_some(buffer)
}

/// Grows `buffer` (from [`growable_buffer`]) to `len` bytes.
fn grow_to(buffer: &JsValue, len: usize) -> bool {
    let method = if buffer.is_instance_of::<SharedArrayBuffer>() { "grow" } else { "resize" };
    let Ok(f) = Reflect::get(buffer, &method.into()).and_then(|f| f.dyn_into::<js_sys::Function>()) else { return false };
    f.call1(buffer, &(len as f64).into()).is_ok()
}

impl HeldImages {
    /// Encodes the next plain bytes of the file; an error where the buffer could not grow.
    fn write(&mut self, payload_len: usize, offset: usize, chunk: &[u8]) -> Result<(), StoreError> {
        let count = payload_len / IMAGE_PIXELS;
        if self.writer.as_ref().is_none_or(|w| w.count() != count) {
            let writer = CompactWriter::new(count);
            self.growable = growable_buffer(writer.capacity());
            self.bytes = Some(match &self.growable {
                Some(buffer) => Uint8Array::new(buffer),
                None => new_buffer(writer.capacity()),
            });
            self.writer = Some(writer);
        }
        let (Some(writer), Some(bytes)) = (self.writer.as_mut(), &self.bytes) else { return Ok(()) };
        // The decoder hands its bytes over in order; anything else is a bug there, and is dropped
        // rather than written in the wrong place.
        if offset != writer.received() || writer.is_complete() {
            return Ok(());
        }
        // The chunk's codes and table entries, gathered so the buffer grows once per chunk.
        let mut writes: Vec<(usize, Vec<u8>)> = Vec::new();
        writer.push(chunk, &mut |at, b| writes.push((at, b.to_vec())));
        let end = writes.iter().map(|(at, b)| at + b.len()).max().unwrap_or(0);
        if let Some(buffer) = &self.growable {
            if (bytes.length() as usize) < end && !grow_to(buffer, end) {
                // The writer took images whose codes are not written: forget the file, so
                // nothing reads them; Retry starts it again.
                self.restart();
                return Err(StoreError::Grow { bytes: end });
            }
        }
        for (at, b) in writes {
            bytes.subarray(at as u32, (at + b.len()) as u32).copy_from(&b);
        }
        if writer.is_complete() && self.growable.is_none() {
            // The fixed buffer's written part: the rest was never touched.
            self.bytes = Some(bytes.subarray(0, writer.len() as u32));
        }
        Ok(())
    }

    fn restart(&mut self) {
        self.writer = None;
        self.bytes = None;
        self.growable = None;
    }

    fn offsets(&self) -> &[u32] {
        self.writer.as_ref().map_or(&self.table, |w| w.offsets())
    }

    /// Images ready to read.
    fn len(&self) -> usize {
        self.offsets().len().saturating_sub(1)
    }

    fn count(&self) -> usize {
        self.writer.as_ref().map_or(self.len(), CompactWriter::count)
    }

    fn complete(&self) -> Option<Uint8Array> {
        let done = self.writer.as_ref().is_none_or(CompactWriter::is_complete) && self.len() > 0;
        self.bytes.as_ref().filter(|_| done).cloned()
    }

    fn image(&self, i: usize) -> Vec<u8> {
        let mut out = vec![0; IMAGE_PIXELS];
        let range = code_range(self.offsets(), self.count(), i);
        if let (Some(bytes), Some(r)) = (&self.bytes, range.filter(|r| r.end <= self.bytes.as_ref().map_or(0, |b| b.length() as usize))) {
            let mut code = vec![0; r.len()];
            bytes.subarray(r.start as u32, r.end as u32).copy_to(&mut code);
            // The page wrote these codes itself: one that does not decode is a bug, shown as black.
            if decode(&code, &mut out).is_err() {
                out.fill(0);
            }
        }
        out
    }
}

/// The images and labels of one split (train or test), as the page holds them.
#[derive(Default)]
pub struct HeldSplit {
    images: HeldImages,
    labels: HeldFile,
}

impl HeldSplit {
    /// A split whose buffers are complete already: what a worker receives from the page (the
    /// images in `data::compact`'s layout, their table checked against the labels' count).
    pub fn from_buffers(images: Uint8Array, labels: Uint8Array) -> Result<Self, StoreError> {
        let (ni, nl) = (images.length() as usize, labels.length() as usize);
        let mut table = vec![0; table_len(nl).min(ni)];
        images.subarray(0, table.len() as u32).copy_to(&mut table);
        let table = check_table(&table, nl, ni).map_err(|source| StoreError::Shared { labels: nl, source })?;
        Ok(Self { images: HeldImages { bytes: Some(images), growable: None, writer: None, table }, labels: HeldFile { bytes: Some(labels), ready: nl } })
    }

    /// Writes `chunk`, decoded bytes at `offset` of a payload of `payload_len` bytes; an error
    /// where the page could not hold them.
    pub fn write(&mut self, kind: IdxKind, payload_len: usize, offset: usize, chunk: &[u8]) -> Result<(), StoreError> {
        match kind {
            IdxKind::Images => self.images.write(payload_len, offset, chunk),
            IdxKind::Labels => {
                self.labels.write(payload_len, offset, chunk);
                Ok(())
            }
        }
    }

    /// Forgets what was written of one file: it is being downloaded again from its first byte.
    pub fn restart(&mut self, kind: IdxKind) {
        match kind {
            IdxKind::Images => self.images.restart(),
            IdxKind::Labels => self.labels.ready = 0,
        }
    }

    /// The images (compact) and labels buffers once both are complete.
    pub fn complete(&self) -> Option<(Uint8Array, Uint8Array)> {
        Some((self.images.complete()?, self.labels.complete()?))
    }

    /// Whether the buffers are shared with the workers (see the module's documentation).
    pub fn is_shared(&self) -> bool {
        self.images.bytes.as_ref().is_some_and(|b| b.buffer().is_instance_of::<SharedArrayBuffer>())
    }

    /// `len` bytes of one complete array from `offset`, copied out (the pieces sent to a worker
    /// that cannot share the buffers).
    pub fn copy(&self, kind: IdxKind, offset: usize, len: usize) -> Uint8Array {
        let whole = match kind {
            IdxKind::Images => self.images.complete(),
            IdxKind::Labels => self.labels.complete(),
        };
        match whole {
            Some(b) => b.slice(offset as u32, (offset + len) as u32),
            None => Uint8Array::new_with_length(0),
        }
    }

    /// The length of one complete array (0 until it is): what a worker that gets a copy receives.
    pub fn complete_len(&self, kind: IdxKind) -> usize {
        let whole = match kind {
            IdxKind::Images => self.images.complete(),
            IdxKind::Labels => self.labels.complete(),
        };
        whole.map_or(0, |b| b.length() as usize)
    }
}

impl Examples for HeldSplit {
    fn len(&self) -> usize {
        self.images.len().min(self.labels.ready)
    }
    fn image(&self, i: usize) -> Cow<'_, [u8]> {
        Cow::Owned(self.images.image(i))
    }
    fn label(&self, i: usize) -> u8 {
        self.labels.bytes.as_ref().map_or(0, |b| b.get_index(i as u32))
    }
}
