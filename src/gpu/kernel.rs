//! What every kernel's host side shares: compiling a shader file's entry points, and binding a
//! pipeline to its uniforms and tensors once, so that a training step only records dispatches.

use super::{GpuContext, GpuTensor};
use bytemuck::Pod;
use std::sync::{Arc, Mutex};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// Dispatches recorded since the program started, for the benchmark's dispatches per step (the
/// cost that dominates on software adapters).
static DISPATCHES: AtomicU64 = AtomicU64::new(0);

/// How many dispatches have been recorded so far.
pub fn dispatch_count() -> u64 {
    DISPATCHES.load(Ordering::Relaxed)
}

/// A compute pipeline and the shader file and entry point it runs, by which the bench's profile
/// names its time.
#[derive(Clone, Debug)]
pub struct Pipeline {
    pipeline: wgpu::ComputePipeline,
    pub file: &'static str,
    pub entry: &'static str,
}

/// One pipeline per entry point of a WGSL file, in the order given.
pub fn pipelines<const N: usize>(ctx: &GpuContext, file: &'static str, source: &str, entries: [&'static str; N]) -> [Pipeline; N] {
    let module = ctx.device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some(file),
        source: wgpu::ShaderSource::Wgsl(source.into()),
    });
    entries.map(|entry| Pipeline {
        pipeline: ctx.device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(entry),
            layout: None,
            module: &module,
            entry_point: Some(entry),
            compilation_options: Default::default(),
            cache: None,
        }),
        file,
        entry,
    })
}

/// A uniform buffer holding `value`; `writable` ones can be changed between submits.
pub fn uniform<T: Pod>(ctx: &GpuContext, label: &str, value: &T, writable: bool) -> wgpu::Buffer {
    let usage = if writable { wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST } else { wgpu::BufferUsages::UNIFORM };
    ctx.buffer_init(&wgpu::util::BufferInitDescriptor { label: Some(label), contents: bytemuck::bytes_of(value), usage })
}

/// The uniform `Size { n }` of the elementwise shaders (padded to 16 bytes, as uniforms are).
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
pub struct Length {
    n: u32,
    _pad: [u32; 3],
}

impl Length {
    pub fn new(n: usize) -> Self {
        Self { n: n as u32, _pad: [0; 3] }
    }
}

/// Workgroups for a kernel that walks `n` elements in a grid-stride loop, in groups of `size`: one
/// per `size` elements, at most the device's [`GpuContext::stride_groups`]. The loop covers every
/// element whatever the cap.
pub fn groups_for(ctx: &GpuContext, n: usize, size: usize) -> (u32, u32) {
    (n.div_ceil(size).clamp(1, ctx.stride_groups as usize) as u32, 1)
}

/// A pipeline bound to its buffers: recorded every step, allocated once.
#[derive(Clone)]
pub struct Dispatch {
    pipeline: Pipeline,
    bind_group: wgpu::BindGroup,
    groups: (u32, u32),
    /// Other kernels bound to the same work, `others[pick - 1]` recorded instead while `pick` is
    /// not 0: a choice between kernels tested to agree, made by timing them after the call was
    /// bound (the matrix product's, `matmul::tune`).
    instead: Option<(Box<[Dispatch]>, Arc<AtomicUsize>)>,
}

impl Dispatch {
    pub fn new(
        ctx: &GpuContext,
        pipeline: &Pipeline,
        uniforms: &[(u32, &wgpu::Buffer)],
        tensors: &[(u32, &GpuTensor)],
        groups: (u32, u32),
    ) -> Self {
        let entries: Vec<wgpu::BindGroupEntry> = uniforms
            .iter()
            .map(|(binding, b)| wgpu::BindGroupEntry { binding: *binding, resource: b.as_entire_binding() })
            .chain(tensors.iter().map(|(binding, t)| wgpu::BindGroupEntry { binding: *binding, resource: t.buffer.as_entire_binding() }))
            .collect();
        let bind_group = ctx.bind_group(&wgpu::BindGroupDescriptor {
            label: None,
            layout: &pipeline.pipeline.get_bind_group_layout(0),
            entries: &entries,
        });
        Self { pipeline: pipeline.clone(), bind_group, groups, instead: None }
    }

    /// This call while `pick` is 0 when it is recorded, otherwise `others[pick - 1]`.
    pub fn or_among(self, others: Vec<Dispatch>, pick: Arc<AtomicUsize>) -> Self {
        Self { instead: Some((others.into_boxed_slice(), pick)), ..self }
    }

    /// Records the dispatch into `encoder` in a pass of its own; nothing runs until the caller
    /// submits. A chain of dispatches is cheaper recorded into one pass ([`record_all`]).
    pub fn encode(&self, encoder: &mut wgpu::CommandEncoder) {
        self.record(&mut encoder.begin_compute_pass(&Default::default()));
    }

