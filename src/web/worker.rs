//! The training side: one network of a comparison in its own dedicated Web Worker, with its own
//! wasm instance and, on WebGPU, its own GPU device. The page sends `Init` (which demo of
//! [`crate::demos::REGISTRY`], its settings, which learner), the data set (its shared buffers, or
//! a copy of the bytes once where it cannot share them) and control messages; the worker trains
//! in slices of about [`SLICE_MS`], reads its messages between slices and posts after each a
//! progress report with what is new since the last one.
//!
//! The run is taken out of the state while a slice trains, so a message that arrives during an
//! await (a GPU readback) only flips flags and never meets a half-updated network.

use super::protocol::{self, Outgoing, ProtocolError};
use super::store::{HeldSplit, StoreError};
use crate::backend::Backend;
use crate::data::{CompactError, CompactImages, Examples, IMAGE_PIXELS};
use crate::demos::messages::{Compute, Control, FromWorker, Init, Part, Progress, ToWorker};
use crate::demos::{self, DemoError, Learner};
use crate::data::DataSetId;
use crate::experiments::{DataAccess, TaskData};
use crate::gpu::GpuContext;
use crate::nn::TrainError;
use js_sys::{Array, Uint8Array};
use std::borrow::Cow;
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use web_sys::{DedicatedWorkerGlobalScope, MessageEvent};

/// Training time between two reports: short enough that pause and step act at once (a slice ends
/// after the step in progress), long enough that reports stay a small part of the work.
const SLICE_MS: f64 = 100.0;
/// Pictures need a readback of every weight: every few seconds while training, not every slice.
const PICTURES_EVERY_MS: f64 = 2500.0;

/// Data from the page that this worker cannot use (the page is told in a `Failed` message).
#[derive(Debug, thiserror::Error)]
enum DataError {
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("a piece of the data at {offset}+{len} does not fit its {expected} bytes")]
    Piece { offset: usize, len: usize, expected: usize },
    #[error("the images sent for {labels} labels: {source}")]
    Images { labels: usize, source: CompactError },
}

/// A split as the worker holds it when the page could not share its buffers: its own copy of the
/// compact images (`data::compact`) and the labels.
pub struct Bytes {
    images: CompactImages,
    labels: Vec<u8>,
}

impl Examples for Bytes {
    fn len(&self) -> usize {
        self.labels.len().min(self.images.len())
    }
    fn image(&self, i: usize) -> Cow<'_, [u8]> {
        let mut out = vec![0; IMAGE_PIXELS];
        self.images.image_into(i, &mut out);
        Cow::Owned(out)
    }
    fn label(&self, i: usize) -> u8 {
        self.labels[i]
    }
}

/// One split in a worker: its own copy (the page could not share its buffers), or the page's
/// shared buffers, read in place.
pub enum WorkerSplit {
    Owned(Bytes),
    Shared(HeldSplit),
}

impl Examples for WorkerSplit {
    fn len(&self) -> usize {
        match self {
            WorkerSplit::Owned(b) => b.len(),
            WorkerSplit::Shared(h) => h.len(),
        }
    }
    fn image(&self, i: usize) -> Cow<'_, [u8]> {
        match self {
            WorkerSplit::Owned(b) => b.image(i),
            WorkerSplit::Shared(h) => h.image(i),
        }
    }
    fn label(&self, i: usize) -> u8 {
        match self {
            WorkerSplit::Owned(b) => b.label(i),
            WorkerSplit::Shared(h) => h.label(i),
        }
    }
}

pub struct HeldData {
    train: WorkerSplit,
    test: WorkerSplit,
}

impl DataAccess for HeldData {
    fn with_train(&self, f: &mut dyn FnMut(&dyn Examples)) {
        f(&self.train)
    }
    fn with_test(&self, f: &mut dyn FnMut(&dyn Examples)) {
        f(&self.test)
    }
}

/// The data sets a learner reads, each by its id.
struct HeldSets(Vec<(DataSetId, Rc<HeldData>)>);

impl TaskData for HeldSets {
    fn for_set(&self, id: DataSetId) -> Option<&dyn DataAccess> {
        self.0.iter().find(|(set, _)| *set == id).map(|(_, d)| d.as_ref() as &dyn DataAccess)
    }
}

impl HeldData {
    fn empty() -> Self {
        let none = || WorkerSplit::Owned(Bytes { images: CompactImages::encode_all(&[]), labels: Vec::new() });
        Self { train: none(), test: none() }
    }

