//! Sample Dataset: small, well-known tables bundled with Pipewright, so every example runs offline.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use polars::prelude::DataFrame;
use serde_json::json;

use pipewright_engine::spec::choice;
use pipewright_engine::{
    Category, NodeContext, NodeError, NodeKind, NodeSpec, Params, PortType, Role, Schema, SchemaEnv, Table, Value,
};

use super::csv_reading::{CsvSettings, read_csv_bytes};

/// The bundled datasets: name, label column, CSV text. Sources and licences: `assets/datasets/SOURCES.md`.
const DATASETS: &[(&str, &str, &str)] = &[
    ("iris", "species", include_str!("../../../assets/datasets/iris.csv")),
    ("wine", "class", include_str!("../../../assets/datasets/wine.csv")),
    ("breast_cancer", "diagnosis", include_str!("../../../assets/datasets/breast_cancer.csv")),
    ("diabetes", "progression", include_str!("../../../assets/datasets/diabetes.csv")),
    ("penguins", "species", include_str!("../../../assets/datasets/penguins.csv")),
    ("titanic", "survived", include_str!("../../../assets/datasets/titanic.csv")),
    ("sms_spam", "label", include_str!("../../../assets/datasets/sms_spam.csv")),
    ("elnino", "temperature", include_str!("../../../assets/datasets/elnino.csv")),
];

/// Emits one of the bundled datasets with its label column marked.
pub struct SampleDataset;

impl SampleDataset {
    /// The kind id.
    pub const ID: &'static str = "data.sample_dataset";
}

fn load(name: &str) -> Result<Table, NodeError> {
    static CACHE: OnceLock<BTreeMap<&'static str, Result<DataFrame, NodeError>>> = OnceLock::new();
    let frames = CACHE.get_or_init(|| {
        DATASETS
            .iter()
            .map(|(n, _, text)| {
                // Dates read as Import Data reads them (the monthly series' months).
                let frame = read_csv_bytes(text.as_bytes(), &CsvSettings::default())
                    .and_then(|frame| super::dates::recognise(frame, "auto"));
                (*n, frame)
            })
            .collect()
    });
    let (_, label, _) = DATASETS
        .iter()
        .find(|(n, _, _)| *n == name)
        .ok_or_else(|| NodeError::param("dataset", format!("no bundled dataset \"{name}\"")))?;
    let frame = frames.get(name).cloned().unwrap_or_else(|| Err(NodeError::data("dataset missing")))?;
    let mut table = Table::new(frame);
    table.roles.insert((*label).to_owned(), Role::Label);
    Ok(table)
}

/// Names of the bundled datasets.
pub fn dataset_names() -> Vec<&'static str> {
    DATASETS.iter().map(|(n, _, _)| *n).collect()
}

impl NodeKind for SampleDataset {
    fn spec(&self) -> NodeSpec {
        NodeSpec::new(
            Self::ID,
            "Sample Dataset",
            Category::Data,
            "A small, well-known table bundled with Pipewright: iris, wine, breast cancer, diabetes, penguins (with missing values and text columns), titanic (mixed types), sms_spam (5,574 text messages labelled spam or ham) and elnino (a monthly sea-surface temperature series, 1950–2010). The label column (the series' value) is marked.",
        )
        .param("dataset", "Dataset", choice(&dataset_names()), json!("iris"), "Which table. Sources and licences are listed in the documentation.")
        .output("data", PortType::Table, "The dataset, label column marked")
    }

    fn output_schemas(&self, _inputs: &[Option<Schema>], params: &Params, _env: &SchemaEnv<'_>) -> Vec<Option<Schema>> {
        vec![params.text("dataset").ok().and_then(|name| load(name).ok()).map(|t| t.schema())]
    }

    fn run(&self, ctx: &NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
        Ok(vec![Value::Table(Arc::new(load(ctx.params.text("dataset")?)?))])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bundled_dataset_loads_with_its_label() {
        let expected = [
            ("iris", 150, 5),
            ("wine", 178, 14),
            ("breast_cancer", 569, 31),
            ("diabetes", 442, 11),
            ("penguins", 344, 8),
            ("titanic", 1309, 11),
            ("sms_spam", 5574, 2),
            ("elnino", 732, 2),
        ];
        for (name, rows, cols) in expected {
            let table = load(name).expect(name);
            assert_eq!(table.frame.shape(), (rows, cols), "{name}");
            assert!(table.label().is_some_and(|l| table.frame.column(l).is_ok()), "{name}");
        }
        assert_eq!(load("penguins").expect("penguins").frame.column("sex").expect("sex").null_count(), 11);
        let months = load("elnino").expect("elnino");
        assert_eq!(months.frame.column("month").expect("month").dtype(), &polars::prelude::DataType::Date);
    }
}
