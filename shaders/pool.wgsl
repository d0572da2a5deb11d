// 2x2 pooling, stride 2, channels-last [batch, h, w, c]; odd edge rows and columns are dropped:
//   max_forward:  y = max of the four taps (row-major), argmax = the first tap that reaches it (u32);
//   avg_forward:  y = 0.25 * sum of the four taps;
//   max_backward: dx = dy of the window if this pixel's tap won it, else 0;
//   avg_backward: dx = 0.25 * dy of the window (0 in a dropped edge);
//   upsample:     y (full grid) = x (pooled grid) of the window: nearest 2x upsampling, the
//                 autoencoder's decoder (0 in a dropped edge);
//   upsample_backward: dx (pooled grid) = sum of dy over the window's four taps, in tap order.
// Windows do not overlap (stride = window), so the backward passes are a gather, one write each.
// CPU reference: src/cpu/pool.rs (`max_pool_forward`, `avg_pool_forward`, `pool_backward`,
// `upsample_forward`, `upsample_backward`);
// host side: src/gpu/pool.rs.

// Laid out as `PoolShape`.
struct Pool {
    batch: u32,
    h: u32,
    w: u32,
    c: u32,
}

@group(0) @binding(0) var<uniform> pool: Pool;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read_write> argmax: array<u32>;
@group(0) @binding(4) var<storage, read> dy: array<f32>;
@group(0) @binding(5) var<storage, read> argmax_in: array<u32>;
@group(0) @binding(6) var<storage, read_write> dx: array<f32>;

const WG: u32 = 256u;

// Input index of tap t (0..4, row-major in the window) of output (b, oy, ox, ch).
fn tap(b: u32, oy: u32, ox: u32, ch: u32, t: u32) -> u32 {
    return ((b * pool.h + 2u * oy + t / 2u) * pool.w + 2u * ox + t % 2u) * pool.c + ch;
}

fn output_len() -> u32 {
    return pool.batch * (pool.h / 2u) * (pool.w / 2u) * pool.c;
}

@compute @workgroup_size(256)
fn max_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let oh = pool.h / 2u;
    let ow = pool.w / 2u;
    for (var o = gid.x; o < output_len(); o += groups.x * WG) {
        let ch = o % pool.c;
        let ox = (o / pool.c) % ow;
        let oy = (o / (pool.c * ow)) % oh;
        let b = o / (pool.c * ow * oh);
        var best = x[tap(b, oy, ox, ch, 0u)];
        var arg = 0u;
        for (var t = 1u; t < 4u; t++) {
            let v = x[tap(b, oy, ox, ch, t)];
            // Strictly greater: the first maximum wins ties, as on the CPU.
            if (v > best) {
                best = v;
                arg = t;
            }
        }
        y[o] = best;
        argmax[o] = arg;
    }
}

@compute @workgroup_size(256)
fn avg_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let oh = pool.h / 2u;
    let ow = pool.w / 2u;
    for (var o = gid.x; o < output_len(); o += groups.x * WG) {
        let ch = o % pool.c;
        let ox = (o / pool.c) % ow;
        let oy = (o / (pool.c * ow)) % oh;
        let b = o / (pool.c * ow * oh);
        // Summed in tap order from 0.0, as the CPU's iterator sum does.
        var sum = 0.0;
        for (var t = 0u; t < 4u; t++) {
            sum += x[tap(b, oy, ox, ch, t)];
        }
        y[o] = 0.25 * sum;
    }
}

// The window output index of input element i, or 0xffffffff in a dropped edge; `t` is i's tap.
fn window_of(i: u32) -> vec2<u32> {
    let oh = pool.h / 2u;
    let ow = pool.w / 2u;
    let ch = i % pool.c;
    let px = (i / pool.c) % pool.w;
    let py = (i / (pool.c * pool.w)) % pool.h;
    let b = i / (pool.c * pool.w * pool.h);
    let oy = py / 2u;
    let ox = px / 2u;
    if (oy >= oh || ox >= ow) {
        return vec2<u32>(0xffffffffu, 0u);
    }
    return vec2<u32>(((b * oh + oy) * ow + ox) * pool.c + ch, (py % 2u) * 2u + px % 2u);
}

@compute @workgroup_size(256)
fn max_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let n = pool.batch * pool.h * pool.w * pool.c;
    for (var i = gid.x; i < n; i += groups.x * WG) {
        let win = window_of(i);
        var g = 0.0;
        if (win.x != 0xffffffffu && argmax_in[win.x] == win.y) {
            g = dy[win.x];
        }
        dx[i] = g;
    }
}

@compute @workgroup_size(256)
fn avg_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let n = pool.batch * pool.h * pool.w * pool.c;
    for (var i = gid.x; i < n; i += groups.x * WG) {
        let win = window_of(i);
        var g = 0.0;
        if (win.x != 0xffffffffu) {
            g = 0.25 * dy[win.x];
        }
        dx[i] = g;
    }
}

@compute @workgroup_size(256)
fn upsample(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let n = pool.batch * pool.h * pool.w * pool.c;
    for (var i = gid.x; i < n; i += groups.x * WG) {
        let win = window_of(i);
        var v = 0.0;
        if (win.x != 0xffffffffu) {
            v = x[win.x];
        }
        y[i] = v;
    }
}

@compute @workgroup_size(256)
fn upsample_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let oh = pool.h / 2u;
    let ow = pool.w / 2u;
    for (var o = gid.x; o < output_len(); o += groups.x * WG) {
        let ch = o % pool.c;
        let ox = (o / pool.c) % ow;
        let oy = (o / (pool.c * ow)) % oh;
        let b = o / (pool.c * ow * oh);
        var sum = 0.0;
        for (var t = 0u; t < 4u; t++) {
            sum += dy[tap(b, oy, ox, ch, t)];
        }
        dx[o] = sum;
    }
}
