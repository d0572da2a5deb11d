// Matrix product C = op(A) · op(B), or C += op(A) · op(B).
// CPU reference: src/cpu/matmul.rs (`matmul`); host side: src/gpu/matmul.rs.
//
// Each workgroup of 16x16 invocations computes a 32x32 tile of C, each invocation a 2x2 block of it
// (rows ly and ly + 16, columns lx and lx + 16: neighbouring invocations read neighbouring words).
// K is walked in steps of 16: a 32x16 tile of A and a 16x32 tile of B are staged in workgroup
// memory, so each element is read from global memory once per tile, and each value read from the
// tiles feeds two multiply-adds. Every output still sums its k products one at a time in order, as
// the 1x1-per-invocation kernel did.

struct Shape {
    m: u32,
    k: u32,
    n: u32,
    flags: u32, // 1: A stored transposed (k x m), 2: B stored transposed (n x k), 4: accumulate into C
}

@group(0) @binding(0) var<uniform> shape: Shape;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;

// Outputs per workgroup side, invocations per side, outputs per invocation side, K per step.
const TILE: u32 = 32u;
const SIDE: u32 = 16u;
const PER: u32 = 2u;
const KSTEP: u32 = 16u;

var<workgroup> tile_a: array<array<f32, 16>, 32>; // [row][k]
var<workgroup> tile_b: array<array<f32, 32>, 16>; // [k][column]

fn load_a(row: u32, col: u32) -> f32 {
    if (row >= shape.m || col >= shape.k) {
        return 0.0;
    }
    if ((shape.flags & 1u) != 0u) {
        return a[col * shape.m + row];
    }
    return a[row * shape.k + col];
}

fn load_b(row: u32, col: u32) -> f32 {
    if (row >= shape.k || col >= shape.n) {
        return 0.0;
    }
    if ((shape.flags & 2u) != 0u) {
        return b[col * shape.k + row];
    }
    return b[row * shape.n + col];
}

@compute @workgroup_size(16, 16)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    let row0 = wid.y * TILE;
    let col0 = wid.x * TILE;
    var acc = array<array<f32, 2>, 2>(array<f32, 2>(0.0, 0.0), array<f32, 2>(0.0, 0.0));
    let steps = (shape.k + KSTEP - 1u) / KSTEP;
    for (var t = 0u; t < steps; t = t + 1u) {
        let k0 = t * KSTEP;
        // 512 elements per tile, two per invocation; consecutive invocations load consecutive
        // words of a row-major A (along k) and B (along columns).
        for (var e = 0u; e < 2u; e = e + 1u) {
            let i = li + e * SIDE * SIDE;
            tile_a[i / KSTEP][i % KSTEP] = load_a(row0 + i / KSTEP, k0 + i % KSTEP);
            tile_b[i / TILE][i % TILE] = load_b(k0 + i / TILE, col0 + i % TILE);
        }
        workgroupBarrier();
        for (var p = 0u; p < KSTEP; p = p + 1u) {
            let a0 = tile_a[lid.y][p];
            let a1 = tile_a[lid.y + SIDE][p];
            let b0 = tile_b[p][lid.x];
            let b1 = tile_b[p][lid.x + SIDE];
            acc[0][0] = acc[0][0] + a0 * b0;
            acc[0][1] = acc[0][1] + a0 * b1;
            acc[1][0] = acc[1][0] + a1 * b0;
            acc[1][1] = acc[1][1] + a1 * b1;
        }
        workgroupBarrier();
    }
    for (var i = 0u; i < PER; i = i + 1u) {
        for (var j = 0u; j < PER; j = j + 1u) {
            let row = row0 + lid.y + i * SIDE;
            let col = col0 + lid.x + j * SIDE;
            if (row < shape.m && col < shape.n) {
                let idx = row * shape.n + col;
                if ((shape.flags & 4u) != 0u) {
                    c[idx] = c[idx] + acc[i][j];
                } else {
                    c[idx] = acc[i][j];
                }
            }
        }
    }
}
