//! Host side of `shaders/matmul.wgsl`: `C = op(A) · op(B)` with the shape and flags of
//! [`crate::nn::MatmulShape`], whose CPU reference it is tested against. The shader has tiled
//! kernels for most products (4x4 or 8x8 outputs per invocation, one value or four per load; which
//! one runs a product is measured on the adapter in hand; where the device has subgroups, also
//! `shaders/matmul_quad.wgsl`'s, which share loads within a quad) and two for the shapes a convolution
//! makes, which leave most of a tile idle: a narrow C (the forward product, one column per output
//! channel) and a small C over a long k (the weight gradient, summed over every pixel of the batch).

use super::{GpuContext, GpuTensor};
use crate::nn::{Activation, MatmulShape};
use crate::nn::TrainError;
use super::kernel::{Dispatch, pipelines, uniform, Pipeline};
#[cfg(not(target_arch = "wasm32"))]
use super::kernel::now;
use bytemuck::{Pod, Zeroable};
use crate::nn::DeviceError;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// Outputs per workgroup side (`TILE` in the shader), and `wide`'s (`WIDE`).
const TILE: u32 = 32;
const WIDE: u32 = 64;
/// Rows per workgroup of `quad` (its columns are `WIDE`).
const QUAD_ROWS: u32 = 16;
/// `ROWS_N` in the shader: the widest C the `rows` kernel computes.
const ROWS_N: u32 = 16;
/// Invocations per workgroup of `rows`, `split` and `reduce`.
const WG: usize = 64;
/// A product is split along k when C has at most this many outputs (a few tiles of `main`) and k
/// is at least [`SPLIT_MIN_K`] long.
const SPLIT_MAX_OUTPUTS: u32 = 4096;
const SPLIT_MIN_K: u32 = 2048;
/// Chunks of k at most, and k per chunk at least.
const SPLIT_CHUNKS: u32 = 64;
const SPLIT_MIN_CHUNK: u32 = 256;

/// The WGSL uniform `Shape`: the product's shape, and how k is split.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct Uniform {
    shape: MatmulShape,
    chunk: u32,
    chunks: u32,
    with_bias: u32,
    /// 0 none, 1 ReLU, 2 tanh.
    act: u32,
}

pub struct MatmulKernel {
    tiled: Pipeline,
    wide: Pipeline,
    /// `quad` (`shaders/matmul_quad.wgsl`), where the device has subgroups.
    quad: Option<Pipeline>,
    /// The vec4 kernels, by [`Variant::Vec4`]'s layout: A along k and B along k, A along k and B
    /// along n, A along m and B along n.
    along_k: Pipeline,
    along_n: Pipeline,
    along_mn: Pipeline,
    rows: Pipeline,
    split: Pipeline,
    reduce: Pipeline,
}

impl MatmulKernel {
    pub fn new(ctx: &GpuContext) -> Self {
        let [tiled, wide, along_k, along_n, along_mn, rows, split, reduce] = pipelines(
            ctx,
            "matmul.wgsl",
            include_str!("../../shaders/matmul.wgsl"),
            ["main", "wide", "along_k", "along_n", "along_mn", "rows", "split", "reduce"],
        );
        let quad = ctx.subgroups.then(|| {
            // One module: matmul.wgsl's declarations and helpers, then the quad kernels. In the
            // browser WGSL must enable subgroups before using them; naga (natively) has them
            // without, and rejects the directive.
            let enable = if cfg!(target_arch = "wasm32") { "enable subgroups;\n" } else { "" };
            let source = format!("{enable}{}\n{}", include_str!("../../shaders/matmul.wgsl"), include_str!("../../shaders/matmul_quad.wgsl"));
            let [quad] = pipelines(ctx, "matmul_quad.wgsl", &source, ["quad"]);
            quad
        });
        Self { tiled, wide, quad, along_k, along_n, along_mn, rows, split, reduce }
    }

