//! Data-parallel training: four ranks, each fitting over its own quarter of the rows and exchanging its passes'
//! sums with the others, end with the model one process fits over the whole table (coefficients to 1e-9).

use std::sync::{Arc, Barrier, Mutex};

use polars::prelude::{Column, DataFrame};

use pipewright_engine::rng::SplitMix64;
use pipewright_engine::spill::SpillDir;
use pipewright_engine::{
    CancelToken, Device, DeviceRecord, FrameBatches, Learner, Model, Node, NodeContext, NodeError, NodeSpec, Params,
    Provenance, Table, TableStream, Task, Value,
};
use pipewright_nodes::model::Exchange;
use pipewright_nodes::train::{classes_of, train, train_shard};

/// Ranks meeting in memory: each round, every rank leaves its bytes, all wait, all read every rank's, all wait.
struct InMemory {
    slots: Mutex<Vec<Vec<u8>>>,
    barrier: Barrier,
}

struct Rank<'a> {
    shared: &'a InMemory,
    rank: usize,
}

impl Exchange for Rank<'_> {
    fn rank(&self) -> usize {
        self.rank
    }

    fn all_gather(&self, mine: Vec<u8>) -> Result<Vec<Vec<u8>>, NodeError> {
        self.shared.slots.lock().expect("slots")[self.rank] = mine;
        self.shared.barrier.wait();
        let all = self.shared.slots.lock().expect("slots").clone();
        self.shared.barrier.wait();
        Ok(all)
    }
}

/// 6,000 rows of five features, a two-class label from a noisy linear score and a numeric target.
fn table() -> DataFrame {
    let mut rng = SplitMix64::new(3);
    let rows = 6000;
    let mut columns: Vec<Vec<f64>> = (0..5).map(|_| Vec::with_capacity(rows)).collect();
    let (mut label, mut target) = (Vec::with_capacity(rows), Vec::with_capacity(rows));
    let (mut count, mut kind) = (Vec::with_capacity(rows), Vec::with_capacity(rows));
    for _ in 0..rows {
        let x: Vec<f64> = (0..5).map(|_| rng.next_normal()).collect();
        let score = 0.8 * x[0] - 1.2 * x[1] + 0.3 * x[2] + 0.5 * rng.next_normal();
        label.push(if score > 0.2 { "yes" } else { "no" });
        target.push(2.0 * x[0] + x[3] - 0.5 * x[4] + 0.1 * rng.next_normal());
        count.push((0.3 * x[0] - 0.2 * x[1] + 1.0 + 0.3 * rng.next_normal()).exp().round());
        kind.push(match (x[2] + 0.3 * rng.next_normal(), x[4]) {
            (a, _) if a > 0.5 => "high",
            (_, b) if b > 0.0 => "mid",
            _ => "low",
        });
        for (c, v) in columns.iter_mut().zip(x) {
            c.push(v);
        }
    }
    let mut all: Vec<Column> =
        columns.into_iter().enumerate().map(|(i, c)| Column::new(format!("f{i}").into(), c)).collect();
    all.push(Column::new("label".into(), label));
    all.push(Column::new("target".into(), target));
    all.push(Column::new("count".into(), count));
    all.push(Column::new("kind".into(), kind));
    DataFrame::new(rows, all).expect("frame")
}

/// The learner a learner block of `kind` builds with these parameters (the rest at their defaults).
fn learner(kind: &str, params: &[(&str, serde_json::Value)]) -> Learner {
    let catalog = pipewright_nodes::catalog();
    let entry = catalog.get(kind).expect("a learner block");
    let node = Node {
        id: "learner".into(),
        kind: kind.into(),
        title: None,
        params: params.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect(),
        position: [0.0, 0.0],
    };
    let (params, problems) = Params::resolve(&entry.spec, &node, 0);
    assert!(problems.is_empty(), "{problems:?}");
    let built = with_ctx_of(&params, &entry.spec, |ctx| entry.kind.run(ctx)).expect("the learner");
    match built.into_iter().next() {
        Some(Value::Learner(learner)) => (*learner).clone(),
        _ => panic!("{kind} built no learner"),
    }
}

