#!/usr/bin/env python3
"""scikit-learn reference values for the Neural Network, Neural Network Regression, One-vs-One
Multiclass and Fast Forest Quantile Regression blocks.

Reads ONLY the CSV files in assets/datasets/ and writes tests/fixtures/sklearn_extra.json
(indent 2, sorted keys).  Every fixture object carries the settings that produced it.

- Neural networks: MLPClassifier / MLPRegressor (solver "adam") scored on fixed 5-fold splits
  (StratifiedKFold / KFold, shuffle=True, random_state=0), features standardized with the training
  folds' mean and population standard deviation.  Our network draws its initial weights and shuffles
  from a different generator than numpy's, so single runs cannot agree weight for weight: each fixture
  averages the mean fold score over random_state 0..4 (`mean`), and records the spread over seeds.
  The fold test indices are written so that the Rust tests use the very same folds.
- One-vs-One: OneVsOneClassifier(LogisticRegression(C=1, lbfgs, tol=1e-10, max_iter=10000)) trained
  and scored on all rows of raw iris: the predicted classes and the training accuracy.
- Quantile forest: RandomForestRegressor(n_estimators=100, random_state=0) on the diabetes folds; its
  mean R² is the band centre for the quantile forest's median (a different estimator, so the band is loose).

Usage (from the repository root):  .venv/bin/python tests/reference/make_extra_fixtures.py
"""

from __future__ import annotations

import os

# Single-threaded BLAS/OpenMP so that results do not depend on the machine's core count.
for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_v] = "1"

import hashlib
import json
import platform
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import sklearn
from sklearn.ensemble import RandomForestRegressor
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.multiclass import OneVsOneClassifier
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.preprocessing import StandardScaler

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "assets" / "datasets"
OUT = ROOT / "tests" / "fixtures" / "sklearn_extra.json"
SEEDS = range(5)

# Settings shared by every network (scikit-learn's defaults where not overridden per fixture).
MLP_BASE = {
    "solver": "adam",
    "beta_1": 0.9,
    "beta_2": 0.999,
    "epsilon": 1e-8,
    "batch_size": "auto",
    "tol": 1e-4,
    "n_iter_no_change": 10,
    "shuffle": True,
    "early_stopping": False,
}


def read_csv(name: str) -> pd.DataFrame:
    return pd.read_csv(DATA / name, keep_default_na=False, na_values=[""])


def sha256(name: str) -> str:
    return hashlib.sha256((DATA / name).read_bytes()).hexdigest()


def split_label(df: pd.DataFrame):
    """Features (every column but the last) and the label (the last column)."""
    label = df.columns[-1]
    return df.drop(columns=[label]).to_numpy(dtype=float), df[label].to_numpy(), label


def folds_of(x, y, classify: bool):
    splitter = StratifiedKFold(5, shuffle=True, random_state=0) if classify else KFold(5, shuffle=True, random_state=0)
    return list(splitter.split(x, y) if classify else splitter.split(x))


def mlp_cv(name: str, classify: bool, settings: dict) -> dict:
    x, y, label = split_label(read_csv(name))
    folds = folds_of(x, y, classify)
    per_seed, epochs = [], []
    for seed in SEEDS:
        scores = []
        for train, test in folds:
            scaler = StandardScaler().fit(x[train])
            xtr, xte = scaler.transform(x[train]), scaler.transform(x[test])
            kind = MLPClassifier if classify else MLPRegressor
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                model = kind(**MLP_BASE, **settings, random_state=seed).fit(xtr, y[train])
            epochs.append(model.n_iter_)
            predicted = model.predict(xte)
            scores.append(accuracy_score(y[test], predicted) if classify else r2_score(y[test], predicted))
        per_seed.append(float(np.mean(scores)))
    return {
        "dataset": name,
        "label": label,
        "estimator": "MLPClassifier" if classify else "MLPRegressor",
        "settings": {**MLP_BASE, **{k: list(v) if isinstance(v, tuple) else v for k, v in settings.items()}},
        "seeds": list(SEEDS),
        "folds": "StratifiedKFold" if classify else "KFold",
        "standardized": "per training fold, population standard deviation",
        "test_indices": [sorted(int(i) for i in test) for _, test in folds],
        "metric": "accuracy" if classify else "r2",
        "mean_per_seed": per_seed,
        "mean": float(np.mean(per_seed)),
        "spread_over_seeds": float(np.std(per_seed)),
        "epochs_min_max": [int(min(epochs)), int(max(epochs))],
    }