    /// The page's shared buffers (in [`Part::ALL`]'s order), checked for sizes that belong together.
    fn shared(parts: &Array) -> Result<Self, DataError> {
        let get = |p: Part| protocol::part::<Uint8Array>(parts, p.index() as u32);
        let split = |images: Uint8Array, labels: Uint8Array| HeldSplit::from_buffers(images, labels).map(WorkerSplit::Shared);
        Ok(Self {
            train: split(get(Part::TrainImages)?, get(Part::TrainLabels)?)?,
            test: split(get(Part::TestImages)?, get(Part::TestLabels)?)?,
        })
    }
}

/// A data set arriving in pieces; usable once every array is complete.
#[derive(Default)]
struct Arriving {
    parts: [Vec<u8>; 4],
    received: [usize; 4],
    totals: [Option<usize>; 4],
}

impl Arriving {
    /// Copies a piece of array `part` in; `Some` once the whole set is here.
    fn add(&mut self, part: Part, offset: usize, total: usize, bytes: &Uint8Array) -> Result<Option<HeldData>, DataError> {
        let i = part.index();
        let expected = *self.totals[i].get_or_insert(total);
        let len = bytes.length() as usize;
        if expected != total || offset.checked_add(len).is_none_or(|end| end > total) {
            return Err(DataError::Piece { offset, len, expected });
        }
        let buf = &mut self.parts[i];
        buf.resize(total, 0);
        bytes.copy_to(&mut buf[offset..offset + len]);
        self.received[i] += len;
        if (0..4).any(|k| self.totals[k].is_none_or(|t| self.received[k] < t)) {
            return Ok(None);
        }
        let [train_images, train_labels, test_images, test_labels] = std::mem::take(&mut self.parts);
        let split = |images: Vec<u8>, labels: Vec<u8>| {
            let images = CompactImages::from_layout(images, labels.len()).map_err(|source| DataError::Images { labels: labels.len(), source })?;
            Ok::<_, DataError>(WorkerSplit::Owned(Bytes { images, labels }))
        };
        Ok(Some(HeldData { train: split(train_images, train_labels)?, test: split(test_images, test_labels)? }))
    }
}

struct State {
    scope: DedicatedWorkerGlobalScope,
    data: [Option<Rc<HeldData>>; 2],
    arriving: [Arriving; 2],
    run: Option<Box<dyn Learner>>,
    gpu: Option<Rc<GpuContext>>,
    running: bool,
    /// Steps left of a Step command.
    budget: usize,
    looping: bool,
    pictures_due: bool,
    picture_detail: String,
    last_pictures: f64,
    /// A drawing the page asked about, answered between training slices.
    drawing: Option<Vec<u8>>,
    finished: bool,
    /// GPU steps queued before waiting for the queue: adapts to how long a step takes.
    gpu_group: usize,
}

type Shared = Rc<RefCell<State>>;

/// The worker binary's entry point.
pub fn start() {
    console_error_panic_hook::set_once();
    let _ = console_log::init_with_level(log::Level::Info);
    let scope: DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
    let state: Shared = Rc::new(RefCell::new(State {
        scope: scope.clone(),
        data: [None, None],
        arriving: Default::default(),
        run: None,
        gpu: None,
        running: false,
        budget: 0,
        looping: false,
        pictures_due: false,
        picture_detail: String::new(),
        last_pictures: 0.0,
        drawing: None,
        finished: false,
        gpu_group: 1,
    }));
    let s = state.clone();
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| match protocol::read::<ToWorker>(&event.data()) {
        Ok((message, parts)) => handle(&s, message, &parts),
        Err(e) => post(&s, FromWorker::Failed { message: e.to_string(), gpu_lost: false }),
    });
    scope.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    // The handler lives as long as the worker.
    on_message.forget();
    // Messages sent before this point were dropped (the module was still loading): the page waits
    // for this one before it sends anything.
    post(&state, FromWorker::Ready);
}

fn post(state: &Shared, message: FromWorker) {
    send(state, Outgoing::plain(message));
}

fn send(state: &Shared, out: Outgoing<FromWorker>) {
    let scope = state.borrow().scope.clone();
    if let Err(e) = protocol::to_page(&scope, &out) {
        log::error!("a worker could not post a message: {e}");
    }
}

fn failed(state: &Shared, message: String) {
    post(state, FromWorker::Failed { message, gpu_lost: false });
}

