// Batch normalisation over a batch of feature vectors (BatchNorm1d) with batch statistics, taken
// over each of `groups` consecutive blocks of `batch` rows on its own (the autoencoder runs every
// step of an episode as one batch, and each step keeps its own statistics, as when run alone):
//   forward:  y = gamma * (x - mean) / sqrt(var + eps) + beta, saving xhat and inv_std;
//   backward: dxhat = dy * gamma,
//             dx = inv_std / B * (B * dxhat - sum(dxhat) - xhat * sum(dxhat * xhat)),
//             dgamma = sum(dy * xhat), dbeta = sum(dy), summed over the groups in order (with
//             `accumulate`, added to dgamma and dbeta: a layer applied at every step of an episode
//             sums its gradients);
//   track:    running = (1 - momentum) * running + momentum * batch statistic (unbiased variance);
//   inference, inference_backward: the same with the running statistics as constants, so
//             dx = dy * gamma * inv_std, each example on its own.
// `track`, `inference` and `inference_backward` take one group. CPU reference:
// src/cpu/batchnorm.rs (`batchnorm_forward_groups`, `batchnorm_backward_groups`,
// `batchnorm_track`, `batchnorm_inference`, `batchnorm_inference_backward`);
// host side: src/gpu/batchnorm.rs.
//
// One invocation per feature (and in `forward` per group) sums over the batch in order, exactly as
// the CPU loop does, so the two differ only by the rounding of sqrt and division. Neighbouring invocations read
// neighbouring features of the same row, so the loads coalesce.

