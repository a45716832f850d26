#!/usr/bin/env python3
"""Compute scikit-learn reference values for Pipewright's tests.

Reads ONLY the CSV files in assets/datasets/ and writes
tests/fixtures/sklearn_reference.json (indent 2, sorted keys, floats written with
Python's repr, i.e. the shortest text that round-trips to the same float64).

Every fixture object carries the settings that produced it.  Pipewright's own
deterministic pieces (SplitMix64, Split Data, z-score, min-max, one-hot, the
imputation statistics) are reimplemented here exactly, so those values should match
Pipewright to the last few ulps; fitted models (lbfgs, k-means, random forests)
should be compared with a tolerance (see tests/reference/README.md).

Usage (from anywhere):  python tests/reference/make_fixtures.py
"""

from __future__ import annotations

import os

# Single-threaded BLAS/OpenMP so that results do not depend on the machine's core
# count (set before numpy/sklearn are imported).
for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_v] = "1"

import hashlib
import json
import math
import platform
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import scipy
import sklearn
from sklearn.cluster import KMeans
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    log_loss,
    mean_absolute_error,
    mean_squared_error,
    precision_score,
    r2_score,
    recall_score,
    roc_auc_score,
    silhouette_score,
)
from sklearn.preprocessing import StandardScaler

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "assets" / "datasets"
OUT = ROOT / "tests" / "fixtures" / "sklearn_reference.json"

M64 = (1 << 64) - 1

# Any convergence problem of an estimator is an error, not a warning.
warnings.simplefilter("error", ConvergenceWarning)


# --------------------------------------------------------------------------- helpers


def read_csv(name: str) -> pd.DataFrame:
    """Read a bundled CSV: only empty cells are missing (no "NA"/"null" magic)."""
    df = pd.read_csv(DATA / name, keep_default_na=False, na_values=[""])
    # Plain object dtype for text columns (pandas >= 3 defaults to StringDtype).
    for c in df.columns:
        if not pd.api.types.is_numeric_dtype(df[c]):
            df[c] = df[c].astype(object).where(df[c].notna(), None)
    return df


def sha256(name: str) -> str:
    return hashlib.sha256((DATA / name).read_bytes()).hexdigest()


def jsonable(x):
    """Recursively convert numpy / pandas values into plain JSON values."""
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return [jsonable(v) for v in x.tolist()]
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        f = float(x)
        assert math.isfinite(f), f"non-finite value {f}"
        return f
    if x is None or isinstance(x, str):
        return x
    raise TypeError(f"cannot serialise {type(x)}: {x!r}")


# ------------------------------------------------------------- SplitMix64 + Split Data


class SplitMix64:
    """Pipewright's deterministic RNG (all arithmetic mod 2**64)."""

    def __init__(self, seed: int):
        self.state = seed & M64

    def next_u64(self) -> int:
        self.state = (self.state + 0x9E3779B97F4A7C15) & M64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
        return z ^ (z >> 31)


def fisher_yates(items: list[int], rng: SplitMix64) -> list[int]:
    perm = list(items)
    for i in range(len(perm) - 1, 0, -1):
        j = rng.next_u64() % (i + 1)
        perm[i], perm[j] = perm[j], perm[i]
    return perm


GOLDEN = 0x9E3779B97F4A7C15


def mix(z: int) -> int:
    """SplitMix64's output function."""
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def keyed_f64(seed: int, words) -> float:
    """pipewright_engine::rng::keyed_f64: a uniform draw from a seed and a few words."""
    state = mix((seed + GOLDEN) & M64)
    for w in words:
        state = mix(state ^ ((w + GOLDEN) & M64))
    return (state >> 11) * (1.0 / (1 << 53))


def split_rows(n: int, fraction: float, seed: int, labels=None):
    """Split Data (RowSampler in nodes/src/transform/split.rs): row j of stratum s (strata numbered in
    order of first appearance) is taken when keyed_f64(seed, [s, j]) < fraction*(j+1) - taken.
    labels: None (not stratified) or a sequence of n label values."""
    strata: dict = {}  # key -> [number, seen, taken]
    first: list[int] = []
    second: list[int] = []
    for i in range(n):
        if labels is None:
            key = None
        else:
            v = labels[i]
            key = None if (v is None or (isinstance(v, float) and math.isnan(v))) else str(v)
        st = strata.setdefault(key, [len(strata), 0, 0])
        share = fraction * float(st[1] + 1) - float(st[2])
        take = keyed_f64(seed, [st[0], st[1]]) < share
        st[1] += 1
        st[2] += int(take)
        (first if take else second).append(i)
    group_counts = None
    if labels is not None:
        group_counts = [{"label": key, "rows": seen, "first": taken, "second": seen - taken}
                        for key, (_, seen, taken) in strata.items()]
    # self-checks: a partition, every stratum within one row of its share
    assert len(first) + len(second) == n
    assert sorted(first + second) == list(range(n))
    for _, seen, taken in strata.values():
        assert abs(taken - fraction * seen) < 1.0
    return first, second, group_counts


