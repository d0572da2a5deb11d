//! Offline use: registers the service worker (`static/service-worker.js`) and says in the data
//! panel whether the page and both data sets would load with no network. Everything here is best
//! effort: what fails is said in that line and never stops the page.
//!
//! The worker caches the app shell (page, scripts, wasm) when it installs. The data are cached
//! here, from the loader's own download ([`keep`]): a class downloads the 41 MB once, not once to
//! train and once more to cache, and training still starts as the first bytes arrive. A file the
//! loader did not get whole (a download finished by a `Range` retry) is fetched once more after
//! both data sets have settled.
//!
//! What there is to cache, and under which cache names, is `offline-manifest.json`, written at
//! build time by `scripts/offline_manifest.py` (the worker carries the same manifest inside).

use super::dom::{self, WebError};
use super::App;
use crate::data::DataSetId;
use js_sys::{Object, Reflect, Uint8Array};
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;
use wasm_bindgen::{JsCast, JsValue, closure::Closure};
use wasm_bindgen_futures::{JsFuture, spawn_local};
use web_sys::{
    Cache, CacheQueryOptions, CacheStorage, MessageEvent, RequestCache, RequestInit, Response, ServiceWorkerContainer, ServiceWorkerRegistration,
    ServiceWorkerState,
};

const STATUS: &str = "offline-status";
const MANIFEST: &str = "offline-manifest.json";
const WORKER: &str = "service-worker.js";
/// How often the status line recounts the cached files while caching goes on.
const POLL_MS: i32 = 1000;
/// A file the fill stored but the count still misses this many times means the browser drops what
/// it is given (storage full without saying so): stop instead of downloading it forever.
const MAX_FILLS: u32 = 2;

/// `offline-manifest.json`: the built files, in two caches named after their hashes.
#[derive(Debug)]
struct Manifest {
    version: String,
    shell: Group,
    data: Group,
}

#[derive(Debug)]
struct Group {
    cache: String,
    /// Paths relative to the page, as the page and the worker request them, with their SHA-256
    /// (none for the manifest itself).
    files: BTreeMap<String, Option<String>>,
}

/// Why `offline-manifest.json` cannot be read.
#[derive(Debug, thiserror::Error)]
enum ManifestError {
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    /// A key it must have (`shell.cache`).
    #[error("it has no {0}")]
    Missing(String),
}