fn handle(state: &Shared, message: ToWorker, parts: &Array) {
    match message {
        ToWorker::Init(init) => {
            let s = state.clone();
            wasm_bindgen_futures::spawn_local(async move { build(&s, init).await });
        }
        ToWorker::Data { set, part, offset, total } => {
            let added = protocol::part::<Uint8Array>(parts, 0).map_err(DataError::from).and_then(|bytes| state.borrow_mut().arriving[set as usize].add(part, offset, total, &bytes));
            match added {
                Ok(Some(held)) => {
                    state.borrow_mut().data[set as usize] = Some(Rc::new(held));
                    kick(state);
                }
                Ok(None) => {}
                Err(e) => failed(state, e.to_string()),
            }
        }
        ToWorker::Shared { set } => match HeldData::shared(parts) {
            Ok(held) => {
                state.borrow_mut().data[set as usize] = Some(Rc::new(held));
                kick(state);
            }
            Err(e) => failed(state, e.to_string()),
        },
        ToWorker::Control(control) => {
            {
                let mut s = state.borrow_mut();
                match control {
                    Control::Run => s.running = !s.finished,
                    Control::Pause => {
                        s.running = false;
                        s.budget = 0;
                    }
                    Control::Step { steps } => s.budget = if s.finished { 0 } else { steps },
                    Control::Pictures { detail } => {
                        s.picture_detail = detail;
                        s.pictures_due = true;
                    }
                    Control::Predict { image } if image.len() == IMAGE_PIXELS => s.drawing = Some(image),
                    Control::Predict { image } => {
                        drop(s);
                        return failed(state, format!("a drawing of {} bytes, not {IMAGE_PIXELS}", image.len()));
                    }
                }
            }
            kick(state);
        }
        ToWorker::Bench { networks, steps, reps, backend, profile } => {
            let s = state.clone();
            wasm_bindgen_futures::spawn_local(async move { bench(&s, &networks, steps, reps, backend, profile).await });
        }
        ToWorker::Probe { demo, settings, backend, millis } => {
            let s = state.clone();
            wasm_bindgen_futures::spawn_local(async move { probe(&s, &demo, &settings, backend, millis).await });
        }
    }
}

/// The bench view's work: each network timed on this worker's one thread or on its own GPU device,
/// its row posted as soon as it is measured; on WebGPU with what a training step asks of the GPU.
async fn bench(state: &Shared, networks: &[String], steps: usize, reps: usize, compute: Compute, profile: bool) {
    use crate::experiments::bench::{Workload, kernel_profile, kernels_json, matmul_json, run_json, step_counts, time};
    let performance = js_sys::Reflect::get(&js_sys::global(), &"performance".into()).ok().and_then(|p| p.dyn_into::<web_sys::Performance>().ok());
    let Some(performance) = performance else {
        return failed(state, "this worker has no clock (performance.now)".into());
    };
    let now = move || performance.now();
    let (backend, name) = match compute {
        Compute::Cpu => (Backend::Cpu, "wasm-cpu"),
        Compute::WebGpu => match GpuContext::request().await {
            Ok(ctx) => (Backend::Gpu(Rc::new(ctx)), "webgpu"),
            Err(e) => return post(state, FromWorker::Failed { message: format!("WebGPU is not available here: {e}"), gpu_lost: true }),
        },
    };
    let gpu = matches!(backend, Backend::Gpu(_));
    for network in networks {
        let measured = async {
            let serial = crate::gpu::matmul::binds();
            let mut work = Workload::new(network, &backend)?;
            if let Backend::Gpu(ctx) = &backend {
                crate::gpu::matmul::tune(ctx).await?;
            }
            work.step().await?;
            let counts = step_counts(&mut work).await?;
            let t = time(&mut work, steps, reps, &now).await?;
            let mut run = run_json(network, name, work.batch, 1, &t, gpu.then_some(counts));
            if let Backend::Gpu(ctx) = &backend {
                run["matmul"] = matmul_json(&crate::gpu::matmul::tuned_since(ctx, serial));
                if profile {
                    let (kernels, empty) = kernel_profile(&mut work, ctx, 2).await?;
                    run["kernels"] = kernels_json(&kernels);
                    run["empty_submit_ms"] = empty.into();
                }
            }
            Ok::<_, TrainError>(run)
        }
        .await;
        match measured {
            Ok(run) => post(state, FromWorker::BenchRun { run }),
            Err(e) => return failed(state, format!("{network}: {e}")),
        }
    }
    post(state, FromWorker::BenchDone);
}

