//! Streams the data sets into the page: four files per set, fetched at once, decoded chunk by
//! chunk as they arrive, so the sample grid (and training) can start before the download ends.
//!
//! A failed download keeps every byte already decoded: Retry asks the server for the rest with a
//! `Range` request (or skips what it already has when the server sends the whole file again). Only
//! a file whose data turned out corrupt starts again from its first byte.

use super::store::HeldSplit;
use super::{App, dom, offline, samples};
use crate::data::{DataSetId, Examples, FileRole, IdxError, SplitBuilder};
use js_sys::{Array, Promise, Reflect, Uint8Array};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::{JsFuture, spawn_local};
use web_sys::{AbortController, Headers, ReadableStreamDefaultReader, RequestInit, Response};

/// The most decoded bytes one data file may hold (a header asking for more is refused as damaged).
const MAX_FILE_BYTES: usize = 64 << 20;

/// No bytes for this long and the user is told the download looks stalled.
const STALL_MS: i32 = 20_000;
const STALL: &str = "stall";

#[derive(Debug, Clone, PartialEq)]
enum FileState {
    Loading { stalled: bool },
    Done,
    /// `corrupt`: the bytes themselves were bad, so a retry must start the file again.
    Failed { message: String, corrupt: bool },
}

struct FileLoad {
    state: FileState,
    /// Bumped by every (re)start; a download that finds itself outdated stops quietly.
    generation: u32,
    abort: Option<AbortController>,
}

/// One data set, loaded or loading: the decoded examples in the page's buffers (`train`, `test`;
/// see `store.rs`), and the decoders that fill them.
pub struct DataSlot {
    pub id: DataSetId,
    pub train: HeldSplit,
    pub test: HeldSplit,
    decoders: [SplitBuilder; 2],
    files: [FileLoad; 4],
}

impl DataSlot {
    pub fn new(id: DataSetId) -> Self {
        Self {
            id,
            train: HeldSplit::default(),
            test: HeldSplit::default(),
            decoders: [SplitBuilder::spilling(), SplitBuilder::spilling()],
            files: FileRole::ALL.map(|_| FileLoad { state: FileState::Loading { stalled: false }, generation: 0, abort: None }),
        }
    }

    fn split(&self, role: FileRole) -> &SplitBuilder {
        &self.decoders[usize::from(!role.is_train())]
    }

    /// Feeds the next chunk of one file and moves what it decoded into the page's buffer, 16 KiB
    /// of the download at a time: a fast network delivers megabytes at once, which decoded whole
    /// would grow the page's wasm memory (it never shrinks) by tens of megabytes.
    fn push(&mut self, role: FileRole, chunk: &[u8]) -> Result<(), LoadError> {
        let kind = role.kind();
        for piece in chunk.chunks(16 * 1024) {
            let decoder = &mut self.decoders[usize::from(!role.is_train())];
            decoder.push(kind, piece)?;
            let Some(payload_len) = decoder.decoder(kind).header().map(|h| h.payload_len()) else { continue };
            // The buffer is allocated whole from the header: a damaged header must not ask for
            // a gigabyte (the largest file here, MNIST's training images, is 47 MB).
            if payload_len > MAX_FILE_BYTES {
                return Err(IdxError::BadDimensions(format!("{payload_len} bytes of data, more than the {MAX_FILE_BYTES} this page loads per file")).into());
            }
            let (offset, bytes) = decoder.take_decoded(kind);
            let held = if role.is_train() { &mut self.train } else { &mut self.test };
            held.write(kind, payload_len, offset, &bytes)?;
        }
        Ok(())
    }

    /// Starts one file again from its first byte (its data turned out corrupt).
    fn restart(&mut self, role: FileRole) {
        let kind = role.kind();
        self.decoders[usize::from(!role.is_train())].restart(kind);
        if role.is_train() { self.train.restart(kind) } else { self.test.restart(kind) }
    }

    fn file_mut(&mut self, role: FileRole) -> &mut FileLoad {
        let i = FileRole::ALL.iter().position(|&r| r == role).expect("every role has a slot");
        &mut self.files[i]
    }

    pub fn examples_loaded(&self) -> usize {
        self.train.len() + self.test.len()
    }

    pub fn examples_expected(&self) -> usize {
        self.decoders[0].expected().unwrap_or(60_000) + self.decoders[1].expected().unwrap_or(10_000)
    }

    pub fn is_done(&self) -> bool {
        self.files.iter().all(|f| f.state == FileState::Done)
    }

    /// Loaded, or stopped with an error: nothing more arrives until someone presses Retry.
    pub fn is_settled(&self) -> bool {
        self.state_name() != "loading"
    }

