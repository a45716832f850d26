//! `NodeSpec`: the one declaration of a node kind. The palette, the inspector, validation, the docs
//! and the file format all read it.

use serde::Serialize;
use serde_json::Value as Json;

/// What flows on a wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum PortType {
    /// A table of rows and typed columns with column roles.
    Table,
    /// An untrained model: an algorithm with its hyperparameters.
    Learner,
    /// A trained model.
    Model,
    /// Fitted preprocessing to apply to other data.
    Transform,
    /// Metrics and charts.
    Report,
}

impl PortType {
    /// The name shown to users.
    pub fn label(self) -> &'static str {
        match self {
            Self::Table => "Table",
            Self::Learner => "Learner",
            Self::Model => "Model",
            Self::Transform => "Transform",
            Self::Report => "Report",
        }
    }
}

/// Where a kind sits in the palette.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Category {
    /// Reading and writing data.
    Data,
    /// Cleaning, reshaping and feature engineering.
    Transform,
    /// Algorithms (learners).
    Model,
    /// Training and scoring.
    Train,
    /// Metrics.
    Evaluate,
    /// Packaging and serving.
    Deploy,
}

impl Category {
    /// Every category, in the order the palette lists them.
    pub const ALL: [Self; 6] = [Self::Data, Self::Transform, Self::Model, Self::Train, Self::Evaluate, Self::Deploy];

    /// The name shown to users.
    pub fn label(self) -> &'static str {
        match self {
            Self::Data => "Data",
            Self::Transform => "Transform",
            Self::Model => "Model",
            Self::Train => "Train",
            Self::Evaluate => "Evaluate",
            Self::Deploy => "Deploy",
        }
    }
}

/// What a block writes outside the workflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Writes {
    /// A data file (Export Data).
    File,
    /// A model package (Export Model Package), which can be served.
    Package,
}

/// One input or output port.
#[derive(Debug, Clone, Serialize)]
pub struct PortSpec {
    /// Stable name used in workflow files.
    pub name: &'static str,
    /// What flows on it.
    pub ty: PortType,
    /// Shown on hover.
    pub tooltip: &'static str,
    /// Inputs only: whether the node can run without it.
    pub required: bool,
}

/// The type of a parameter, with its constraints.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ParamKind {
    /// A whole number in `min..=max`.
    Integer {
        /// Smallest allowed value.
        min: i64,
        /// Largest allowed value.
        max: i64,
    },
    /// A number in `min..=max`.
    Float {
        /// Smallest allowed value.
        min: f64,
        /// Largest allowed value.
        max: f64,
    },
    /// On or off.
    Bool,
    /// One of a fixed list of values.
    Choice {
        /// The allowed values.
        choices: Vec<&'static str>,
    },
    /// Free text.
    Text,
    /// One column of the table on the named input port.
    Column {
        /// The input port whose schema offers the columns.
        port: &'static str,
    },
    /// Several columns of the table on the named input port; empty means "all that apply".
    ColumnList {
        /// The input port whose schema offers the columns.
        port: &'static str,
    },
    /// A path to a file, relative to the workflow file.
    FilePath {
        /// File extensions offered by the file picker.
        extensions: Vec<&'static str>,
        /// Whether the node reads the file (its content then enters the cache key).
        read: bool,
    },
    /// A random seed; empty means "derived from the workflow seed and the node id".
    Seed,
}

/// One parameter.
#[derive(Debug, Clone, Serialize)]
pub struct ParamSpec {
    /// Stable name used in workflow files.
    pub name: &'static str,
    /// Label in the inspector.
    pub label: &'static str,
    /// Type and constraints.
    pub kind: ParamKind,
    /// Value when the file sets none (`null` for optional column, seed and path parameters).
    pub default: Json,
    /// One or two sentences shown as help.
    pub help: &'static str,
    /// Whether a value must be given (column and file parameters without a sensible default).
    pub required: bool,
    /// Another parameter and a value of it that make this one not required (Import Data's file when it reads a
    /// database).
    pub unless: Option<(&'static str, &'static str)>,
}

/// The search range of a tunable parameter, which hyperparameter tuning samples from.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TuneRange {
    /// Whole numbers in `min..=max`.
    Int {
        /// Smallest value tried.
        min: i64,
        /// Largest value tried.
        max: i64,
    },
    /// Numbers in `min..=max`, sampled on a log scale when `log` is set (then `min > 0`).
    Float {
        /// Smallest value tried.
        min: f64,
        /// Largest value tried.
        max: f64,
        /// Sample the logarithm uniformly (for weights and rates spanning decades).
        log: bool,
    },
    /// These values of a choice or true/false parameter.
    Choice {
        /// The values tried.
        values: Vec<Json>,
    },
}

