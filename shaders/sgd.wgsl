// Stochastic gradient descent with (Nesterov) momentum and L2 weight decay, PyTorch's form:
//   g = grad + wd * w ;  v = mu * v + g ;  w -= lr * (g + mu * v)  (Nesterov)  or  w -= lr * v.
// CPU reference: src/cpu/sgd.rs (`sgd_step`); host side: src/gpu/sgd.rs. Four elements per
// invocation and step, as metaplastic_adam.wgsl says why; the padding stays zero.

// Laid out as `SgdHyper`.
struct Sgd {
    lr: f32,
    momentum: f32,
    weight_decay: f32,
    nesterov: u32,
}

struct Size {
    n: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> h: Sgd;
@group(0) @binding(1) var<uniform> size: Size;
@group(0) @binding(2) var<storage, read_write> w: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> grad: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> velocity: array<vec4<f32>>;

const WG: u32 = 256u;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    for (var i = gid.x; i < (size.n + 3u) / 4u; i += groups.x * WG) {
        let g = grad[i] + h.weight_decay * w[i];
        let v = h.momentum * velocity[i] + g;
        velocity[i] = v;
        var step = v;
        if (h.nesterov != 0u) {
            step = g + h.momentum * v;
        }
        w[i] = w[i] - h.lr * step;
    }
}
