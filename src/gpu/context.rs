//! Finding an adapter, opening a device, and noticing when it is lost.

use crate::nn::DeviceError;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use wgpu::util::DeviceExt;

/// What the CPU side has asked of the GPU since the program started: on a real GPU these, not the
/// kernels, decide whether a training step waits. The benchmark prints them per step and a test
/// holds every trainer's step to one submit, no readback and no new buffer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GpuCounts {
    pub dispatches: u64,
    pub submits: u64,
    /// Buffers created (tensors, uniforms, readback staging) and bind groups.
    pub buffers: u64,
    pub bind_groups: u64,
    /// Reads of a GPU buffer back to the CPU, and their bytes.
    pub readbacks: u64,
    pub readback_bytes: u64,
}

impl GpuCounts {
    /// What happened between `earlier` and `self`.
    pub fn since(self, earlier: GpuCounts) -> GpuCounts {
        GpuCounts {
            dispatches: self.dispatches - earlier.dispatches,
            submits: self.submits - earlier.submits,
            buffers: self.buffers - earlier.buffers,
            bind_groups: self.bind_groups - earlier.bind_groups,
            readbacks: self.readbacks - earlier.readbacks,
            readback_bytes: self.readback_bytes - earlier.readback_bytes,
        }
    }
}

static SUBMITS: AtomicU64 = AtomicU64::new(0);
static BUFFERS: AtomicU64 = AtomicU64::new(0);
static BIND_GROUPS: AtomicU64 = AtomicU64::new(0);
static READBACKS: AtomicU64 = AtomicU64::new(0);
static READBACK_BYTES: AtomicU64 = AtomicU64::new(0);

/// The counts so far (one program: the tool, a test, or one of the page's workers).
pub fn counts() -> GpuCounts {
    GpuCounts {
        dispatches: super::kernel::dispatch_count(),
        submits: SUBMITS.load(Ordering::Relaxed),
        buffers: BUFFERS.load(Ordering::Relaxed),
        bind_groups: BIND_GROUPS.load(Ordering::Relaxed),
        readbacks: READBACKS.load(Ordering::Relaxed),
        readback_bytes: READBACK_BYTES.load(Ordering::Relaxed),
    }
}

/// What the user is told about the adapter in use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdapterSummary {
    pub name: String,
    pub backend: String,
    pub device_type: String,
    pub driver: String,
}

impl fmt::Display for AdapterSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = if self.name.is_empty() { "unnamed adapter" } else { &self.name };
        write!(f, "{name} ({}", self.backend)?;
        if !self.device_type.is_empty() {
            write!(f, ", {}", self.device_type)?;
        }
        if !self.driver.is_empty() {
            write!(f, ", {}", self.driver)?;
        }
        write!(f, ")")
    }
}

/// [`GpuContext::stride_groups`] on SwiftShader: 8, 16 and 32 measured alike with two cores (64 was
/// slower), and 16 leaves a few workgroups to each of the threads a larger machine's adapter runs.
const SOFTWARE_STRIDE_GROUPS: u32 = 16;

/// A device and queue, with what the app needs to know about them.
pub struct GpuContext {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub adapter: AdapterSummary,
    /// Whether the device has subgroups (WebGPU's "subgroups", wgpu's SUBGROUP), which the
    /// matrix products' quad kernels need.
    pub subgroups: bool,
    /// The most workgroups a grid-stride kernel is given ([`super::kernel::groups_for`]). On
    /// SwiftShader (natively by name; in the browser the adapter that says it is a fallback, wgpu's
    /// `DeviceType::Cpu`) each workgroup costs a few microseconds of its own, so a few workgroups
    /// that loop beat one per 256 elements: metaplastic Adam over bnn-1024's 1.9 M weights took 61
    /// ms in 7,300 workgroups and 34 ms in 16. llvmpipe ran each such kernel faster alone with the
    /// cap too, but whole training steps slower (LeNet-5 1,050-1,377 -> 1,000 ex/s, bnn-1024 870
    /// -> 800), so it keeps one workgroup per 256 elements, as does a hardware GPU, where every
    /// element gets an invocation of its own (docs/performance.md).
    pub stride_groups: u32,
    lost: Arc<Mutex<Option<String>>>,
}

impl GpuContext {
    /// Asks wgpu for an adapter (any kind: a software one counts, it computes correctly) and opens a
    /// device with that adapter's own limits, so large layers get the storage buffers they need.
    pub async fn request() -> Result<Self, DeviceError> {
        #[cfg(target_arch = "wasm32")]
        let instance = {
            if !browser_has_webgpu() {
                return Err(DeviceError::NotInBrowser);
            }
            wgpu::Instance::new(wgpu::InstanceDescriptor {
                backends: wgpu::Backends::BROWSER_WEBGPU,
                ..wgpu::InstanceDescriptor::new_without_display_handle()
            })
        };
        #[cfg(not(target_arch = "wasm32"))]
        let instance = wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());

