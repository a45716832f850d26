#!/usr/bin/env python3
"""Writes the Pipewright side of the benchmark: bench/workflows/*.flow.json.

The JSON files are committed; this script is how they were made (re-run it after changing a workload, then
check them with `pipewright validate`). Data paths are relative to this folder (../data/...), the default
location of bench/generate.py's output; bench/run.py overrides them with `--set NODE.path=/abs/file.csv`.

Usage: build.py [--out DIR]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
FEATURES_20 = [f"f{j:02d}" for j in range(20)]


class Flow:
    def __init__(self, name: str, description: str, seed: int = 42):
        self.doc = {
            "format": "pipewright.workflow",
            "version": 1,
            "name": name,
            "seed": seed,
            "description": description,
            "nodes": [],
            "edges": [],
        }
        self.depth: dict[str, int] = {}
        self.rows_at_depth: dict[int, int] = {}

    def node(self, id: str, kind: str, params: dict | None = None, inputs: dict | None = None, title: str | None = None):
        """Adds a node; inputs maps an input port to "node.port" of an earlier node."""
        inputs = inputs or {}
        depth = 1 + max((self.depth[src.rsplit(".", 1)[0]] for src in inputs.values()), default=-1)
        self.depth[id] = depth
        row = self.rows_at_depth.get(depth, 0)
        self.rows_at_depth[depth] = row + 1
        n = {"id": id, "kind": kind}
        if title:
            n["title"] = title
        n["params"] = params or {}
        n["position"] = [270.0 * depth, 170.0 * row]
        self.doc["nodes"].append(n)
        for port, src in inputs.items():
            src_node, src_port = src.rsplit(".", 1)
            self.doc["edges"].append({"from": {"node": src_node, "port": src_port}, "to": {"node": id, "port": port}})
        return id

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(self.doc, indent=2, ensure_ascii=False) + "\n")


def w1() -> Flow:
    f = Flow(
        "Benchmark W1: logistic regression on cls_1m",
        "read cls_1m, mean-impute, one-hot cat_a and cat_b, z-score f00..f19, stratified 80/20 split (seed 42), "
        "two-class logistic regression (L2 weight 1 = C 1, 100 iterations), score, evaluate.",
    )
    f.node("import", "data.import_data", {"path": "../data/cls_1m.csv"})
    f.node("clean", "transform.clean_missing_data", {"mode": "mean"}, {"data": "import.data"})
    f.node("indicators", "transform.convert_to_indicator_values", {"columns": ["cat_a", "cat_b"]}, {"data": "clean.data"})
    f.node("normalize", "transform.normalize_data", {"method": "zscore", "columns": FEATURES_20}, {"data": "indicators.data"})
    f.node(
        "split",
        "transform.split_data",
        {"fraction": 0.8, "randomize": True, "stratify_column": "label", "seed": 42},
        {"data": "normalize.data"},
    )
    f.node("logistic", "model.logistic_regression_two_class", {"l2_weight": 1.0, "max_iterations": 100})
    f.node("train", "train.train_model", {"label_column": "label"}, {"learner": "logistic.learner", "data": "split.first"})
    f.node("score", "train.score_model", {}, {"model": "train.model", "data": "split.second"})
    f.node("evaluate", "evaluate.evaluate_model", {}, {"scored": "score.data"})
    return f


def w2() -> Flow:
    f = Flow(
        "Benchmark W2: linear and ridge regression on reg_1m",
        "read reg_1m, mean-impute, z-score f00..f19, 80/20 split (first 80% of the rows train), linear regression and ridge "
        "(alpha 1), score, evaluate (scored = linear, scored_2 = ridge).",
    )
    f.node("import", "data.import_data", {"path": "../data/reg_1m.csv"})
    f.node("clean", "transform.clean_missing_data", {"mode": "mean"}, {"data": "import.data"})
    f.node("normalize", "transform.normalize_data", {"method": "zscore", "columns": FEATURES_20}, {"data": "clean.data"})
    # The first 80% of the rows train, the rest test (rows are i.i.d.), on both sides: the same test rows, so the
    # RMSE can be compared to 0.1%.
    f.node("split", "transform.split_data", {"fraction": 0.8, "randomize": False}, {"data": "normalize.data"})
    f.node("linear", "model.linear_regression", {"l2_weight": 0.0})
    f.node("ridge", "model.linear_regression", {"l2_weight": 1.0})
    f.node("train_linear", "train.train_model", {"label_column": "y"}, {"learner": "linear.learner", "data": "split.first"})
    f.node("train_ridge", "train.train_model", {"label_column": "y"}, {"learner": "ridge.learner", "data": "split.first"})
    f.node("score_linear", "train.score_model", {}, {"model": "train_linear.model", "data": "split.second"})
    f.node("score_ridge", "train.score_model", {}, {"model": "train_ridge.model", "data": "split.second"})
    f.node("evaluate", "evaluate.evaluate_model", {}, {"scored": "score_linear.data", "scored_2": "score_ridge.data"})
    return f


def w3() -> Flow:
    f = Flow(
        "Benchmark W3: k-means on blobs_1m",
        "read blobs_1m, k-means (k 8, k-means++, one start, up to 100 iterations, seed 0), evaluate the inertia.",
        seed=0,
    )
    f.node("import", "data.import_data", {"path": "../data/blobs_1m.csv"})
    f.node(
        "kmeans",
        "model.kmeans",
        {"clusters": 8, "init": "k-means++", "starts": 1, "max_iterations": 100, "seed": 0},
    )
    f.node("train", "train.train_clustering_model", {}, {"learner": "kmeans.learner", "data": "import.data"})
    f.node("evaluate", "evaluate.evaluate_model", {}, {"scored": "train.data"})
    return f


def w4() -> Flow:
    f = Flow(
        "Benchmark W4: random forest on cls_100k",
        "read cls_100k, mean-impute, one-hot cat_a and cat_b, 80/20 split (first 80% of the rows train), decision forest "
        "(100 trees, max depth 10, sqrt features per split), score, evaluate.",
    )
    f.node("import", "data.import_data", {"path": "../data/cls_100k.csv"})
    f.node("clean", "transform.clean_missing_data", {"mode": "mean"}, {"data": "import.data"})
    f.node("indicators", "transform.convert_to_indicator_values", {"columns": ["cat_a", "cat_b"]}, {"data": "clean.data"})
    # The first 80% of the rows train, the rest test, as in the reference (rows are i.i.d.).
    f.node("split", "transform.split_data", {"fraction": 0.8, "randomize": False}, {"data": "indicators.data"})
    f.node(
        "forest",
        "model.decision_forest",
        {"trees": 100, "max_depth": 10, "min_samples_leaf": 1, "features_per_split": "sqrt", "bootstrap": True, "seed": 0},
    )
    f.node("train", "train.train_model", {"label_column": "label"}, {"learner": "forest.learner", "data": "split.first"})
    f.node("score", "train.score_model", {}, {"model": "train.model", "data": "split.second"})
    f.node("evaluate", "evaluate.evaluate_model", {}, {"scored": "score.data"})
    return f


def w7() -> Flow:
    f = Flow(
        "Benchmark W7: gradient boosting on cls_1m",
        "read cls_1m, mean-impute, one-hot cat_a and cat_b, 80/20 split (first 80% of the rows train), boosted "
        "decision tree (100 trees, at most 31 leaves, learning rate 0.1, 255 bins), score, evaluate.",
    )
    f.node("import", "data.import_data", {"path": "../data/cls_1m.csv"})
    f.node("clean", "transform.clean_missing_data", {"mode": "mean"}, {"data": "import.data"})
    f.node("indicators", "transform.convert_to_indicator_values", {"columns": ["cat_a", "cat_b"]}, {"data": "clean.data"})
    f.node("split", "transform.split_data", {"fraction": 0.8, "randomize": False}, {"data": "indicators.data"})
    f.node("boost", "model.boosted_decision_tree", {"trees": 100, "max_leaves": 31, "learning_rate": 0.1, "max_bins": 255})
    f.node("train", "train.train_model", {"label_column": "label"}, {"learner": "boost.learner", "data": "split.first"})
    f.node("score", "train.score_model", {}, {"model": "train.model", "data": "split.second"})
    f.node("evaluate", "evaluate.evaluate_model", {}, {"scored": "score.data"})
    return f


def w5() -> Flow:
    f = Flow("Benchmark W5: read cls_1m", "Import Data alone: read cls_1m into a table.")
    f.node("import", "data.import_data", {"path": "../data/cls_1m.csv"})
    return f


def w5_check() -> Flow:
    """Not timed: the row and null counts of what W5 reads, written to a CSV the harness reads back."""
    f = Flow(
        "Benchmark W5 check: counts of cls_1m",
        "Import Data, Summarize Data (count and missing per column), Export Data. Not timed: the harness "
        "compares the counts with pandas and polars.",
    )
    f.node("import", "data.import_data", {"path": "../data/cls_1m.csv"})
    f.node("summarize", "transform.summarize_data", {}, {"data": "import.data"})
    f.node("export", "data.export_data", {"path": "../out/w5_counts.csv", "format": "csv"}, {"data": "summarize.data"})
    return f


W6_CLASSIFICATION = ["iris", "wine", "breast_cancer"]


def w6() -> Flow:
    f = Flow(
        "Benchmark W6: 5-fold cross-validation on the scikit-learn datasets",
        "iris, wine and breast cancer (logistic regression after z-scoring, decision tree depth 5, decision "
        "forest 100 trees, kNN k 5, naive Bayes) and diabetes (linear regression, ridge alpha 1), each "
        "cross-validated on the folds of its fold column, as exported by bench/reference.py export-w6.",
        seed=0,
    )
    f.node("logistic_multiclass", "model.logistic_regression_multiclass", {"l2_weight": 1.0, "max_iterations": 100})
    f.node("logistic_two_class", "model.logistic_regression_two_class", {"l2_weight": 1.0, "max_iterations": 100})
    f.node("tree", "model.decision_tree", {"criterion": "gini", "max_depth": 5, "min_samples_leaf": 1})
    f.node("forest", "model.decision_forest", {"trees": 100, "max_depth": 64, "features_per_split": "sqrt", "seed": 0})
    f.node("knn", "model.knn_classifier", {"neighbors": 5, "weights": "uniform", "metric": "euclidean"})
    f.node("naive_bayes", "model.naive_bayes", {})
    f.node("linear", "model.linear_regression", {"l2_weight": 0.0})
    f.node("ridge", "model.linear_regression", {"l2_weight": 1.0})

    def cv(id: str, learner: str, data: str) -> None:
        f.node(
            id,
            "train.cross_validate_model",
            {"label_column": "target", "folds": 5, "stratified": True, "fold_column": "fold", "seed": 0},
            {"learner": f"{learner}.learner", "data": f"{data}.data"},
        )

    for name in W6_CLASSIFICATION + ["diabetes"]:
        f.node(f"import_{name}", "data.import_data", {"path": f"../data/w6/{name}.csv"})
        f.node(f"fold_{name}", "transform.edit_metadata", {"columns": ["fold"], "role": "ignored"}, {"data": f"import_{name}.data"})
        f.node(f"label_{name}", "transform.edit_metadata", {"columns": ["target"], "role": "label"}, {"data": f"fold_{name}.data"})
        if name == "diabetes":
            cv("cv_diabetes_linear", "linear", "label_diabetes")
            cv("cv_diabetes_ridge", "ridge", "label_diabetes")
            continue
        f.node(f"normalize_{name}", "transform.normalize_data", {"method": "zscore"}, {"data": f"label_{name}.data"})
        cv(f"cv_{name}_logistic", "logistic_two_class" if name == "breast_cancer" else "logistic_multiclass", f"normalize_{name}")
        for model in ("tree", "forest", "knn", "naive_bayes"):
            cv(f"cv_{name}_{model}", model, f"label_{name}")
    return f


def overhead(nodes: int = 200) -> Flow:
    """Executor overhead: iris, then a chain of cheap blocks, `nodes` in all."""
    f = Flow(
        f"Benchmark: executor overhead ({nodes} nodes)",
        f"The iris sample dataset followed by a chain of {nodes - 1} cheap blocks (alternately z-scoring and "
        "taking absolute values of the four measurements).",
        seed=0,
    )
    prev = f.node("n000", "data.sample_dataset", {"dataset": "iris"})
    for i in range(1, nodes):
        id = f"n{i:03d}"
        if i % 2:
            f.node(id, "transform.normalize_data", {"method": "zscore"}, {"data": f"{prev}.data"})
        else:
            f.node(id, "transform.apply_math_operation", {"operation": "abs"}, {"data": f"{prev}.data"})
        prev = id
    # A chain would otherwise be laid out as one 54,000-pixel row: wrap it into rows of 20.
    for i, n in enumerate(f.doc["nodes"]):
        n["position"] = [270.0 * (i % 20), 170.0 * (i // 20)]
    return f


FLOWS = {
    "w1": w1,
    "w2": w2,
    "w3": w3,
    "w4": w4,
    "w5": w5,
    "w5_check": w5_check,
    "w6": w6,
    "w7": w7,
    "overhead200": overhead,
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=HERE)
    args = p.parse_args()
    for name, make in FLOWS.items():
        make().write(args.out / f"{name}.flow.json")
        print(args.out / f"{name}.flow.json")


if __name__ == "__main__":
    main()