/// "auto": times the network a demo's worker would train, on the backend asked for.
async fn probe(state: &Shared, demo: &str, settings: &str, compute: Compute, millis: f64) {
    let measured = async {
        let (_, d) = demos::find(demo).ok_or_else(|| format!("this worker does not know the demo '{demo}'"))?;
        let network = d.network(&demos::values_from(d.decl(), settings).map_err(|e| e.to_string())?).map_err(|e| e.to_string())?;
        let backend = match compute {
            Compute::Cpu => Backend::Cpu,
            Compute::WebGpu => Backend::Gpu(Rc::new(GpuContext::request().await.map_err(|e| e.to_string())?)),
        };
        let mut work = crate::experiments::bench::Workload::build(&network, &backend).map_err(|e| e.to_string())?;
        if let Backend::Gpu(ctx) = &backend {
            crate::gpu::matmul::tune(ctx).await.map_err(|e| e.to_string())?;
        }
        crate::experiments::bench::probe(&mut work, millis, &now).await.map_err(|e| e.to_string())
    }
    .await;
    match measured {
        Ok(examples_per_s) => post(state, FromWorker::Probed { examples_per_s }),
        Err(message) => failed(state, message),
    }
}

/// Builds the network, on this worker's own GPU device when the page chose WebGPU.
async fn build(state: &Shared, init: Init) {
    let backend = match init.backend {
        Compute::Cpu => Backend::Cpu,
        Compute::WebGpu => match GpuContext::request().await {
            Ok(ctx) => {
                let ctx = Rc::new(ctx);
                state.borrow_mut().gpu = Some(ctx.clone());
                Backend::Gpu(ctx)
            }
            Err(e) => {
                post(state, FromWorker::Failed { message: format!("this worker could not open a GPU device: {e}"), gpu_lost: true });
                return;
            }
        },
    };
    let compute = match &backend {
        Backend::Cpu => "the CPU".to_string(),
        Backend::Gpu(ctx) => format!("WebGPU ({})", ctx.adapter),
    };
    let gpu = match &backend {
        Backend::Gpu(ctx) => Some(ctx.clone()),
        Backend::Cpu => None,
    };
    match learner(&init, backend) {
        Ok(run) => {
            // The products' and convolutions' kernels, timed on this adapter before the first step.
            if let Some(ctx) = gpu
                && let Err(e) = crate::gpu::matmul::tune(&ctx).await
            {
                log::warn!("timing the kernels failed ({e}); each call runs on the first of its kernels");
            }
            state.borrow_mut().run = Some(run);
            post(state, FromWorker::Started { compute });
            kick(state);
        }
        Err(e) => failed(state, e.to_string()),
    }
}

/// The learner `init` names, through the registry.
fn learner(init: &Init, backend: Backend) -> Result<Box<dyn Learner>, DemoError> {
    let (_, demo) = demos::find(&init.demo).ok_or_else(|| DemoError::Values(format!("this worker does not know the demo '{}'", init.demo)))?;
    let values = demos::values_from(demo.decl(), &init.settings)?;
    demo.learner(&values, init.learner, backend)
}

/// Starts the training loop unless it runs already.
fn kick(state: &Shared) {
    {
        let mut s = state.borrow_mut();
        if s.looping || s.run.is_none() {
            return;
        }
        s.looping = true;
    }
    let s = state.clone();
    wasm_bindgen_futures::spawn_local(async move {
        train_loop(&s).await;
        s.borrow_mut().looping = false;
    });
}

