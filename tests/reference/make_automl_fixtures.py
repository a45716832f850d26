#!/usr/bin/env python3
"""scikit-learn's best model of each learner family, for Train Best Model's leaderboard (`tests/automl.rs`).

Reads ONLY assets/datasets/*.csv and writes tests/fixtures/sklearn_automl.json (indent 1, sorted keys). For
breast cancer (two classes, accuracy) and diabetes (values, R^2), on the standardized features: each family
that Pipewright has a learner for is searched the way a scikit-learn user would, RandomizedSearchCV with
`n_iter` settings (the family's defaults plus random draws) over its usual ranges, scored by 5-fold
cross-validation (stratified for classification, shuffled with random_state=0). The entry is the best
setting's mean and standard deviation over the folds, keyed by the Pipewright learner of the same family.
The test checks that the learner at the top of Pipewright's leaderboard scores within the spread of this
best scikit-learn model of its family.

Deterministic: single-threaded BLAS/OpenMP, fixed random states.

Usage (from anywhere):  python tests/reference/make_automl_fixtures.py
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_v] = "1"

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import sklearn
from scipy.stats import loguniform, randint, uniform
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor, RandomForestClassifier, RandomForestRegressor
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import ElasticNet, Lasso, LinearRegression, LogisticRegression, Perceptron, PoissonRegressor
from sklearn.base import clone
from sklearn.model_selection import KFold, RandomizedSearchCV, StratifiedKFold, cross_val_score
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

ROOT = Path(__file__).resolve().parents[2]
N_ITER = 10

CLASSIFIERS = {
    "model.logistic_regression_two_class": (LogisticRegression(max_iter=2000), {"C": loguniform(1e-3, 1e3)}),
    "model.decision_tree": (DecisionTreeClassifier(random_state=0), {"max_depth": randint(1, 21), "min_samples_leaf": randint(1, 21)}),
    "model.decision_forest": (RandomForestClassifier(random_state=0), {"n_estimators": randint(10, 301), "max_depth": randint(2, 33), "min_samples_leaf": randint(1, 21)}),
    "model.boosted_decision_tree": (HistGradientBoostingClassifier(random_state=0), {"max_leaf_nodes": randint(4, 129), "min_samples_leaf": randint(1, 101), "learning_rate": loguniform(0.01, 0.5), "max_iter": randint(20, 501)}),
    "model.linear_svm": (LinearSVC(max_iter=10000), {"C": loguniform(1e-3, 1e3)}),
    "model.naive_bayes": (GaussianNB(), {"var_smoothing": loguniform(1e-12, 1e-3)}),
    "model.knn_classifier": (KNeighborsClassifier(), {"n_neighbors": randint(1, 51)}),
    "model.neural_network": (MLPClassifier(max_iter=1000, random_state=0), {"hidden_layer_sizes": randint(10, 201), "alpha": loguniform(1e-5, 1e-1)}),
    "model.averaged_perceptron": (Perceptron(random_state=0), {"eta0": loguniform(1e-3, 1.0), "max_iter": randint(5, 101)}),
}

REGRESSORS = {
    "model.linear_regression": (LinearRegression(), {"fit_intercept": [True]}),
    "model.lasso_regression": (Lasso(max_iter=10000), {"alpha": loguniform(1e-4, 10)}),
    "model.elastic_net_regression": (ElasticNet(max_iter=10000), {"alpha": loguniform(1e-4, 10), "l1_ratio": uniform(0, 1)}),
    "model.decision_forest_regression": (RandomForestRegressor(random_state=0), {"n_estimators": randint(10, 301), "max_depth": randint(2, 33), "min_samples_leaf": randint(1, 21)}),
    "model.boosted_decision_tree_regression": (HistGradientBoostingRegressor(random_state=0), {"max_leaf_nodes": randint(4, 129), "min_samples_leaf": randint(1, 101), "learning_rate": loguniform(0.01, 0.5), "max_iter": randint(20, 501)}),
    "model.knn_regression": (KNeighborsRegressor(), {"n_neighbors": randint(1, 51)}),
    "model.neural_network_regression": (MLPRegressor(max_iter=2000, random_state=0), {"hidden_layer_sizes": randint(10, 201), "alpha": loguniform(1e-5, 1e-1)}),
    "model.poisson_regression": (PoissonRegressor(max_iter=1000), {"alpha": loguniform(1e-4, 10)}),
}


def search(estimator, ranges, x, y, folds, scoring):
    """The best setting's mean and standard deviation over the folds: the family's defaults or one of `N_ITER`
    random draws, as RandomizedSearchCV measures them."""
    pipeline = make_pipeline(StandardScaler(), estimator)
    name = pipeline.steps[-1][0]
    distributions = {f"{name}__{k}": v for k, v in ranges.items()}
    result = RandomizedSearchCV(pipeline, distributions, n_iter=N_ITER, cv=folds, scoring=scoring, random_state=0, error_score=np.nan)
    result.fit(x, y)
    defaults = cross_val_score(clone(pipeline), x, y, cv=folds, scoring=scoring)
    means = np.append(result.cv_results_["mean_test_score"], np.mean(defaults))
    stds = np.append(result.cv_results_["std_test_score"], np.std(defaults))
    best = int(np.nanargmax(means))
    return {"mean": float(means[best]), "std": float(stds[best])}


def main() -> None:
    warnings.simplefilter("ignore", ConvergenceWarning)
    out = {"_meta": {"sklearn": sklearn.__version__, "numpy": np.__version__, "n_iter": N_ITER, "folds": 5}}
    cancer = pd.read_csv(ROOT / "assets/datasets/breast_cancer.csv")
    y = cancer.pop("target") if "target" in cancer else cancer.pop(cancer.columns[-1])
    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    out["breast_cancer"] = {
        "label": y.name,
        "metric": "accuracy",
        "families": {kind: search(est, ranges, cancer, y, folds, "accuracy") for kind, (est, ranges) in CLASSIFIERS.items()},
    }
    diabetes = pd.read_csv(ROOT / "assets/datasets/diabetes.csv")
    y = diabetes.pop("target") if "target" in diabetes else diabetes.pop(diabetes.columns[-1])
    folds = KFold(5, shuffle=True, random_state=0)
    out["diabetes"] = {
        "label": y.name,
        "metric": "r2",
        "families": {kind: search(est, ranges, diabetes, y, folds, "r2") for kind, (est, ranges) in REGRESSORS.items()},
    }
    path = ROOT / "tests/fixtures/sklearn_automl.json"
    path.write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