struct Size {
    // Rows per group.
    batch: u32,
    features: u32,
    // backward only: 1 adds into dgamma and dbeta instead of overwriting them.
    accumulate: u32,
    // track only: `crate::nn::hyper::BN_MOMENTUM`.
    momentum: f32,
    groups: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

// Must equal `crate::cpu::batchnorm::BN_EPS`.
const BN_EPS: f32 = 1e-5;

@group(0) @binding(0) var<uniform> size: Size;
// Forward.
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> gamma: array<f32>;
@group(0) @binding(3) var<storage, read> beta: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
@group(0) @binding(5) var<storage, read_write> xhat_out: array<f32>;
@group(0) @binding(6) var<storage, read_write> inv_std_out: array<f32>;
// Backward (gamma at binding 2 is shared).
@group(0) @binding(7) var<storage, read> dy: array<f32>;
@group(0) @binding(8) var<storage, read> xhat: array<f32>;
@group(0) @binding(9) var<storage, read> inv_std: array<f32>;
@group(0) @binding(10) var<storage, read_write> dx: array<f32>;
@group(0) @binding(11) var<storage, read_write> dgamma: array<f32>;
@group(0) @binding(12) var<storage, read_write> dbeta: array<f32>;
// Running statistics (track writes them, inference reads them).
@group(0) @binding(13) var<storage, read_write> running_mean: array<f32>;
@group(0) @binding(14) var<storage, read_write> running_var: array<f32>;

// Invocation (j, g): feature j of group g; inv_std is `[groups, features]`.
@compute @workgroup_size(64)
fn forward(@builtin(global_invocation_id) gid: vec3<u32>) {
    let j = gid.x;
    let g = gid.y;
    let f = size.features;
    if (j >= f || g >= size.groups) {
        return;
    }
    let batch = size.batch;
    let first = g * batch;
    var mean = 0.0;
    for (var b = first; b < first + batch; b++) {
        mean += x[b * f + j];
    }
    mean /= f32(batch);
    var v = 0.0;
    for (var b = first; b < first + batch; b++) {
        let d = x[b * f + j] - mean;
        v += d * d;
    }
    v /= f32(batch);
    let s = 1.0 / sqrt(v + BN_EPS);
    inv_std_out[g * f + j] = s;
    for (var b = first; b < first + batch; b++) {
        let i = b * f + j;
        let h = (x[i] - mean) * s;
        xhat_out[i] = h;
        y[i] = gamma[j] * h + beta[j];
    }
}

// One invocation per feature walks the groups in order, so the parameter gradients sum them as
// the CPU does.
@compute @workgroup_size(64)
fn backward(@builtin(global_invocation_id) gid: vec3<u32>) {
    let j = gid.x;
    let f = size.features;
    if (j >= f) {
        return;
    }
    let batch = size.batch;
    let n = f32(batch);
    var total_dy = 0.0;
    var total_dy_xhat = 0.0;
    for (var g = 0u; g < size.groups; g++) {
        let first = g * batch;
        var sum_dy = 0.0;
        var sum_dy_xhat = 0.0;
        for (var b = first; b < first + batch; b++) {
            let i = b * f + j;
            sum_dy += dy[i];
            sum_dy_xhat += dy[i] * xhat[i];
        }
        if (g == 0u) {
            total_dy = sum_dy;
            total_dy_xhat = sum_dy_xhat;
        } else {
            total_dy += sum_dy;
            total_dy_xhat += sum_dy_xhat;
        }
        let scale = gamma[j] * inv_std[g * f + j] / n;
        for (var b = first; b < first + batch; b++) {
            let i = b * f + j;
            dx[i] = scale * (n * dy[i] - sum_dy - xhat[i] * sum_dy_xhat);
        }
    }
    if (size.accumulate != 0u) {
        dgamma[j] = dgamma[j] + total_dy_xhat;
        dbeta[j] = dbeta[j] + total_dy;
    } else {
        dgamma[j] = total_dy_xhat;
        dbeta[j] = total_dy;
    }
}

@compute @workgroup_size(64)
fn track(@builtin(global_invocation_id) gid: vec3<u32>) {
    let j = gid.x;
    let f = size.features;
    if (j >= f) {
        return;
    }
    let batch = size.batch;
    let n = f32(batch);
    var mean = 0.0;
    for (var b = 0u; b < batch; b++) {
        mean += x[b * f + j];
    }
    mean /= n;
    var v = 0.0;
    for (var b = 0u; b < batch; b++) {
        let d = x[b * f + j] - mean;
        v += d * d;
    }
    let unbiased = v / max(n - 1.0, 1.0);
    running_mean[j] = (1.0 - size.momentum) * running_mean[j] + size.momentum * mean;
    running_var[j] = (1.0 - size.momentum) * running_var[j] + size.momentum * unbiased;
}

@compute @workgroup_size(64)
fn inference(@builtin(global_invocation_id) gid: vec3<u32>) {
    let j = gid.x;
    let f = size.features;
    if (j >= f) {
        return;
    }
    let s = 1.0 / sqrt(running_var[j] + BN_EPS);
    inv_std_out[j] = s;
    for (var b = 0u; b < size.batch; b++) {
        let i = b * f + j;
        let h = (x[i] - running_mean[j]) * s;
        xhat_out[i] = h;
        y[i] = gamma[j] * h + beta[j];
    }
}

@compute @workgroup_size(64)
fn inference_backward(@builtin(global_invocation_id) gid: vec3<u32>) {
    let j = gid.x;
    let f = size.features;
    if (j >= f) {
        return;
    }
    var sum_dy = 0.0;
    var sum_dy_xhat = 0.0;
    let scale = gamma[j] * inv_std[j];
    for (var b = 0u; b < size.batch; b++) {
        let i = b * f + j;
        sum_dy += dy[i];
        sum_dy_xhat += dy[i] * xhat[i];
        dx[i] = dy[i] * scale;
    }
    if (size.accumulate != 0u) {
        dgamma[j] = dgamma[j] + sum_dy_xhat;
        dbeta[j] = dbeta[j] + sum_dy;
    } else {
        dgamma[j] = sum_dy_xhat;
        dbeta[j] = sum_dy;
    }
}