    /// The kernels that can run a product of this shape, the one [`Self::bind`] runs until they
    /// are timed first: [`Self::variant`]'s, then `main` and `wide`, then `quad` where the device
    /// has subgroups, k is a multiple of 4 and its workgroups of 16 rows fit one dispatch.
    pub fn candidates(&self, shape: MatmulShape) -> Vec<Variant> {
        let mut all = match Self::variant(shape) {
            // `rows` runs a row per invocation, and at a short m that is few workgroups for a long
            // k: bnn-1024's last forward product (100 x 1024 x 10) took 13 ms on `rows` and under
            // 1 on `quad` on SwiftShader. So the tiled kernels are timed beside it.
            Variant::Rows => vec![Variant::Rows, Variant::Tiled, Variant::Wide],
            Variant::Tiled => vec![Variant::Tiled, Variant::Wide],
            vec4 => vec![vec4, Variant::Tiled, Variant::Wide],
        };
        if self.quad.is_some() && shape.k.is_multiple_of(4) && shape.m.div_ceil(QUAD_ROWS) <= 65535 {
            all.push(Variant::Quad);
        }
        all
    }

    /// The kernel made for a product of this shape: `rows` for a narrow C, the vec4 kernel of its
    /// layout where it has one, otherwise `main`.
    pub fn variant(shape: MatmulShape) -> Variant {
        let (ta, tb) = (shape.has(MatmulShape::TRANS_A), shape.has(MatmulShape::TRANS_B));
        if shape.n <= ROWS_N && !ta {
            return Variant::Rows;
        }
        // A vec4 kernel reads A along k (stored m x k) or along m (stored transposed), B along k
        // (stored transposed) or along n: k and each dimension read along a multiple of 4. A
        // transposed with B transposed is left to `main` (no layer makes it).
        let by4 = |d: u32| d > 0 && d.is_multiple_of(4);
        let along_k = by4(shape.k);
        match (ta, tb) {
            (false, true) if along_k => Variant::Vec4 { a_along_k: true, b_along_k: true },
            (false, false) if along_k && by4(shape.n) => Variant::Vec4 { a_along_k: true, b_along_k: false },
            (true, false) if along_k && by4(shape.m) && by4(shape.n) => Variant::Vec4 { a_along_k: false, b_along_k: false },
            _ => Variant::Tiled,
        }
    }

    /// Binds a product to its buffers once; the returned call is recorded every step without
    /// allocating anything. A product is bound to each of its [`Self::candidates`], tested to
    /// agree, and runs whichever this adapter runs fastest at this shape (see [`tune`]).
    pub fn bind(&self, ctx: &GpuContext, shape: MatmulShape, a: &GpuTensor, b: &GpuTensor, c: &GpuTensor) -> Dispatch {
        self.bind_layer(ctx, shape, a, b, None, None, c)
    }

    /// [`Self::bind`], plus `bias[column]` added to every output and then `act` applied, each when
    /// given: a layer's forward product, its bias and the activation after it in one dispatch (the
    /// CPU's `matmul`, `add_bias` and `activation_forward`, rounded alike). Not with `accumulate`.
    #[allow(clippy::too_many_arguments)]
    pub fn bind_layer(
        &self,
        ctx: &GpuContext,
        shape: MatmulShape,
        a: &GpuTensor,
        b: &GpuTensor,
        bias: Option<&GpuTensor>,
        act: Option<Activation>,
        c: &GpuTensor,
    ) -> Dispatch {
        let kernels = self.candidates(shape);
        let mut calls = kernels.iter().map(|&v| self.bind_as(ctx, v, shape, a, b, bias, act, c));
        let first = calls.next().expect("every shape has a kernel");
        if kernels.len() == 1 {
            return first;
        }
        let choice = Choice::of(ctx, shape, kernels.clone());
        #[cfg(not(target_arch = "wasm32"))]
        if choice.measured().is_none() {
            // Natively a wait blocks, so the first use of a shape measures it here; in the browser
            // the worker awaits `tune` after building its network.
            if let Err(e) = now(measure(self, ctx, std::slice::from_ref(&choice))) {
                log::warn!("timing the matrix product {shape:?} failed ({e}); it runs on {}", kernels[0].entry());
            }
        }
        first.or_among(calls.collect(), choice.pick.clone())
    }