def split_fixture(name, n, fraction, seed, labels=None, stratify_column=None):
    first, second, groups = split_rows(n, fraction, seed, labels)
    out = {
        "dataset": name,
        "rows": n,
        "fraction": fraction,
        "seed": seed,
        "stratify_column": stratify_column,
        "first": first,
        "second": second,
        "first_count": len(first),
        "second_count": len(second),
    }
    if groups is not None:
        out["groups"] = groups
    return out


# ------------------------------------------------------------------- transformations


def zscore_stats(x: np.ndarray) -> tuple[float, float]:
    x = np.asarray(x, dtype=np.float64)
    return float(np.mean(x)), float(np.std(x, ddof=0))


def zscore(df: pd.DataFrame, cols) -> tuple[pd.DataFrame, dict]:
    df = df.copy()
    stats = {}
    for c in cols:
        x = df[c].to_numpy(dtype=np.float64)
        assert not np.isnan(x).any(), f"z-score input {c} has missing values"
        mean, std = zscore_stats(x)
        df[c] = (x - mean) / std if std != 0.0 else np.zeros_like(x)
        stats[c] = {"mean": mean, "std": std}
    return df, stats


def one_hot(df: pd.DataFrame, col: str) -> tuple[pd.DataFrame, list[str]]:
    """Replace text column `col` (in place) by `col_<value>` 0/1 float columns."""
    values = sorted({v for v in df[col] if v is not None})
    new_cols = [f"{col}_{v}" for v in values]
    pos = list(df.columns).index(col)
    parts = {nc: (df[col] == v).astype(np.float64).to_numpy() for nc, v in zip(new_cols, values)}
    left = df.iloc[:, :pos]
    right = df.iloc[:, pos + 1:]
    out = pd.concat([left, pd.DataFrame(parts, index=df.index), right], axis=1)
    assert list(out.columns) == list(df.columns[:pos]) + new_cols + list(df.columns[pos + 1:])
    return out, new_cols


def pandas_mode(s: pd.Series):
    m = s.dropna().mode()
    return m.iloc[0]


def dropna_reset(df: pd.DataFrame) -> pd.DataFrame:
    return df.dropna().reset_index(drop=True)


# ---------------------------------------------------------------------------- models

LOGREG_SETTINGS = {
    "C": 1.0,
    "penalty": "l2",
    "solver": "lbfgs",
    "fit_intercept": True,
    "max_iter": 10000,
    "tol": 1e-10,
    "objective": "sum_i -log p(y_i|x_i) + ||W||_F^2 / (2C); intercept not penalised; "
                 "binary: one weight vector for the positive (second sorted) class; "
                 ">2 classes: multinomial softmax with one weight vector per class",
}


def make_logreg() -> LogisticRegression:
    # `penalty` is deprecated in sklearn >= 1.8; l1_ratio=0 is the l2 penalty.
    return LogisticRegression(C=1.0, l1_ratio=0.0, solver="lbfgs", fit_intercept=True,
                              max_iter=10000, tol=1e-10)


def logreg_diagnostics(model: LogisticRegression, X: np.ndarray, y) -> dict:
    """Objective value and gradient norm at the solution (checks convergence)."""
    classes = list(model.classes_)
    W = model.coef_  # (1 or K, p)
    b = model.intercept_
    Y = np.array([classes.index(v) for v in y])
    n = X.shape[0]
    if len(classes) == 2:
        z = X @ W[0] + b[0]
        t = (Y == 1).astype(np.float64)
        # log(1 + exp(z)) - t z, stably
        nll = float(np.sum(np.logaddexp(0.0, z) - t * z))
        p = 1.0 / (1.0 + np.exp(-z))
        g_w = X.T @ (p - t) + W[0] / model.C
        g_b = np.array([np.sum(p - t)])
    else:
        Z = X @ W.T + b
        lse = np.logaddexp.reduce(Z, axis=1)
        nll = float(np.sum(lse - Z[np.arange(n), Y]))
        P = np.exp(Z - lse[:, None])
        T = np.zeros_like(P)
        T[np.arange(n), Y] = 1.0
        g_w = (P - T).T @ X + W / model.C
        g_b = np.sum(P - T, axis=0)
    obj = nll + float(np.sum(W * W)) / (2.0 * model.C)
    grad_max = float(max(np.max(np.abs(g_w)), np.max(np.abs(g_b))))
    # A converged fit has a gradient that is tiny compared with the objective's scale.
    assert grad_max < 1e-4 * max(1.0, n), f"logistic regression not converged: {grad_max}"
    return {"objective": obj, "gradient_max_abs": grad_max,
            "n_iter": int(np.max(model.n_iter_))}