/// Runs `f` with a context as a block's run gives one.
fn with_ctx<T>(f: impl FnOnce(&NodeContext<'_>) -> T) -> T {
    let spec = NodeSpec::new("test.block", "Test", pipewright_engine::Category::Train, "");
    with_ctx_of(&Params::default(), &spec, f)
}

/// Runs `f` with a context with these parameters and spec.
fn with_ctx_of<T>(params: &Params, spec: &NodeSpec, f: impl FnOnce(&NodeContext<'_>) -> T) -> T {
    let (cancel, device_used, provenance) = (CancelToken::new(), DeviceRecord::default(), Provenance::default());
    let spill = SpillDir::beside(None);
    let ctx = NodeContext {
        node_id: "train",
        params,
        inputs: pipewright_engine::Inputs::default(),
        base_dir: std::path::Path::new("."),
        device: Device::Cpu,
        device_used: &device_used,
        cancel: &cancel,
        progress: &|_, _| {},
        spec,
        provenance: &provenance,
        memory_budget: 1 << 30,
        spill: &spill,
    };
    f(&ctx)
}

/// The model every one of `ranks` ranks trains over its consecutive share of the rows (batches of 500 rows).
/// A clustering learner's label is empty: the ranks cluster on the features.
fn data_parallel(frame: &DataFrame, learner: &Learner, label: &str, ranks: usize) -> Vec<Model> {
    let columns = ["f0", "f1", "f2", "f3", "f4", label];
    let frame = &frame.select(columns.into_iter().filter(|c| !c.is_empty())).expect("columns");
    let whole = TableStream::new(Arc::new(FrameBatches::new(frame.clone(), 500)));
    let classes = (!learner.tasks.contains(&Task::Regression) && !label.is_empty())
        .then(|| with_ctx(|ctx| classes_of(&whole, label, ctx)).expect("classes"));
    let shared = InMemory { slots: Mutex::new(vec![Vec::new(); ranks]), barrier: Barrier::new(ranks) };
    let per = frame.height().div_ceil(ranks);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..ranks)
            .map(|rank| {
                let (shared, classes) = (&shared, classes.as_ref());
                let offset = rank * per;
                let rows = frame.slice(i64::try_from(offset).expect("offset"), per);
                scope.spawn(move || {
                    let shard = TableStream::new(Arc::new(FrameBatches::new(rows, 500)));
                    let exchange = Rank { shared, rank };
                    with_ctx(|ctx| train_shard(learner, &shard, label, classes, &exchange, offset, ctx))
                        .unwrap_or_else(|e| panic!("rank {rank}: {e}"))
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("rank")).collect()
    })
}

/// The model one process trains over the whole table in memory.
fn one_process(frame: &DataFrame, learner: &Learner, label: &str) -> Model {
    let features: Vec<&str> = ["f0", "f1", "f2", "f3", "f4"].into();
    let frame = frame.select(features.iter().copied().chain([label])).expect("columns");
    with_ctx(|ctx| train(learner, &Table::new(frame), Some(label), ctx)).expect("fit")
}

/// Every number of a model's fitted state, in order.
fn numbers(model: &Model) -> Vec<f64> {
    fn walk(value: &serde_json::Value, out: &mut Vec<f64>) {
        match value {
            serde_json::Value::Number(n) => out.extend(n.as_f64()),
            serde_json::Value::Array(items) => items.iter().for_each(|v| walk(v, out)),
            serde_json::Value::Object(map) => map.values().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(&serde_json::to_value(&model.state).expect("state"), &mut out);
    out
}

fn assert_same_fit(ranks: &[Model], whole: &Model, what: &str) {
    let expected = numbers(whole);
    assert!(expected.len() > 3, "{what}: {expected:?}");
    for (rank, model) in ranks.iter().enumerate() {
        let got = numbers(model);
        assert_eq!(got.len(), expected.len(), "{what}, rank {rank}");
        for (i, (g, e)) in got.iter().zip(&expected).enumerate() {
            assert!((g - e).abs() <= 1e-9 * e.abs().max(1.0), "{what}, rank {rank}, number {i}: {g} vs {e}");
        }
        assert_eq!(model.classes, whole.classes, "{what}, rank {rank}");
        assert_eq!(got, numbers(&ranks[0]), "{what}: every rank ends with the same model");
    }
}

#[test]
fn a_logistic_fit_over_four_shards_equals_the_one_process_fit() {
    let frame = table();
    let logistic = learner("model.logistic_regression_two_class", &[("l2_weight", serde_json::json!(1.0))]);
    let ranks = data_parallel(&frame, &logistic, "label", 4);
    assert_same_fit(&ranks, &one_process(&frame, &logistic, "label"), "two-class logistic regression");
}

#[test]
fn linear_and_elastic_net_fits_over_four_shards_equal_the_one_process_fits() {
    let frame = table();
    let linear = learner("model.linear_regression", &[]);
    let ranks = data_parallel(&frame, &linear, "target", 4);
    assert_same_fit(&ranks, &one_process(&frame, &linear, "target"), "linear regression");
    let net = learner(
        "model.elastic_net_regression",
        &[("alpha", serde_json::json!(0.05)), ("l1_ratio", serde_json::json!(0.5))],
    );
    let ranks = data_parallel(&frame, &net, "target", 3);
    assert_same_fit(&ranks, &one_process(&frame, &net, "target"), "elastic net");
}

#[test]
fn poisson_naive_bayes_and_multiclass_logistic_fits_over_shards_equal_the_one_process_fits() {
    let frame = table();
    let poisson = learner("model.poisson_regression", &[]);
    let ranks = data_parallel(&frame, &poisson, "count", 4);
    assert_same_fit(&ranks, &one_process(&frame, &poisson, "count"), "Poisson regression");
    let bayes = learner("model.naive_bayes", &[]);
    let ranks = data_parallel(&frame, &bayes, "kind", 4);
    assert_same_fit(&ranks, &one_process(&frame, &bayes, "kind"), "naive Bayes");
    let multiclass = learner("model.logistic_regression_multiclass", &[]);
    let ranks = data_parallel(&frame, &multiclass, "kind", 2);
    assert_same_fit(&ranks, &one_process(&frame, &multiclass, "kind"), "multiclass logistic regression");
}

#[test]
fn boosted_trees_over_shards_are_the_trees_of_the_one_process_fit() {
    let frame = table();
    let settings = [("trees", serde_json::json!(20)), ("max_leaves", serde_json::json!(15))];
    let boosted = learner("model.boosted_decision_tree", &settings);
    let ranks = data_parallel(&frame, &boosted, "label", 4);
    assert_same_fit(&ranks, &one_process(&frame, &boosted, "label"), "two-class boosted trees");
    let ranks = data_parallel(&frame, &boosted, "kind", 3);
    assert_same_fit(&ranks, &one_process(&frame, &boosted, "kind"), "three-class boosted trees");
    let regression = learner("model.boosted_decision_tree_regression", &settings);
    let ranks = data_parallel(&frame, &regression, "target", 2);
    assert_same_fit(&ranks, &one_process(&frame, &regression, "target"), "boosted regression trees");
}

#[test]
fn a_forest_over_shards_is_the_forest_of_one_process_over_the_same_bins() {
    let frame = table();
    let settings = [("trees", serde_json::json!(8)), ("max_depth", serde_json::json!(10))];
    for (kind, label) in [("model.decision_forest", "kind"), ("model.decision_forest_regression", "target")] {
        let forest = learner(kind, &settings);
        let whole = data_parallel(&frame, &forest, label, 1);
        let ranks = data_parallel(&frame, &forest, label, 4);
        assert_same_fit(&ranks, &whole[0], kind);
    }
}

#[test]
fn k_means_over_shards_finds_the_centres_of_the_one_process_fit() {
    let frame = table();
    let kmeans = learner("model.kmeans", &[("clusters", serde_json::json!(4)), ("starts", serde_json::json!(3))]);
    let whole = data_parallel(&frame, &kmeans, "", 1);
    let ranks = data_parallel(&frame, &kmeans, "", 4);
    assert_same_fit(&ranks, &whole[0], "k-means");
    assert_eq!(ranks[0].features, ["f0", "f1", "f2", "f3", "f4"]);
    assert_eq!(ranks[0].task, Task::Clustering);
}

#[test]
fn a_learner_whose_fit_is_not_merged_by_pass_is_refused_data_parallel() {
    let frame = table();
    let network = learner("model.neural_network", &[]);
    let frame = frame.select(["f0", "f1", "f2", "f3", "f4", "label"]).expect("columns");
    let whole = TableStream::new(Arc::new(FrameBatches::new(frame, 500)));
    let classes = with_ctx(|ctx| classes_of(&whole, "label", ctx)).expect("classes");
    let shared = InMemory { slots: Mutex::new(vec![Vec::new()]), barrier: Barrier::new(1) };
    let exchange = Rank { shared: &shared, rank: 0 };
    let error =
        with_ctx(|ctx| train_shard(&network, &whole, "label", Some(&classes), &exchange, 0, ctx)).expect_err("refused");
    assert!(error.to_string().contains("does not train data-parallel"), "{error}");
}
