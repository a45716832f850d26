#!/usr/bin/env python3
"""scikit-learn reference values for the Lasso Regression and Elastic Net Regression blocks, and for the
Matthews correlation and balanced accuracy of Evaluate Model.

Reads ONLY the CSV files in assets/datasets/ and writes tests/fixtures/sklearn_penalized.json
(indent 2, sorted keys).  Every fixture object carries the settings that produced it.

- Lasso / ElasticNet on all rows of raw diabetes (10 features, label "progression"), fit_intercept=True,
  converged tightly (tol=1e-12, max_iter=1_000_000) so that any correct coordinate descent reaches the same
  optimum: coefficients and intercept.
- matthews_corrcoef and balanced_accuracy_score of fixed label vectors (two and three classes), with the
  confusion matrix (rows: actual, columns: predicted) the Rust test rebuilds them from.

Usage (from the repository root):  .venv/bin/python tests/reference/make_penalized_fixtures.py
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_v] = "1"

import hashlib
import json
import platform
from pathlib import Path

import numpy as np
import pandas as pd
import sklearn
from sklearn.linear_model import ElasticNet, Lasso
from sklearn.metrics import balanced_accuracy_score, confusion_matrix, matthews_corrcoef

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "assets" / "datasets"
OUT = ROOT / "tests" / "fixtures" / "sklearn_penalized.json"

TIGHT = {"tol": 1e-12, "max_iter": 1_000_000, "fit_intercept": True}


def penalized() -> dict:
    df = pd.read_csv(DATA / "diabetes.csv")
    y = df.pop("progression").to_numpy(dtype=float)
    x = df.to_numpy(dtype=float)
    out = {}
    cases = {
        "lasso_diabetes_alpha_0_5": (Lasso, {"alpha": 0.5}),
        "lasso_diabetes_alpha_5": (Lasso, {"alpha": 5.0}),
        "elastic_net_diabetes_alpha_0_5_l1_0_7": (ElasticNet, {"alpha": 0.5, "l1_ratio": 0.7}),
        "elastic_net_diabetes_alpha_0_05_l1_0_2": (ElasticNet, {"alpha": 0.05, "l1_ratio": 0.2}),
    }
    for name, (estimator, params) in cases.items():
        settings = {**TIGHT, **params}
        model = estimator(**settings).fit(x, y)
        out[name] = {
            "dataset": "diabetes.csv",
            "label": "progression",
            "features": list(df.columns),
            "estimator": estimator.__name__,
            "settings": settings,
            "coefficients": model.coef_.tolist(),
            "intercept": float(model.intercept_),
            "n_iter": int(model.n_iter_),
        }
    return out


def classification_metrics() -> dict:
    rng = np.random.default_rng(7)
    out = {}
    for name, k, n in [("two_classes", 2, 200), ("three_classes", 3, 300)]:
        actual = rng.integers(0, k, n)
        # Predictions right about two times in three, otherwise another class.
        predicted = np.where(rng.random(n) < 0.66, actual, (actual + rng.integers(1, k, n)) % k)
        out[name] = {
            "confusion": confusion_matrix(actual, predicted, labels=list(range(k))).tolist(),
            "mcc": float(matthews_corrcoef(actual, predicted)),
            "balanced_accuracy": float(balanced_accuracy_score(actual, predicted)),
        }
    return out


def main() -> None:
    fixtures = {
        **penalized(),
        "classification_metrics": classification_metrics(),
        "_meta": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "pandas": pd.__version__,
            "scikit-learn": sklearn.__version__,
            "inputs": {"diabetes.csv": hashlib.sha256((DATA / "diabetes.csv").read_bytes()).hexdigest()},
        },
    }
    OUT.write_text(json.dumps(fixtures, indent=2, sort_keys=True) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