def fit_logreg(X: np.ndarray, y) -> tuple[LogisticRegression, dict]:
    model = make_logreg().fit(X, y)
    assert int(np.max(model.n_iter_)) < 10000
    return model, logreg_diagnostics(model, X, y)


def coef_dict(model, columns) -> dict:
    """Coefficients by column name; multiclass -> {class: {column: value}}."""
    W = np.atleast_2d(model.coef_)
    if W.shape[0] == 1:
        return dict(zip(columns, W[0]))
    return {cls: dict(zip(columns, W[i])) for i, cls in enumerate(model.classes_)}


def binary_metrics(y_true, proba_pos, y_pred, pos) -> dict:
    y_true = np.asarray(y_true, dtype=object)
    y_pred = np.asarray(y_pred, dtype=object)
    yt = (y_true == pos).astype(int)
    p2 = np.column_stack([1.0 - proba_pos, proba_pos])
    return {
        "accuracy": accuracy_score(y_true, y_pred),
        "precision": precision_score(y_true, y_pred, pos_label=pos, zero_division=0),
        "recall": recall_score(y_true, y_pred, pos_label=pos, zero_division=0),
        "f1": f1_score(y_true, y_pred, pos_label=pos, zero_division=0),
        "roc_auc": roc_auc_score(yt, proba_pos),
        "log_loss": log_loss(yt, p2, labels=[0, 1]),
    }


def multiclass_metrics(y_true, proba, y_pred, classes) -> dict:
    y_true = np.asarray(y_true, dtype=object)
    return {
        "accuracy": accuracy_score(y_true, y_pred),
        "precision_macro": precision_score(y_true, y_pred, labels=classes, average="macro",
                                           zero_division=0),
        "recall_macro": recall_score(y_true, y_pred, labels=classes, average="macro",
                                     zero_division=0),
        "f1_macro": f1_score(y_true, y_pred, labels=classes, average="macro", zero_division=0),
        "log_loss": log_loss(y_true, proba, labels=classes),
        "roc_auc_ovr_macro": roc_auc_score(y_true, proba, labels=classes, multi_class="ovr",
                                           average="macro"),
    }


def regression_metrics(y, p) -> dict:
    y = np.asarray(y, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    ybar = float(np.mean(y))
    rae = float(np.sum(np.abs(y - p)) / np.sum(np.abs(y - ybar)))
    rse = float(np.sum((y - p) ** 2) / np.sum((y - ybar) ** 2))
    out = {
        "mae": mean_absolute_error(y, p),
        "rmse": math.sqrt(mean_squared_error(y, p)),
        "r2": r2_score(y, p),
        "relative_absolute_error": rae,
        "relative_squared_error": rse,
    }
    assert abs(out["r2"] - (1.0 - rse)) < 1e-12
    return out


RF_SETTINGS = {"n_estimators": 100, "max_features": "sqrt", "bootstrap": True,
               "min_samples_leaf": 1, "max_depth": None, "criterion": "gini",
               "random_state": list(range(10))}


def rf_summary(Xtr, ytr, Xte, yte, pos=None) -> dict:
    accs, aucs = [], []
    for rs in range(10):
        rf = RandomForestClassifier(n_estimators=100, max_features="sqrt", bootstrap=True,
                                    min_samples_leaf=1, max_depth=None, random_state=rs)
        rf.fit(Xtr, ytr)
        accs.append(accuracy_score(yte, rf.predict(Xte)))
        if pos is not None:
            col = list(rf.classes_).index(pos)
            aucs.append(roc_auc_score((np.asarray(yte, dtype=object) == pos).astype(int),
                                      rf.predict_proba(Xte)[:, col]))
    out = {"settings": RF_SETTINGS,
           "accuracy": {"mean": float(np.mean(accs)), "min": min(accs), "max": max(accs),
                        "per_seed": accs}}
    if pos is not None:
        out["roc_auc"] = {"mean": float(np.mean(aucs)), "min": min(aucs), "max": max(aucs),
                          "per_seed": aucs}
    return out


# -------------------------------------------------------------------------- fixtures

IRIS_X = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
DIABETES_X = ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]
PENGUIN_NUM = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g", "year"]


def fx_splitmix() -> dict:
    out = {}
    for seed in (0, 1, 42, 1234567):
        r = SplitMix64(seed)
        out[str(seed)] = [r.next_u64() for _ in range(5)]
    # Published SplitMix64 test vector (seed 1234567), so the Python port is checked.
    assert out["1234567"] == [6457827717110365317, 3203168211198807973, 9817491932198370423,
                              4593380528125082431, 16408922859458223821], out["1234567"]
    return {"description": "first 5 outputs of next_u64() for each seed (as integers; "
                           "values >= 2**53 need exact u64 parsing)",
            "outputs": out}