    /// The product on the kernel `variant` whatever the tuning says: `main` and `wide` serve every
    /// shape, `quad` every shape whose k is a multiple of 4 (where the device has subgroups), the
    /// others only those [`Self::variant`] gives them (the tests compare each with the CPU, and
    /// the tuner times them side by side).
    #[allow(clippy::too_many_arguments)]
    pub fn bind_as(
        &self,
        ctx: &GpuContext,
        variant: Variant,
        shape: MatmulShape,
        a: &GpuTensor,
        b: &GpuTensor,
        bias: Option<&GpuTensor>,
        act: Option<Activation>,
        c: &GpuTensor,
    ) -> Dispatch {
        assert!(
            matches!(variant, Variant::Tiled | Variant::Wide) || variant == Self::variant(shape) || (variant == Variant::Quad && shape.k.is_multiple_of(4)),
            "{} does not compute a product of {shape:?}",
            variant.entry()
        );
        let groups = (shape.n.div_ceil(TILE), shape.m.div_ceil(TILE));
        let vec4 = match variant {
            Variant::Rows => {
                assert!(shape.m.div_ceil(WG as u32) <= 65535, "at most 65535 workgroups of rows ({})", shape.m);
                return self.dispatch(ctx, &self.rows, shape, a, b, (bias, act), c, (one_each(shape.m, WG), 1));
            }
            Variant::Tiled => return self.dispatch(ctx, &self.tiled, shape, a, b, (bias, act), c, groups),
            Variant::Wide => {
                let groups = (shape.n.div_ceil(WIDE), shape.m.div_ceil(WIDE));
                return self.dispatch(ctx, &self.wide, shape, a, b, (bias, act), c, groups);
            }
            Variant::Quad => {
                let Some(quad) = &self.quad else { panic!("quad needs a device with subgroups") };
                let groups = (shape.n.div_ceil(WIDE), shape.m.div_ceil(QUAD_ROWS));
                return self.dispatch(ctx, quad, shape, a, b, (bias, act), c, groups);
            }
            Variant::Vec4 { a_along_k: true, b_along_k: true } => &self.along_k,
            Variant::Vec4 { a_along_k: true, b_along_k: false } => &self.along_n,
            Variant::Vec4 { .. } => &self.along_mn,
        };
        check(shape, a, b, c);
        let call = self.dispatch_uniform(ctx, shape, (bias, act));
        // The kernel reads A and B as vec4s only; the bias binding still needs a buffer.
        let tensors = [(6, a), (7, b), (3, c), (5, bias.unwrap_or(b))];
        Dispatch::new(ctx, vec4, &[(0, &call)], &tensors, groups)
    }

    /// The tiled kernel whatever the shape (the others are tested against it, and it against the
    /// CPU).
    pub fn bind_tiled(&self, ctx: &GpuContext, shape: MatmulShape, a: &GpuTensor, b: &GpuTensor, bias: Option<&GpuTensor>, act: Option<Activation>, c: &GpuTensor) -> Dispatch {
        self.bind_as(ctx, Variant::Tiled, shape, a, b, bias, act, c)
    }

    #[allow(clippy::too_many_arguments)]
    fn dispatch(
        &self,
        ctx: &GpuContext,
        pipeline: &Pipeline,
        shape: MatmulShape,
        a: &GpuTensor,
        b: &GpuTensor,
        (bias, act): (Option<&GpuTensor>, Option<Activation>),
        c: &GpuTensor,
        groups: (u32, u32),
    ) -> Dispatch {
        check(shape, a, b, c);
        let u = self.dispatch_uniform(ctx, shape, (bias, act));
        // Without a bias the binding still needs a buffer: B, read-only like it, stands in unread.
        Dispatch::new(ctx, pipeline, &[(0, &u)], &[(1, a), (2, b), (3, c), (5, bias.unwrap_or(b))], groups)
    }

    /// The uniform of a product that writes C with its bias and activation (each when given), or
    /// accumulates without them.
    fn dispatch_uniform(&self, ctx: &GpuContext, shape: MatmulShape, (bias, act): (Option<&GpuTensor>, Option<Activation>)) -> wgpu::Buffer {
        assert!(bias.is_none_or(|t| t.len == shape.n as usize), "one bias per column of C");
        let epilogue = bias.is_some() || act.is_some();
        assert!(!epilogue || !shape.has(MatmulShape::ACCUMULATE), "a bias or an activation goes with a product that writes C, a layer's forward product");
        let with_bias = u32::from(bias.is_some());
        let act = act.map_or(0, |a| a.code() + 1);
        uniform(ctx, "matmul shape", &Uniform { shape, chunk: 0, chunks: 0, with_bias, act }, false)
    }

