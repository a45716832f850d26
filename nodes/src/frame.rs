//! Helpers between Polars frames and the plain vectors that algorithms work on.

use polars::prelude::*;

use pipewright_engine::{ColumnType, NodeError, Role, Table};

/// A dense row-major matrix of f64.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Matrix {
    /// Number of rows.
    pub rows: usize,
    /// Number of columns.
    pub cols: usize,
    /// `rows * cols` values, row after row.
    pub data: Vec<f64>,
}

impl Matrix {
    /// A zero matrix.
    pub fn zeros(rows: usize, cols: usize) -> Self {
        Self { rows, cols, data: vec![0.0; rows * cols] }
    }

    /// The matrix as the compute kernels take it.
    pub fn view(&self) -> pipewright_compute::MatrixRef<'_> {
        pipewright_compute::MatrixRef::new(self.rows, self.cols, &self.data)
    }

    /// Row `i`.
    pub fn row(&self, i: usize) -> &[f64] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }

    /// Row `i`, mutably.
    pub fn row_mut(&mut self, i: usize) -> &mut [f64] {
        &mut self.data[i * self.cols..(i + 1) * self.cols]
    }

    /// Element `(i, j)`.
    pub fn get(&self, i: usize, j: usize) -> f64 {
        self.data[i * self.cols + j]
    }

    /// The rows at these indices.
    pub fn select_rows(&self, indices: &[usize]) -> Self {
        let mut data = Vec::with_capacity(indices.len() * self.cols);
        for &i in indices {
            data.extend_from_slice(self.row(i));
        }
        Self { rows: indices.len(), cols: self.cols, data }
    }
}

/// A column as optional f64 values (nulls and NaN as `None`); errors for non-numeric columns.
pub fn numeric_values(frame: &DataFrame, name: &str) -> Result<Vec<Option<f64>>, NodeError> {
    let column = frame.column(name).map_err(|_| missing_column(frame, name))?;
    match ColumnType::of(column.dtype()) {
        ColumnType::Numeric | ColumnType::Bool => {}
        _ => {
            return Err(NodeError::data(format!(
                "column \"{name}\" holds {} values, not numbers: convert it with Convert to Indicator Values or exclude it",
                column.dtype()
            )));
        }
    }
    let cast = column.cast(&DataType::Float64)?;
    Ok(cast.f64()?.iter().map(|v| v.filter(|x| !x.is_nan())).collect())
}

/// A numeric column as f64 with missing cells (nulls and NaN) as NaN, the form the compute kernels take.
pub fn nan_values(frame: &DataFrame, name: &str) -> Result<Vec<f64>, NodeError> {
    let column = frame.column(name).map_err(|_| missing_column(frame, name))?;
    if !matches!(ColumnType::of(column.dtype()), ColumnType::Numeric | ColumnType::Bool) {
        numeric_values(frame, name)?;
    }
    let cast = column.cast(&DataType::Float64)?;
    let values = cast.f64()?;
    if values.null_count() == 0 {
        return Ok(values.into_no_null_iter().collect());
    }
    Ok(values.iter().map(|v| v.unwrap_or(f64::NAN)).collect())
}

/// Whether a float column holds a NaN among its present values: read from its buffers, not value by value.
pub fn has_nan(values: &Float64Chunked) -> bool {
    values.downcast_iter().any(|array| match array.validity() {
        None => array.values().iter().any(|x| x.is_nan()),
        Some(valid) => array.values().iter().zip(valid.iter()).any(|(x, ok)| ok && x.is_nan()),
    })
}

/// `frame` with every column passed through `f`, which returns it as it is or rewritten. Columns are handed to
/// `f` by value, so one that nothing else holds can be rewritten in its own buffer; they keep their order.
pub fn map_columns(
    frame: DataFrame,
    f: impl FnMut(Column) -> Result<Column, NodeError>,
) -> Result<DataFrame, NodeError> {
    let height = frame.height();
    let columns: Vec<Column> = frame.into_columns().into_iter().map(f).collect::<Result<_, _>>()?;
    Ok(DataFrame::new(height, columns)?)
}