def fx_splits(iris: pd.DataFrame, penguins: pd.DataFrame) -> dict:
    out = {
        "split_iris_f0.7_s42": split_fixture("iris.csv", len(iris), 0.7, 42),
        "split_iris_strat_f0.7_s42": split_fixture(
            "iris.csv", len(iris), 0.7, 42, list(iris["species"]), "species"),
    }
    clean = dropna_reset(penguins)
    fx = split_fixture("penguins.csv", len(clean), 0.7, 7, list(clean["species"]), "species")
    fx["preprocessing"] = "drop every row with any missing value (pandas dropna), reset index"
    out["split_penguins_strat_f0.7_s7"] = fx
    return out


def fx_normalize_iris(iris: pd.DataFrame) -> dict:
    per_col, z3, mm3 = {}, {}, {}
    for c in IRIS_X:
        x = iris[c].to_numpy(dtype=np.float64)
        mean, std = zscore_stats(x)
        lo, hi = float(np.min(x)), float(np.max(x))
        per_col[c] = {"mean": mean, "std": std, "min": lo, "max": hi}
        z3[c] = list((x[:3] - mean) / std)
        mm3[c] = list((x[:3] - lo) / (hi - lo))
        # cross-check with sklearn's StandardScaler (also population std)
        ss = StandardScaler().fit(x.reshape(-1, 1))
        assert abs(ss.mean_[0] - mean) < 1e-12 and abs(ss.scale_[0] - std) < 1e-12
    return {"dataset": "iris.csv", "columns": IRIS_X,
            "zscore": "(x - mean) / std, std with ddof=0, stats over the whole table",
            "minmax": "(x - min) / (max - min)",
            "stats": per_col, "zscore_first3_rows": z3, "minmax_first3_rows": mm3}


def fx_clean_penguins(penguins: pd.DataFrame) -> dict:
    stats = {}
    for c in PENGUIN_NUM:
        s = penguins[c].dropna().astype(np.float64)
        stats[c] = {"mean": float(s.mean()), "median": float(s.median()),
                    "mode": float(pandas_mode(s))}
    clean = dropna_reset(penguins)
    return {"dataset": "penguins.csv",
            "rows": len(penguins),
            "numeric_columns": PENGUIN_NUM,
            "numeric_stats_of_non_missing": stats,
            "mode_rule": "most frequent value, ties -> smallest (pandas .mode()[0])",
            "sex_mode": pandas_mode(penguins["sex"]),
            "missing_count": {c: int(penguins[c].isna().sum()) for c in penguins.columns},
            "rows_with_any_missing": int(penguins.isna().any(axis=1).sum()),
            "rows_after_dropping_any_missing": len(clean)}


def fx_diabetes_full(diab: pd.DataFrame) -> dict:
    X = diab[DIABETES_X].to_numpy(dtype=np.float64)
    y = diab["progression"].to_numpy(dtype=np.float64)
    out = {}
    for key, model, desc in [
        ("linreg_diabetes_full", LinearRegression(), {"model": "LinearRegression (OLS)"}),
        ("ridge_diabetes_full", Ridge(alpha=1.0),
         {"model": "Ridge", "alpha": 1.0,
          "objective": "||y - Xw - b||^2 + alpha ||w||^2, intercept not penalised"}),
    ]:
        model.fit(X, y)
        out[key] = {"dataset": "diabetes.csv", "features": DIABETES_X, "label": "progression",
                    "fit_intercept": True, **desc,
                    "coef": dict(zip(DIABETES_X, model.coef_)),
                    "intercept": float(model.intercept_),
                    "r2_train": r2_score(y, model.predict(X))}
    return out


def fx_logreg_breast_cancer(bc: pd.DataFrame) -> dict:
    feats = [c for c in bc.columns if c != "diagnosis"]
    assert len(feats) == 30
    X = StandardScaler().fit_transform(bc[feats].to_numpy(dtype=np.float64))
    y = list(bc["diagnosis"])
    model, diag = fit_logreg(X, y)
    assert list(model.classes_) == ["benign", "malignant"]
    pos_col = 1  # malignant
    proba = model.predict_proba(X)[:, pos_col]
    return {"dataset": "breast_cancer.csv", "features": feats, "label": "diagnosis",
            "positive_class": "malignant", "classes": list(model.classes_),
            "preprocessing": "StandardScaler on all 30 features over the whole table "
                             "(= z-score with ddof=0)",
            "model": "LogisticRegression", "settings": LOGREG_SETTINGS,
            "coef": coef_dict(model, feats), "intercept": float(model.intercept_[0]),
            "proba_malignant_first5_rows": list(proba[:5]),
            "log_loss_train": log_loss([int(v == "malignant") for v in y],
                                       np.column_stack([1 - proba, proba]), labels=[0, 1]),
            "accuracy_train": accuracy_score(y, model.predict(X)),
            "convergence": diag}