        let options = wgpu::RequestAdapterOptions {
            power_preference: wgpu::PowerPreference::HighPerformance,
            force_fallback_adapter: false,
            ..Default::default()
        };
        let adapter = instance.request_adapter(&options).await.map_err(|e| {
            #[cfg(target_arch = "wasm32")]
            return DeviceError::NotInBrowser.with_detail(e);
            #[cfg(not(target_arch = "wasm32"))]
            DeviceError::NoAdapter(e.to_string())
        })?;
        let info = adapter.get_info();
        let adapter_summary = AdapterSummary {
            name: info.name.clone(),
            backend: format!("{:?}", info.backend),
            device_type: format!("{:?}", info.device_type),
            driver: info.driver.clone(),
        };
        let desc = wgpu::DeviceDescriptor {
            label: Some("metaplastic"),
            required_limits: adapter.limits(),
            // Natively wgpu asks for SUBGROUP itself; in the browser wgpu 30 does not know the
            // feature by name and static/training_worker.js asks for it.
            required_features: adapter.features() & wgpu::Features::SUBGROUP,
            ..Default::default()
        };
        let (device, queue) = adapter.request_device(&desc).await.map_err(|e| DeviceError::RequestDevice(e.to_string()))?;
        let lost = Arc::new(Mutex::new(None));
        let flag = lost.clone();
        device.set_device_lost_callback(move |reason, message| {
            if let Ok(mut slot) = flag.lock() {
                *slot = Some(format!("{reason:?}: {message}"));
            }
        });
        #[cfg(not(target_arch = "wasm32"))]
        let subgroups = device.features().contains(wgpu::Features::SUBGROUP);
        #[cfg(target_arch = "wasm32")]
        let subgroups = js_sys::Reflect::get(&js_sys::global(), &"metaplasticSubgroups".into()).is_ok_and(|v| v.as_bool() == Some(true));
        let swiftshader = info.device_type == wgpu::DeviceType::Cpu && !info.name.contains("llvmpipe");
        let stride_groups = if swiftshader { SOFTWARE_STRIDE_GROUPS } else { 65535 };
        Ok(Self { device, queue, adapter: adapter_summary, subgroups, stride_groups, lost })
    }

    /// `Err` once the device is gone (driver reset, tab in background too long, `destroy()`).
    /// Callers check this between steps and fall back to the CPU with the state they hold.
    pub fn check_alive(&self) -> Result<(), DeviceError> {
        match self.lost.lock().ok().and_then(|slot| slot.clone()) {
            Some(reason) => Err(DeviceError::Lost(reason)),
            None => Ok(()),
        }
    }

    /// Submits command buffers: every submit of the crate goes through here, so it is counted.
    pub fn submit<I: IntoIterator<Item = wgpu::CommandBuffer>>(&self, buffers: I) {
        SUBMITS.fetch_add(1, Ordering::Relaxed);
        self.queue.submit(buffers);
    }

    /// Creates a buffer (counted).
    pub fn buffer(&self, desc: &wgpu::BufferDescriptor<'_>) -> wgpu::Buffer {
        BUFFERS.fetch_add(1, Ordering::Relaxed);
        self.device.create_buffer(desc)
    }

    /// Creates a buffer holding `desc.contents` (counted).
    pub fn buffer_init(&self, desc: &wgpu::util::BufferInitDescriptor<'_>) -> wgpu::Buffer {
        BUFFERS.fetch_add(1, Ordering::Relaxed);
        self.device.create_buffer_init(desc)
    }

    /// Creates a bind group (counted).
    pub fn bind_group(&self, desc: &wgpu::BindGroupDescriptor<'_>) -> wgpu::BindGroup {
        BIND_GROUPS.fetch_add(1, Ordering::Relaxed);
        self.device.create_bind_group(desc)
    }

    /// Counts a read of `bytes` back from the GPU.
    pub(super) fn read_back(&self, bytes: u64) {
        READBACKS.fetch_add(1, Ordering::Relaxed);
        READBACK_BYTES.fetch_add(bytes, Ordering::Relaxed);
    }

    /// Until the work submitted so far is done: natively by blocking, in the browser by awaiting the
    /// queue's promise (the worker's thread runs on meanwhile).
    pub async fn done(&self) -> Result<(), DeviceError> {
        #[cfg(target_arch = "wasm32")]
        {
            let (tx, rx) = futures_channel::oneshot::channel();
            self.queue.on_submitted_work_done(move || {
                let _ = tx.send(());
            });
            rx.await.map_err(|_| DeviceError::Readback("the queue never said its work was done".into()))?;
        }
        self.wait()
    }

    /// Blocks natively until submitted work is done; in the browser the event loop does this.
    pub fn wait(&self) -> Result<(), DeviceError> {
        #[cfg(not(target_arch = "wasm32"))]
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| DeviceError::Readback(e.to_string()))?;
        Ok(())
    }
}

#[cfg(target_arch = "wasm32")]
impl DeviceError {
    fn with_detail(self, detail: impl fmt::Display) -> Self {
        log::info!("no WebGPU adapter: {detail}");
        self
    }
}

/// `navigator.gpu` exists only where the browser offers WebGPU; wgpu would otherwise fall through
/// to a backend this build does not have and report a less helpful error.
#[cfg(target_arch = "wasm32")]
fn browser_has_webgpu() -> bool {
    // The global scope, not `window`: training workers open their own device.
    let Ok(navigator) = js_sys::Reflect::get(&js_sys::global(), &"navigator".into()) else { return false };
    js_sys::Reflect::get(&navigator, &"gpu".into()).is_ok_and(|gpu| !gpu.is_undefined() && !gpu.is_null())
}

/// Milliseconds on a clock that only moves forward.
pub fn clock_ms() -> f64 {
    #[cfg(target_arch = "wasm32")]
    {
        use wasm_bindgen::JsCast;
        js_sys::Reflect::get(&js_sys::global(), &"performance".into())
            .ok()
            .and_then(|p| p.dyn_into::<web_sys::Performance>().ok())
            .map_or_else(js_sys::Date::now, |p| p.now())
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
        START.get_or_init(std::time::Instant::now).elapsed().as_secs_f64() * 1000.0
    }
}