    fn state_name(&self) -> &'static str {
        if self.files.iter().any(|f| matches!(f.state, FileState::Failed { .. })) {
            "error"
        } else if self.is_done() {
            "done"
        } else {
            "loading"
        }
    }

    /// What the user should read under the progress bar, if anything.
    fn message(&self) -> Option<String> {
        let failed: Vec<&str> = self
            .files
            .iter()
            .filter_map(|f| match &f.state {
                FileState::Failed { message, .. } => Some(message.as_str()),
                _ => None,
            })
            .collect();
        if !failed.is_empty() {
            return Some(failed.join(" "));
        }
        self.files.iter().any(|f| f.state == FileState::Loading { stalled: true }).then(|| {
            format!(
                "No data has arrived for {} s: the network or the server may be slow. Still waiting; \
                 Retry asks again and keeps what has arrived.",
                STALL_MS / 1000
            )
        })
    }
}

fn url(id: DataSetId, role: FileRole) -> String {
    format!("data/{}/{}", id.dir(), role.file_name())
}

/// Starts streaming all four files of `id`, and wires its Retry button.
pub fn start(app: &Rc<App>, id: DataSetId) -> Result<(), dom::WebError> {
    let retry = dom::by_id::<web_sys::Element>(&format!("retry-{}", id.dir()))?;
    let for_retry = app.clone();
    dom::on_click(&retry, move || restart_unfinished(&for_retry, id));
    for role in FileRole::ALL {
        spawn_file(app, id, role);
    }
    render(app, id);
    Ok(())
}

fn restart_unfinished(app: &Rc<App>, id: DataSetId) {
    let roles: Vec<FileRole> = {
        let mut slot = app.slot(id).borrow_mut();
        let mut roles = Vec::new();
        for role in FileRole::ALL {
            match slot.file_mut(role).state {
                FileState::Done => continue,
                FileState::Failed { corrupt: true, .. } => slot.restart(role),
                _ => {}
            }
            slot.file_mut(role).state = FileState::Loading { stalled: false };
            roles.push(role);
        }
        roles
    };
    for role in roles {
        spawn_file(app, id, role);
    }
    render(app, id);
}

fn spawn_file(app: &Rc<App>, id: DataSetId, role: FileRole) {
    let slot = app.slot(id).clone();
    let generation = {
        let mut s = slot.borrow_mut();
        let file = s.file_mut(role);
        if let Some(old) = file.abort.take() {
            old.abort();
        }
        file.generation += 1;
        file.generation
    };
    let app = app.clone();
    spawn_local(async move {
        let result = stream_file(&app, &slot, role, generation).await;
        let mut s = slot.borrow_mut();
        let file = s.file_mut(role);
        if file.generation != generation {
            return; // superseded by a retry
        }
        file.abort = None;
        file.state = match result {
            Ok(()) => FileState::Done,
            Err(e) => {
                log::warn!("{}: {e}", url(id, role));
                FileState::Failed { message: e.message(role), corrupt: e.is_corrupt() }
            }
        };
        drop(s);
        render(&app, id);
    });
}