/// A numeric column rewritten as floats by `f`: `f` changes the values and returns their validity (missing cells)
/// from the one it is given. The column's own buffer is rewritten, without a copy, when it is in one chunk and
/// nothing else holds it (a block that took its input table, see
/// [`NodeContext::take_table`](pipewright_engine::NodeContext::take_table)); a copy in one chunk is rewritten
/// otherwise, and for a column of another type.
pub fn rewrite_f64(
    column: Column,
    mut f: impl FnMut(&mut [f64], Option<polars_arrow::bitmap::Bitmap>) -> Option<polars_arrow::bitmap::Bitmap>,
) -> Result<Column, NodeError> {
    let name = column.name().clone();
    let series = column.take_materialized_series();
    let series = if series.dtype() == &DataType::Float64 { series } else { series.cast(&DataType::Float64)? };
    let values = series.f64()?.clone();
    drop(series);
    // One chunk, so that later blocks read the column as one slice (a file is parsed in many).
    let values = if values.chunks().len() > 1 { values.rechunk().into_owned() } else { values };
    let chunks = values.downcast_into_iter().map(|array| {
        let (_, buffer, validity) = array.into_inner();
        let mut values = buffer.into_mut().right_or_else(|shared| shared.iter().copied().collect());
        let validity = f(&mut values, validity);
        polars_arrow::array::PrimitiveArray::from_vec(values).with_validity(validity)
    });
    Ok(Float64Chunked::from_chunk_iter(name, chunks).into_column())
}

/// Calls `f` with each present value of a float column that is not NaN, in row order, read from its buffers.
pub fn for_each_number(values: &Float64Chunked, mut f: impl FnMut(f64)) {
    for array in values.downcast_iter() {
        match array.validity() {
            None => array.values().iter().filter(|x| !x.is_nan()).for_each(|&x| f(x)),
            Some(valid) => {
                for (&x, ok) in array.values().iter().zip(valid.iter()) {
                    if ok && !x.is_nan() {
                        f(x);
                    }
                }
            }
        }
    }
}

/// A numeric column's values with missing cells as NaN, borrowed from the table when it is an f64 column
/// without nulls (most feature columns), else copied as [`nan_values`] does.
pub fn f64_values(frame: &DataFrame, name: &str) -> Result<F64Values, NodeError> {
    let column = frame.column(name).map_err(|_| missing_column(frame, name))?;
    if column.dtype() == &DataType::Float64 && column.null_count() == 0 {
        let values = column.f64()?.rechunk().into_owned();
        if values.cont_slice().is_ok() {
            return Ok(F64Values::Shared(values));
        }
    }
    nan_values(frame, name).map(F64Values::Owned)
}

/// Values of [`f64_values`].
pub enum F64Values {
    /// The table's own buffer.
    Shared(Float64Chunked),
    /// A converted copy.
    Owned(Vec<f64>),
}

impl F64Values {
    /// The values.
    pub fn as_slice(&self) -> &[f64] {
        match self {
            Self::Shared(values) => values.cont_slice().unwrap_or(&[]),
            Self::Owned(values) => values,
        }
    }
}

/// A column as text values (numbers formatted, nulls and NaN as `None`).
pub fn text_values(frame: &DataFrame, name: &str) -> Result<Vec<Option<String>>, NodeError> {
    let cast = text_column(frame, name)?;
    Ok(cast.str()?.iter().map(|v| v.map(str::to_owned)).collect())
}

/// A column cast to text, with NaN cells missing like nulls (Polars would write them as "NaN", a class of
/// their own).
pub fn text_column(frame: &DataFrame, name: &str) -> Result<Column, NodeError> {
    let column = frame.column(name).map_err(|_| missing_column(frame, name))?;
    let text = column.cast(&DataType::String)?;
    if !column.dtype().is_float() {
        return Ok(text);
    }
    let floats = column.cast(&DataType::Float64)?;
    let floats = floats.f64()?;
    if !floats.iter().any(|v| v.is_some_and(f64::is_nan)) {
        return Ok(text);
    }
    let texts: StringChunked =
        text.str()?.iter().zip(floats.iter()).map(|(t, v)| if v.is_some_and(f64::is_nan) { None } else { t }).collect();
    Ok(texts.with_name(name.into()).into_column())
}

/// Which cells of a column are missing: nulls, and NaN in a float column.
pub fn missing_mask(column: &Column) -> Result<BooleanChunked, NodeError> {
    if !column.dtype().is_float() {
        return Ok(column.is_null());
    }
    let floats = column.cast(&DataType::Float64)?;
    Ok(floats.f64()?.iter().map(|v| v.is_none_or(f64::is_nan)).collect())
}

