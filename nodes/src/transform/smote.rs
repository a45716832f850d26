//! SMOTE: synthetic minority oversampling.

use std::sync::Arc;

use polars::prelude::*;
use serde_json::{Value as Json, json};

use pipewright_engine::rng::SplitMix64;
use pipewright_engine::spec::int;
use pipewright_engine::{
    Category, ColumnType, NodeContext, NodeError, NodeKind, NodeSpec, ParamKind, Params, PortType, Role, Schema,
    SchemaEnv, Table, Value,
};

use crate::frame::{Matrix, feature_matrix, sorted_classes, text_values};

/// Adds synthetic rows of the minority class.
pub struct Smote;

impl Smote {
    /// The kind id.
    pub const ID: &'static str = "transform.smote";
}

/// One synthetic row: `base + step · (neighbour − base)`, rows of the minority matrix.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Synthetic {
    /// The minority row it starts from.
    pub base: usize,
    /// The nearest neighbour it moves towards.
    pub neighbour: usize,
    /// How far along the segment, in `[0, 1)`.
    pub step: f64,
}

/// The `k` nearest other rows of every row, nearest first (Euclidean; ties by lower row index).
pub fn nearest_neighbours(points: &Matrix, k: usize) -> Vec<Vec<usize>> {
    (0..points.rows)
        .map(|i| {
            let mut others: Vec<(f64, usize)> = (0..points.rows)
                .filter(|&j| j != i)
                .map(|j| {
                    let d: f64 = points.row(i).iter().zip(points.row(j)).map(|(a, b)| (a - b) * (a - b)).sum();
                    (d, j)
                })
                .collect();
            others.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            others.into_iter().take(k).map(|(_, j)| j).collect()
        })
        .collect()
}

/// Plans `count` synthetic rows among `neighbours.len()` minority rows.
///
/// Base rows: every minority row once per whole round (`count / m` rounds, in row order), then the
/// remaining `count mod m` bases are the first rows of a seeded shuffle. For each synthetic row, in
/// that order, one draw picks the neighbour among the base's k nearest and one draw the step.
pub fn plan(neighbours: &[Vec<usize>], count: usize, seed: u64) -> Vec<Synthetic> {
    let m = neighbours.len();
    let mut rng = SplitMix64::new(seed);
    let mut bases: Vec<usize> = (0..count / m).flat_map(|_| 0..m).collect();
    let mut order: Vec<usize> = (0..m).collect();
    rng.shuffle(&mut order);
    bases.extend_from_slice(&order[..count % m]);
    bases
        .into_iter()
        .map(|base| {
            let near = &neighbours[base];
            let neighbour = near[rng.below(near.len())];
            Synthetic { base, neighbour, step: rng.next_f64() }
        })
        .collect()
}

/// Checked parameters.
struct Settings {
    label: String,
    percentage: usize,
    k: usize,
    seed: u64,
}

impl Settings {
    fn read(params: &Params, table: &Table) -> Result<Self, NodeError> {
        let label = match params.optional_text("label_column") {
            Some(name) => name.to_owned(),
            None => table.label().map(str::to_owned).ok_or_else(|| {
                NodeError::param("label_column", "choose the label column whose minority class is oversampled")
            })?,
        };
        Ok(Self {
            label,
            percentage: params.count("percentage")?,
            k: params.count("neighbours")?,
            seed: params.seed("seed")?,
        })
    }
}

/// The columns whose synthetic values are interpolated: numeric, non-categorical features besides the label.
fn interpolated_columns(table: &Table, label: &str) -> Vec<String> {
    table
        .frame
        .columns()
        .iter()
        .filter(|c| {
            let name = c.name().as_str();
            name != label
                && ColumnType::of(c.dtype()) == ColumnType::Numeric
                && table.role(name) == Role::Feature
                && !table.categorical.contains(name)
        })
        .map(|c| c.name().to_string())
        .collect()
}