def fx_logreg_iris(iris: pd.DataFrame) -> dict:
    X = iris[IRIS_X].to_numpy(dtype=np.float64)
    y = list(iris["species"])
    model, diag = fit_logreg(X, y)
    classes = list(model.classes_)
    assert classes == ["setosa", "versicolor", "virginica"]
    P = model.predict_proba(X)
    return {"dataset": "iris.csv", "features": IRIS_X, "label": "species",
            "preprocessing": "none (raw features)",
            "model": "LogisticRegression (multinomial)", "settings": LOGREG_SETTINGS,
            "classes": classes,
            "coef": coef_dict(model, IRIS_X), "intercept": dict(zip(classes, model.intercept_)),
            "predict_proba_rows": {str(r): list(P[r]) for r in (0, 50, 100)},
            "log_loss_train": log_loss(y, P, labels=classes),
            "accuracy_train": accuracy_score(y, model.predict(X)),
            "convergence": diag}


def fx_kmeans_iris(iris: pd.DataFrame) -> dict:
    z, stats = zscore(iris, IRIS_X)
    X = z[IRIS_X].to_numpy(dtype=np.float64)
    km = KMeans(n_clusters=3, n_init=10, random_state=0).fit(X)
    labels = km.labels_
    inertia_check = float(sum(np.sum((X[labels == k] - km.cluster_centers_[k]) ** 2)
                              for k in range(3)))
    assert abs(inertia_check - km.inertia_) < 1e-8 * km.inertia_
    centers = sorted(map(list, km.cluster_centers_))
    return {"dataset": "iris.csv", "features": IRIS_X,
            "preprocessing": "z-score all 4 features over the whole table (ddof=0)",
            "model": "KMeans", "settings": {"n_clusters": 3, "n_init": 10, "random_state": 0,
                                            "algorithm": "lloyd", "init": "k-means++"},
            "inertia": float(km.inertia_),
            "silhouette": float(silhouette_score(X, labels, metric="euclidean")),
            "cluster_sizes_sorted": sorted(int(v) for v in np.bincount(labels)),
            "centers_sorted": centers}


def fx_example_regression(diab: pd.DataFrame) -> dict:
    z, stats = zscore(diab, DIABETES_X)
    first, second, _ = split_rows(len(z), 0.8, 1)
    Xtr = z.loc[first, DIABETES_X].to_numpy(dtype=np.float64)
    ytr = z.loc[first, "progression"].to_numpy(dtype=np.float64)
    Xte = z.loc[second, DIABETES_X].to_numpy(dtype=np.float64)
    yte = z.loc[second, "progression"].to_numpy(dtype=np.float64)
    models = {}
    for name, model in [("linear_regression", LinearRegression()),
                        ("ridge_alpha1", Ridge(alpha=1.0))]:
        model.fit(Xtr, ytr)
        models[name] = {"coef": dict(zip(DIABETES_X, model.coef_)),
                        "intercept": float(model.intercept_),
                        "test_metrics": regression_metrics(yte, model.predict(Xte))}
    return {"dataset": "diabetes.csv",
            "steps": ["z-score the 10 feature columns (not the target) over the full table",
                      "Split Data fraction 0.8 seed 1, not stratified",
                      "fit on first part, evaluate on second part"],
            "zscore_stats": stats, "features": DIABETES_X, "label": "progression",
            "split": {"fraction": 0.8, "seed": 1, "stratify_column": None,
                      "first": first, "second": second},
            "metrics_note": "relative errors use mean(y) of the test part",
            "models": models}


def fx_rf_regression_diabetes(diab: pd.DataFrame) -> dict:
    """Random forest regression on the example_regression preprocessing and split."""
    z, _ = zscore(diab, DIABETES_X)
    first, second, _ = split_rows(len(z), 0.8, 1)
    Xtr = z.loc[first, DIABETES_X].to_numpy(dtype=np.float64)
    ytr = z.loc[first, "progression"].to_numpy(dtype=np.float64)
    Xte = z.loc[second, DIABETES_X].to_numpy(dtype=np.float64)
    yte = z.loc[second, "progression"].to_numpy(dtype=np.float64)
    r2s = []
    for rs in range(10):
        rf = RandomForestRegressor(n_estimators=100, max_features=1.0, bootstrap=True,
                                   min_samples_leaf=1, max_depth=None, random_state=rs)
        rf.fit(Xtr, ytr)
        r2s.append(r2_score(yte, rf.predict(Xte)))
    return {"dataset": "diabetes.csv", "same_as": "example_regression (z-score, split 0.8 seed 1)",
            "features": DIABETES_X, "label": "progression",
            "settings": {"n_estimators": 100, "max_features": 1.0, "bootstrap": True,
                         "min_samples_leaf": 1, "max_depth": None,
                         "criterion": "squared_error", "random_state": list(range(10))},
            "note": "scikit-learn's random numbers cannot be reproduced: a guide for the range, "
                    "not an exact target",
            "test_r2": {"mean": float(np.mean(r2s)), "min": min(r2s), "max": max(r2s),
                        "per_seed": r2s}}


