//! Export Model Package.

use std::sync::Arc;

use polars::prelude::*;
use serde_json::json;

use pipewright_engine::{
    Category, NodeContext, NodeError, NodeKind, NodeSpec, ParamKind, PortType, Table, Transform, Value, Writes,
};

use super::package::{Package, PackageError, PackageInfo, Source};

/// Writes a trained model and the fitted transforms in front of it into one model package.
pub struct ExportModelPackage;

impl ExportModelPackage {
    /// The kind id.
    pub const ID: &'static str = "deploy.export_model_package";
}

/// The table attribute that records where the package was written.
pub const PACKAGE_PATH_ATTRIBUTE: &str = "package.path";

/// The transform inputs, in the order their steps are applied.
const TRANSFORM_PORTS: [&str; 4] = ["transform", "transform_2", "transform_3", "transform_4"];

/// The package's input fields as a table: what the endpoint expects.
fn fields_table(package: &Package) -> Result<Table, NodeError> {
    let fields = &package.manifest.inputs;
    let frame = DataFrame::new(
        fields.len(),
        vec![
            Column::new("field".into(), fields.iter().map(|f| f.name.clone()).collect::<Vec<_>>()),
            Column::new("type".into(), fields.iter().map(|f| f.ty.as_str()).collect::<Vec<_>>()),
            Column::new("required".into(), fields.iter().map(|f| f.required).collect::<Vec<_>>()),
            Column::new("categories".into(), fields.iter().map(|f| f.categories.join(", ")).collect::<Vec<_>>()),
        ],
    )?;
    Ok(Table::new(frame))
}

impl NodeKind for ExportModelPackage {
    fn spec(&self) -> NodeSpec {
        NodeSpec::new(
            Self::ID,
            "Export Model Package",
            Category::Deploy,
            "Writes a model package (.pwmodel): the trained model and every fitted step in front of it (Clean Missing Data, Convert to Indicator Values, Normalize Data, PCA), so raw rows go in and predictions come out. The package holds a manifest with the input fields (JSON Schema), the outputs, the metrics and where it came from, and loads without the project: serve it with `pipewright serve`, score files with `pipewright score` or the Batch Score block.",
        )
        .input("model", PortType::Model, "The trained model")
        .optional_input("transform", PortType::Transform, "The first fitted transform applied to the raw rows (usually Clean Missing Data)")
        .optional_input("transform_2", PortType::Transform, "The second fitted transform, applied after the first")
        .optional_input("transform_3", PortType::Transform, "The third fitted transform")
        .optional_input("transform_4", PortType::Transform, "The fourth fitted transform")
        .optional_input("report", PortType::Report, "The model's evaluation: its metrics go into the manifest")
        .optional_input("data", PortType::Table, "The raw rows the pipeline starts from (recommended): the package is checked against them, its fields take their order and the first row becomes the example request")
        .required_param("path", "Package file", ParamKind::FilePath { extensions: vec!["pwmodel"], read: false }, "The .pwmodel file to write, relative to the workflow file; missing folders are created.")
        .param("name", "Endpoint name", ParamKind::Text, json!(""), "The name the endpoint shows; empty uses the model's name.")
        .param("overwrite", "Overwrite an existing file", ParamKind::Bool, json!(true), "Off: the block fails instead of replacing a package that exists.")
        .output("fields", PortType::Table, "The package's input fields: name, type, whether required, allowed categories")
        .writes(Writes::Package)
    }

    fn run(&self, ctx: &NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
        let model = ctx.model("model")?;
        let steps: Vec<Transform> = TRANSFORM_PORTS
            .iter()
            .map(|p| ctx.optional_transform(p))
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .flatten()
            .map(|t| (*t).clone())
            .collect();
        let report = ctx.optional_report("report")?;
        let data = ctx.optional_table("data")?;
        let path_text = ctx.params.text("path")?.to_owned();
        let path = ctx.resolve_path(&path_text);
        if path.exists() && !ctx.params.bool("overwrite")? {
            return Err(NodeError::param(
                "path",
                format!("{} exists: switch on overwrite or choose another file", path.display()),
            ));
        }
        let info = PackageInfo {
            name: ctx.params.text("name")?.to_owned(),
            report: report.as_deref(),
            data: data.as_deref(),
            source: Source {
                workflow: ctx
                    .provenance
                    .workflow
                    .as_ref()
                    .map(|w| std::fs::canonicalize(w).unwrap_or_else(|_| w.clone()).display().to_string()),
                node: Some(ctx.node_id.to_owned()),
                run: ctx.provenance.run,
            },
        };
        ctx.report_progress(0.2, "checking the package");
        let package = Package::build(&model, &steps, &info)?;
        ctx.report_progress(0.6, "writing");
        package.write(&path).map_err(|e| match e {
            PackageError::Io(m) => NodeError::Io(m),
            PackageError::Format(m) => NodeError::data(m),
        })?;
        let mut table = fields_table(&package)?;
        table.attributes.insert(PACKAGE_PATH_ATTRIBUTE.into(), json!(path.display().to_string()));
        Ok(vec![Value::Table(Arc::new(table))])
    }
}