/// The declaration of a node kind.
#[derive(Debug, Clone, Serialize)]
#[allow(clippy::struct_excessive_bools, reason = "independent yes/no facts a kind declares, each read on its own")]
pub struct NodeSpec {
    /// Stable id such as `transform.normalize`.
    pub id: &'static str,
    /// Name in the palette, as in the Azure designer.
    pub name: &'static str,
    /// Palette category.
    pub category: Category,
    /// What it does, for the palette tooltip and the docs.
    pub description: &'static str,
    /// Bumped when the kind's results change for the same inputs; part of the cache key.
    pub version: u32,
    /// Input ports in order.
    pub inputs: Vec<PortSpec>,
    /// Output ports in order.
    pub outputs: Vec<PortSpec>,
    /// Parameters in inspector order.
    pub params: Vec<ParamSpec>,
    /// Whether results depend on a seed.
    pub stochastic: bool,
    /// Whether the block acts outside the workflow (writes a file, calls a service): it runs every time and
    /// its outputs are never cached, so the effect happens on every run.
    pub side_effect: bool,
    /// Whether its results come from the compute kernels (CPU twins or a GPU, which agree only within a
    /// tolerance): the run's device policy is then part of its cache key.
    pub uses_device: bool,
    /// Parameters worth tuning (learners), each with the range a search tries, in inspector order.
    pub tunable: Vec<(&'static str, TuneRange)>,
    /// Whether rows pass through with their values unchanged: it only drops rows or columns or changes roles,
    /// so a model package can look through it to the raw rows.
    pub passes_rows_through: bool,
    /// What it writes outside the workflow, if anything.
    pub writes: Option<Writes>,
    /// Whether it trains its learner over shards of its rows on several machines when the learner's fit allows it
    /// (Train Model): exported with fan-out and shards, its fit becomes a data-parallel step.
    pub trains_over_shards: bool,
    /// A parameter and the value of it that makes the block read a live service (Import Data from a database):
    /// its results then depend on more than the workflow and its files, so it runs every time and is not cached.
    pub live_when: Option<(&'static str, &'static str)>,
    /// Whether its report holds the metrics of scored data (the engine's metric table names them): the
    /// designer opens it after a generated workflow runs, and a package takes its metrics from it.
    pub reports_metrics: bool,
}

impl NodeSpec {
    /// A spec with no ports and parameters; add them with the builder methods.
    pub fn new(id: &'static str, name: &'static str, category: Category, description: &'static str) -> Self {
        Self {
            id,
            name,
            category,
            description,
            version: 1,
            inputs: Vec::new(),
            outputs: Vec::new(),
            params: Vec::new(),
            stochastic: false,
            side_effect: false,
            uses_device: false,
            tunable: Vec::new(),
            passes_rows_through: false,
            writes: None,
            reports_metrics: false,
            trains_over_shards: false,
            live_when: None,
        }
    }

    /// Marks the block as reading a live service when `param` is `value`: it then runs every time, uncached.
    #[must_use]
    pub fn live_when(mut self, param: &'static str, value: &'static str) -> Self {
        self.live_when = Some((param, value));
        self
    }

    /// Whether, with these parameters, the block runs every time and its results are not kept: it has side
    /// effects, or it reads a live service.
    pub fn uncached(&self, params: &crate::Params) -> bool {
        self.side_effect || self.live_when.is_some_and(|(name, value)| params.optional_text(name) == Some(value))
    }

    /// Marks the block as passing rows through with their values unchanged (it drops rows or columns, or
    /// changes roles).
    pub fn passes_rows_through(mut self) -> Self {
        self.passes_rows_through = true;
        self
    }

    /// Marks the block as writing a file or a package outside the workflow (which also makes it a side effect).
    pub fn writes(mut self, what: Writes) -> Self {
        self.writes = Some(what);
        self.side_effect = true;
        self
    }

    /// Marks the block's report as holding the metrics of scored data.
    pub fn reports_metrics(mut self) -> Self {
        self.reports_metrics = true;
        self
    }

    /// Sets the kind version.
    pub fn version(mut self, version: u32) -> Self {
        self.version = version;
        self
    }

    /// Adds a required input port.
    pub fn input(mut self, name: &'static str, ty: PortType, tooltip: &'static str) -> Self {
        self.inputs.push(PortSpec { name, ty, tooltip, required: true });
        self
    }