    /// Records the dispatch into an open compute pass. WebGPU makes each dispatch of a pass see
    /// the storage writes of the dispatches before it, so a dependent chain may share one pass.
    pub fn record(&self, pass: &mut wgpu::ComputePass) {
        if let Some((others, pick)) = &self.instead
            && let Some(other) = pick.load(Ordering::Relaxed).checked_sub(1).and_then(|i| others.get(i))
        {
            return other.record(pass);
        }
        DISPATCHES.fetch_add(1, Ordering::Relaxed);
        CAPTURED.with(|c| {
            if let Some(calls) = c.borrow_mut().as_mut() {
                calls.push(Dispatch { instead: None, ..self.clone() });
            }
        });
        pass.set_pipeline(&self.pipeline.pipeline);
        pass.set_bind_group(0, &self.bind_group, &[]);
        pass.dispatch_workgroups(self.groups.0, self.groups.1, 1);
    }
}

/// The kernel this call runs, as `file:entry`.
impl Dispatch {
    pub fn kernel(&self) -> String {
        format!("{}:{}", self.pipeline.file, self.pipeline.entry)
    }
}

thread_local! {
    /// The calls recorded while [`capture`] runs (one thread: the tool's, or a worker's).
    static CAPTURED: std::cell::RefCell<Option<Vec<Dispatch>>> = const { std::cell::RefCell::new(None) };
}

/// Runs `f` and returns, with its result, every call it recorded, in order (as each ran: a
/// choice between kernels resolved).
pub fn capture<T>(f: impl FnOnce() -> T) -> (T, Vec<Dispatch>) {
    CAPTURED.with(|c| *c.borrow_mut() = Some(Vec::new()));
    let out = f();
    (out, CAPTURED.with(|c| c.borrow_mut().take()).unwrap_or_default())
}

/// One kernel's share of a recorded step: how many of its dispatches and their milliseconds.
#[derive(Debug, Clone, PartialEq)]
pub struct KernelTime {
    pub kernel: String,
    pub dispatches: usize,
    pub ms: f64,
}

/// Times each of `calls` alone (a submit and a wait for it), `rounds` times after one run that
/// warms up, keeps each call's fastest, and sums them by kernel, the slowest first; with the
/// milliseconds of an empty submit and wait, which every call's figure includes. The calls run
/// again on their own buffers: a profile is taken after the timings it explains, not between.
pub async fn profile(ctx: &GpuContext, calls: &[Dispatch], rounds: usize) -> Result<(Vec<KernelTime>, f64), crate::nn::DeviceError> {
    let run = async |call: Option<&Dispatch>| -> Result<f64, crate::nn::DeviceError> {
        let start = super::clock_ms();
        let mut encoder = ctx.device.create_command_encoder(&Default::default());
        if let Some(call) = call {
            call.encode(&mut encoder);
        }
        ctx.submit([encoder.finish()]);
        ctx.done().await?;
        Ok(super::clock_ms() - start)
    };
    let mut best = vec![f64::INFINITY; calls.len()];
    let mut empty = f64::INFINITY;
    for round in 0..=rounds.max(1) {
        for (call, best) in calls.iter().zip(&mut best) {
            let ms = run(Some(call)).await?;
            if round > 0 {
                *best = best.min(ms);
            }
        }
        empty = empty.min(run(None).await?);
    }
    let mut kernels: Vec<KernelTime> = Vec::new();
    for (call, ms) in calls.iter().zip(best) {
        let kernel = call.kernel();
        match kernels.iter_mut().find(|k| k.kernel == kernel) {
            Some(k) => {
                k.dispatches += 1;
                k.ms += ms;
            }
            None => kernels.push(KernelTime { kernel, dispatches: 1, ms }),
        }
    }
    kernels.sort_by(|a, b| b.ms.total_cmp(&a.ms));
    Ok((kernels, empty))
}

/// Records `calls` in order into one compute pass: per pass, a backend pays a begin and an end
/// (on software adapters a noticeable share of a small dispatch's cost).
pub fn record_all<'a>(encoder: &mut wgpu::CommandEncoder, calls: impl IntoIterator<Item = &'a Dispatch>) {
    let mut pass = encoder.begin_compute_pass(&Default::default());
    for call in calls {
        call.record(&mut pass);
    }
}

/// A choice between calls bound to the same work on different kernels (tested to agree): the one
/// that ran fastest on this device, for every call bound to the same `key` (the work's kind and
/// shape) on it. The matrix product has its own ([`super::matmul`]), which times scratch tensors of
/// the product's shape; these are timed on the buffers of the first call bound, so only calls that
/// overwrite their output (never ones that add into it) are chosen this way, and only on the device
/// they were bound on (a page that lost its device and opened another times its calls afresh).
struct Timed {
    /// The device's hash (its identity, without holding it open).
    device: u64,
    key: String,
    /// The first calls bound to the key, until they are timed (then dropped, with their hold on
    /// the buffers).
    calls: Mutex<Vec<Dispatch>>,
    /// The index into `calls` of the one that runs; read by every bound call as it is recorded.
    pick: Arc<AtomicUsize>,
    /// Milliseconds of each, once measured.
    ms: Mutex<Option<Vec<f64>>>,
}

static TIMED: Mutex<Vec<Arc<Timed>>> = Mutex::new(Vec::new());

