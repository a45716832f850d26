// k-means assignment: the nearest centre of every row of one block (ties go to the lower centre index, as
// on the CPU) and, per workgroup, the sum of the squared distances (the inertia's share). Prepended with
// workgroup_sum.wgsl.

struct Params {
    rows: u32,     // rows of this block
    cols: u32,
    k: u32,
    row0: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
    _pad3: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> centers: array<f32>;
@group(0) @binding(3) var<storage, read_write> labels: array<u32>;
@group(0) @binding(4) var<storage, read_write> distances: array<f32>;
@group(0) @binding(5) var<storage, read_write> inertia: array<f32>;

@compute @workgroup_size(256)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    let g = wid.x + wid.y * nwg.x;
    let r = g * 256u + li;
    var best_d = 0.0;
    if (r < p.rows) {
        var best = 0u;
        best_d = 3.402823e38;
        for (var c = 0u; c < p.k; c++) {
            var d = 0.0;
            for (var j = 0u; j < p.cols; j++) {
                let e = x[r * p.cols + j] - centers[c * p.cols + j];
                d += e * e;
            }
            if (d < best_d) {
                best_d = d;
                best = c;
            }
        }
        labels[p.row0 + r] = best;
        distances[p.row0 + r] = best_d;
    }
    let total = workgroup_sum(li, best_d);
    if (li == 0u) {
        inertia[g] = total;
    }
}
