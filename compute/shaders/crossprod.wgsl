// Cross products over rows: out = Aᵀ · diag(w) · B, summed over one chunk of rows per workgroup (the host
// adds the chunks in f64). A is a row block of a feature matrix, optionally followed by implicit columns of
// ones (the intercept); B is either the same block or a dense per-row matrix of the whole table. With B = A
// this is the Gram matrix XᵀX (linear regression, the Newton Hessian with w = p(1 − p)); with B = residuals
// it is a gradient Xᵀr; with B = the layer's deltas it is a dense layer's weight gradient.
// Each workgroup computes one 16 × 16 tile of `out`, staging 16 rows of A and B in workgroup memory.

struct Params {
    rows: u32,      // rows of this block
    a_cols: u32,    // columns of A, implicit ones included
    a_ld: u32,      // stored columns of A
    b_cols: u32,    // columns of B, implicit ones included
    b_ld: u32,      // stored columns of B
    chunk: u32,     // rows per workgroup
    flags: u32,     // 1: B is A's block (local rows); 2: weighted by w
    tiles_b: u32,   // 16-wide tiles across B's columns
    row0: u32,      // first row of this block in the whole table (for B and w)
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
    _pad3: u32,
    _pad4: u32,
    _pad5: u32,
    _pad6: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read> w: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

var<workgroup> ta: array<array<f32, 16>, 16>;
var<workgroup> tb: array<array<f32, 16>, 16>;

fn a_at(r: u32, j: u32) -> f32 {
    if (j < p.a_ld) {
        return a[r * p.a_ld + j];
    }
    if (j < p.a_cols) {
        return 1.0;
    }
    return 0.0;
}

fn b_at(r: u32, j: u32) -> f32 {
    let row = select(p.row0 + r, r, (p.flags & 1u) != 0u);
    if (j < p.b_ld) {
        return b[row * p.b_ld + j];
    }
    if (j < p.b_cols) {
        return 1.0;
    }
    return 0.0;
}

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let ti = wid.x / p.tiles_b;
    let tj = wid.x % p.tiles_b;
    let start = wid.y * p.chunk;
    let end = min(start + p.chunk, p.rows);
    let i = ti * 16u + lid.x;
    let j = tj * 16u + lid.y;
    var acc = 0.0;
    for (var r0 = start; r0 < end; r0 += 16u) {
        let r = r0 + lid.y;
        var va = 0.0;
        var vb = 0.0;
        if (r < end) {
            va = a_at(r, ti * 16u + lid.x);
            if ((p.flags & 2u) != 0u) {
                va = va * w[p.row0 + r];
            }
            vb = b_at(r, tj * 16u + lid.x);
        }
        ta[lid.y][lid.x] = va;
        tb[lid.y][lid.x] = vb;
        workgroupBarrier();
        for (var k = 0u; k < 16u; k++) {
            acc += ta[k][lid.x] * tb[k][lid.y];
        }
        workgroupBarrier();
    }
    if (i < p.a_cols && j < p.b_cols) {
        out[wid.y * p.a_cols * p.b_cols + i * p.b_cols + j] = acc;
    }
}
