//! The registry: every block of this build, registered once from the lists in each category's `mod.rs`, with
//! the capabilities their declarations carry (the learner a model block builds, the fitted transform a
//! preprocessing block replays) looked up by kind id. There is no other table keyed by kind id.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use pipewright_engine::{Catalog, NodeError, NodeKind, Value};

use crate::model::{Algorithm, Learn};
use crate::transform::{FittedTransform, Replay};

/// The blocks and their capabilities.
#[derive(Default)]
pub(crate) struct Registry {
    catalog: Catalog,
    algorithms: BTreeMap<&'static str, &'static dyn Algorithm>,
    transforms: BTreeMap<&'static str, &'static dyn FittedTransform>,
}

impl Registry {
    /// Registers a block.
    pub(crate) fn block<K: NodeKind + 'static>(&mut self, kind: K) {
        self.catalog.register(kind);
    }

    /// Registers a learner block: what it builds is fitted by Train Model and predicts in Score Model.
    pub(crate) fn learner<K: NodeKind + Learn + 'static>(&mut self, kind: K) {
        let kind: &'static K = Box::leak(Box::new(kind));
        self.algorithms.insert(kind.spec().id, kind);
        self.catalog.register(kind);
    }

    /// Registers a block that fits preprocessing which Apply Transformation and packages replay.
    pub(crate) fn transform<K: NodeKind + Replay + 'static>(&mut self, kind: K) {
        let kind: &'static K = Box::leak(Box::new(kind));
        self.transforms.insert(kind.spec().id, kind);
        self.catalog.register(kind);
    }

    /// The catalog of every block.
    pub(crate) fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// The algorithm of a learner kind.
    pub(crate) fn algorithm(&'static self, id: &str) -> Option<&'static dyn Algorithm> {
        self.algorithms.get(id).copied()
    }

    /// The replay of a fitted transform's kind.
    pub(crate) fn fitted_transform(&'static self, id: &str) -> Option<&'static dyn FittedTransform> {
        self.transforms.get(id).copied()
    }
}

static REGISTRY: LazyLock<Registry> = LazyLock::new(|| {
    let mut registry = Registry::default();
    crate::data::register(&mut registry);
    crate::transform::register(&mut registry);
    crate::model::register(&mut registry);
    crate::train::register(&mut registry);
    crate::evaluate::register(&mut registry);
    crate::deploy::register(&mut registry);
    registry.catalog.set_loader(std::sync::Arc::new(load_value));
    registry
});

/// Decodes and checks a model or a fitted transform read back from storage.
fn load_value(value: &Value) -> Result<(), NodeError> {
    match value {
        Value::Model(model) => crate::model::load(model),
        Value::Transform(transform) => crate::transform::load(transform),
        Value::Table(_) | Value::Stream(_) | Value::Learner(_) | Value::Report(_) => Ok(()),
    }
}

/// The registry of this build.
pub(crate) fn registry() -> &'static Registry {
    &REGISTRY
}
