// Differentiable Hebbian plasticity (Miconi, Clune, Stanley, ICML 2018; docs/algorithms.md,
// "Plastic connection" and "Hebbian trace rules"), batched: one trace per episode of the batch.
//
//   step forward   y[b,j] = sigma( sum_i W[j,i] x[b,i] + sum_i alpha[j,i] Hebb[b,j,i] x[b,i] )
//   simple update  Hebb'[b,j,i] = (1 - eta) Hebb[b,j,i] + eta y[b,j] x[b,i]
//   Oja update     Hebb'[b,j,i] = Hebb[b,j,i] + eta y[b,j] (x[b,i] - Hebb[b,j,i] y[b,j])
//
// CPU reference: src/cpu/plastic.rs; host side: src/gpu/plastic.rs. Entry points, one CPU function
// each (a backward split in two or three where its sums run along different axes):
//   step_forward                                 plastic_step_forward
//   hebb_update                                  hebb_update
//   hebb_backward_rows, reduce_deta, hebb_backward_cols
//                                                hebb_update_backward
//   step_backward_synapse, step_backward_input   plastic_step_backward
//   mse_grad, mse_loss                           the loss of src/cpu/hebbian.rs (`last_step_mse`)
//
// Every sum runs in the CPU's order, one invocation per output of the sum, so the results differ
// from the CPU's only where the driver fuses a multiply-add or rounds tanh differently. The one
// exception is eta's gradient: the CPU sums every term of a step in f64; here each (b, j) row is
// summed in f32 and `reduce_deta` adds the rows in order (WGSL has no f64).
//
// Buffers hold whole episodes: x [T, batch, in], y [T, batch, out], Hebb [slots, batch, out, in].
// The uniform says where this step's slices start, so every step has its own small uniform and
// one bind group per kernel, and no buffer needs an aligned offset.

struct Step {
    batch: u32,
    inputs: u32,
    outputs: u32,
    rule: u32,   // 0 simple, 1 Oja (`HebbRule`)
    act: u32,    // 0 identity, 1 tanh (`Nonlinearity`)
    x_off: u32,  // this step's x and dx in the [T, batch, in] tapes
    y_off: u32,  // this step's y (and dy in the [T, batch, out] tape of output gradients)
    h_off: u32,  // Hebb(t), which this step reads
    h_next: u32, // where the update writes Hebb(t+1)
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> s: Step;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read> alpha: array<f32>;
@group(0) @binding(3) var<storage, read> eta: array<f32>;
@group(0) @binding(4) var<storage, read> xs: array<f32>;
@group(0) @binding(5) var<storage, read_write> ys: array<f32>;
@group(0) @binding(6) var<storage, read_write> hebb: array<f32>;
@group(0) @binding(7) var<storage, read_write> dhebb: array<f32>;
// dL/dy of the step being walked back, [batch, out]: the loss's share plus the update's.
@group(0) @binding(8) var<storage, read_write> dy: array<f32>;
@group(0) @binding(9) var<storage, read_write> dxs: array<f32>;
@group(0) @binding(10) var<storage, read_write> dw: array<f32>;
@group(0) @binding(11) var<storage, read_write> dalpha: array<f32>;
// eta's gradient per (b, j) row of one step, reduced by `reduce_deta`.
@group(0) @binding(12) var<storage, read_write> deta_rows: array<f32>;
@group(0) @binding(13) var<storage, read_write> deta: array<f32>;
@group(0) @binding(14) var<storage, read> targets: array<f32>;
// [sum of losses, number of losses] since the host last cleared it.
@group(0) @binding(15) var<storage, read_write> loss: array<f32>;
// The [T, batch, out] tape of the loss's output gradients.
@group(0) @binding(16) var<storage, read_write> dys: array<f32>;

const WG: u32 = 64u;

fn sigma(z: f32) -> f32 {
    if (s.act == 1u) {
        // Some drivers evaluate tanh as (e^2z - 1) / (e^2z + 1), which is inf/inf = NaN past
        // |z| ~ 44, and inputs here are 20 times a ±1 pattern; tanh is ±1 in f32 well before 10.
        return tanh(clamp(z, -10.0, 10.0));
    }
    return z;
}

// sigma'(z) from y = sigma(z), as `Nonlinearity::derivative_from_output`.
fn sigma_prime(y: f32) -> f32 {
    if (s.act == 1u) {
        return 1.0 - y * y;
    }
    return 1.0;
}

// dz[b, j] = dy[b, j] sigma'(y[b, j]), recomputed where needed: the same two operations each time.
fn dz(b: u32, j: u32) -> f32 {
    return dy[b * s.outputs + j] * sigma_prime(ys[s.y_off + b * s.outputs + j]);
}

// One invocation per (b, j): the fixed product summed first, as the CPU's matmul does, then the
// plastic part, each in input order.
@compute @workgroup_size(64)
fn step_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    for (var r = gid.x; r < s.batch * s.outputs; r += groups.x * WG) {
        let b = r / s.outputs;
        let j = r % s.outputs;
        let x0 = s.x_off + b * s.inputs;
        let row = s.h_off + r * s.inputs;
        var fixed = 0.0;
        for (var i = 0u; i < s.inputs; i++) {
            fixed += xs[x0 + i] * w[j * s.inputs + i];
        }
        var plastic = 0.0;
        for (var i = 0u; i < s.inputs; i++) {
            plastic += alpha[j * s.inputs + i] * hebb[row + i] * xs[x0 + i];
        }
        ys[s.y_off + r] = sigma(fixed + plastic);
    }
}

