// k nearest neighbours by brute force: one query row per invocation scans every training row and keeps
// the k closest in a sorted private list (k ≤ 64). A candidate enters only when strictly closer than the
// k-th, so among equal distances the earlier training row wins, as on the CPU.

struct Params {
    queries: u32,
    train: u32,
    cols: u32,
    k: u32,
    metric: u32,   // 0: squared Euclidean, 1: Manhattan
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> t: array<f32>;
@group(0) @binding(3) var<storage, read_write> out_index: array<u32>;
@group(0) @binding(4) var<storage, read_write> out_distance: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let qi = (wid.x + wid.y * nwg.x) * 64u + li;
    if (qi >= p.queries) {
        return;
    }
    var best_d: array<f32, 64>;
    var best_i: array<u32, 64>;
    var filled = 0u;
    for (var i = 0u; i < p.train; i++) {
        var d = 0.0;
        for (var j = 0u; j < p.cols; j++) {
            let e = q[qi * p.cols + j] - t[i * p.cols + j];
            if (p.metric == 0u) {
                d += e * e;
            } else {
                d += abs(e);
            }
        }
        if (filled < p.k || d < best_d[p.k - 1u]) {
            var at = min(filled, p.k - 1u);
            while (at > 0u && best_d[at - 1u] > d) {
                best_d[at] = best_d[at - 1u];
                best_i[at] = best_i[at - 1u];
                at -= 1u;
            }
            best_d[at] = d;
            best_i[at] = i;
            filled = min(filled + 1u, p.k);
        }
    }
    for (var s = 0u; s < p.k; s++) {
        out_index[qi * p.k + s] = best_i[s];
        out_distance[qi * p.k + s] = best_d[s];
    }
}
