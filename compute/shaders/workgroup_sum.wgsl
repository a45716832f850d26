// Shared by the shaders that sum one value per invocation over a 256-invocation workgroup (prepended to
// their source). Call from uniform control flow: every invocation of the workgroup must reach it.

var<workgroup> s_sum: array<f32, 256>;

// The sum of `value` over the workgroup, in every invocation, by halving: 128, 64, … 1.
fn workgroup_sum(li: u32, value: f32) -> f32 {
    s_sum[li] = value;
    workgroupBarrier();
    for (var half = 128u; half > 0u; half = half / 2u) {
        if (li < half) {
            s_sum[li] = s_sum[li] + s_sum[li + half];
        }
        workgroupBarrier();
    }
    let total = s_sum[0];
    workgroupBarrier();
    return total;
}

