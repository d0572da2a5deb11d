// The denoising autoencoder's output: the decoder's logits d (full grid) plus the output plastic
// layer's half-resolution outputs p, upsampled (nearest 2x), through a sigmoid; and the gradients
// back to d:
//   forward:     images[b, y, x] = sigmoid(p[b, y / 2, x / 2] + d[b, y, x])
//                (0 + d in a dropped odd edge, as the CPU's upsampling leaves it);
//   backward:    dz = dimages * images * (1 - images), the gradient of both d and up(p) (up(p)'s
//                is folded back onto p by pool.wgsl's `upsample_backward`);
//   logits_grad: dd[b, y, x] = 0.25 * g[b, y / 2, x / 2] (+ dz at the last step): the gradient
//                reaching the logits of one or more steps (the batch runs through them one after
//                the other) through the output plastic layer's input avgpool(d), whose gradient
//                is g, and at the last step through the image too: dz covers dd's last rows,
//                from element `dz_from` on.
// `p` and `g` are read from `offset` on, so one step's slice of an episode buffer needs no copy.
// CPU reference: src/cpu/denoise.rs (`reconstruct_forward`, `reconstruct_backward`,
// `logits_grad`); host side: src/gpu/reconstruct.rs.

// The full grid: batch x h x w, one channel.
struct Grid {
    batch: u32,
    h: u32,
    w: u32,
    offset: u32,
    // logits_grad: 1 adds dz to dd from element dz_from on.
    with_dz: u32,
    dz_from: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> grid: Grid;
@group(0) @binding(1) var<storage, read> d: array<f32>;
@group(0) @binding(2) var<storage, read> p: array<f32>;
@group(0) @binding(3) var<storage, read_write> images: array<f32>;
@group(0) @binding(4) var<storage, read> images_in: array<f32>;
@group(0) @binding(5) var<storage, read> dimages: array<f32>;
@group(0) @binding(6) var<storage, read_write> dz: array<f32>;
@group(0) @binding(7) var<storage, read> g: array<f32>;
@group(0) @binding(8) var<storage, read> dz_in: array<f32>;
@group(0) @binding(9) var<storage, read_write> dd: array<f32>;

const WG: u32 = 256u;
const NONE: u32 = 0xffffffffu;

// The pooled-grid index of full-grid pixel i, or NONE in a dropped odd edge.
fn half_of(i: u32) -> u32 {
    let x = i % grid.w;
    let y = (i / grid.w) % grid.h;
    let b = i / (grid.w * grid.h);
    let oh = grid.h / 2u;
    let ow = grid.w / 2u;
    if (y / 2u >= oh || x / 2u >= ow) {
        return NONE;
    }
    return (b * oh + y / 2u) * ow + x / 2u;
}

@compute @workgroup_size(256)
fn forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let n = grid.batch * grid.h * grid.w;
    for (var i = gid.x; i < n; i += groups.x * WG) {
        let o = half_of(i);
        var up = 0.0;
        if (o != NONE) {
            up = p[grid.offset + o];
        }
        images[i] = 1.0 / (1.0 + exp(-(up + d[i])));
    }
}

@compute @workgroup_size(256)
fn backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let n = grid.batch * grid.h * grid.w;
    for (var i = gid.x; i < n; i += groups.x * WG) {
        let y = images_in[i];
        dz[i] = dimages[i] * y * (1.0 - y);
    }
}

@compute @workgroup_size(256)
fn logits_grad(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let n = grid.batch * grid.h * grid.w;
    for (var i = gid.x; i < n; i += groups.x * WG) {
        let o = half_of(i);
        var v = 0.0;
        if (o != NONE) {
            v = 0.25 * g[grid.offset + o];
        }
        if (grid.with_dz != 0u && i >= grid.dz_from) {
            v = v + dz_in[i - grid.dz_from];
        }
        dd[i] = v;
    }
}
