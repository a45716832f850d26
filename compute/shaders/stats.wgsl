// Column statistics: each workgroup summarizes one chunk of one column (count, mean, M2, min, max,
// missing) with Welford's updates per thread and Chan's merge across threads. The host merges the
// chunks in f64. Missing values are NaN, recognised by their bits (NaN comparisons are not reliable
// on every shader compiler).

struct Params {
    rows: u32,
    cols: u32,
    chunk: u32,
    chunks: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
    _pad3: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
// Column-major: column c occupies x[c * rows .. (c + 1) * rows].
@group(0) @binding(1) var<storage, read> x: array<f32>;
// Per (column, chunk): count, mean, M2, min, max, missing.
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

var<workgroup> s_n: array<f32, 256>;
var<workgroup> s_mean: array<f32, 256>;
var<workgroup> s_m2: array<f32, 256>;
var<workgroup> s_min: array<f32, 256>;
var<workgroup> s_max: array<f32, 256>;
var<workgroup> s_miss: array<f32, 256>;

fn is_missing(v: f32) -> bool {
    let bits = bitcast<u32>(v);
    return (bits & 0x7f800000u) == 0x7f800000u && (bits & 0x007fffffu) != 0u;
}

@compute @workgroup_size(256)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    let g = wid.x + wid.y * nwg.x;
    let live = g < p.cols * p.chunks;
    let c = g / max(p.chunks, 1u);
    let k = g % max(p.chunks, 1u);
    let start = k * p.chunk;
    let end = min(start + p.chunk, p.rows);
    var n = 0.0;
    var mean = 0.0;
    var m2 = 0.0;
    var lo = 3.402823e38;
    var hi = -3.402823e38;
    var miss = 0.0;
    if (live) {
        for (var r = start + li; r < end; r += 256u) {
            let v = x[c * p.rows + r];
            if (is_missing(v)) {
                miss += 1.0;
            } else {
                n += 1.0;
                let d = v - mean;
                mean += d / n;
                m2 += d * (v - mean);
                lo = min(lo, v);
                hi = max(hi, v);
            }
        }
    }
    s_n[li] = n;
    s_mean[li] = mean;
    s_m2[li] = m2;
    s_min[li] = lo;
    s_max[li] = hi;
    s_miss[li] = miss;
    workgroupBarrier();
    for (var half = 128u; half > 0u; half = half / 2u) {
        if (li < half) {
            let na = s_n[li];
            let nb = s_n[li + half];
            let total = na + nb;
            if (total > 0.0) {
                let delta = s_mean[li + half] - s_mean[li];
                s_mean[li] = s_mean[li] + delta * nb / total;
                s_m2[li] = s_m2[li] + s_m2[li + half] + delta * delta * na * nb / total;
            }
            s_n[li] = total;
            s_min[li] = min(s_min[li], s_min[li + half]);
            s_max[li] = max(s_max[li], s_max[li + half]);
            s_miss[li] = s_miss[li] + s_miss[li + half];
        }
        workgroupBarrier();
    }
    if (li == 0u && live) {
        let o = g * 6u;
        out[o] = s_n[0];
        out[o + 1u] = s_mean[0];
        out[o + 2u] = s_m2[0];
        out[o + 3u] = s_min[0];
        out[o + 4u] = s_max[0];
        out[o + 5u] = s_miss[0];
    }
}
