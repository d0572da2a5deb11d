// The matrix product's kernel that shares loads between invocations: `quad`.
// This file is not a module by itself: it is appended to matmul.wgsl (its uniform, bindings,
// `strides`, `with_bias` and `store`), and only where the device has subgroups (WebGPU's
// "subgroups" feature, wgpu's SUBGROUP), which its quad operations need. Host side:
// src/gpu/matmul.rs; CPU reference: src/cpu/matmul.rs (`matmul_reference`).
//
// Why: on the software adapters (SwiftShader, llvmpipe) an invocation is a lane of a CPU's SIMD
// register, four lanes to a quad, and a load whose address differs between lanes is a gather, one
// scalar load per lane, while moving a value between the lanes of a quad (`quadSwapX` and its
// kind) is one shuffle. In `main` and `wide` the invocations of a quad share their rows of A but
// each loads them again. Here each loads a quarter of them and takes the rest from its three
// neighbours by swapping: per four steps of k an invocation loads 16 values of A and 16 of B for
// 256 multiply-adds, twice `wide`'s ratio. And it adds four steps of k at a time, so each
// accumulator is read and written once per four steps instead of once per step (still one
// product at a time, in k order, as `main` adds them). k must be a multiple of 4 (the host offers
// `quad` only then). On SwiftShader a large product takes half to two thirds of `wide`'s time, on
// llvmpipe under half of the other kernels' (docs/performance.md).
//
// A workgroup is 16 invocations, 4 quads: quad g is invocations 4g .. 4g + 3, and the kernel
// takes it that these four are one quad of a subgroup, as adapters that number a
// subgroup's invocations in order of local_invocation_index have them (both software adapters
// do; no standard promises it, so the host compares `quad` with `main` once per device before it
// may pick it: src/gpu/matmul.rs, `quad_agrees`). Invocation q of a quad (q = x mod 4)
// holds 16 rows of C, rq + 4t + (q ^ d) for t, d in 0..4 (d: which neighbour's row, as the swaps
// give them: X is q ^ 1, Y q ^ 2, the diagonal q ^ 3), and its own 4 columns, cq + q + 4j. A
// workgroup computes 16 rows by 64 columns: a batch of 100 rows takes 7 workgroups' 112 rows where
// 64-row tiles compute 128 (13% faster at bnn-1024's batch on SwiftShader). (A version with 8
// columns per invocation measured no faster on SwiftShader once the sums were added in this order.)

// Four consecutive k of one row of A (`at` is where k starts, `step` how far the next k is).
fn four_a(at: u32, step: u32) -> vec4<f32> {
    return vec4<f32>(a[at], a[at + step], a[at + 2u * step], a[at + 3u * step]);
}

fn four_b(at: u32, step: u32) -> vec4<f32> {
    return vec4<f32>(b[at], b[at + step], b[at + 2u * step], b[at + 3u * step]);
}

// Four steps of k added to a row's four accumulators in k order: r holds the row's A at the four
// k, c[e] the four columns' B at the e-th.
fn add4(acc: vec4<f32>, r: vec4<f32>, c: array<vec4<f32>, 4>) -> vec4<f32> {
    return acc + r.x * c[0] + r.y * c[1] + r.z * c[2] + r.w * c[3];
}

// The four columns' B at each of four k, from each column's B at the four k (a transpose, which
// costs nothing on the software adapters: a vector's components are registers of their own).
fn by_k(y0: vec4<f32>, y1: vec4<f32>, y2: vec4<f32>, y3: vec4<f32>) -> array<vec4<f32>, 4> {
    return array<vec4<f32>, 4>(vec4<f32>(y0.x, y1.x, y2.x, y3.x), vec4<f32>(y0.y, y1.y, y2.y, y3.y), vec4<f32>(y0.z, y1.z, y2.z, y3.z), vec4<f32>(y0.w, y1.w, y2.w, y3.w));
}