/// Why offline use is not available, or stopped: said in the status line.
#[derive(Debug, thiserror::Error)]
enum OfflineError {
    #[error(transparent)]
    Web(#[from] WebError),
    #[error("its file list ({MANIFEST}) could not be loaded ({0})")]
    NoFileList(String),
    #[error("this build has no {MANIFEST} (the post_build hook of Trunk.toml did not run)")]
    NoManifest,
    #[error("the server answered HTTP {status} for {file}")]
    Http { status: u16, file: String },
    #[error("{MANIFEST} is damaged: {0}")]
    Damaged(#[from] ManifestError),
    #[error("{file} could not be downloaded ({why})")]
    Download { file: String, why: String },
    /// The browser's storage is full ([`quota`]'s words).
    #[error("{0}")]
    Full(String),
    #[error("the server's {0} is not this build's (it is being updated, or the file is damaged)")]
    NotThisBuild(String),
}

impl Manifest {
    fn parse(text: &str) -> Result<Self, ManifestError> {
        let json: serde_json::Value = serde_json::from_str(text)?;
        let group = |name: &str| -> Result<Group, ManifestError> {
            let cache = json[name]["cache"].as_str().ok_or_else(|| ManifestError::Missing(format!("{name}.cache")))?;
            let files = json[name]["files"].as_object().ok_or_else(|| ManifestError::Missing(format!("{name}.files")))?;
            let files = files.iter().map(|(path, hash)| (path.clone(), hash.as_str().map(str::to_string))).collect();
            Ok(Group { cache: cache.to_string(), files })
        };
        let version = json["version"].as_str().ok_or_else(|| ManifestError::Missing("version".into()))?;
        Ok(Self { version: version.to_string(), shell: group("shell")?, data: group("data")? })
    }

    fn total(&self) -> usize {
        self.shell.files.len() + self.data.files.len()
    }
}

/// Where offline use stands, as far as the loader's copies need to know.
enum Phase {
    /// The manifest and the registration are on their way (two small requests); copies of the
    /// data wait for them.
    Starting(Vec<(String, Response)>),
    Caching(Rc<Manifest>),
    /// Nothing will be cached: copies are dropped at once, so they do not pile up in memory.
    Off,
}

pub struct Offline {
    phase: RefCell<Phase>,
    /// Data files being written from the loader's download; the fill leaves them to it.
    storing: RefCell<BTreeSet<String>>,
    /// Why caching failed, in the worker's words or ours.
    failure: RefCell<Option<String>>,
    /// The server has a newer build than this page (the worker of this build found it installing).
    newer: RefCell<bool>,
    /// The version of the active service worker's build, as it answered.
    active_version: RefCell<Option<String>>,
}

impl Offline {
    pub fn new() -> Self {
        Self {
            phase: RefCell::new(Phase::Starting(Vec::new())),
            storing: RefCell::new(BTreeSet::new()),
            failure: RefCell::new(None),
            newer: RefCell::new(false),
            active_version: RefCell::new(None),
        }
    }
}

/// Takes a copy (`Response::clone`) of a data file's whole response while the loader reads the
/// original, and stores it in the data cache unless it is there already.
pub fn keep(app: &Rc<App>, url: &str, copy: Response) {
    let manifest = match &mut *app.offline.phase.borrow_mut() {
        Phase::Starting(waiting) => {
            waiting.push((url.to_string(), copy));
            return;
        }
        Phase::Caching(manifest) => manifest.clone(),
        Phase::Off => {
            discard(&copy);
            return;
        }
    };
    spawn_store(app, manifest, url.to_string(), copy);
}

/// A copy nobody reads would keep every byte the loader reads: cancel it.
fn discard(copy: &Response) {
    if let Some(body) = copy.body() {
        // Cancelling a download that has broken off rejects; awaited, that is not an uncaught error.
        spawn_local(async move {
            let _ = JsFuture::from(body.cancel()).await;
        });
    }
}

fn spawn_store(app: &Rc<App>, manifest: Rc<Manifest>, url: String, copy: Response) {
    if !manifest.data.files.contains_key(&url) {
        discard(&copy);
        return;
    }
    app.offline.storing.borrow_mut().insert(url.clone());
    let app = app.clone();
    spawn_local(async move {
        if let Err(e) = store(&manifest, &url, &copy).await {
            // A download that broke off breaks its copy too; the loader retries, and the fill
            // fetches the whole file later. Only a full disk is worth telling.
            match quota(&e) {
                Some(why) => *app.offline.failure.borrow_mut() = Some(why),
                None => log::info!("{url} not cached from the download: {}", dom::describe(&e)),
            }
        }
        app.offline.storing.borrow_mut().remove(&url);
    });
}

async fn store(manifest: &Manifest, url: &str, copy: &Response) -> Result<(), JsValue> {
    let caches = caches()?;
    let cache: Cache = JsFuture::from(caches.open(&manifest.data.cache)).await?.dyn_into()?;
    if !JsFuture::from(cache.match_with_str(url)).await?.is_undefined() {
        discard(copy);
        return Ok(());
    }
    JsFuture::from(cache.put_with_str(url, copy)).await?;
    if !verify(&cache, manifest, url).await? {
        // What the loader was sent is not what was built (a damaged download, a server being
        // updated): it must not stand in for the data offline. The fill asks again.
        log::warn!("{url}: the download is not this build's file; not kept for offline use");
        JsFuture::from(cache.delete_with_str(url)).await?;
    }
    Ok(())
}

/// Whether the cached copy of data file `url` has the SHA-256 the build wrote. Hashed here a slice
/// at a time, yielding to the page between slices: the page's main thread only draws, and
/// WebCrypto's `digest` would copy the whole file (tens of MB) in one task.
async fn verify(cache: &Cache, manifest: &Manifest, url: &str) -> Result<bool, JsValue> {
    use sha2::Digest;
    /// Bytes hashed per task: about a millisecond of work, so the hashing (which runs as a class
    /// starts training, right after the data arrive) stays small beside the frames.
    const SLICE: u32 = 1 << 18;
    let Some(Some(expected)) = manifest.data.files.get(url) else { return Ok(false) };
    let response: Response = JsFuture::from(cache.match_with_str(url)).await?.dyn_into()?;
    let bytes: js_sys::ArrayBuffer = JsFuture::from(response.array_buffer()?).await?.dyn_into()?;
    let mut hasher = sha2::Sha256::new();
    let mut slice = vec![0u8; SLICE as usize];
    let (len, mut at) = (bytes.byte_length(), 0u32);
    while at < len {
        let n = SLICE.min(len - at);
        Uint8Array::new_with_byte_offset_and_length(&bytes, at, n).copy_to(&mut slice[..n as usize]);
        hasher.update(&slice[..n as usize]);
        at += n;
        dom::sleep_ms(0).await;
    }
    let hex: String = hasher.finalize().iter().map(|b| format!("{b:02x}")).collect();
    Ok(hex == *expected)
}

/// A storage-full error, said so that a teacher knows what to do.
fn quota(e: &JsValue) -> Option<String> {
    let name = Reflect::get(e, &"name".into()).ok().and_then(|n| n.as_string());
    (name.as_deref() == Some("QuotaExceededError"))
        .then(|| format!("the browser would not store more ({}); free some disk space or allow this site more storage", dom::describe(e)))
}

/// Asks the browser to keep this site's storage when disk space runs low
/// (`navigator.storage.persist()`): `Some(granted)`, or `None` where the browser has no such call.
async fn persist() -> Option<bool> {
    let navigator = js_sys::Reflect::get(&js_sys::global(), &"navigator".into()).ok()?;
    let storage = js_sys::Reflect::get(&navigator, &"storage".into()).ok().filter(|v| !v.is_undefined())?;
    let call: js_sys::Function = js_sys::Reflect::get(&storage, &"persist".into()).ok()?.dyn_into().ok()?;
    let promise: js_sys::Promise = call.call0(&storage).ok()?.dyn_into().ok()?;
    JsFuture::from(promise).await.ok()?.as_bool()
}

fn caches() -> Result<CacheStorage, JsValue> {
    dom::window().map_err(JsValue::from)?.caches()
}

/// Registers the worker and keeps the status line up to date until offline use is ready (or
/// cannot be).
pub fn start(app: &Rc<App>) {
    let app = app.clone();
    spawn_local(async move { watch(&app).await });
}

fn show(state: &str, text: &str) {
    dom::set_attr(STATUS, "data-state", state);
    dom::set_text(STATUS, text);
}

/// Nothing will be cached on this page.
fn off(app: &App, state: &str, text: &str) {
    if let Phase::Starting(waiting) = std::mem::replace(&mut *app.offline.phase.borrow_mut(), Phase::Off) {
        waiting.iter().for_each(|(_, copy)| discard(copy));
    }
    show(state, text);
}

fn fail(app: &App, why: &str) {
    log::warn!("offline use failed: {why}");
    off(app, "failed", &format!("Offline use failed: {why}. The page works online; reloading tries again."));
}

/// The browser's service worker container, or why there is none.
fn container() -> Result<ServiceWorkerContainer, &'static str> {
    let window = dom::window().map_err(|_| "Offline use is not available here (no window).")?;
    // Service workers and the cache exist only in secure contexts: https://, or this computer.
    if !window.is_secure_context() {
        return Err("Offline use needs the page served over https:// or from this computer (localhost); from this address it works online only.");
    }
    let navigator = window.navigator();
    let has = |object: &JsValue, name: &str| Reflect::has(object, &name.into()).unwrap_or(false);
    if !has(&navigator, "serviceWorker") || !has(&window, "caches") {
        return Err("Offline use is not available in this browser (it has no service workers); the page works online as usual.");
    }
    Ok(navigator.service_worker())
}

async fn fetch_manifest() -> Result<Manifest, OfflineError> {
    let init = RequestInit::new();
    // The HTTP cache could hold an older build's list; the worker answers offline instead.
    init.set_cache(RequestCache::NoStore);
    let window = dom::window()?;
    let response: Response = JsFuture::from(window.fetch_with_str_and_init(MANIFEST, &init))
        .await
        .and_then(|r| r.dyn_into())
        .map_err(|e| OfflineError::NoFileList(dom::describe(&e)))?;
    if response.status() == 404 {
        return Err(OfflineError::NoManifest);
    }
    if !response.ok() {
        return Err(OfflineError::Http { status: response.status(), file: MANIFEST.into() });
    }
    let text = JsFuture::from(response.text().map_err(WebError::from)?).await.map_err(WebError::from)?;
    Ok(Manifest::parse(&text.as_string().unwrap_or_default())?)
}

/// Hears the worker: why its install failed, and which build it is.
fn listen(app: &Rc<App>, container: &ServiceWorkerContainer, version: &str) {
    let app = app.clone();
    let version = version.to_string();
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
        let data = event.data();
        let field = |name: &str| Reflect::get(&data, &name.into()).ok().and_then(|v| v.as_string());
        match field("type").as_deref() {
            // Another tab's newer build failing is not this page's business.
            // The server holds a complete newer build: this page is the older one (a race with a
            // deploy or another tab's update), and a reload is the answer, as when a newer
            // build's worker has taken over.
            Some("offline-failed") if field("version").as_deref() == Some(version.as_str()) && Reflect::get(&data, &"newer".into()).ok().and_then(|v| v.as_bool()) == Some(true) => {
                *app.offline.newer.borrow_mut() = true;
            }
            Some("offline-failed") if field("version").as_deref() == Some(version.as_str()) => {
                *app.offline.failure.borrow_mut() = Some(field("message").unwrap_or_else(|| "the service worker did not install".into()));
            }
            Some("version") => *app.offline.active_version.borrow_mut() = field("version"),
            _ => {}
        }
    });
    // Setting onmessage (not addEventListener) also starts the delivery of queued messages.
    container.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    // The listener lives as long as the page.
    on_message.forget();
}