def fx_example_multiclass(penguins: pd.DataFrame) -> dict:
    df = dropna_reset(penguins)
    assert len(df) == 333
    df, island_cols = one_hot(df, "island")
    df, sex_cols = one_hot(df, "sex")
    df, stats = zscore(df, PENGUIN_NUM)
    feats = [c for c in df.columns if c != "species"]
    first, second, groups = split_rows(len(df), 0.7, 7, list(df["species"]))
    Xtr = df.loc[first, feats].to_numpy(dtype=np.float64)
    Xte = df.loc[second, feats].to_numpy(dtype=np.float64)
    ytr = list(df.loc[first, "species"])
    yte = list(df.loc[second, "species"])
    model, diag = fit_logreg(Xtr, ytr)
    classes = list(model.classes_)
    assert classes == ["Adelie", "Chinstrap", "Gentoo"]
    P = model.predict_proba(Xte)
    return {"dataset": "penguins.csv",
            "steps": ["drop every row with any missing value (pandas dropna), reset index",
                      "one-hot island, then sex (new columns replace the text column in place)",
                      "z-score " + ", ".join(PENGUIN_NUM) + " over the cleaned table",
                      "Split Data fraction 0.7 seed 7 stratified on species",
                      "fit on first part, evaluate on second part"],
            "rows_after_cleaning": len(df),
            "indicator_columns": {"island": island_cols, "sex": sex_cols},
            "zscore_stats": stats,
            "features": feats, "label": "species", "classes": classes,
            "split": {"fraction": 0.7, "seed": 7, "stratify_column": "species",
                      "groups": groups, "first": first, "second": second},
            "logistic_regression": {"settings": LOGREG_SETTINGS,
                                    "coef": coef_dict(model, feats),
                                    "intercept": dict(zip(classes, model.intercept_)),
                                    "convergence": diag,
                                    "test_metrics": multiclass_metrics(
                                        yte, P, model.predict(Xte), classes)},
            "random_forest": rf_summary(Xtr, ytr, Xte, yte)}


def fx_example_two_class(tit: pd.DataFrame) -> dict:
    label, pos = "survived", "yes"
    dropped = ["name", "ticket", "cabin"]
    df = tit.drop(columns=dropped)
    numeric = [c for c in df.columns if c != label and pd.api.types.is_numeric_dtype(df[c])]
    text = [c for c in df.columns if c != label and c not in numeric]
    assert numeric == ["pclass", "age", "sibsp", "parch", "fare"], numeric
    assert text == ["sex", "embarked"], text
    missing_before = {c: int(df[c].isna().sum()) for c in df.columns}
    fills = {}
    for c in numeric:
        if df[c].isna().any():
            fills[c] = {"strategy": "median", "value": float(df[c].median())}
            df[c] = df[c].fillna(fills[c]["value"])
    for c in text:
        if df[c].isna().any():
            fills[c] = {"strategy": "mode", "value": pandas_mode(df[c])}
            df[c] = df[c].where(df[c].notna(), fills[c]["value"])
    assert not df.isna().any().any()
    indicator_cols = {}
    for c in text:
        df, indicator_cols[c] = one_hot(df, c)
    df, stats = zscore(df, numeric)
    feats = [c for c in df.columns if c != label]
    first, second, groups = split_rows(len(df), 0.7, 42, list(df[label]))
    Xtr = df.loc[first, feats].to_numpy(dtype=np.float64)
    Xte = df.loc[second, feats].to_numpy(dtype=np.float64)
    ytr = list(df.loc[first, label])
    yte = list(df.loc[second, label])
    model, diag = fit_logreg(Xtr, ytr)
    assert list(model.classes_) == ["no", "yes"]
    proba_pos = model.predict_proba(Xte)[:, 1]
    return {"dataset": "titanic.csv", "label": label, "positive_class": pos,
            "classes": list(model.classes_),
            "dropped_columns": dropped,
            "numeric_feature_columns": numeric, "text_feature_columns": text,
            "steps": ["drop name, ticket, cabin",
                      "fill missing: numeric -> median, text -> mode (stats over full table)",
                      "one-hot every text feature column (in place, sorted values)",
                      "z-score every numeric feature column over the full (filled) table",
                      "Split Data fraction 0.7 seed 42 stratified on survived",
                      "fit on first part, evaluate on second part"],
            "missing_count_before": missing_before,
            "fill_values": fills,
            "indicator_columns": indicator_cols,
            "zscore_stats": stats,
            "features": feats,
            "split": {"fraction": 0.7, "seed": 42, "stratify_column": label,
                      "groups": groups, "first": first, "second": second},
            "logistic_regression": {"settings": LOGREG_SETTINGS,
                                    "coef": coef_dict(model, feats),
                                    "intercept": float(model.intercept_[0]),
                                    "convergence": diag,
                                    "test_metrics": binary_metrics(
                                        yte, proba_pos, model.predict(Xte), pos)},
            "random_forest": rf_summary(Xtr, ytr, Xte, yte, pos=pos)}