/// How many cells of a column are missing: nulls, and NaN in a float column (counted from its buffers).
pub fn missing_count(column: &Column) -> Result<usize, NodeError> {
    if !column.dtype().is_float() {
        return Ok(column.null_count());
    }
    let floats = column.cast(&DataType::Float64)?;
    let values = floats.f64()?;
    let mut numbers = 0usize;
    for_each_number(values, |_| numbers += 1);
    Ok(values.len() - numbers)
}

/// The error for a column that is not in the table, listing the ones that are.
pub fn missing_column(frame: &DataFrame, name: &str) -> NodeError {
    let names: Vec<String> = frame.get_column_names().iter().map(ToString::to_string).collect();
    NodeError::data(format!("column \"{name}\" is not in the table (it has: {})", names.join(", ")))
}

/// Checks that every named column exists.
pub fn require_columns(frame: &DataFrame, names: &[String]) -> Result<(), NodeError> {
    names.iter().try_for_each(|n| frame.column(n).map(|_| ()).map_err(|_| missing_column(frame, n)))
}

/// The feature columns a learner uses: every column whose role is Feature, except `label`.
pub fn feature_columns(table: &Table, label: Option<&str>) -> Vec<String> {
    table
        .frame
        .get_column_names()
        .iter()
        .map(ToString::to_string)
        .filter(|n| Some(n.as_str()) != label && table.role(n) == Role::Feature)
        .collect()
}

/// The numeric feature columns of a table (for transforms whose column list is left empty).
pub fn numeric_feature_columns(table: &Table) -> Vec<String> {
    table
        .frame
        .columns()
        .iter()
        .filter(|c| ColumnType::of(c.dtype()) == ColumnType::Numeric && table.role(c.name()) == Role::Feature)
        .map(|c| c.name().to_string())
        .collect()
}

/// The named columns as a fit reads them, in place where they can be ([`f64_values`]); text columns and missing
/// values are errors that say what to do.
pub fn feature_values(frame: &DataFrame, features: &[String]) -> Result<Vec<F64Values>, NodeError> {
    let columns = feature_values_unchecked(frame, features)?;
    for (name, values) in features.iter().zip(&columns) {
        let values = values.as_slice();
        let missing = values.iter().filter(|x| x.is_nan()).count();
        if missing > 0 {
            return Err(NodeError::data(format!(
                "column \"{name}\" has {missing} missing values: add Clean Missing Data before this block"
            )));
        }
        require_finite("column", name, values)?;
    }
    Ok(columns)
}

/// [`feature_values`] without looking for missing and infinite values, for a later pass over rows that an earlier
/// pass checked: text columns are still errors.
pub fn feature_values_unchecked(frame: &DataFrame, features: &[String]) -> Result<Vec<F64Values>, NodeError> {
    use rayon::prelude::*;
    // f64 columns without nulls are read in place; others are converted once (missing cells as NaN).
    // Read in parallel, reported in column order: the first unusable column is the one named, every time.
    let columns: Vec<Result<F64Values, NodeError>> = features.par_iter().map(|name| f64_values(frame, name)).collect();
    columns.into_iter().collect()
}

/// Reads the named columns into a matrix; text columns and missing values are errors that say what to do.
pub fn feature_matrix(frame: &DataFrame, features: &[String]) -> Result<Matrix, NodeError> {
    Ok(row_major(frame.height(), &feature_values(frame, features)?))
}

/// [`feature_matrix`] without looking for missing and infinite values ([`feature_values_unchecked`]).
pub fn feature_matrix_unchecked(frame: &DataFrame, features: &[String]) -> Result<Matrix, NodeError> {
    Ok(row_major(frame.height(), &feature_values_unchecked(frame, features)?))
}

/// Columns as a row-major matrix.
fn row_major(rows: usize, columns: &[F64Values]) -> Matrix {
    use rayon::prelude::*;
    let cols = columns.len();
    let slices: Vec<&[f64]> = columns.iter().map(F64Values::as_slice).collect();
    let mut m = Matrix::zeros(rows, cols);
    // Row blocks in parallel, each written row after row from the columns.
    let block = 4096;
    m.data.par_chunks_mut((cols * block).max(1)).enumerate().for_each(|(b, out)| {
        let start = b * block;
        for (r, row) in out.chunks_mut(cols.max(1)).enumerate() {
            for (slot, column) in row.iter_mut().zip(&slices) {
                *slot = column[start + r];
            }
        }
    });
    m
}