#[derive(Debug, thiserror::Error)]
enum LoadError {
    #[error("{0}")]
    Network(String),
    #[error("the server answered HTTP {0}")]
    Http(u16),
    #[error(transparent)]
    Data(#[from] IdxError),
    /// The page's buffer for the file could not grow (`store.rs`).
    #[error(transparent)]
    Memory(#[from] super::store::StoreError),
}

impl From<JsValue> for LoadError {
    fn from(value: JsValue) -> Self {
        LoadError::Network(dom::describe(&value))
    }
}

impl LoadError {
    /// Whether Retry must start the file again from its first byte: its data were bad, or the
    /// page could not hold what arrived.
    fn is_corrupt(&self) -> bool {
        matches!(self, LoadError::Data(_) | LoadError::Memory(_))
    }
    fn message(&self, role: FileRole) -> String {
        let file = role.file_name();
        match self {
            LoadError::Network(e) => {
                format!("Download of {file} failed ({e}). What arrived is kept: Retry continues from there.")
            }
            LoadError::Http(status) => format!(
                "The server answered HTTP {status} for {file}. If you run the server, fetch the data with scripts/fetch-data.sh; then Retry."
            ),
            LoadError::Data(e) => format!("{file} is damaged: {e}. Retry downloads this file again."),
            LoadError::Memory(e) => format!("The page ran out of memory holding {file} ({e}). Close other tabs or pages, then Retry downloads this file again."),
        }
    }
}

async fn stream_file(app: &Rc<App>, slot: &Rc<RefCell<DataSlot>>, role: FileRole, generation: u32) -> Result<(), LoadError> {
    let id = slot.borrow().id;
    let already = slot.borrow().split(role).decoder(role.kind()).bytes_consumed();
    let controller = AbortController::new()?;
    let init = RequestInit::new();
    init.set_signal(Some(&controller.signal()));
    if already > 0 {
        let headers = Headers::new()?;
        headers.set("Range", &format!("bytes={already}-"))?;
        init.set_headers(&headers);
    }
    slot.borrow_mut().file_mut(role).abort = Some(controller);

    let window = dom::window().map_err(|e| LoadError::Network(e.to_string()))?;
    let response: Response = JsFuture::from(window.fetch_with_str_and_init(&url(id, role), &init)).await?.dyn_into()?;
    // A whole file, from the server or the service worker's cache: a copy of it goes into the
    // offline cache as the original streams in here, so the data are downloaded once for both.
    if already == 0 && response.status() == 200 {
        if let Ok(copy) = response.clone() {
            offline::keep(app, &url(id, role), copy);
        }
    }
    // A server that ignores Range sends the whole file again: skip what was already decoded.
    let mut skip = match response.status() {
        206 => 0,
        200 => already as usize,
        status => return Err(LoadError::Http(status)),
    };
    let body = response.body().ok_or_else(|| LoadError::Network("the response has no body".into()))?;
    let reader: ReadableStreamDefaultReader = body.get_reader().dyn_into().map_err(|_| LoadError::Network("the body cannot be read as a stream".into()))?;
    loop {
        let chunk = read_chunk(slot, role, &reader).await?;
        if slot.borrow_mut().file_mut(role).generation != generation {
            let _ = reader.cancel();
            return Ok(());
        }
        let Some(chunk) = chunk else { break };
        let fresh = &chunk[skip.min(chunk.len())..];
        skip -= chunk.len() - fresh.len();
        if fresh.is_empty() {
            continue;
        }
        slot.borrow_mut().push(role, fresh)?;
        render(app, id);
    }
    slot.borrow().split(role).decoder(role.kind()).check_complete()?;
    Ok(())
}

/// The next chunk of the body, or `None` at its end. Waits as long as the server takes, but says
/// so on the page when nothing arrives for a while.
async fn read_chunk(slot: &Rc<RefCell<DataSlot>>, role: FileRole, reader: &ReadableStreamDefaultReader) -> Result<Option<Vec<u8>>, LoadError> {
    let read = reader.read();
    let result = loop {
        let timeout = Promise::new(&mut |resolve, _| {
            if let Ok(w) = dom::window() {
                let _ = w.set_timeout_with_callback_and_timeout_and_arguments_1(&resolve, STALL_MS, &STALL.into());
            }
        });
        let first = JsFuture::from(Promise::race(&Array::of2(&read, &timeout))).await?;
        if first.as_string().as_deref() == Some(STALL) {
            let id = {
                let mut s = slot.borrow_mut();
                s.file_mut(role).state = FileState::Loading { stalled: true };
                s.id
            };
            render_slot(&slot.borrow(), id);
            continue;
        }
        break first;
    };
    {
        let mut s = slot.borrow_mut();
        let file = s.file_mut(role);
        if file.state == (FileState::Loading { stalled: true }) {
            file.state = FileState::Loading { stalled: false };
        }
    }
    if Reflect::get(&result, &"done".into())?.as_bool() == Some(true) {
        return Ok(None);
    }
    let value: Uint8Array = Reflect::get(&result, &"value".into())?.dyn_into()?;
    Ok(Some(value.to_vec()))
}

/// Shows a data set's progress, state and message, and draws samples once there are some.
fn render(app: &Rc<App>, id: DataSetId) {
    render_slot(&app.slot(id).borrow(), id);
    if *app.shown.borrow() == id {
        samples::redraw(app, false);
    }
}

fn render_slot(slot: &DataSlot, id: DataSetId) {
    let name = id.dir();
    let (loaded, expected) = (slot.examples_loaded(), slot.examples_expected());
    dom::set_attr(&format!("progress-{name}"), "max", &expected.to_string());
    dom::set_attr(&format!("progress-{name}"), "value", &loaded.to_string());
    let count = if slot.is_done() {
        format!("{} examples ready", dom::grouped(loaded))
    } else {
        format!("{} / {} examples", dom::grouped(loaded), dom::grouped(expected))
    };
    dom::set_text(&format!("count-{name}"), &count);
    let state = slot.state_name();
    dom::set_attr(&format!("data-{name}"), "data-state", state);
    let message = slot.message();
    dom::set_text(&format!("error-{name}"), message.as_deref().unwrap_or(""));
    dom::set_hidden(&format!("error-{name}"), message.is_none());
    dom::set_hidden(&format!("retry-{name}"), message.is_none());
}
