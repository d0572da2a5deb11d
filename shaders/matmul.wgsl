// Matrix product C = op(A) · op(B), or C += op(A) · op(B).
// CPU reference: src/cpu/matmul.rs (`matmul`); host side: src/gpu/matmul.rs.
//
// 16x16 output tiles; each workgroup walks K in steps of 16, staging a tile of A and of B in
// workgroup memory so every element is read from global memory once per tile instead of 16 times.

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

const TILE: u32 = 16u;

var<workgroup> tile_a: array<array<f32, 16>, 16>;
var<workgroup> tile_b: array<array<f32, 16>, 16>;

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
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let row = wid.y * TILE + lid.y;
    let col = wid.x * TILE + lid.x;
    var acc = 0.0;
    let steps = (shape.k + TILE - 1u) / TILE;
    for (var t = 0u; t < steps; t = t + 1u) {
        tile_a[lid.y][lid.x] = load_a(row, t * TILE + lid.x);
        tile_b[lid.y][lid.x] = load_b(t * TILE + lid.y, col);
        workgroupBarrier();
        for (var p = 0u; p < TILE; p = p + 1u) {
            acc = acc + tile_a[lid.y][p] * tile_b[p][lid.x];
        }
        workgroupBarrier();
    }
    if (row < shape.m && col < shape.n) {
        let idx = row * shape.n + col;
        if ((shape.flags & 4u) != 0u) {
            c[idx] = c[idx] + acc;
        } else {
            c[idx] = acc;
        }
    }
}