# ----------------------------------------------------------------------------- main


def assign_folds(n: int, folds: int, seed: int, labels=None) -> list[int]:
    """Cross Validate Model's folds: rows (per class in order of first appearance when stratified)
    shuffled with one SplitMix64 and dealt round-robin, continuing across classes."""
    rng = SplitMix64(seed)
    if labels is None:
        groups = [list(range(n))]
    else:
        by_label: dict = {}
        for i, v in enumerate(labels):
            by_label.setdefault(str(v), []).append(i)
        groups = list(by_label.values())
    fold_of = [0] * n
    nxt = 0
    for rows in groups:
        for i in fisher_yates(rows, rng):
            fold_of[i] = nxt % folds
            nxt += 1
    return fold_of


def fx_cross_validate(iris: pd.DataFrame, diab: pd.DataFrame) -> dict:
    """Cross Validate Model on raw iris (multinomial logistic regression, 5 stratified folds, seed 11)
    and raw diabetes (least squares, 5 plain folds, seed 3): per-fold and mean accuracy / R^2."""
    out: dict = {}
    X = iris.drop(columns=["species"]).to_numpy(dtype=float)
    y = iris["species"].astype(str).to_numpy()
    folds = assign_folds(len(y), 5, 11, list(y))
    acc = []
    for f in range(5):
        test = np.array([i for i in range(len(y)) if folds[i] == f])
        train = np.array([i for i in range(len(y)) if folds[i] != f])
        model = make_logreg().fit(X[train], y[train])
        acc.append(float(accuracy_score(y[test], model.predict(X[test]))))
    out["iris_logistic"] = {"folds": 5, "seed": 11, "stratified": True, "fold_of": folds,
                            "accuracy": acc, "mean_accuracy": float(np.mean(acc))}
    Xd = diab.drop(columns=["progression"]).to_numpy(dtype=float)
    yd = diab["progression"].to_numpy(dtype=float)
    folds = assign_folds(len(yd), 5, 3)
    r2 = []
    for f in range(5):
        test = np.array([i for i in range(len(yd)) if folds[i] == f])
        train = np.array([i for i in range(len(yd)) if folds[i] != f])
        model = LinearRegression().fit(Xd[train], yd[train])
        r2.append(float(r2_score(yd[test], model.predict(Xd[test]))))
    out["diabetes_linear"] = {"folds": 5, "seed": 3, "stratified": False, "fold_of": folds,
                              "r2": r2, "mean_r2": float(np.mean(r2))}
    return out


def fx_pca_iris(iris: pd.DataFrame) -> dict:
    """Principal Component Analysis on iris' four measurements: PCA(n_components=2) on the raw columns,
    and on the columns standardized like StandardScaler (population standard deviation)."""
    from sklearn.decomposition import PCA
    X = iris.drop(columns=["species"]).to_numpy(dtype=float)
    out: dict = {}
    for name, data in (("raw", X), ("scaled", (X - X.mean(axis=0)) / X.std(axis=0, ddof=0))):
        pca = PCA(n_components=2, svd_solver="full").fit(data)
        out[name] = {"components": pca.components_.tolist(),
                     "explained_variance": pca.explained_variance_.tolist(),
                     "explained_variance_ratio": pca.explained_variance_ratio_.tolist(),
                     "first_rows": pca.transform(data)[:5].tolist()}
    return out


def fx_feature_selection(iris: pd.DataFrame) -> dict:
    """Filter Based Feature Selection on iris: scikit-learn's chi2, |Pearson r| against the class index
    (classes in sorted order), and mutual_info_score of 10 equal-width bins against the class."""
    from sklearn.feature_selection import chi2
    from sklearn.metrics import mutual_info_score
    features = [c for c in iris.columns if c != "species"]
    X = iris[features].to_numpy(dtype=float)
    classes = sorted(iris["species"].astype(str).unique())
    y = np.array([classes.index(v) for v in iris["species"].astype(str)])
    chi, _ = chi2(X, y)
    out = {"features": features, "chi_squared": {}, "pearson": {}, "mutual_information": {}}
    for j, f in enumerate(features):
        x = X[:, j]
        out["chi_squared"][f] = float(chi[j])
        out["pearson"][f] = float(abs(np.corrcoef(x, y)[0, 1]))
        width = (x.max() - x.min()) / 10
        b = np.minimum(((x - x.min()) / width).astype(int), 9)
        out["mutual_information"][f] = float(mutual_info_score(b, y))
    return out