/// The first of `calls` until they are timed, then the fastest of them (for any call bound to the
/// same `key` on `ctx`'s adapter). Natively they are timed here, the first time a key is bound; in
/// the browser, where a wait cannot block, by [`time_pending`], which each worker awaits after
/// building its network (with `matmul::tune`).
pub fn fastest(ctx: &GpuContext, key: String, calls: Vec<Dispatch>) -> Dispatch {
    let device = device_id(ctx);
    let timed = {
        let mut all = TIMED.lock().unwrap_or_else(|e| e.into_inner());
        match all.iter().find(|t| t.device == device && t.key == key) {
            Some(t) => t.clone(),
            None => {
                let t = Arc::new(Timed { device, key, calls: Mutex::new(calls.clone()), pick: Arc::default(), ms: Mutex::new(None) });
                all.push(t.clone());
                t
            }
        }
    };
    #[cfg(not(target_arch = "wasm32"))]
    if timed.ms.lock().unwrap_or_else(|e| e.into_inner()).is_none()
        && let Err(e) = now(time(ctx, &timed))
    {
        log::warn!("timing the kernels of {} failed ({e}); it runs on {}", timed.key, calls[0].kernel());
    }
    let mut calls = calls.into_iter();
    let first = calls.next().expect("a choice has a call");
    first.or_among(calls.collect(), timed.pick.clone())
}

/// Times every choice made by [`fastest`] on `ctx`'s device and not yet timed; the calls other
/// devices left untimed (a lost one) are let go.
pub async fn time_pending(ctx: &GpuContext) -> Result<(), crate::nn::DeviceError> {
    let device = device_id(ctx);
    let pending: Vec<Arc<Timed>> = {
        let mut all = TIMED.lock().unwrap_or_else(|e| e.into_inner());
        all.retain(|t| t.device == device || t.ms.lock().unwrap_or_else(|e| e.into_inner()).is_some());
        all.iter().filter(|t| t.device == device && t.ms.lock().unwrap_or_else(|e| e.into_inner()).is_none()).cloned().collect()
    };
    for timed in pending {
        time(ctx, &timed).await?;
    }
    Ok(())
}

/// The device's identity as [`Timed`] keeps it: wgpu hashes a device by its id.
fn device_id(ctx: &GpuContext) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    ctx.device.hash(&mut h);
    h.finish()
}

/// Rounds of timing per call after a first run, which compiles the pipeline and is not counted.
const TIMING_ROUNDS: usize = 2;

/// Times alternative calls for the same work: one submit and a wait per run, in turn,
/// [`TIMING_ROUNDS`] rounds after one that warms up, each call's fastest run kept. A call more than
/// twice as slow as the fastest after a round is not run again (a second run would not close that
/// gap, and on a software adapter a slow kernel costs the page's start a second or more). Wall
/// clock around submit and wait: a device may be opened without timestamp queries, which a browser
/// may not offer, and the kernels timed take milliseconds, far above a submit's cost. Returns the
/// milliseconds and the index of the fastest (a tie: the earlier).
pub async fn time_calls(ctx: &GpuContext, calls: &[Dispatch]) -> Result<(Vec<f64>, usize), crate::nn::DeviceError> {
    let mut best = vec![f64::INFINITY; calls.len()];
    for round in 0..=TIMING_ROUNDS {
        let cut = 2.0 * best.iter().copied().fold(f64::INFINITY, f64::min);
        for (call, best) in calls.iter().zip(&mut best) {
            if round > 1 && *best > cut {
                continue;
            }
            let start = super::clock_ms();
            let mut encoder = ctx.device.create_command_encoder(&Default::default());
            call.encode(&mut encoder);
            ctx.submit([encoder.finish()]);
            ctx.done().await?;
            if round > 0 {
                *best = best.min(super::clock_ms() - start);
            }
        }
    }
    let fastest = (1..best.len()).fold(0, |f, i| if best[i] < best[f] { i } else { f });
    Ok((best, fastest))
}

/// Times a choice's calls ([`time_calls`]) and makes the fastest run.
async fn time(ctx: &GpuContext, timed: &Timed) -> Result<(), crate::nn::DeviceError> {
    let calls = std::mem::take(&mut *timed.calls.lock().unwrap_or_else(|e| e.into_inner()));
    if calls.is_empty() {
        // Another caller is timing them.
        return Ok(());
    }
    let (ms, fastest) = time_calls(ctx, &calls).await?;
    timed.pick.store(fastest, Ordering::Relaxed);
    *timed.ms.lock().unwrap_or_else(|e| e.into_inner()) = Some(ms);
    Ok(())
}

/// Runs a future whose waits block natively (so it is ready at its first poll).
#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn now(future: impl std::future::Future<Output = Result<(), crate::nn::DeviceError>>) -> Result<(), crate::nn::DeviceError> {
    let mut future = std::pin::pin!(future);
    match future.as_mut().poll(&mut std::task::Context::from_waker(std::task::Waker::noop())) {
        std::task::Poll::Ready(result) => result,
        std::task::Poll::Pending => Err(crate::nn::DeviceError::Readback("a native wait did not complete".into())),
    }
}
