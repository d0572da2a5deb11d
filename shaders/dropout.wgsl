// Inverted dropout: mask[i] = 0 if pcg_hash(i ^ pcg_hash(seed)) < threshold, else 1 / (1 - p);
//   forward:  y = x * mask, keeping mask;   backward: dx = dy * mask.
// The hash is integer arithmetic on u32 (wrapping, as in Rust's wrapping_mul), so the GPU draws
// exactly the CPU's mask; threshold and scale come from the host (`drop_threshold`, 1/(1-p)).
// CPU reference: src/cpu/dropout.rs (`pcg_hash`, `mask_value`, `dropout_forward`,
// `dropout_backward`); host side: src/gpu/dropout.rs.

struct Dropout {
    n: u32,
    // Written before every training step (the step's seed plus the layer's index).
    seed: u32,
    threshold: u32,
    scale: f32,
}

@group(0) @binding(0) var<uniform> d: Dropout;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read_write> mask: array<f32>;
@group(0) @binding(4) var<storage, read> dy: array<f32>;
@group(0) @binding(5) var<storage, read> mask_in: array<f32>;
@group(0) @binding(6) var<storage, read_write> dx: array<f32>;

const WG: u32 = 256u;

// PCG output hash (O'Neill 2014, the "pcg_hash" shader variant).
fn pcg_hash(v: u32) -> u32 {
    let state = v * 747796405u + 2891336453u;
    let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
    return (word >> 22u) ^ word;
}

@compute @workgroup_size(256)
fn forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let key = pcg_hash(d.seed);
    for (var i = gid.x; i < d.n; i += groups.x * WG) {
        let m = select(d.scale, 0.0, pcg_hash(i ^ key) < d.threshold);
        mask[i] = m;
        y[i] = x[i] * m;
    }
}

@compute @workgroup_size(256)
fn backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    for (var i = gid.x; i < d.n; i += groups.x * WG) {
        dx[i] = dy[i] * mask_in[i];
    }
}