    /// Adds an optional input port.
    pub fn optional_input(mut self, name: &'static str, ty: PortType, tooltip: &'static str) -> Self {
        self.inputs.push(PortSpec { name, ty, tooltip, required: false });
        self
    }

    /// Adds an output port.
    pub fn output(mut self, name: &'static str, ty: PortType, tooltip: &'static str) -> Self {
        self.outputs.push(PortSpec { name, ty, tooltip, required: false });
        self
    }

    /// Adds a parameter with a default.
    pub fn param(
        mut self,
        name: &'static str,
        label: &'static str,
        kind: ParamKind,
        default: Json,
        help: &'static str,
    ) -> Self {
        if matches!(kind, ParamKind::Seed) {
            self.stochastic = true;
        }
        self.params.push(ParamSpec { name, label, kind, default, help, required: false, unless: None });
        self
    }

    /// Adds a parameter that must be set.
    pub fn required_param(
        mut self,
        name: &'static str,
        label: &'static str,
        kind: ParamKind,
        help: &'static str,
    ) -> Self {
        self.params.push(ParamSpec { name, label, kind, default: Json::Null, help, required: true, unless: None });
        self
    }

    /// Makes the parameter `name` required unless the parameter `other` is `value`.
    #[must_use]
    pub fn required_unless(mut self, name: &'static str, other: &'static str, value: &'static str) -> Self {
        if let Some(p) = self.params.iter_mut().find(|p| p.name == name) {
            p.required = true;
            p.unless = Some((other, value));
        }
        self
    }

    /// Marks the block as acting outside the workflow: never cached, run every time.
    pub fn side_effect(mut self) -> Self {
        self.side_effect = true;
        self
    }

    /// Marks the block as computing with the compute kernels, so its cache key includes the device policy.
    pub fn uses_device(mut self) -> Self {
        self.uses_device = true;
        self
    }

    /// Marks the block as one that trains its learner over shards of its rows when exported with shards.
    #[must_use]
    pub fn trains_over_shards(mut self) -> Self {
        self.trains_over_shards = true;
        self
    }

    /// Marks the parameter `name` (declared with [`Self::param`]) as tunable over `range`.
    pub fn tunable(mut self, name: &'static str, range: TuneRange) -> Self {
        self.tunable.push((name, range));
        self
    }

    /// The search range of a tunable parameter.
    pub fn tune_range(&self, name: &str) -> Option<&TuneRange> {
        self.tunable.iter().find(|(n, _)| *n == name).map(|(_, r)| r)
    }

    /// The input port with this name.
    pub fn input_port(&self, name: &str) -> Option<(usize, &PortSpec)> {
        self.inputs.iter().enumerate().find(|(_, p)| p.name == name)
    }

    /// The output port with this name.
    pub fn output_port(&self, name: &str) -> Option<(usize, &PortSpec)> {
        self.outputs.iter().enumerate().find(|(_, p)| p.name == name)
    }

    /// The parameter with this name.
    pub fn param_spec(&self, name: &str) -> Option<&ParamSpec> {
        self.params.iter().find(|p| p.name == name)
    }
}

/// Shorthand for an integer parameter kind.
pub fn int(min: i64, max: i64) -> ParamKind {
    ParamKind::Integer { min, max }
}

/// Shorthand for a float parameter kind.
pub fn float(min: f64, max: f64) -> ParamKind {
    ParamKind::Float { min, max }
}

/// Shorthand for a choice parameter kind.
pub fn choice(choices: &[&'static str]) -> ParamKind {
    ParamKind::Choice { choices: choices.to_vec() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tunable_parameters_keep_their_ranges_in_order() {
        let spec = NodeSpec::new("model.x", "X", Category::Model, "A learner with two tunable parameters.")
            .param("depth", "Depth", int(1, 64), serde_json::json!(5), "How deep.")
            .param("rate", "Rate", float(0.0, 1.0), serde_json::json!(0.1), "How fast.")
            .tunable("depth", TuneRange::Int { min: 2, max: 16 })
            .tunable("rate", TuneRange::Float { min: 1e-3, max: 1.0, log: true });
        let names: Vec<&str> = spec.tunable.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, ["depth", "rate"]);
        for name in names {
            assert!(spec.param_spec(name).is_some(), "{name} is tunable but not a parameter");
        }
        assert_eq!(spec.tune_range("depth"), Some(&TuneRange::Int { min: 2, max: 16 }));
        assert_eq!(spec.tune_range("missing"), None);
        let json = serde_json::to_value(&spec.tunable).expect("serializes");
        assert_eq!(json[1][1]["type"], "float");
    }
}