/// Asks the active worker which build it is; the answer comes to [`listen`].
fn ask_version(registration: &ServiceWorkerRegistration) {
    if let Some(active) = registration.active() {
        let message = Object::new();
        let _ = Reflect::set(&message, &"type".into(), &"version".into());
        let _ = active.post_message(&message);
    }
}

/// The files of `group` not in its cache yet.
async fn missing(caches: &CacheStorage, group: &Group) -> Result<Vec<String>, JsValue> {
    let options = CacheQueryOptions::new();
    // Looking inside one named cache never creates it (`caches.open` would).
    options.set_cache_name(&group.cache);
    let mut out = Vec::new();
    for file in group.files.keys() {
        if JsFuture::from(caches.match_with_str_and_options(file, &options)).await?.is_undefined() {
            out.push(file.clone());
        }
    }
    Ok(out)
}

/// Downloads and stores the data files the loader's copies did not bring, one at a time.
async fn fill(manifest: &Manifest, files: &[String]) -> Result<(), OfflineError> {
    let window = dom::window()?;
    let caches = caches().map_err(WebError::from)?;
    for file in files {
        let failed = |e: JsValue| match quota(&e) {
            Some(why) => OfflineError::Full(why),
            None => OfflineError::Download { file: file.clone(), why: dom::describe(&e) },
        };
        let response: Response = JsFuture::from(window.fetch_with_str(file)).await.and_then(|r| r.dyn_into()).map_err(failed)?;
        if !response.ok() {
            return Err(OfflineError::Http { status: response.status(), file: file.clone() });
        }
        let cache: Cache = JsFuture::from(caches.open(&manifest.data.cache)).await.and_then(|c| c.dyn_into()).map_err(failed)?;
        JsFuture::from(cache.put_with_str(file, &response)).await.map_err(failed)?;
        if !verify(&cache, manifest, file).await.map_err(failed)? {
            let _ = JsFuture::from(cache.delete_with_str(file)).await;
            return Err(OfflineError::NotThisBuild(file.clone()));
        }
    }
    Ok(())
}

