// Newton weights of one block pair (k, l) of the multinomial Hessian: w = pₖ (δₖₗ − pₗ), with the class
// probabilities recovered from the residuals p − onehot(y) that logistic.wgsl wrote.

struct Params {
    rows: u32,     // rows of the whole table
    blocks: u32,
    k: u32,
    l: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
    _pad3: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> y: array<u32>;
@group(0) @binding(2) var<storage, read> resid: array<f32>;
@group(0) @binding(3) var<storage, read_write> weight: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let r = (wid.x + wid.y * nwg.x) * 256u + li;
    if (r >= p.rows) {
        return;
    }
    let label = y[r];
    let pk = resid[r * p.blocks + p.k] + select(0.0, 1.0, label == p.k);
    let pl = resid[r * p.blocks + p.l] + select(0.0, 1.0, label == p.l);
    weight[r] = pk * (select(0.0, 1.0, p.k == p.l) - pl);
}
