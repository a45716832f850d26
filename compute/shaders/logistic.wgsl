// Logistic-regression loss over one row block: per row the linear scores z = θₖ·x + bₖ, the log loss, the
// residuals p − y (the gradient is Xᵀ·residuals, computed by crossprod.wgsl) and, for two classes, the
// Newton weights p(1 − p). One row per invocation; each workgroup sums its rows' losses.
// Two classes use one block of coefficients (the log-odds of class 1); more classes use one per class,
// with a softmax (at most 32 classes on the device). Prepended with workgroup_sum.wgsl.

struct Params {
    rows: u32,     // rows of this block
    cols: u32,     // feature columns (the intercept is implicit)
    blocks: u32,   // coefficient blocks: 1 for two classes, else the number of classes
    row0: u32,     // first row of this block in the whole table
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
    _pad3: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> y: array<u32>;
@group(0) @binding(3) var<storage, read> theta: array<f32>;
@group(0) @binding(4) var<storage, read_write> resid: array<f32>;
@group(0) @binding(5) var<storage, read_write> weight: array<f32>;
@group(0) @binding(6) var<storage, read_write> loss: array<f32>;

// log(1 + x), accurate for tiny x (where 1 + x rounds to 1 in f32).
fn log1p(x: f32) -> f32 {
    let u = 1.0 + x;
    if (u == 1.0) {
        return x;
    }
    return log(u) * x / (u - 1.0);
}

// log(1 + e^z) without overflow, and without cancellation for very negative z.
fn log1p_exp(z: f32) -> f32 {
    if (z > 0.0) {
        return z + log1p(exp(-z));
    }
    return log1p(exp(z));
}

fn score(r: u32, k: u32) -> f32 {
    let base = k * (p.cols + 1u);
    var z = theta[base + p.cols];
    for (var j = 0u; j < p.cols; j++) {
        z += theta[base + j] * x[r * p.cols + j];
    }
    return z;
}

@compute @workgroup_size(256)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    let g = wid.x + wid.y * nwg.x;
    let r = g * 256u + li;
    var l = 0.0;
    if (r < p.rows) {
        let global = p.row0 + r;
        let label = y[global];
        if (p.blocks == 1u) {
            let z = score(r, 0u);
            let t = select(0.0, 1.0, label == 1u);
            // log(1 + e^z) − t·z, written so that a confidently right row costs its true, tiny loss in f32.
            l = log1p_exp(select(z, -z, label == 1u));
            let prob = 1.0 / (1.0 + exp(-z));
            resid[global] = prob - t;
            weight[global] = prob * (1.0 - prob);
        } else {
            var z: array<f32, 32>;
            var top = -3.402823e38;
            for (var k = 0u; k < p.blocks; k++) {
                z[k] = score(r, k);
                top = max(top, z[k]);
            }
            var sum = 0.0;
            for (var k = 0u; k < p.blocks; k++) {
                sum += exp(z[k] - top);
            }
            let lse = top + log(sum);
            if (z[label] >= top) {
                // The right class scores highest: log(1 + Σ_{k≠y} e^(zₖ − z_y)), each term at most 1, with no
                // cancellation for confident rows.
                var others = 0.0;
                for (var k = 0u; k < p.blocks; k++) {
                    if (k != label) {
                        others += exp(z[k] - z[label]);
                    }
                }
                l = log1p(others);
            } else {
                // Another class scores higher: the loss is at least log 2, so the subtraction is safe.
                l = lse - z[label];
            }
            for (var k = 0u; k < p.blocks; k++) {
                resid[global * p.blocks + k] = exp(z[k] - lse) - select(0.0, 1.0, label == k);
            }
        }
    }
    let total = workgroup_sum(li, l);
    if (li == 0u) {
        loss[g] = total;
    }
}