@compute @workgroup_size(16, 1)
fn quad(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let q = lid.x % 4u;
    let rq = wid.y * 16u;
    let cq = wid.x * 64u + (lid.x / 4u) * 16u;
    // (ra, pa, pb, cb): where a row of A, a step of k and a column of B are (`strides`).
    let st = strides();
    let pa = st.y;
    let pb = st.z;
    let fours = vec4<u32>(0u, 4u, 8u, 12u);
    // This invocation's rows rq + q + 4t and columns cq + q + 4j, clamped to the last: the extra
    // outputs are computed and not stored.
    var ia = min(vec4<u32>(rq + q) + fours, vec4<u32>(shape.m - 1u)) * st.x;
    var ib = min(vec4<u32>(cq + q) + fours, vec4<u32>(shape.n - 1u)) * st.w;
    // acc[4t + d][j]: row rq + 4t + (q ^ d), column cq + q + 4j.
    var acc: array<vec4<f32>, 16>;
    for (var p = 0u; p < shape.k; p = p + 4u) {
        let x0 = four_a(ia.x, pa);
        let x1 = four_a(ia.y, pa);
        let x2 = four_a(ia.z, pa);
        let x3 = four_a(ia.w, pa);
        let y = by_k(four_b(ib.x, pb), four_b(ib.y, pb), four_b(ib.z, pb), four_b(ib.w, pb));
        ia = ia + 4u * pa;
        ib = ib + 4u * pb;
        // The neighbours' rows, each of the four taken by one swap.
        let sx = array<vec4<f32>, 4>(quadSwapX(x0), quadSwapX(x1), quadSwapX(x2), quadSwapX(x3));
        let sy = array<vec4<f32>, 4>(quadSwapY(x0), quadSwapY(x1), quadSwapY(x2), quadSwapY(x3));
        let sd = array<vec4<f32>, 4>(quadSwapDiagonal(x0), quadSwapDiagonal(x1), quadSwapDiagonal(x2), quadSwapDiagonal(x3));
        // Unrolled by hand: an index into a local array that the compiler cannot fold is a
        // gather of its own on the software adapters.
        acc[0] = add4(acc[0], x0, y);
        acc[1] = add4(acc[1], sx[0], y);
        acc[2] = add4(acc[2], sy[0], y);
        acc[3] = add4(acc[3], sd[0], y);
        acc[4] = add4(acc[4], x1, y);
        acc[5] = add4(acc[5], sx[1], y);
        acc[6] = add4(acc[6], sy[1], y);
        acc[7] = add4(acc[7], sd[1], y);
        acc[8] = add4(acc[8], x2, y);
        acc[9] = add4(acc[9], sx[2], y);
        acc[10] = add4(acc[10], sy[2], y);
        acc[11] = add4(acc[11], sd[2], y);
        acc[12] = add4(acc[12], x3, y);
        acc[13] = add4(acc[13], sx[3], y);
        acc[14] = add4(acc[14], sy[3], y);
        acc[15] = add4(acc[15], sd[3], y);
    }
    // A product that only writes C (a gradient's) is stored without asking, per output, whether to
    // add a bias, apply an activation or add into C, and the question is asked once, outside the
    // loops: on SwiftShader those branches cost a 1024 x 100 x 1024 weight gradient 10 to 20% of
    // its time (49 -> 40-44 ms).
    if (shape.with_bias == 0u && shape.act == 0u && (shape.flags & 4u) == 0u) {
        for (var r = 0u; r < 16u; r = r + 1u) {
            let row = rq + 4u * (r / 4u) + (q ^ (r % 4u));
            for (var j = 0u; j < 4u; j = j + 1u) {
                let col = cq + q + 4u * j;
                if (row < shape.m && col < shape.n) {
                    c[row * shape.n + col] = acc[r][j];
                }
            }
        }
        return;
    }
    for (var r = 0u; r < 16u; r = r + 1u) {
        let row = rq + 4u * (r / 4u) + (q ^ (r % 4u));
        if (row >= shape.m) {
            continue;
        }
        for (var j = 0u; j < 4u; j = j + 1u) {
            let col = cq + q + 4u * j;
            if (col < shape.n) {
                store(row * shape.n + col, with_bias(acc[r][j], col));
            }
        }
    }
}