async fn train_loop(state: &Shared) {
    loop {
        let (mut run, data, train, gpu) = {
            let mut s = state.borrow_mut();
            let train = (s.running || s.budget > 0) && !s.finished;
            if !train && !s.pictures_due && s.drawing.is_none() {
                return;
            }
            let Some(run) = s.run.take() else { return };
            let sets: Option<Vec<(DataSetId, Rc<HeldData>)>> = run.data_sets().into_iter().map(|set| Some((set, s.data[set as usize].clone()?))).collect();
            (run, sets.map(HeldSets), train, s.gpu.clone())
        };
        // The page sends the data before it says run; until all of it is here there is nothing to do.
        let Some(sets) = data else {
            state.borrow_mut().run = Some(run);
            return;
        };
        // What pictures and drawings read: the first data set (an empty one for a demo that makes
        // its own examples).
        let data = sets.0.first().map_or_else(|| Rc::new(HeldData::empty()), |(_, d)| d.clone());
        let mut finished = false;
        let mut failure = None;
        if train {
            let started = now();
            let mut queued = 0;
            loop {
                match run.advance(&sets).await {
                    Ok(done) => finished = done,
                    Err(e) => {
                        failure = Some(e);
                        break;
                    }
                }
                // A GPU step is only queued when train_step returns: wait for the queue, so that
                // the step count reported (and the page's rate) counts completed steps, and a
                // pause never waits behind more than a slice of them. Cheap steps are waited for
                // in groups (a wait costs a round trip), slow ones one by one.
                queued += 1;
                let slice_end = now() - started >= SLICE_MS;
                if let Some(ctx) = &gpu
                    && (queued >= state.borrow().gpu_group || slice_end || finished)
                {
                    let waited = now();
                    queue_done(ctx).await;
                    let mut s = state.borrow_mut();
                    s.gpu_group = if now() - waited > SLICE_MS / 2.0 { (s.gpu_group / 2).max(1) } else { (s.gpu_group * 2).min(64) };
                    queued = 0;
                }
                if gpu.is_none() {
                    queued = 0;
                }
                let mut s = state.borrow_mut();
                if s.budget > 0 {
                    s.budget -= 1;
                    if s.budget == 0 && !s.running {
                        s.pictures_due = true;
                        break;
                    }
                }
                if finished || !(s.running || s.budget > 0) || (now() - started >= SLICE_MS && queued == 0) {
                    break;
                }
            }
            if let Some(ctx) = gpu.as_ref().filter(|_| queued > 0) {
                queue_done(ctx).await;
            }
            if failure.is_none()
                && let Some(Err(e)) = gpu.as_ref().map(|ctx| ctx.check_alive())
            {
                failure = Some(TrainError::Device(e));
            }
        }
        if let Some(e) = failure {
            {
                let mut s = state.borrow_mut();
                s.running = false;
                s.budget = 0;
                s.run = Some(run);
            }
            let gpu_lost = matches!(e, TrainError::Device(_));
            post(state, FromWorker::Failed { message: e.to_string(), gpu_lost });
            return;
        }
        let pictures = {
            let mut s = state.borrow_mut();
            let due = s.pictures_due || finished || (train && now() - s.last_pictures > PICTURES_EVERY_MS);
            s.pictures_due = false;
            if finished {
                s.finished = true;
                s.running = false;
                s.budget = 0;
            }
            due.then(|| s.picture_detail.clone())
        };
        let pictures = match pictures {
            Some(detail) => {
                state.borrow_mut().last_pictures = now();
                run.pictures(&detail, &*data).await.map(|v| js_sys::Float32Array::from(v.as_slice()))
            }
            None => None,
        };
        // A pass that only answers a drawing after the run ended still reports it finished.
        let finished = state.borrow().finished;
        let report = match run.report() {
            Ok(report) => report,
            Err(e) => {
                state.borrow_mut().run = Some(run);
                return failed(state, format!("its report could not be written: {e}"));
            }
        };
        let progress = Progress { step: run.step(), finished, report, pictures: pictures.is_some() };
        let drawing = state.borrow_mut().drawing.take();
        let prediction = match drawing {
            Some(image) => run.predict(&image, &*data).await,
            None => None,
        };
        state.borrow_mut().run = Some(run);
        let parts = pictures.map(JsValue::from).into_iter().collect();
        send(state, Outgoing { message: FromWorker::Progress(progress), parts, transfer: true });
        if let Some(probs) = prediction {
            post(state, FromWorker::Prediction { probs });
        }
        // Let the messages that arrived during the slice in before the next one.
        yield_now(state).await;
    }
}

/// Resolves once the GPU has finished everything submitted so far.
async fn queue_done(ctx: &GpuContext) {
    let (tx, rx) = futures_channel::oneshot::channel();
    ctx.queue.on_submitted_work_done(move || {
        let _ = tx.send(());
    });
    let _ = rx.await;
}

fn now() -> f64 {
    js_sys::Reflect::get(&js_sys::global(), &"performance".into())
        .ok()
        .and_then(|p| p.dyn_into::<web_sys::Performance>().ok())
        .map_or(0.0, |p| p.now())
}

async fn yield_now(state: &Shared) {
    let scope = state.borrow().scope.clone();
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        let _ = scope.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, 0);
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}