def one_vs_one_iris() -> dict:
    x, y, label = split_label(read_csv("iris.csv"))
    y = y.astype(str)
    inner = LogisticRegression(C=1.0, solver="lbfgs", tol=1e-10, max_iter=10000)
    model = OneVsOneClassifier(inner).fit(x, y)
    predicted = model.predict(x)
    return {
        "dataset": "iris.csv",
        "label": label,
        "estimator": "OneVsOneClassifier(LogisticRegression(C=1, solver='lbfgs', tol=1e-10, max_iter=10000))",
        "trained_and_scored_on": "all rows, raw features",
        "classes": [str(c) for c in model.classes_],
        "predicted": [str(p) for p in predicted],
        "accuracy": float(accuracy_score(y, predicted)),
        "decision_first_rows": model.decision_function(x[:3]).tolist(),
    }


def forest_diabetes() -> dict:
    x, y, label = split_label(read_csv("diabetes.csv"))
    folds = folds_of(x, y, False)
    scores = []
    for train, test in folds:
        model = RandomForestRegressor(n_estimators=100, random_state=0).fit(x[train], y[train])
        scores.append(r2_score(y[test], model.predict(x[test])))
    return {
        "dataset": "diabetes.csv",
        "label": label,
        "estimator": "RandomForestRegressor(n_estimators=100, random_state=0), raw features",
        "folds": "KFold",
        "test_indices": [sorted(int(i) for i in test) for _, test in folds],
        "metric": "r2",
        "fold_scores": scores,
        "mean": float(np.mean(scores)),
    }


def main() -> None:
    files = ["iris.csv", "breast_cancer.csv", "diabetes.csv"]
    classifier = {"hidden_layer_sizes": (100,), "activation": "relu", "learning_rate_init": 0.001,
                  "alpha": 1e-4, "max_iter": 1000}
    fx = {
        "_meta": {
            "generator": "tests/reference/make_extra_fixtures.py",
            "python": platform.python_version(),
            "numpy": np.__version__, "pandas": pd.__version__,
            "scikit-learn": sklearn.__version__,
            "inputs_sha256": {f: sha256(f) for f in files},
        },
        "mlp_cv_iris": mlp_cv("iris.csv", True, classifier),
        "mlp_cv_breast_cancer": mlp_cv("breast_cancer.csv", True, classifier),
        "mlp_cv_diabetes_relu": mlp_cv("diabetes.csv", False, {
            "hidden_layer_sizes": (16,), "activation": "relu", "learning_rate_init": 0.01,
            "alpha": 10.0, "max_iter": 3000}),
        "mlp_cv_diabetes_tanh": mlp_cv("diabetes.csv", False, {
            "hidden_layer_sizes": (8,), "activation": "tanh", "learning_rate_init": 0.01,
            "alpha": 1.0, "max_iter": 3000}),
        "one_vs_one_iris": one_vs_one_iris(),
        "forest_cv_diabetes": forest_diabetes(),
    }
    text = json.dumps(fx, indent=2, sort_keys=True, allow_nan=False) + "\n"
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUT.relative_to(ROOT)} ({len(text)} bytes)", file=sys.stderr)
    for k, v in fx.items():
        if "mean" in v:
            print(k, v["mean"], v.get("spread_over_seeds", ""), v.get("epochs_min_max", ""), file=sys.stderr)
    print("one_vs_one accuracy", fx["one_vs_one_iris"]["accuracy"], file=sys.stderr)


if __name__ == "__main__":
    main()
