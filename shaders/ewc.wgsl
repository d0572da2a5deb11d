// Elastic Weight Consolidation (Kirkpatrick et al., PNAS 2017), element-wise over one tensor; the
// rule and its sources: src/cpu/ewc.rs. `w'` is sign(w) when `binary` is set (the weights the
// forward pass uses), else w.
//   penalty_grad: grad += lambda * (F * w' - FW);
//   square:       out = (s * g)^2, the squares whose product `fisher_per_example` sums;
//   consolidate:  F += s * f ; FW += s * f * w' (s = 1 / examples turns the sums into a mean).
// CPU reference: src/cpu/ewc.rs (`ewc_penalty_grad`, `fisher_per_example`, `ewc_consolidate`);
// host side: src/gpu/ewc.rs.

struct Params {
    n: u32,
    binary: u32,
    // lambda for `penalty_grad`, s for `square` and `consolidate`.
    scalar: f32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read> fisher_in: array<f32>;
@group(0) @binding(3) var<storage, read> anchor_in: array<f32>;
@group(0) @binding(4) var<storage, read_write> grad: array<f32>;
@group(0) @binding(5) var<storage, read> g: array<f32>;
@group(0) @binding(6) var<storage, read_write> f: array<f32>;
@group(0) @binding(7) var<storage, read> f_in: array<f32>;
@group(0) @binding(8) var<storage, read_write> fisher: array<f32>;
@group(0) @binding(9) var<storage, read_write> anchor: array<f32>;

const WG: u32 = 256u;

// As the CPU's `binarize`: sign(0) = +1.
fn used(v: f32) -> f32 {
    if (p.binary != 0u) {
        return select(-1.0, 1.0, v >= 0.0);
    }
    return v;
}

@compute @workgroup_size(256)
fn penalty_grad(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    for (var i = gid.x; i < p.n; i += groups.x * WG) {
        grad[i] += p.scalar * (fisher_in[i] * used(w[i]) - anchor_in[i]);
    }
}

@compute @workgroup_size(256)
fn square(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    for (var i = gid.x; i < p.n; i += groups.x * WG) {
        let v = p.scalar * g[i];
        f[i] = v * v;
    }
}

@compute @workgroup_size(256)
fn consolidate(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    for (var i = gid.x; i < p.n; i += groups.x * WG) {
        let f = p.scalar * f_in[i];
        fisher[i] += f;
        anchor[i] += f * used(w[i]);
    }
}
