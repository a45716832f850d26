// k-means centroid update: per chunk of rows, the sum of the rows of each cluster and their count
// (k × (cols + 1) values per chunk; the host adds the chunks in f64 and divides). Each invocation owns
// some (cluster, column) entries and scans the chunk's labels.

struct Params {
    rows: u32,     // rows of this block
    cols: u32,
    k: u32,
    row0: u32,
    chunk: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> labels: array<u32>;
@group(0) @binding(3) var<storage, read_write> sums: array<f32>;

@compute @workgroup_size(256)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    let g = wid.x + wid.y * nwg.x;
    let width = p.cols + 1u;
    let entries = p.k * width;
    let start = g * p.chunk;
    if (start >= p.rows) {
        return;
    }
    let end = min(start + p.chunk, p.rows);
    for (var e = li; e < entries; e += 256u) {
        let c = e / width;
        let j = e % width;
        var acc = 0.0;
        for (var r = start; r < end; r++) {
            if (labels[p.row0 + r] == c) {
                if (j < p.cols) {
                    acc += x[r * p.cols + j];
                } else {
                    acc += 1.0;
                }
            }
        }
        sums[g * entries + e] = acc;
    }
}