def fx_one_vs_all(iris: pd.DataFrame) -> dict:
    """One-vs-All Multiclass around two-class logistic regression on raw iris, trained and scored on
    all rows: scikit-learn's OneVsRestClassifier(LogisticRegression) with Pipewright's settings."""
    from sklearn.multiclass import OneVsRestClassifier
    X = iris.drop(columns=["species"]).to_numpy(dtype=float)
    y = iris["species"].astype(str).to_numpy()
    model = OneVsRestClassifier(make_logreg()).fit(X, y)
    proba = model.predict_proba(X)
    return {"classes": [str(c) for c in model.classes_], "accuracy": float(accuracy_score(y, model.predict(X))),
            "first_probabilities": proba[:5].tolist(), "rows_51_to_55": proba[50:55].tolist()}


def fx_sql_penguins(penguins: pd.DataFrame) -> dict:
    """Apply SQL Transformation: SELECT species, AVG(bill_length_mm), COUNT(*) FROM t1 WHERE bill_length_mm
    IS NOT NULL GROUP BY species ORDER BY species, computed with pandas."""
    present = penguins[penguins["bill_length_mm"].notna()]
    grouped = present.groupby("species").agg(mean_bill=("bill_length_mm", "mean"), n=("bill_length_mm", "size"))
    grouped = grouped.sort_index()
    return {"species": [str(s) for s in grouped.index], "mean_bill": grouped["mean_bill"].tolist(),
            "n": [int(v) for v in grouped["n"]]}


def main() -> None:
    files = ["iris.csv", "wine.csv", "breast_cancer.csv", "diabetes.csv", "penguins.csv",
             "titanic.csv"]
    iris = read_csv("iris.csv")
    penguins = read_csv("penguins.csv")
    diab = read_csv("diabetes.csv")
    bc = read_csv("breast_cancer.csv")
    tit = read_csv("titanic.csv")
    assert iris.shape == (150, 5) and penguins.shape == (344, 8)
    assert diab.shape == (442, 11) and bc.shape == (569, 31) and tit.shape == (1309, 11)

    fx: dict = {}
    fx["_meta"] = {
        "generator": "tests/reference/make_fixtures.py",
        "python": platform.python_version(),
        "numpy": np.__version__, "pandas": pd.__version__, "scipy": scipy.__version__,
        "scikit-learn": sklearn.__version__,
        "inputs_sha256": {f: sha256(f) for f in files},
        "csv_reading": "only empty cells are missing",
        "split_rule": "row by row: row j of stratum s (strata by label string in order of first "
                      "appearance) is taken when keyed_f64(seed, [s, j]) < fraction*(j+1) - taken",
    }
    fx["splitmix64_reference"] = fx_splitmix()
    fx.update(fx_splits(iris, penguins))
    fx["normalize_iris"] = fx_normalize_iris(iris)
    fx["clean_penguins"] = fx_clean_penguins(penguins)
    fx.update(fx_diabetes_full(diab))
    fx["logreg_breast_cancer_scaled"] = fx_logreg_breast_cancer(bc)
    fx["logreg_iris_multinomial"] = fx_logreg_iris(iris)
    fx["kmeans_iris_scaled"] = fx_kmeans_iris(iris)
    fx["example_regression"] = fx_example_regression(diab)
    fx["rf_regression_diabetes"] = fx_rf_regression_diabetes(diab)
    fx["example_multiclass"] = fx_example_multiclass(penguins)
    fx["example_two_class"] = fx_example_two_class(tit)
    fx["cross_validate"] = fx_cross_validate(iris, diab)
    fx["pca_iris"] = fx_pca_iris(iris)
    fx["feature_selection_iris"] = fx_feature_selection(iris)
    fx["one_vs_all_iris"] = fx_one_vs_all(iris)
    fx["sql_penguins"] = fx_sql_penguins(penguins)
    km = fx["kmeans_iris_scaled"]
    fx["example_clustering"] = {"same_as": "kmeans_iris_scaled", "dataset": "iris.csv",
                                "preprocessing": km["preprocessing"],
                                "settings": km["settings"],
                                "inertia": km["inertia"], "silhouette": km["silhouette"]}

    # the two penguin splits must agree
    a = fx["split_penguins_strat_f0.7_s7"]
    b = fx["example_multiclass"]["split"]
    assert a["first"] == b["first"] and a["second"] == b["second"]

    text = json.dumps(jsonable(fx), indent=2, sort_keys=True, allow_nan=False) + "\n"
    assert json.loads(text) == json.loads(json.dumps(jsonable(fx)))  # round-trips
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUT.relative_to(ROOT)} ({len(text)} bytes, {len(fx)} top-level keys)",
          file=sys.stderr)


if __name__ == "__main__":
    main()
