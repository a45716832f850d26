#!/usr/bin/env python3
"""scikit-learn reference values for the boosted-tree, DBSCAN, hierarchical clustering and
Gaussian mixture blocks.

Reads ONLY the CSV files in assets/datasets/ and writes tests/fixtures/sklearn_learners.json
(indent 2, sorted keys).  Every fixture object carries the settings that produced it.

- Boosted trees: HistGradientBoostingClassifier / Regressor (early_stopping=False) scored on fixed
  5-fold splits (StratifiedKFold / KFold, shuffle=True, random_state=0), features standardized with
  the training folds' mean and population standard deviation.  The fold test indices are written
  so that the Rust tests use the very same folds.
- Clustering: DBSCAN, AgglomerativeClustering (ward, complete, average) and GaussianMixture
  (full, diag) on iris standardized over all rows; the labels are written, and for the mixtures
  the mean log-likelihood (GaussianMixture.score).

Usage (from the repository root):  .venv/bin/python tests/reference/make_learner_fixtures.py
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
from pathlib import Path

import numpy as np
import pandas as pd
import scipy
import sklearn
from sklearn.cluster import DBSCAN, AgglomerativeClustering
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.metrics import accuracy_score, adjusted_rand_score, r2_score
from sklearn.mixture import GaussianMixture
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.preprocessing import StandardScaler

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "assets" / "datasets"
OUT = ROOT / "tests" / "fixtures" / "sklearn_learners.json"

BOOSTING = {
    "learning_rate": 0.1,
    "max_iter": 100,
    "max_leaf_nodes": 31,
    "max_depth": None,
    "min_samples_leaf": 20,
    "l2_regularization": 0.0,
    "max_bins": 255,
    "early_stopping": False,
    "random_state": 0,
}


def read_csv(name: str) -> pd.DataFrame:
    return pd.read_csv(DATA / name, keep_default_na=False, na_values=[""])


def sha256(name: str) -> str:
    return hashlib.sha256((DATA / name).read_bytes()).hexdigest()


def split_label(df: pd.DataFrame):
    """Features (every column but the last) and the label (the last column)."""
    label = df.columns[-1]
    return df.drop(columns=[label]).to_numpy(dtype=float), df[label].to_numpy(), label


def boosting_cv(name: str, classify: bool) -> dict:
    x, y, label = split_label(read_csv(name))
    folds = (StratifiedKFold(5, shuffle=True, random_state=0).split(x, y) if classify
             else KFold(5, shuffle=True, random_state=0).split(x))
    scores, test_indices = [], []
    for train, test in folds:
        scaler = StandardScaler().fit(x[train])
        xtr, xte = scaler.transform(x[train]), scaler.transform(x[test])
        if classify:
            model = HistGradientBoostingClassifier(**BOOSTING).fit(xtr, y[train])
            scores.append(accuracy_score(y[test], model.predict(xte)))
        else:
            model = HistGradientBoostingRegressor(**BOOSTING).fit(xtr, y[train])
            scores.append(r2_score(y[test], model.predict(xte)))
        test_indices.append(sorted(int(i) for i in test))
    return {
        "dataset": name,
        "label": label,
        "settings": {k: v for k, v in BOOSTING.items()},
        "folds": "StratifiedKFold" if classify else "KFold",
        "standardized": "per training fold, population standard deviation",
        "test_indices": test_indices,
        "metric": "accuracy" if classify else "r2",
        "fold_scores": scores,
        "mean": float(np.mean(scores)),
    }


def boosting_in_sample(name: str) -> dict:
    x, y, label = split_label(read_csv(name))
    model = HistGradientBoostingClassifier(**BOOSTING).fit(x, y)
    return {"dataset": name, "label": label, "settings": BOOSTING,
            "training_accuracy": accuracy_score(y, model.predict(x))}


def clustering() -> dict:
    x, _, _ = split_label(read_csv("iris.csv"))
    x = StandardScaler().fit_transform(x)
    out = {"data": "iris.csv features, standardized over all rows (population sd)"}
    db = DBSCAN(eps=0.5, min_samples=5).fit(x)
    out["dbscan"] = {"eps": 0.5, "min_samples": 5, "labels": db.labels_.tolist(),
                     "core_rows": db.core_sample_indices_.tolist()}
    for linkage in ("ward", "complete", "average"):
        model = AgglomerativeClustering(n_clusters=3, linkage=linkage).fit(x)
        out[f"agglomerative_{linkage}"] = {"clusters": 3, "linkage": linkage,
                                           "labels": model.labels_.tolist()}
    for covariance in ("full", "diag"):
        gm = GaussianMixture(n_components=3, covariance_type=covariance, init_params="k-means++",
                             n_init=10, tol=1e-6, max_iter=1000, reg_covar=1e-6,
                             random_state=0).fit(x)
        assert gm.converged_
        out[f"gmm_{covariance}"] = {
            "components": 3, "covariance": covariance, "init": "k-means++", "n_init": 10,
            "tol": 1e-6, "max_iter": 1000, "reg_covar": 1e-6,
            "labels": gm.predict(x).tolist(),
            "mean_log_likelihood": float(gm.score(x)),
        }
    return out


def main() -> None:
    files = ["iris.csv", "wine.csv", "breast_cancer.csv", "diabetes.csv"]
    fx = {
        "_meta": {
            "generator": "tests/reference/make_learner_fixtures.py",
            "python": platform.python_version(),
            "numpy": np.__version__, "pandas": pd.__version__, "scipy": scipy.__version__,
            "scikit-learn": sklearn.__version__,
            "inputs_sha256": {f: sha256(f) for f in files},
        },
        "boosting_cv_iris": boosting_cv("iris.csv", True),
        "boosting_cv_wine": boosting_cv("wine.csv", True),
        "boosting_cv_breast_cancer": boosting_cv("breast_cancer.csv", True),
        "boosting_cv_diabetes": boosting_cv("diabetes.csv", False),
        "boosting_breast_cancer_in_sample": boosting_in_sample("breast_cancer.csv"),
        "clustering_iris_scaled": clustering(),
    }
    c = fx["clustering_iris_scaled"]
    assert adjusted_rand_score(c["gmm_full"]["labels"], c["gmm_full"]["labels"]) == 1.0
    text = json.dumps(fx, indent=2, sort_keys=True, allow_nan=False) + "\n"
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUT.relative_to(ROOT)} ({len(text)} bytes)", file=sys.stderr)
    for k, v in fx.items():
        if k.startswith("boosting_cv"):
            print(k, v["mean"], file=sys.stderr)
    print("dbscan clusters", sorted(set(c["dbscan"]["labels"])), file=sys.stderr)
    print("gmm", c["gmm_full"]["mean_log_likelihood"], c["gmm_diag"]["mean_log_likelihood"],
          file=sys.stderr)


if __name__ == "__main__":
    main()
