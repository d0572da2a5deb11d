// The sign function of binarized networks, element-wise:
//   binarize:      Wb = sign(Wh), with sign(0) = +1 so every weight is exactly +1 or -1;
//   sign_forward:  h = sign(z), the hidden activation (the same rule, on activations);
//   sign_backward: dz = dh * 1{|z| <= 1}, the straight-through gradient (that of hardtanh).
// CPU reference: src/cpu/sign.rs (`binarize_all`, `HiddenActivation::Sign`, `sign_backward`);
// host side: src/gpu/sign.rs.
//
// Workgroups of 256 walk the array in a grid-stride loop, four elements per invocation and step
// (metaplastic_adam.wgsl says why; past the tensor's length binarize writes +1 into its buffer's
// padding, which nothing reads), so any length takes one dispatch.

struct Size {
    n: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> size: Size;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> dy: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> out: array<vec4<f32>>;

const WG: u32 = 256u;

fn sign_pm1(v: vec4<f32>) -> vec4<f32> {
    return select(vec4<f32>(-1.0), vec4<f32>(1.0), v >= vec4<f32>(0.0));
}

fn fours() -> u32 {
    return (size.n + 3u) / 4u;
}

@compute @workgroup_size(256)
fn binarize(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    for (var i = gid.x; i < fours(); i += groups.x * WG) {
        out[i] = sign_pm1(x[i]);
    }
}

@compute @workgroup_size(256)
fn sign_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    for (var i = gid.x; i < fours(); i += groups.x * WG) {
        out[i] = sign_pm1(x[i]);
    }
}

// `out` is dz here; `x` the activation's input z saved from the forward pass.
@compute @workgroup_size(256)
fn sign_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    for (var i = gid.x; i < fours(); i += groups.x * WG) {
        out[i] = select(vec4<f32>(0.0), dy[i], abs(x[i]) <= vec4<f32>(1.0));
    }
}