/// Refuses infinite values in a column read for fitting (a feature, or a label), naming the column: a model fitted
/// on them has no usable weights. `what` is "column" or "label".
pub fn require_finite(what: &str, name: &str, values: &[f64]) -> Result<(), NodeError> {
    let infinite = values.iter().filter(|v| v.is_infinite()).count();
    if infinite == 0 {
        return Ok(());
    }
    Err(NodeError::data(format!(
        "{what} \"{name}\" has {infinite} infinite values (such as inf, 1e309 or the log of 0): clip them with Clip Values or remove those rows first"
    )))
}

/// Refuses a numeric label column with infinite values (a text label such as "inf" is a class name).
pub fn require_finite_label(frame: &DataFrame, label: &str) -> Result<(), NodeError> {
    let column = frame.column(label).map_err(|_| missing_column(frame, label))?;
    if !column.dtype().is_float() {
        return Ok(());
    }
    let values: Vec<f64> = column.cast(&DataType::Float64)?.f64()?.iter().flatten().collect();
    require_finite("label", label, &values)
}

/// Distinct non-missing values of a label column as sorted text (numerically when all are numbers).
pub fn sorted_classes(values: &[Option<String>]) -> Vec<String> {
    let mut classes: Vec<String> = values.iter().flatten().cloned().collect();
    classes.sort();
    classes.dedup();
    if classes.iter().all(|c| c.parse::<f64>().is_ok()) {
        classes.sort_by(|a, b| a.parse::<f64>().unwrap_or(0.0).total_cmp(&b.parse::<f64>().unwrap_or(0.0)));
    }
    classes
}

/// The distinct non-missing values of a column as text, sorted as [`sorted_classes`] sorts them.
pub fn distinct_texts(frame: &DataFrame, name: &str) -> Result<Vec<String>, NodeError> {
    let column = text_column(frame, name)?;
    let distinct: std::collections::HashSet<&str> = column.str()?.iter().flatten().collect();
    Ok(sorted_classes(&distinct.into_iter().map(|v| Some(v.to_owned())).collect::<Vec<_>>()))
}

/// A group number per row: equal values (missing ones included) share one, numbered in order of first
/// appearance.
pub fn group_ids(frame: &DataFrame, name: &str) -> Result<Vec<u32>, NodeError> {
    let column = frame.column(name).map_err(|_| missing_column(frame, name))?.cast(&DataType::String)?;
    let mut seen: std::collections::HashMap<Option<&str>, u32> = std::collections::HashMap::new();
    let texts = column.str()?;
    Ok(texts
        .iter()
        .map(|v| {
            let next = seen.len() as u32;
            *seen.entry(v).or_insert(next)
        })
        .collect())
}

/// Rows at these indices, keeping roles.
pub fn take_rows(table: &Table, indices: &[usize]) -> Result<Table, NodeError> {
    let idx: Vec<IdxSize> = indices.iter().map(|&i| i as IdxSize).collect();
    let frame = table.frame.take(&IdxCa::from_vec("idx".into(), idx))?;
    Ok(table.with_frame(frame))
}

/// A float column.
pub fn f64_column(name: &str, values: Vec<f64>) -> Column {
    Column::new(name.into(), values)
}

/// Adds or replaces a column.
pub fn set_column(frame: &mut DataFrame, column: Column) -> Result<(), NodeError> {
    frame.with_column(column)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn first_values(column: &Column) -> *const f64 {
        column.f64().expect("f64").downcast_iter().next().expect("a chunk").values().as_ptr()
    }

    #[test]
    fn a_column_nothing_else_holds_is_rewritten_in_its_own_buffer_and_a_shared_one_in_a_copy() {
        let column = Column::new("x".into(), vec![1.0, f64::NAN, 3.0]);
        let before = first_values(&column);
        let kept = column.clone();
        let doubled = rewrite_f64(column, |values, validity| {
            for v in values.iter_mut() {
                *v *= 2.0;
            }
            validity
        })
        .expect("rewrites");
        assert_ne!(first_values(&doubled), before, "a shared buffer is copied");
        assert_eq!(kept.f64().expect("f64").get(0), Some(1.0), "the other holder's values are unchanged");

        let before = first_values(&kept);
        let doubled = rewrite_f64(kept, |values, validity| {
            for v in values.iter_mut() {
                *v *= 2.0;
            }
            validity
        })
        .expect("rewrites");
        assert_eq!(first_values(&doubled), before, "the only holder's buffer is rewritten");
        assert_eq!(doubled.f64().expect("f64").get(2), Some(6.0));
    }
}
