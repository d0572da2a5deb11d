// Miconi's recurrent plastic network (Miconi, Clune, Stanley, ICML 2018, §4.1; docs/algorithms.md,
// "Recurrent pattern completion"):
//
//   y(t) = tanh( y(t-1) (W + alpha * Hebb(t)) + u(t) )
//
// The recurrent product and the trace are plastic.wgsl's kernels (identity nonlinearity, the
// previous state as their input); this file holds only what the recurrence adds around them.
// CPU reference: src/cpu/recurrent.rs; host side: src/gpu/recurrent.rs. Entry points:
//   drive_forward     recurrent_drive            y = tanh(z + u), into the post tape and the
//                                                next step's pre tape
//   drive_backward    recurrent_drive_backward   dz = dy (1 - y^2)
//   readout_loss, readout_grad   readout_mse     MSE of the read-out neurons, and its gradient
//
// u(t) is the input on neurons 0..bits, the bias on the last neuron, zero between (a larger
// network's extra hidden neurons), as `RecurrentShape::drive`.
//
// Buffers: xs [T, batch, bits] (the episode's inputs), z and post [T, batch, neurons] (the product
// and the new state of every step), pre [T, batch, neurons] (the state each step reads; slot 0 is
// the zero state), dy and dz [batch, neurons] (the step being walked back).

struct Drive {
    batch: u32,
    neurons: u32,
    bits: u32,
    bias: f32,
    x_off: u32,    // this step's input in xs
    s_off: u32,    // this step's slice of z and post
    next_off: u32, // the next step's slice of pre
    has_next: u32, // 0 at the last step, which has no next step to feed
}

@group(0) @binding(0) var<uniform> d: Drive;
@group(0) @binding(1) var<storage, read> xs: array<f32>;
@group(0) @binding(2) var<storage, read> z: array<f32>;
@group(0) @binding(3) var<storage, read_write> post: array<f32>;
@group(0) @binding(4) var<storage, read_write> pre: array<f32>;
@group(0) @binding(5) var<storage, read_write> dy: array<f32>;
@group(0) @binding(6) var<storage, read_write> dz: array<f32>;
@group(0) @binding(7) var<storage, read> targets: array<f32>;
// [sum of losses, number of losses] since the host last cleared it.
@group(0) @binding(8) var<storage, read_write> loss: array<f32>;

const WG: u32 = 64u;

fn drive(b: u32, j: u32) -> f32 {
    if (j < d.bits) {
        return xs[d.x_off + b * d.bits + j];
    }
    if (j + 1u == d.neurons) {
        return d.bias;
    }
    return 0.0;
}

// Elementwise over [batch, neurons].
@compute @workgroup_size(64)
fn drive_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    for (var r = gid.x; r < d.batch * d.neurons; r += groups.x * WG) {
        // Clamped: some drivers evaluate tanh as (e^2a - 1) / (e^2a + 1), NaN past |a| ~ 44, and
        // inputs are 20 times a ±1 pattern; tanh is ±1 in f32 well before 10.
        let y = tanh(clamp(z[d.s_off + r] + drive(r / d.neurons, r % d.neurons), -10.0, 10.0));
        post[d.s_off + r] = y;
        if (d.has_next == 1u) {
            pre[d.next_off + r] = y;
        }
    }
}

@compute @workgroup_size(64)
fn drive_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    for (var r = gid.x; r < d.batch * d.neurons; r += groups.x * WG) {
        let y = post[d.s_off + r];
        dz[r] = dy[r] * (1.0 - y * y);
    }
}

// dL/dy of the state at s_off: 2 (y - p) / (batch * bits) on the read-out neurons, 0 elsewhere.
@compute @workgroup_size(64)
fn readout_grad(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let count = f32(d.batch * d.bits);
    for (var r = gid.x; r < d.batch * d.neurons; r += groups.x * WG) {
        let b = r / d.neurons;
        let j = r % d.neurons;
        var g = 0.0;
        if (j < d.bits) {
            g = 2.0 * (post[d.s_off + r] - targets[b * d.bits + j]) / count;
        }
        dy[r] = g;
    }
}

// The read-out's mean squared error at s_off, summed in the CPU's order by one invocation and
// added to the running [sum, count] the host reads when it wants the loss curve.
@compute @workgroup_size(1)
fn readout_loss() {
    var total = 0.0;
    for (var b = 0u; b < d.batch; b++) {
        for (var j = 0u; j < d.bits; j++) {
            let e = post[d.s_off + b * d.neurons + j] - targets[b * d.bits + j];
            total += e * e;
        }
    }
    loss[0] += total / f32(d.batch * d.bits);
    loss[1] += 1.0;
}
