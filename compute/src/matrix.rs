//! A borrowed row-major matrix of f64, the form every kernel takes its features in.

/// `rows × cols` values, row after row. Missing values are NaN where a kernel allows them.
#[derive(Debug, Clone, Copy)]
pub struct MatrixRef<'a> {
    /// Rows.
    pub rows: usize,
    /// Columns.
    pub cols: usize,
    /// `rows * cols` values.
    pub data: &'a [f64],
}

impl<'a> MatrixRef<'a> {
    /// A view of `data` as `rows × cols`. Panics when the lengths disagree (a caller bug).
    pub fn new(rows: usize, cols: usize, data: &'a [f64]) -> Self {
        assert_eq!(data.len(), rows * cols, "matrix data does not hold rows × cols values");
        Self { rows, cols, data }
    }

    /// Row `i`.
    pub fn row(&self, i: usize) -> &'a [f64] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }

    /// A content hash: equal values give equal keys, so a block is uploaded once however often it is used.
    pub(crate) fn fingerprint(&self) -> [u8; 32] {
        let mut hasher = blake3::Hasher::new();
        hasher.update(&(self.rows as u64).to_le_bytes());
        hasher.update(&(self.cols as u64).to_le_bytes());
        hasher.update(bytemuck::cast_slice(self.data));
        *hasher.finalize().as_bytes()
    }
}