    /// A product whose k may be long and C small, as a weight gradient's: split along k into
    /// chunks summed side by side, then added up in order (two calls), when that pays; otherwise
    /// [`Self::bind`]'s one call.
    pub fn bind_long(&self, ctx: &GpuContext, shape: MatmulShape, a: &GpuTensor, b: &GpuTensor, c: &GpuTensor) -> Vec<Dispatch> {
        check(shape, a, b, c);
        let outputs = shape.m * shape.n;
        if outputs > SPLIT_MAX_OUTPUTS || shape.k < SPLIT_MIN_K {
            return vec![self.bind(ctx, shape, a, b, c)];
        }
        let chunk = shape.k.div_ceil(SPLIT_CHUNKS).max(SPLIT_MIN_CHUNK);
        let chunks = shape.k.div_ceil(chunk);
        let partial = GpuTensor::zeros(ctx, (chunks * outputs) as usize);
        let u = uniform(ctx, "matmul shape", &Uniform { shape, chunk, chunks, with_bias: 0, act: 0 }, false);
        vec![
            Dispatch::new(ctx, &self.split, &[(0, &u)], &[(1, a), (2, b), (4, &partial)], (chunks, 1)),
            Dispatch::new(ctx, &self.reduce, &[(0, &u)], &[(4, &partial), (3, c)], (one_each(outputs, WG), 1)),
        ]
    }
}

/// Which kernel of `matmul.wgsl` runs a product.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    /// `rows`: a row of a narrow C per invocation.
    Rows,
    /// `main`: 4x4 blocks, one value of A and of B per load.
    Tiled,
    /// `wide`: 8x8 blocks, one value per load.
    Wide,
    /// `quad`: 16x4 blocks, a quad of invocations sharing its rows of A, four k at a time
    /// (`shaders/matmul_quad.wgsl`).
    Quad,
    /// `along_k`, `along_n` or `along_mn`: 4x4 blocks, four values per load, A read along k or m
    /// and B along k or n.
    Vec4 { a_along_k: bool, b_along_k: bool },
}

impl Variant {
    /// The entry point of `matmul.wgsl` that runs it.
    pub fn entry(self) -> &'static str {
        match self {
            Variant::Rows => "rows",
            Variant::Tiled => "main",
            Variant::Wide => "wide",
            Variant::Quad => "quad",
            Variant::Vec4 { a_along_k: true, b_along_k: true } => "along_k",
            Variant::Vec4 { a_along_k: true, b_along_k: false } => "along_n",
            Variant::Vec4 { .. } => "along_mn",
        }
    }
}

/// Which of a product's kernels runs it on one adapter: the first of its candidates until measured,
/// then whichever measured fastest at the product's shape. One per adapter and shape for the
/// program's life (natively the tool or a test; in the page, one worker), shared by every call
/// bound to that shape.
struct Choice {
    adapter: String,
    /// The shape, `accumulate` left out (it changes only the store).
    shape: MatmulShape,
    /// [`MatmulKernel::candidates`] of the shape, in the order of each bound call's alternatives.
    kernels: Vec<Variant>,
    /// The index into `kernels` of the one that runs; read by every bound call as it is recorded.
    pick: Arc<AtomicUsize>,
    /// Milliseconds of each kernel, once measured.
    ms: Mutex<Option<Vec<f64>>>,
    /// [`BINDS`] when a call of this shape was last bound.
    bound: AtomicU64,
}

static CHOICES: Mutex<Vec<Arc<Choice>>> = Mutex::new(Vec::new());
/// Calls bound with a choice so far: the bench lists the choices a network's build touched.
static BINDS: AtomicU64 = AtomicU64::new(0);

impl Choice {
    /// The choice of `shape` on `ctx`'s adapter, made (unmeasured) the first time it is asked for.
    fn of(ctx: &GpuContext, shape: MatmulShape, kernels: Vec<Variant>) -> Arc<Choice> {
        let adapter = ctx.adapter.to_string();
        let shape = MatmulShape { flags: shape.flags & !MatmulShape::ACCUMULATE, ..shape };
        let mut all = CHOICES.lock().unwrap_or_else(|e| e.into_inner());
        let serial = BINDS.fetch_add(1, Ordering::Relaxed) + 1;
        let choice = match all.iter().find(|c| c.adapter == adapter && c.shape == shape && c.kernels == kernels) {
            Some(c) => c.clone(),
            None => {
                let c = Arc::new(Choice { adapter, shape, kernels, pick: Arc::default(), ms: Mutex::new(None), bound: AtomicU64::new(0) });
                all.push(c.clone());
                c
            }
        };
        choice.bound.store(serial, Ordering::Relaxed);
        choice
    }