async fn watch(app: &Rc<App>) {
    let container = match container() {
        Ok(c) => c,
        Err(why) => return off(app, "unavailable", why),
    };
    let manifest = match fetch_manifest().await {
        Ok(m) => Rc::new(m),
        Err(why) => return off(app, "unavailable", &format!("Offline use is not available: {why}.")),
    };
    dom::set_attr(STATUS, "data-version", &manifest.version);
    listen(app, &container, &manifest.version);
    // With the worker already registered this does not wait for the network: offline it
    // resolves as well, and the browser looks for a newer worker on its own.
    let registration: ServiceWorkerRegistration = match JsFuture::from(container.register(WORKER)).await {
        Ok(r) => match r.dyn_into() {
            Ok(r) => r,
            Err(_) => return fail(app, "the browser did not register the service worker"),
        },
        Err(e) => return fail(app, &format!("the service worker could not be registered ({})", dom::describe(&e))),
    };
    // Registered: from here on the loader's copies are worth keeping.
    if let Phase::Starting(waiting) = std::mem::replace(&mut *app.offline.phase.borrow_mut(), Phase::Caching(manifest.clone())) {
        for (url, copy) in waiting {
            spawn_store(app, manifest.clone(), url, copy);
        }
    }
    let caches = match caches() {
        Ok(c) => c,
        Err(e) => return fail(app, &dom::describe(&e)),
    };
    let (mut fills, mut older, mut updated) = (0, 0, false);
    loop {
        if *app.offline.newer.borrow() {
            return show("outdated", "A newer version of this page is ready for offline use: reload the page to use it.");
        }
        let failure = app.offline.failure.borrow().clone();
        if let Some(why) = failure {
            return fail(app, &why);
        }
        let (shell, data) = match (missing(&caches, &manifest.shell).await, missing(&caches, &manifest.data).await) {
            (Ok(s), Ok(d)) => (s, d),
            (Err(e), _) | (_, Err(e)) => return fail(app, &dom::describe(&e)),
        };
        let cached = manifest.total() - shell.len() - data.len();
        let settled = DataSetId::ALL.iter().all(|&id| app.slot(id).borrow().is_settled());
        let storing = !app.offline.storing.borrow().is_empty();
        if !data.is_empty() && settled && !storing {
            if fills == MAX_FILLS {
                return fail(app, "the browser did not keep the data it was given to store");
            }
            fills += 1;
            show("preparing", &format!("Preparing offline use… ({cached} of {} files)", manifest.total()));
            if let Err(why) = fill(&manifest, &data).await {
                return fail(app, &why.to_string());
            }
            continue;
        }
        let updating = registration.installing().is_some() || registration.waiting().is_some();
        let active = registration.active().is_some_and(|w| w.state() == ServiceWorkerState::Activated);
        let active_version = app.offline.active_version.borrow().clone();
        let ours = active_version.as_deref() == Some(manifest.version.as_str());
        if active {
            // Every time: a newer build's worker can take over while this page waits.
            ask_version(&registration);
        }
        if cached == manifest.total() && active && !updating && ours {
            let kept = match persist().await {
                Some(true) => " The browser keeps them even when it needs disk space.",
                Some(false) => " The browser may still clear them if disk space runs low (it decides when a site's storage is kept).",
                None => "",
            };
            return show("ready", &format!("Ready for offline use: this page and both data sets now load with no network.{kept}"));
        }
        let other = active && !updating && active_version.is_some() && !ours;
        if other && !updated {
            // A worker of another build answers, and the browser has not looked for this page's
            // yet (it does so on its own only some time after a navigation): ask it to now.
            updated = true;
            let checked = match registration.update() {
                Ok(promise) => JsFuture::from(promise).await,
                Err(e) => Err(e),
            };
            if let Err(e) = checked {
                return fail(app, &format!("the service worker of this build could not be fetched ({})", dom::describe(&e)));
            }
            continue;
        }
        // Still another build's worker, with nothing to install: the server has a newer build
        // than this page (it took over, in another tab say, and deleted this build's files).
        // Seen twice, a second apart, so that a failed install of this build (an older worker
        // left active) has had time to say so first.
        older = if other && shell.len() == manifest.shell.files.len() { older + 1 } else { 0 };
        if older >= 2 {
            return show("outdated", "A newer version of this page is ready for offline use: reload the page to use it.");
        }
        show("preparing", &format!("Preparing offline use… ({cached} of {} files)", manifest.total()));
        dom::sleep_ms(POLL_MS).await;
    }
}
