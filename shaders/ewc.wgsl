// Elastic Weight Consolidation (Kirkpatrick et al., PNAS 2017), element-wise over one layer:
//   penalty_grad: grad += lambda * (F * w - FW), the gradient of lambda/2 * sum F (w - W*)^2 summed
//                 over past tasks, with F = sum_t F_t and FW = sum_t F_t W*_t;
//   accumulate:   f += g * g / count, the Fisher estimate as the mean over `count` batches of the
//                 squared batch gradient (taken with the binary weights);
//   consolidate:  F += f ; FW += f * w, anchoring this task's estimate at the current weights.
// CPU reference: src/cpu/ewc.rs (`ewc_penalty_grad`, `ewc_consolidate`) and the Fisher loop of
// `CpuBnn::consolidate_ewc` in src/cpu/bnn.rs; host side: src/gpu/ewc.rs.

struct Params {
    n: u32,
    _pad0: u32,
    // lambda for `penalty_grad`, the number of batches for `accumulate`.
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

@compute @workgroup_size(256)
fn penalty_grad(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    for (var i = gid.x; i < p.n; i += groups.x * WG) {
        grad[i] += p.scalar * (fisher_in[i] * w[i] - anchor_in[i]);
    }
}

@compute @workgroup_size(256)
fn accumulate(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    for (var i = gid.x; i < p.n; i += groups.x * WG) {
        f[i] += g[i] * g[i] / p.scalar;
    }
}

@compute @workgroup_size(256)
fn consolidate(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    for (var i = gid.x; i < p.n; i += groups.x * WG) {
        fisher[i] += f_in[i];
        anchor[i] += f_in[i] * w[i];
    }
}
