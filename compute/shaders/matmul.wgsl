// Dense products for the neural-network layers: C = A · op(B) + bias, with op(B) = B (forward: activations
// times weights) or Bᵀ (backward: deltas times the transposed weights). A is m × n, op(B) is n × c.
// 16 × 16 output tiles, staged through workgroup memory.

struct Params {
    m: u32,
    n: u32,
    c: u32,
    transpose_b: u32,
    has_bias: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

var<workgroup> ta: array<array<f32, 16>, 16>;
var<workgroup> tb: array<array<f32, 16>, 16>;

fn b_at(i: u32, j: u32) -> f32 {
    if (i >= p.n || j >= p.c) {
        return 0.0;
    }
    if (p.transpose_b != 0u) {
        return b[j * p.n + i];
    }
    return b[i * p.c + j];
}

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let row = wid.y * 16u + lid.y;
    let col = wid.x * 16u + lid.x;
    var acc = 0.0;
    for (var k0 = 0u; k0 < p.n; k0 += 16u) {
        var va = 0.0;
        if (row < p.m && k0 + lid.x < p.n) {
            va = a[row * p.n + k0 + lid.x];
        }
        ta[lid.y][lid.x] = va;
        tb[lid.y][lid.x] = b_at(k0 + lid.y, col);
        workgroupBarrier();
        for (var k = 0u; k < 16u; k++) {
            acc += ta[lid.y][k] * tb[k][lid.x];
        }
        workgroupBarrier();
    }
    if (row < p.m && col < p.c) {
        if (p.has_bias != 0u) {
            acc += bias[col];
        }
        out[row * p.c + col] = acc;
    }
}
