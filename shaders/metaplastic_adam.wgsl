// Metaplastic Adam, one fused pass over one tensor (four elements per invocation and step of a
// grid-stride loop): weight decay, both moments, the consolidation of updates that shrink |Wh|,
// and the update. Four at a time because on the software adapters a vec4 load costs little more
// than a float's, and the loop's own work is shared by four (docs/performance.md); the tensor's
// buffer holds a whole number of vec4s (src/gpu/tensor.rs), and the padding stays zero here. The
// rule, its equation and its source are stated once, in src/cpu/metaplastic_adam.rs
// (`metaplastic_adam`, the CPU reference this kernel is tested against); host side:
// src/gpu/metaplastic_adam.rs.

// Laid out exactly as `AdamHyper` (#[repr(C)], eight f32).
struct Hyper {
    lr: f32,
    beta1: f32,
    beta2: f32,
    eps: f32,
    weight_decay: f32,
    metaplasticity: f32, // `AdamHyper::meta` (`meta` is reserved in WGSL)
    bias1: f32, // 1 - beta1^t
    bias2: f32, // 1 - beta2^t
}

struct Size {
    n: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> h: Hyper;
@group(0) @binding(1) var<uniform> size: Size;
@group(0) @binding(2) var<storage, read_write> w: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> grad: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> m1: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> m2: array<vec4<f32>>;

const WG: u32 = 256u;

// Rust's `f32::signum`: +1 for +0, -1 for -0 (WGSL's `sign` gives 0 for both).
fn signum(v: vec4<f32>) -> vec4<f32> {
    return select(vec4<f32>(1.0), vec4<f32>(-1.0), (bitcast<vec4<u32>>(v) & vec4<u32>(0x80000000u)) != vec4<u32>(0u));
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    for (var i = gid.x; i < (size.n + 3u) / 4u; i += groups.x * WG) {
        let wi = w[i];
        let g = grad[i] + h.weight_decay * wi;
        let a = h.beta1 * m1[i] + (1.0 - h.beta1) * g;
        let b = h.beta2 * m2[i] + (1.0 - h.beta2) * g * g;
        m1[i] = a;
        m2[i] = b;
        // 1 - tanh²(x) as 4u / (1 + u)² with u = e^(-2x), x = m |Wh| >= 0, as the CPU computes
        // it (src/cpu/metaplastic_adam.rs, `consolidation`): one exponential instead of tanh's.
        let u = exp(-2.0 * h.metaplasticity * abs(wi));
        let d = 1.0 + u;
        let a_used = select(a, a * (4.0 * u / (d * d)), signum(wi) * a > vec4<f32>(0.0));
        w[i] = wi - h.lr * (a_used / h.bias1) / (sqrt(b / h.bias2) + h.eps);
    }
}