fn oversample(table: &Table, settings: &Settings) -> Result<Table, NodeError> {
    let labels = text_values(&table.frame, &settings.label)?;
    let classes = sorted_classes(&labels);
    if classes.len() < 2 {
        return Err(NodeError::data(format!(
            "the label column \"{}\" has {} class{}: SMOTE needs at least two to find the minority",
            settings.label,
            classes.len(),
            if classes.len() == 1 { "" } else { "es" }
        )));
    }
    // The minority: the class with fewest rows; on a tie, the first in sorted order.
    let size = |class: &String| labels.iter().filter(|l| l.as_ref() == Some(class)).count();
    let Some(minority) = classes.iter().min_by_key(|c| size(c)) else { return Err(NodeError::data("no classes")) };
    let rows: Vec<usize> = (0..labels.len()).filter(|&i| labels[i].as_ref() == Some(minority)).collect();
    if settings.k >= rows.len() {
        return Err(NodeError::param(
            "neighbours",
            format!(
                "the minority class \"{minority}\" has {} rows, so at most {} neighbours can be used: lower the number of nearest neighbours",
                rows.len(),
                rows.len() - 1
            ),
        ));
    }
    let columns = interpolated_columns(table, &settings.label);
    if columns.is_empty() {
        return Err(NodeError::data(
            "SMOTE needs at least one numeric feature column to find neighbours and interpolate: convert text columns with Convert to Indicator Values, or mark numeric columns as features with Edit Metadata",
        ));
    }
    let idx = |rows: &[usize]| IdxCa::from_vec("idx".into(), rows.iter().map(|&i| i as IdxSize).collect());
    let minority_frame = table.frame.take(&idx(&rows))?;
    let points = feature_matrix(&minority_frame, &columns)?;
    let count = ((settings.percentage * rows.len()) as f64 / 100.0).round() as usize;
    let synthetic = plan(&nearest_neighbours(&points, settings.k), count, settings.seed);

    let bases: Vec<usize> = synthetic.iter().map(|s| rows[s.base]).collect();
    let mut original = table.frame.clone();
    let mut added = table.frame.take(&idx(&bases))?;
    for (j, name) in columns.iter().enumerate() {
        let values: Vec<f64> = synthetic
            .iter()
            .map(|s| {
                let x = points.get(s.base, j);
                x + s.step * (points.get(s.neighbour, j) - x)
            })
            .collect();
        added.with_column(Column::new(name.as_str().into(), values))?;
        let widened = original.column(name)?.cast(&DataType::Float64)?;
        original.with_column(widened)?;
    }
    Ok(table.with_frame(original.vstack(&added)?))
}

impl NodeKind for Smote {
    fn spec(&self) -> NodeSpec {
        NodeSpec::new(
            Self::ID,
            "SMOTE",
            Category::Transform,
            "Oversamples the minority class of a label (the class with fewest rows): each new row lies at a random point on the segment between a minority row and one of its nearest minority neighbours, measured on the numeric feature columns. Text, true/false and categorical columns copy the value of the row it starts from. The output is the original rows followed by the new ones; integer feature columns become decimal.",
        )
        .input("data", PortType::Table, "The table")
        .param("label_column", "Label column", ParamKind::Column { port: "data" }, Json::Null, "The class column. Empty: the column whose role is Label.")
        .param("percentage", "SMOTE percentage", int(0, 10_000), json!(100), "How many rows to add, as a percentage of the minority rows: 100 doubles the minority class, 200 triples it. Rounded to the nearest row.")
        .param("neighbours", "Number of nearest neighbours", int(1, 100), json!(1), "New rows move towards one of this many nearest minority rows, chosen at random. Must be below the number of minority rows. Distances are not scaled: normalize the features first if their ranges differ.")
        .param("seed", "Random seed", ParamKind::Seed, Json::Null, "Empty: derived from the workflow seed.")
        .output("data", PortType::Table, "The original rows, then the synthetic minority rows")
    }

    fn output_schemas(&self, inputs: &[Option<Schema>], _params: &Params, _env: &SchemaEnv<'_>) -> Vec<Option<Schema>> {
        vec![inputs.first().cloned().flatten()]
    }

    fn run(&self, ctx: &NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
        let table = ctx.table("data")?;
        let settings = Settings::read(ctx.params, &table)?;
        Ok(vec![Value::Table(Arc::new(oversample(&table, &settings)?))])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neighbours_are_nearest_first_with_ties_by_index() {
        let points = Matrix { rows: 4, cols: 1, data: vec![0.0, 1.0, -1.0, 5.0] };
        assert_eq!(nearest_neighbours(&points, 2), [vec![1, 2], vec![0, 2], vec![0, 1], vec![1, 0]]);
    }

    #[test]
    fn plans_whole_rounds_then_distinct_extra_bases() {
        let neighbours = vec![vec![1], vec![0], vec![0]];
        let planned = plan(&neighbours, 8, 3);
        let bases: Vec<usize> = planned.iter().map(|s| s.base).collect();
        assert_eq!(&bases[..6], [0, 1, 2, 0, 1, 2]);
        assert_ne!(bases[6], bases[7]);
        assert!(planned.iter().all(|s| neighbours[s.base].contains(&s.neighbour) && (0.0..1.0).contains(&s.step)));
        assert_eq!(planned, plan(&neighbours, 8, 3));
    }
}
