//! Where the page keeps the data sets: one JavaScript buffer per file, written as the download is
//! decoded (`SplitBuilder::spilling` hands the bytes over as they arrive, so the page's wasm memory
//! never holds a data set).
//!
//! When the page is cross-origin isolated (COOP `same-origin` and COEP `require-corp`, which
//! `trunk serve`, the service worker and the tests' server send), the buffers are
//! `SharedArrayBuffer`s: every training worker reads the same bytes, so each data set is held once
//! however many networks train. Elsewhere (a static host without those headers, before the service
//! worker controls the page) they are plain buffers and each worker gets its own copy, as before.

use crate::data::{Examples, IMAGE_PIXELS, IdxKind};
use js_sys::{Reflect, SharedArrayBuffer, Uint8Array};
use std::borrow::Cow;
use wasm_bindgen::JsCast;

/// Whether buffers can be shared with the workers: the page is cross-origin isolated.
pub fn shareable() -> bool {
    Reflect::get(&js_sys::global(), &"crossOriginIsolated".into()).is_ok_and(|v| v.as_bool() == Some(true))
}

/// One file's payload, allocated at its full length once the header gives it; `ready` bytes from
/// the start are written.
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
            self.bytes = Some(if shareable() {
                Uint8Array::new(&SharedArrayBuffer::new(payload_len as u32))
            } else {
                Uint8Array::new_with_length(payload_len as u32)
            });
        }
        let Some(bytes) = &self.bytes else { return };
        // The decoder checked the length against its header; a chunk past the end is a bug there.
        let end = (offset + chunk.len()).min(payload_len);
        if offset < end {
            bytes.subarray(offset as u32, end as u32).copy_from(&chunk[..end - offset]);
        }
        self.ready = self.ready.max(end);
    }
}

/// The images and labels of one split (train or test), as the page holds them.
#[derive(Default)]
pub struct HeldSplit {
    images: HeldFile,
    labels: HeldFile,
}

impl HeldSplit {
    /// A split whose buffers are complete already: what a worker receives from the page.
    pub fn from_buffers(images: Uint8Array, labels: Uint8Array) -> Self {
        let (ni, nl) = (images.length() as usize, labels.length() as usize);
        Self { images: HeldFile { bytes: Some(images), ready: ni }, labels: HeldFile { bytes: Some(labels), ready: nl } }
    }

    fn file(&mut self, kind: IdxKind) -> &mut HeldFile {
        match kind {
            IdxKind::Images => &mut self.images,
            IdxKind::Labels => &mut self.labels,
        }
    }

    /// Writes `chunk`, decoded bytes at `offset` of a payload of `payload_len` bytes.
    pub fn write(&mut self, kind: IdxKind, payload_len: usize, offset: usize, chunk: &[u8]) {
        self.file(kind).write(payload_len, offset, chunk);
    }

    /// Forgets what was written of one file: it is being downloaded again from its first byte.
    pub fn restart(&mut self, kind: IdxKind) {
        self.file(kind).ready = 0;
    }

    /// The images and labels buffers once both are complete.
    pub fn complete(&self) -> Option<(Uint8Array, Uint8Array)> {
        let whole = |f: &HeldFile| f.bytes.as_ref().filter(|b| b.length() as usize == f.ready && f.ready > 0).cloned();
        Some((whole(&self.images)?, whole(&self.labels)?))
    }

    /// Whether the buffers are shared with the workers (see the module's documentation).
    pub fn is_shared(&self) -> bool {
        self.images.bytes.as_ref().is_some_and(|b| b.buffer().is_instance_of::<SharedArrayBuffer>())
    }

    /// `len` bytes of one file from `offset`, copied out (the pieces sent to a worker that cannot
    /// share the buffers).
    pub fn copy(&self, kind: IdxKind, offset: usize, len: usize) -> Uint8Array {
        let file = match kind {
            IdxKind::Images => &self.images,
            IdxKind::Labels => &self.labels,
        };
        match &file.bytes {
            Some(b) => b.slice(offset as u32, (offset + len) as u32),
            None => Uint8Array::new_with_length(0),
        }
    }

    pub fn bytes_ready(&self, kind: IdxKind) -> usize {
        match kind {
            IdxKind::Images => self.images.ready,
            IdxKind::Labels => self.labels.ready,
        }
    }
}

impl Examples for HeldSplit {
    fn len(&self) -> usize {
        (self.images.ready / IMAGE_PIXELS).min(self.labels.ready)
    }
    fn image(&self, i: usize) -> Cow<'_, [u8]> {
        let mut out = vec![0; IMAGE_PIXELS];
        if let Some(b) = &self.images.bytes {
            b.subarray((i * IMAGE_PIXELS) as u32, ((i + 1) * IMAGE_PIXELS) as u32).copy_to(&mut out);
        }
        Cow::Owned(out)
    }
    fn label(&self, i: usize) -> u8 {
        self.labels.bytes.as_ref().map_or(0, |b| b.get_index(i as u32))
    }
}