    fn measured(&self) -> Option<Vec<f64>> {
        self.ms.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// A dense product's kernel as measured on an adapter, for the bench to print.
#[derive(Debug, Clone, PartialEq)]
pub struct Tuned {
    pub shape: MatmulShape,
    /// The entry point that runs it, and its milliseconds per dispatch (the fastest of a few),
    /// once measured.
    pub kernel: &'static str,
    pub ms: Option<f64>,
    /// The kernels it was timed against, each with its milliseconds once measured.
    pub others: Vec<(&'static str, Option<f64>)>,
}

/// How many calls have been bound with a choice so far; [`tuned_since`] lists what came after.
pub fn binds() -> u64 {
    BINDS.load(Ordering::Relaxed)
}

/// The choices of `ctx`'s adapter bound after [`binds`] read `serial`, in the order first made.
pub fn tuned_since(ctx: &GpuContext, serial: u64) -> Vec<Tuned> {
    let adapter = ctx.adapter.to_string();
    let all = CHOICES.lock().unwrap_or_else(|e| e.into_inner());
    all.iter()
        .filter(|c| c.adapter == adapter && c.bound.load(Ordering::Relaxed) > serial)
        .map(|c| {
            let pick = c.pick.load(Ordering::Relaxed);
            let ms = c.measured();
            let ms_of = |i: usize| ms.as_ref().and_then(|ms| ms.get(i).copied());
            Tuned {
                shape: c.shape,
                kernel: c.kernels[pick].entry(),
                ms: ms_of(pick),
                others: c.kernels.iter().enumerate().filter(|&(i, _)| i != pick).map(|(i, v)| (v.entry(), ms_of(i))).collect(),
            }
        })
        .collect()
}

/// Times every product bound on `ctx`'s adapter and not yet measured, on each of its kernels, and
/// makes every call bound to it run the fastest from its next recording on; then every other
/// choice between kernels not yet timed ([`super::kernel::time_pending`]). In the
/// browser a worker awaits this after building its network (there a wait cannot block);
/// natively [`MatmulKernel::bind`] has done it already and this finds nothing left.
pub async fn tune(ctx: &GpuContext) -> Result<(), DeviceError> {
    let adapter = ctx.adapter.to_string();
    let pending: Vec<Arc<Choice>> = {
        let all = CHOICES.lock().unwrap_or_else(|e| e.into_inner());
        all.iter().filter(|c| c.adapter == adapter && c.measured().is_none()).cloned().collect()
    };
    if !pending.is_empty() {
        measure(&MatmulKernel::new(ctx), ctx, &pending).await?;
    }
    // The other kernels chosen by timing (the convolutions' block sizes).
    super::kernel::time_pending(ctx).await
}

/// Times each choice's kernels on its shape (scratch tensors, no bias) with
/// [`super::kernel::time_calls`], and makes the fastest run; `quad` only where [`quad_agrees`].
async fn measure(kernel: &MatmulKernel, ctx: &GpuContext, choices: &[Arc<Choice>]) -> Result<(), DeviceError> {
    let has_quad = |c: &Arc<Choice>| c.kernels.contains(&Variant::Quad);
    let quad_ok = if choices.iter().any(has_quad) { quad_agrees(kernel, ctx).await? } else { true };
    if !quad_ok {
        log::warn!("{}: quad disagrees with main (its quads are not invocations 4g .. 4g + 3?); it is not used", ctx.adapter);
    }
    for choice in choices {
        let s = choice.shape;
        let zeros = |n: u32| GpuTensor::zeros(ctx, n as usize);
        let (a, b, c) = (zeros(s.m * s.k), zeros(s.k * s.n), zeros(s.m * s.n));
        let calls: Vec<Dispatch> = choice.kernels.iter().map(|&v| kernel.bind_as(ctx, v, s, &a, &b, None, None, &c)).collect();
        let (mut best, mut fastest) = super::kernel::time_calls(ctx, &calls).await?;
        if let Some(q) = choice.kernels.iter().position(|&v| v == Variant::Quad).filter(|_| !quad_ok) {
            best[q] = f64::INFINITY;
            fastest = (1..best.len()).fold(0, |f, i| if best[i] < best[f] { i } else { f });
        }
        choice.pick.store(fastest, Ordering::Relaxed);
        *choice.ms.lock().unwrap_or_else(|e| e.into_inner()) = Some(best);
    }
    Ok(())
}

/// Whether `quad` computes what `main` does on this device. It takes invocations 4g .. 4g + 3 of a
/// workgroup to be one quad of a subgroup, as both software adapters number them, but no standard
/// promises it; so before `quad` may be picked, both compute one product with partial tiles from
/// the same values and are compared (to the parity tests' tolerance), once per device. `Ok(false)`
/// where the device has no `quad`.
pub async fn quad_agrees(kernel: &MatmulKernel, ctx: &GpuContext) -> Result<bool, DeviceError> {
    if kernel.quad.is_none() {
        return Ok(false);
    }
    static CHECKED: Mutex<Vec<(String, bool)>> = Mutex::new(Vec::new());
    let adapter = ctx.adapter.to_string();
    if let Some(&(_, ok)) = CHECKED.lock().unwrap_or_else(|e| e.into_inner()).iter().find(|(a, _)| *a == adapter) {
        return Ok(ok);
    }
    let (m, k, n) = (37, 24, 70);
    let values = |len: u32, seed: u32| -> Vec<f32> { (0..len).map(|i| ((i * 7 + seed) % 13) as f32 / 13.0 - 0.5).collect() };
    let (a, b) = (GpuTensor::from_slice(ctx, &values(m * k, 1)), GpuTensor::from_slice(ctx, &values(k * n, 5)));
    let shape = MatmulShape::new(m as usize, k as usize, n as usize);
    let outputs = [GpuTensor::zeros(ctx, (m * n) as usize), GpuTensor::zeros(ctx, (m * n) as usize)];
    let mut encoder = ctx.device.create_command_encoder(&Default::default());
    for (variant, c) in [Variant::Tiled, Variant::Quad].into_iter().zip(&outputs) {
        kernel.bind_as(ctx, variant, shape, &a, &b, None, None, c).encode(&mut encoder);
    }
    ctx.submit([encoder.finish()]);
    let (want, got) = (outputs[0].read(ctx).await?, outputs[1].read(ctx).await?);
    let ok = want.iter().zip(&got).all(|(w, g)| (w - g).abs() <= 1e-5 + 1e-5 * k as f32 * w.abs());
    CHECKED.lock().unwrap_or_else(|e| e.into_inner()).push((adapter, ok));
    Ok(ok)
}

/// Workgroups of `per` invocations for `n` outputs, one each (`rows` and `reduce` do not loop).
fn one_each(n: u32, per: usize) -> u32 {
    n.div_ceil(per as u32).max(1)
}

fn check(shape: MatmulShape, a: &GpuTensor, b: &GpuTensor, c: &GpuTensor) {
    assert_eq!(a.len, (shape.m * shape.k) as usize, "A must be m x k");
    assert_eq!(b.len, (shape.k * shape.n) as usize, "B must be k x n");
    assert_eq!(c.len, (shape.m * shape.n) as usize, "C must be m x n");
}

/// Refuses work whose largest buffer (`largest` floats) or largest product (`rows` rows) exceeds
/// what the device binds or dispatches (a browser typically binds at most 128 MiB per storage
/// buffer), before wgpu would fail on it. `what` names the work ("a batch of 64"), `advice` says
/// what to change.
pub fn check_fits(ctx: &GpuContext, largest: usize, rows: usize, what: &str, advice: &str) -> Result<(), TrainError> {
    let limits = ctx.device.limits();
    let bytes = (largest * 4) as u64;
    let max_binding = u64::from(limits.max_storage_buffer_binding_size).min(limits.max_buffer_size);
    if bytes > max_binding {
        return Err(TrainError::Config(format!("{what} needs a {bytes}-byte buffer, more than this GPU binds ({max_binding}); {advice}")));
    }
    if rows.div_ceil(TILE as usize) > limits.max_compute_workgroups_per_dimension as usize {
        return Err(TrainError::Config(format!("{what} makes products of {rows} rows, more than this GPU dispatches; {advice}")));
    }
    Ok(())
}