// Elementwise over [batch, out, in]: Hebb(t) at h_off to Hebb(t+1) at h_next (the same place for
// an update in place).
@compute @workgroup_size(64)
fn hebb_update(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let e = eta[0];
    let per_b = s.outputs * s.inputs;
    for (var k = gid.x; k < s.batch * per_b; k += groups.x * WG) {
        let b = k / per_b;
        let i = k % s.inputs;
        let yj = ys[s.y_off + k / s.inputs];
        let xi = xs[s.x_off + b * s.inputs + i];
        let h = hebb[s.h_off + k];
        var next: f32;
        if (s.rule == 0u) {
            next = (1.0 - e) * h + e * yj * xi;
        } else {
            next = h + e * yj * (xi - h * yj);
        }
        hebb[s.h_next + k] = next;
    }
}

// hebb_update_backward, part 1, one invocation per (b, j): the update's share of dy[b, j], and
// this row's terms of eta's gradient. dhebb holds dL/dHebb(t+1) and is only read.
@compute @workgroup_size(64)
fn hebb_backward_rows(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let e = eta[0];
    for (var r = gid.x; r < s.batch * s.outputs; r += groups.x * WG) {
        let b = r / s.outputs;
        let yj = ys[s.y_off + r];
        let x0 = s.x_off + b * s.inputs;
        var dyj = 0.0;
        var d_eta = 0.0;
        for (var i = 0u; i < s.inputs; i++) {
            let g = dhebb[r * s.inputs + i];
            let h = hebb[s.h_off + r * s.inputs + i];
            let xi = xs[x0 + i];
            if (s.rule == 0u) {
                d_eta += g * (yj * xi - h);
                dyj += e * g * xi;
            } else {
                d_eta += g * yj * (xi - h * yj);
                dyj += e * g * (xi - 2.0 * h * yj);
            }
        }
        dy[r] += dyj;
        deta_rows[r] = d_eta;
    }
}

// hebb_update_backward, part 2, one invocation in all: the rows in order, so the sum is the same
// on every run.
@compute @workgroup_size(1)
fn reduce_deta() {
    var total = 0.0;
    for (var r = 0u; r < s.batch * s.outputs; r++) {
        total += deta_rows[r];
    }
    deta[0] += total;
}

