//! What every kernel's host side shares: compiling a shader file's entry points, and binding a
//! pipeline to its uniforms and tensors once, so that a training step only records dispatches.

use super::{GpuContext, GpuTensor};
use bytemuck::Pod;
use std::sync::Arc;
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

/// Workgroups for `n` elements in groups of `size`. Elementwise shaders loop with a grid stride, so
/// capping at the dispatch limit still covers every element.
pub fn groups_for(n: usize, size: usize) -> (u32, u32) {
    (n.div_ceil(size).clamp(1, 65535) as u32, 1)
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
