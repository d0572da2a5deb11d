// Element-wise activations and their gradients written from the output y, which is what the
// backward pass keeps:
//   forward:  y = relu(x) = max(x, 0)  or  y = tanh(x);
//   backward: dx = dy * [y > 0]        or  dx = dy * (1 - y^2).
// The uniform's `code` picks the function (`Activation::code`: 0 relu, 1 tanh).
// CPU reference: src/cpu/activation.rs (`activation_forward`, `activation_backward`);
// host side: src/gpu/activation.rs. Four elements per invocation and step of a grid-stride loop
// (metaplastic_adam.wgsl says why); the padding past the length stays zero.

struct Act {
    n: u32,
    code: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> act: Act;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> dy: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> out: array<vec4<f32>>;

const WG: u32 = 256u;
const RELU: u32 = 0u;

@compute @workgroup_size(256)
fn forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    for (var i = gid.x; i < (act.n + 3u) / 4u; i += groups.x * WG) {
        let v = x[i];
        if (act.code == RELU) {
            out[i] = max(v, vec4<f32>(0.0));
        } else {
            // Some drivers evaluate tanh as (e^2x - 1) / (e^2x + 1), which is inf/inf = NaN past
            // |x| ~ 44; tanh is exactly ±1 in f32 well before |x| = 10.
            out[i] = tanh(clamp(v, vec4<f32>(-10.0), vec4<f32>(10.0)));
        }
    }
}

// `x` is the forward output y here; `out` is dx.
@compute @workgroup_size(256)
fn backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    for (var i = gid.x; i < (act.n + 3u) / 4u; i += groups.x * WG) {
        let y = x[i];
        if (act.code == RELU) {
            out[i] = select(vec4<f32>(0.0), dy[i], y > vec4<f32>(0.0));
        } else {
            out[i] = dy[i] * (1.0 - y * y);
        }
    }
}