// hebb_update_backward, part 3, one invocation per (b, i): the update's share of dx[b, i], summed
// over outputs in order, and dL/dHebb(t) through the update, written over dL/dHebb(t+1) once
// `hebb_backward_rows` has read it.
@compute @workgroup_size(64)
fn hebb_backward_cols(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let e = eta[0];
    for (var c = gid.x; c < s.batch * s.inputs; c += groups.x * WG) {
        let b = c / s.inputs;
        let i = c % s.inputs;
        var dxi = dxs[s.x_off + c];
        for (var j = 0u; j < s.outputs; j++) {
            let yj = ys[s.y_off + b * s.outputs + j];
            let k = (b * s.outputs + j) * s.inputs + i;
            let g = dhebb[k];
            if (s.rule == 0u) {
                dhebb[k] = (1.0 - e) * g;
            } else {
                dhebb[k] = g * (1.0 - e * yj * yj);
            }
            dxi += e * g * yj;
        }
        dxs[s.x_off + c] = dxi;
    }
}

// plastic_step_backward, part 1, one invocation per synapse (j, i), looping over the batch:
// dW += sum_b dz x (summed, then added, as the CPU's accumulating matmul), dalpha += dz Hebb x
// episode by episode, and each episode's dHebb += dz alpha x.
@compute @workgroup_size(64)
fn step_backward_synapse(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let per_b = s.outputs * s.inputs;
    for (var k = gid.x; k < per_b; k += groups.x * WG) {
        let j = k / s.inputs;
        let i = k % s.inputs;
        let a = alpha[k];
        var acc = 0.0;
        for (var b = 0u; b < s.batch; b++) {
            acc += dz(b, j) * xs[s.x_off + b * s.inputs + i];
        }
        dw[k] += acc;
        var da = dalpha[k];
        for (var b = 0u; b < s.batch; b++) {
            let g = dz(b, j);
            let xi = xs[s.x_off + b * s.inputs + i];
            let t = b * per_b + k;
            da += g * hebb[s.h_off + t] * xi;
            dhebb[t] += g * a * xi;
        }
        dalpha[k] = da;
    }
}

// plastic_step_backward, part 2, one invocation per (b, i): dx += sum_j dz W (summed, then added),
// then dz alpha Hebb output by output.
@compute @workgroup_size(64)
fn step_backward_input(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    for (var c = gid.x; c < s.batch * s.inputs; c += groups.x * WG) {
        let b = c / s.inputs;
        let i = c % s.inputs;
        var acc = 0.0;
        for (var j = 0u; j < s.outputs; j++) {
            acc += dz(b, j) * w[j * s.inputs + i];
        }
        var dxi = dxs[s.x_off + c] + acc;
        for (var j = 0u; j < s.outputs; j++) {
            let k = j * s.inputs + i;
            dxi += dz(b, j) * alpha[k] * hebb[s.h_off + b * s.outputs * s.inputs + k];
        }
        dxs[s.x_off + c] = dxi;
    }
}

// The loss's gradient at the step at y_off: dL/dy = 2 (y - p) / (batch * out), elementwise.
@compute @workgroup_size(64)
fn mse_grad(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let n = s.batch * s.outputs;
    let count = f32(n);
    for (var r = gid.x; r < n; r += groups.x * WG) {
        dys[s.y_off + r] = 2.0 * (ys[s.y_off + r] - targets[r]) / count;
    }
}

// The mean squared error at the step at y_off, summed in order by one invocation and added to the
// running [sum, count] the host reads when it wants the loss curve.
@compute @workgroup_size(1)
fn mse_loss() {
    let n = s.batch * s.outputs;
    var total = 0.0;
    for (var r = 0u; r < n; r++) {
        let d = ys[s.y_off + r] - targets[r];
        total += d * d;
    }
    loss[0] += total / f32(n);
    loss[1] += 1.0;
}
