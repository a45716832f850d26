#!/usr/bin/env python3
"""scikit-learn reference values for the anomaly-detection learners.

Reads ONLY assets/datasets/breast_cancer.csv and writes tests/fixtures/sklearn_anomaly.json
(indent 2, sorted keys).  The features are standardized over all rows (StandardScaler: mean and
population standard deviation) and "malignant" rows are the anomalies; every ROC AUC below scores
how well the anomaly score ranks malignant above benign.

- IsolationForest (100 trees, max_samples=256, random_state 0..19): AUC of -score_samples
  per seed and their mean.  Trees are random, and our generator is not numpy's, so the Rust test
  compares the mean AUC over seeds within a tolerance, never tree by tree.
- OneClassSVM (RBF, gamma="scale", nu=0.1 and 0.5, tol=1e-3): AUC of -decision_function, the
  fraction flagged as outliers, rho (= offset_) and the number of support vectors.
- PCA reconstruction error for 2 and 5 components: the per-row squared error of
  X - inverse_transform(transform(X)) and its AUC, which the Rust test matches to 1e-6.

Usage (from the repository root):  .venv/bin/python tests/reference/make_anomaly_fixtures.py
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
from sklearn.decomposition import PCA
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import StandardScaler
from sklearn.svm import OneClassSVM

ROOT = Path(__file__).resolve().parents[2]
CSV = ROOT / "assets" / "datasets" / "breast_cancer.csv"
OUT = ROOT / "tests" / "fixtures" / "sklearn_anomaly.json"
# One forest's AUC varies by about 0.03 between seeds, so the test compares means over many seeds.
SEEDS = 20


def main() -> None:
    frame = pd.read_csv(CSV)
    truth = (frame["diagnosis"] == "malignant").to_numpy()
    x = StandardScaler().fit_transform(frame.drop(columns=["diagnosis"]).to_numpy(dtype=float))

    forests = []
    for seed in range(SEEDS):
        model = IsolationForest(n_estimators=100, max_samples=256, random_state=seed).fit(x)
        forests.append(float(roc_auc_score(truth, -model.score_samples(x))))

    svms = []
    for nu in (0.1, 0.5):
        model = OneClassSVM(kernel="rbf", gamma="scale", nu=nu, tol=1e-3).fit(x)
        decision = model.decision_function(x)
        svms.append(
            {
                "nu": nu,
                "gamma": 1.0 / (x.shape[1] * x.var()),
                "roc_auc": float(roc_auc_score(truth, -decision)),
                "outlier_fraction": float(np.mean(model.predict(x) == -1)),
                "rho": float(model.offset_[0]),
                "support_vectors": int(len(model.support_)),
                "decision_head": [float(v) for v in decision[:10]],
            }
        )

    pcas = []
    for k in (2, 5):
        pca = PCA(n_components=k).fit(x)
        error = ((x - pca.inverse_transform(pca.transform(x))) ** 2).sum(axis=1)
        pcas.append({"components": k, "errors": [float(v) for v in error], "roc_auc": float(roc_auc_score(truth, error))})

    out = {
        "_meta": {
            "sklearn": sklearn.__version__,
            "numpy": np.__version__,
            "python": platform.python_version(),
            "breast_cancer_sha256": hashlib.sha256(CSV.read_bytes()).hexdigest(),
            "anomaly_class": "malignant",
            "standardization": "StandardScaler over all rows (population std)",
        },
        "isolation_forest": {"trees": 100, "max_samples": 256, "seeds": SEEDS, "roc_auc": forests, "mean_roc_auc": float(np.mean(forests))},
        "one_class_svm": svms,
        "pca": pcas,
    }
    OUT.write_text(json.dumps(out, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
