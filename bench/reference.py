#!/usr/bin/env python3
"""Reference side of the benchmark: the same work as bench/workflows/*.flow.json in pandas + scikit-learn.

Each workload prints ONE JSON line on stdout. "seconds" is timed with time.perf_counter from the start of reading
the data to the last metric (imports excluded); "fit_seconds" covers the model fit(s) alone.

  reference.py W1 --data cls_1m.csv
  reference.py W2 --data reg_1m.csv
  reference.py W3 --data blobs_1m.csv
  reference.py W4 --data cls_100k.csv
  reference.py W5 --data cls_1m.csv --engine pandas|polars      (a .parquet file for the Parquet variant)
  reference.py W7 --data cls_1m.csv --engine lightgbm|hgb
  reference.py W6 --data-dir DIR            (reads iris.csv, wine.csv, breast_cancer.csv, diabetes.csv)
  reference.py export-w6 --data-dir DIR     (writes those four files, each with an integer fold column 0..4)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

# Imports stay outside the timed region.
import numpy as np
import pandas as pd

W6_CLASSIFICATION = ["iris", "wine", "breast_cancer"]
W6_REGRESSION = ["diabetes"]
W6_CLASSIFIERS = ["logistic", "tree", "forest", "knn", "naive_bayes"]
W6_REGRESSORS = ["linear", "ridge"]
FOLDS = 5


def emit(result: dict) -> None:
    print(json.dumps(result), flush=True)


def numeric_columns(df: pd.DataFrame, exclude: list[str]) -> list[str]:
    return [c for c in df.columns if c not in exclude and pd.api.types.is_numeric_dtype(df[c])]


def accuracy_and_auc(model, X_test: np.ndarray, y_test: np.ndarray) -> dict:
    """Accuracy (class at probability 0.5) and ROC AUC of a fitted two-class model on the test rows."""
    from sklearn.metrics import accuracy_score, roc_auc_score  # loaded by the caller before its clock starts

    proba = model.predict_proba(X_test)[:, 1]
    pred = model.classes_[(proba >= 0.5).astype(int)]
    return {"accuracy": accuracy_score(y_test, pred), "roc_auc": roc_auc_score(y_test, proba)}


def read_classification(path: str, t0: float) -> tuple[pd.DataFrame, np.ndarray, list[str], float]:
    """W1 and W4's preparation: read, take the label, mean-impute the numeric columns, one-hot cat_a and cat_b.
    Returns the frame, the labels, the numeric columns and the seconds spent reading (from t0)."""
    df = pd.read_parquet(path) if path.endswith(".parquet") else pd.read_csv(path)
    t_read = time.perf_counter() - t0
    y = df.pop("label").to_numpy()
    num = numeric_columns(df, [])
    df[num] = df[num].fillna(df[num].mean())
    df = pd.get_dummies(df, columns=["cat_a", "cat_b"], dtype=np.float64)
    return df, y, num, t_read


def w1(path: str) -> dict:
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score, roc_auc_score
    from sklearn.model_selection import train_test_split

    t0 = time.perf_counter()
    df, y, num, t_read = read_classification(path, t0)
    df[num] = (df[num] - df[num].mean()) / df[num].std(ddof=0)
    X = df.to_numpy(dtype=np.float64)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, stratify=y, random_state=42)
    model = LogisticRegression(C=1.0, max_iter=100, solver="lbfgs")
    t_fit = time.perf_counter()
    model.fit(X_train, y_train)
    fit = time.perf_counter() - t_fit
    proba = model.predict_proba(X_test)[:, 1]
    pred = (proba >= 0.5).astype(y.dtype)
    result = {
        "accuracy": accuracy_score(y_test, pred),
        "roc_auc": roc_auc_score(y_test, proba),
        "f1": f1_score(y_test, pred),
    }
    seconds = time.perf_counter() - t0
    return {
        "workload": "W1",
        "seconds": seconds,
        "read_seconds": t_read,
        "fit_seconds": fit,
        "iterations": int(model.n_iter_[0]),
        "rows": len(y),
        "features": X.shape[1],
        "metrics": result,
    }


def w2(path: str) -> dict:
    from sklearn.linear_model import LinearRegression, Ridge
    from sklearn.metrics import mean_squared_error, r2_score
    from sklearn.model_selection import train_test_split

    t0 = time.perf_counter()
    df = pd.read_csv(path)
    t_read = time.perf_counter() - t0
    y = df.pop("y").to_numpy()
    num = list(df.columns)
    df = df.fillna(df.mean())
    df = (df - df.mean()) / df.std(ddof=0)
    X = df[num].to_numpy(dtype=np.float64)
    # The first 80% of the rows train (rows are i.i.d.), as the workflow's Split Data with randomize off.
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, shuffle=False)
    metrics, fits = {}, {}
    for name, model in (("linear", LinearRegression()), ("ridge", Ridge(alpha=1.0))):
        t_fit = time.perf_counter()
        model.fit(X_train, y_train)
        fits[name] = time.perf_counter() - t_fit
        pred = model.predict(X_test)
        metrics[name] = {"rmse": float(np.sqrt(mean_squared_error(y_test, pred))), "r2": r2_score(y_test, pred)}
    seconds = time.perf_counter() - t0
    return {
        "workload": "W2",
        "seconds": seconds,
        "read_seconds": t_read,
        "fit_seconds": sum(fits.values()),
        "fit_seconds_each": fits,
        "rows": len(y),
        "metrics": metrics,
    }


def w3(path: str) -> dict:
    from sklearn.cluster import KMeans

    t0 = time.perf_counter()
    df = pd.read_csv(path)
    t_read = time.perf_counter() - t0
    X = df.to_numpy(dtype=np.float64)
    model = KMeans(n_clusters=8, init="k-means++", n_init=1, max_iter=100, random_state=0)
    t_fit = time.perf_counter()
    model.fit(X)
    fit = time.perf_counter() - t_fit
    seconds = time.perf_counter() - t0
    return {
        "workload": "W3",
        "seconds": seconds,
        "read_seconds": t_read,
        "fit_seconds": fit,
        "iterations": int(model.n_iter_),
        "rows": len(X),
        "metrics": {"inertia": float(model.inertia_)},
    }


def w4(path: str) -> dict:
    from sklearn.ensemble import RandomForestClassifier
    import sklearn.metrics  # noqa: F401  (loaded before the clock starts; accuracy_and_auc reads it)
    from sklearn.model_selection import train_test_split

    t0 = time.perf_counter()
    df, y, num, t_read = read_classification(path, t0)
    X = df.to_numpy(dtype=np.float64)
    # The first 80% of the rows train (rows are i.i.d.), as the workflow's Split Data with randomize off.
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, shuffle=False)
    model = RandomForestClassifier(n_estimators=100, max_depth=10, n_jobs=-1, random_state=0)
    t_fit = time.perf_counter()
    model.fit(X_train, y_train)
    fit = time.perf_counter() - t_fit
    metrics = accuracy_and_auc(model, X_test, y_test)
    seconds = time.perf_counter() - t0
    return {
        "workload": "W4",
        "seconds": seconds,
        "read_seconds": t_read,
        "fit_seconds": fit,
        "rows": len(y),
        "metrics": metrics,
    }


def w5(path: str, engine: str) -> dict:
    if engine == "polars":
        import polars as pl

        t0 = time.perf_counter()
        df = pl.read_parquet(path) if path.endswith(".parquet") else pl.read_csv(path)
        seconds = time.perf_counter() - t0
        rows = df.height
        nulls = int(sum(df.null_count().row(0)))
        columns = df.width
    else:
        t0 = time.perf_counter()
        df = pd.read_parquet(path) if path.endswith(".parquet") else pd.read_csv(path)
        seconds = time.perf_counter() - t0
        rows = len(df)
        nulls = int(df.isna().sum().sum())
        columns = df.shape[1]
    return {
        "workload": "W5",
        "engine": engine,
        "seconds": seconds,
        "rows": rows,
        "metrics": {"rows": rows, "columns": columns, "nulls": nulls},
    }


def w7(path: str, engine: str) -> dict:
    """Gradient boosting: 100 trees of at most 31 leaves, learning rate 0.1, 255 bins, with LightGBM (all cores)
    or scikit-learn's HistGradientBoosting (no early stopping), after W4's preparation."""
    import sklearn.metrics  # noqa: F401  (loaded before the clock starts; accuracy_and_auc reads it)

    t0 = time.perf_counter()
    df, y, num, t_read = read_classification(path, t0)
    X = df.to_numpy(dtype=np.float64)
    cut = int(round(0.8 * len(y)))
    X_train, X_test, y_train, y_test = X[:cut], X[cut:], y[:cut], y[cut:]
    if engine == "lightgbm":
        import os

        import lightgbm as lgb

        model = lgb.LGBMClassifier(n_estimators=100, num_leaves=31, learning_rate=0.1, max_bin=255,
                                   n_jobs=os.cpu_count(), verbose=-1)
    else:
        from sklearn.ensemble import HistGradientBoostingClassifier

        model = HistGradientBoostingClassifier(max_iter=100, max_leaf_nodes=31, learning_rate=0.1, max_bins=255,
                                               early_stopping=False)
    t_fit = time.perf_counter()
    model.fit(X_train, y_train)
    fit = time.perf_counter() - t_fit
    metrics = accuracy_and_auc(model, X_test, y_test)
    return {
        "workload": "W7",
        "engine": engine,
        "seconds": time.perf_counter() - t0,
        "read_seconds": t_read,
        "fit_seconds": fit,
        "rows": len(y),
        "metrics": metrics,
    }


def export_w6(data_dir: str) -> dict:
    """Writes the four scikit-learn datasets as CSV with the fold (0..4) each row is held out in."""
    from sklearn import datasets
    from sklearn.model_selection import KFold, StratifiedKFold

    out = Path(data_dir)
    out.mkdir(parents=True, exist_ok=True)
    loaders = {
        "iris": datasets.load_iris,
        "wine": datasets.load_wine,
        "breast_cancer": datasets.load_breast_cancer,
        "diabetes": datasets.load_diabetes,
    }
    written = {}
    for name, load in loaders.items():
        bunch = load(as_frame=True)
        df = bunch.frame.copy()
        # Column names without spaces or brackets, so workflows and --set never need quoting.
        df.columns = [
            c.strip().replace(" (cm)", "").replace(" ", "_").replace("/", "_").replace("(", "").replace(")", "")
            for c in df.columns
        ]
        y = df["target"].to_numpy()
        if name in W6_CLASSIFICATION:
            splitter = StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=0)
        else:
            splitter = KFold(n_splits=FOLDS, shuffle=True, random_state=0)
        fold = np.zeros(len(df), dtype=np.int64)
        for k, (_, test) in enumerate(splitter.split(np.zeros(len(df)), y)):
            fold[test] = k
        df["fold"] = fold
        path = out / f"{name}.csv"
        df.to_csv(path, index=False, float_format="%.6f")
        written[name] = str(path)
    return {"workload": "export-w6", "files": written}


def w6(data_dir: str) -> dict:
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
    from sklearn.model_selection import PredefinedSplit, cross_val_score
    from sklearn.naive_bayes import GaussianNB
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.tree import DecisionTreeClassifier

    classifiers = {
        "logistic": lambda: make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=100)),
        "tree": lambda: DecisionTreeClassifier(max_depth=5, random_state=0),
        "forest": lambda: RandomForestClassifier(n_estimators=100, random_state=0),
        "knn": lambda: KNeighborsClassifier(n_neighbors=5),
        "naive_bayes": lambda: GaussianNB(),
    }
    regressors = {"linear": lambda: LinearRegression(), "ridge": lambda: Ridge(alpha=1.0)}
    t0 = time.perf_counter()
    metrics: dict[str, dict[str, float]] = {}
    for name in W6_CLASSIFICATION + W6_REGRESSION:
        df = pd.read_csv(Path(data_dir) / f"{name}.csv")
        folds = PredefinedSplit(df.pop("fold").to_numpy())
        y = df.pop("target").to_numpy()
        X = df.to_numpy(dtype=np.float64)
        models, scoring = (classifiers, "accuracy") if name in W6_CLASSIFICATION else (regressors, "r2")
        for model_name, make in models.items():
            scores = cross_val_score(make(), X, y, cv=folds, scoring=scoring)
            metrics[f"{name}/{model_name}"] = {scoring: float(np.mean(scores))}
    seconds = time.perf_counter() - t0
    return {"workload": "W6", "seconds": seconds, "metrics": metrics}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("workload", choices=["W1", "W2", "W3", "W4", "W5", "W6", "W7", "export-w6"])
    p.add_argument("--data", help="the CSV or Parquet file (W1-W5, W7)")
    p.add_argument("--data-dir", help="folder of the W6 CSV files")
    p.add_argument("--engine", choices=["pandas", "polars", "lightgbm", "hgb"], default=None,
                   help="W5's reader (pandas, polars; default pandas), W7's library (lightgbm, hgb; default lightgbm)")
    args = p.parse_args(argv)
    w = args.workload
    if w in ("W6", "export-w6"):
        if not args.data_dir:
            p.error(f"{w} needs --data-dir")
        result = w6(args.data_dir) if w == "W6" else export_w6(args.data_dir)
    else:
        if not args.data:
            p.error(f"{w} needs --data")
        if w == "W5":
            result = w5(args.data, args.engine or "pandas")
        elif w == "W7":
            result = w7(args.data, args.engine or "lightgbm")
        else:
            result = {"W1": w1, "W2": w2, "W3": w3, "W4": w4}[w](args.data)
    emit(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
