// The sign function of binarized networks, element-wise:
//   binarize:      Wb = sign(Wh), with sign(0) = +1 so every weight is exactly +1 or -1;
//   sign_forward:  h = sign(z), the hidden activation (the same rule, on activations);
//   sign_backward: dz = dh * 1{|z| <= 1}, the straight-through gradient (that of hardtanh).
// CPU reference: src/cpu/sign.rs (`binarize_all`, `HiddenActivation::Sign`, `sign_backward`);
// host side: src/gpu/sign.rs.
//
// Workgroups of 256 walk the array in a grid-stride loop, so arrays longer than
// 65535 * 256 elements (a 4096 x 4096 layer) need no second dispatch dimension.

struct Size {
    n: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> size: Size;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

const WG: u32 = 256u;

fn sign_pm1(v: f32) -> f32 {
    return select(-1.0, 1.0, v >= 0.0);
}

@compute @workgroup_size(256)
fn binarize(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    for (var i = gid.x; i < size.n; i += groups.x * WG) {
        out[i] = sign_pm1(x[i]);
    }
}

@compute @workgroup_size(256)
fn sign_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    for (var i = gid.x; i < size.n; i += groups.x * WG) {
        out[i] = sign_pm1(x[i]);
    }
}

// `out` is dz here; `x` the activation's input z saved from the forward pass.
@compute @workgroup_size(256)
fn sign_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    for (var i = gid.x; i < size.n; i += groups.x * WG) {
        out[i] = select(0.0, dy[i], abs(x[i]) <= 1.0);
    }
}
