// 2x2 pooling, stride 2, channels-last [batch, h, w, c]; odd edge rows and columns are dropped:
//   max_forward:  y = max of the four taps (row-major), argmax = the first tap that reaches it (u32);
//   avg_forward:  y = 0.25 * sum of the four taps;
//   max_backward: dx = dy of the window if this pixel's tap won it, else 0;
//   avg_backward: dx = 0.25 * dy of the window (0 in a dropped edge);
//   upsample:     y (full grid) = x (pooled grid) of the window: nearest 2x upsampling, the
//                 autoencoder's decoder (0 in a dropped edge);
//   upsample_backward: dx (pooled grid) = sum of dy over the window's four taps, in tap order.
// Windows do not overlap (stride = window), so each window's backward pass writes its own taps.
//
// Every pass walks rows of windows: an invocation takes one (example, window row, channel) and
// goes along the row's windows by adding, so the only integer divisions are the three that find
// its row. On the software adapters a division by a number known only at run time is a loop over
// the SIMD lanes, and the per-element form this replaced spent most of its time in them (six per
// element; LeNet-5's max pooling backward took 7.8 ms a step on SwiftShader, docs/performance.md).
// The backward passes and upsample walk ceil(h / 2) x ceil(w / 2) windows so that a dropped edge's
// elements get their zeros; the forward passes walk the h / 2 x w / 2 that exist.
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

// A row of windows from its index r: (example, window row, channel), with `per_example` window rows
// to an example.
fn row_of(r: u32, per_example: u32) -> vec3<u32> {
    return vec3<u32>(r / (pool.c * per_example), (r / pool.c) % per_example, r % pool.c);
}

// The input index of the top-left tap of window (oy, 0) in row p = (b, oy, ch); the window's taps
// are t = 0 there, 1 one column right, 2 one row down, 3 both (row-major in the window).
fn first_tap(p: vec3<u32>) -> u32 {
    return (p.x * pool.h + 2u * p.y) * pool.w * pool.c + p.z;
}

// The pooled index of window (oy, 0) in row p, for a window row that exists (oy < h / 2).
fn first_window(p: vec3<u32>) -> u32 {
    return (p.x * (pool.h / 2u) + p.y) * (pool.w / 2u) * pool.c + p.z;
}

@compute @workgroup_size(256)
fn max_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let oh = pool.h / 2u;
    let ow = pool.w / 2u;
    let right = pool.c;
    let down = pool.w * pool.c;
    for (var r = gid.x; r < pool.batch * oh * pool.c; r += groups.x * WG) {
        let p = row_of(r, oh);
        var i = first_tap(p);
        var o = first_window(p);
        for (var ox = 0u; ox < ow; ox++) {
            let v = vec4<f32>(x[i], x[i + right], x[i + down], x[i + down + right]);
            // Strictly greater: the first maximum wins ties, as on the CPU.
            var best = v.x;
            var arg = 0u;
            if (v.y > best) {
                best = v.y;
                arg = 1u;
            }
            if (v.z > best) {
                best = v.z;
                arg = 2u;
            }
            if (v.w > best) {
                best = v.w;
                arg = 3u;
            }
            y[o] = best;
            argmax[o] = arg;
            i += 2u * right;
            o += pool.c;
        }
    }
}

@compute @workgroup_size(256)
fn avg_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let oh = pool.h / 2u;
    let ow = pool.w / 2u;
    let right = pool.c;
    let down = pool.w * pool.c;
    for (var r = gid.x; r < pool.batch * oh * pool.c; r += groups.x * WG) {
        let p = row_of(r, oh);
        var i = first_tap(p);
        var o = first_window(p);
        for (var ox = 0u; ox < ow; ox++) {
            // Summed in tap order from 0.0, as the CPU's iterator sum does.
            y[o] = 0.25 * ((((0.0 + x[i]) + x[i + right]) + x[i + down]) + x[i + down + right]);
            i += 2u * right;
            o += pool.c;
        }
    }
}

// Writes the four taps of the window whose top-left input is i: g[t] to tap t, for the taps
// inside the image (`right`: the window's second column is, `lower`: its second row is).
fn write_window(i: u32, g: vec4<f32>, right: bool, lower: bool) {
    dx[i] = g.x;
    if (right) {
        dx[i + pool.c] = g.y;
    }
    if (lower) {
        let below = i + pool.w * pool.c;
        dx[below] = g.z;
        if (right) {
            dx[below + pool.c] = g.w;
        }
    }
}

// max_backward and avg_backward: the gradient of each tap of each window, 0 in a dropped edge.
fn pool_backward(gid: vec3<u32>, groups: vec3<u32>, by_max: bool) {
    let oh = pool.h / 2u;
    let ow = pool.w / 2u;
    let rows_up = (pool.h + 1u) / 2u;
    let cols_up = (pool.w + 1u) / 2u;
    for (var r = gid.x; r < pool.batch * rows_up * pool.c; r += groups.x * WG) {
        let p = row_of(r, rows_up);
        let lower = 2u * p.y + 1u < pool.h;
        var i = first_tap(p);
        for (var ox = 0u; ox < cols_up; ox++) {
            var g = vec4<f32>(0.0);
            if (p.y < oh && ox < ow) {
                let o = first_window(p) + ox * pool.c;
                if (by_max) {
                    let won = vec4<u32>(argmax_in[o]) == vec4<u32>(0u, 1u, 2u, 3u);
                    g = select(vec4<f32>(0.0), vec4<f32>(dy[o]), won);
                } else {
                    g = vec4<f32>(0.25 * dy[o]);
                }
            }
            write_window(i, g, 2u * ox + 1u < pool.w, lower);
            i += 2u * pool.c;
        }
    }
}

@compute @workgroup_size(256)
fn max_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    pool_backward(gid, groups, true);
}

@compute @workgroup_size(256)
fn avg_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    pool_backward(gid, groups, false);
}

// The window's value on each of its taps, 0 in a dropped edge.
@compute @workgroup_size(256)
fn upsample(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let oh = pool.h / 2u;
    let ow = pool.w / 2u;
    let rows_up = (pool.h + 1u) / 2u;
    let cols_up = (pool.w + 1u) / 2u;
    for (var r = gid.x; r < pool.batch * rows_up * pool.c; r += groups.x * WG) {
        let p = row_of(r, rows_up);
        let lower = 2u * p.y + 1u < pool.h;
        var i = first_tap(p);
        for (var ox = 0u; ox < cols_up; ox++) {
            var v = 0.0;
            if (p.y < oh && ox < ow) {
                v = x[first_window(p) + ox * pool.c];
            }
            // upsample's output is y; write_window writes dx, so the taps are written here.
            y[i] = v;
            if (2u * ox + 1u < pool.w) {
                y[i + pool.c] = v;
            }
            if (lower) {
                let below = i + pool.w * pool.c;
                y[below] = v;
                if (2u * ox + 1u < pool.w) {
                    y[below + pool.c] = v;
                }
            }
            i += 2u * pool.c;
        }
    }
}

@compute @workgroup_size(256)
fn upsample_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let oh = pool.h / 2u;
    let ow = pool.w / 2u;
    let right = pool.c;
    let down = pool.w * pool.c;
    for (var r = gid.x; r < pool.batch * oh * pool.c; r += groups.x * WG) {
        let p = row_of(r, oh);
        var i = first_tap(p);
        var o = first_window(p);
        for (var ox = 0u; ox < ow; ox++) {
            dx[o] = (((0.0 + dy[i]) + dy[i + right]) + dy[i + down]) + dy[i + down + right];
            i += 2u * right;
            o += pool.c;
        }
    }
}
