#!/usr/bin/env python3
"""Compute pandas reference values for Pipewright's transform blocks.

Reads ONLY the CSV files in assets/datasets/ and writes
tests/fixtures/pandas_transforms.json (indent 2, sorted keys, floats as Python's repr).
Each fixture records the pandas call that produced it; nodes/tests/transforms.rs drives the
same steps through Pipewright workflows and compares.

Usage (from anywhere):  python tests/reference/make_transform_fixtures.py
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "assets" / "datasets"
OUT = ROOT / "tests" / "fixtures" / "pandas_transforms.json"


def read_csv(name: str) -> pd.DataFrame:
    """Read a bundled CSV: only empty cells are missing (no "NA"/"null" magic)."""
    df = pd.read_csv(DATA / name, keep_default_na=False, na_values=[""])
    for c in df.columns:
        if not pd.api.types.is_numeric_dtype(df[c]):
            df[c] = df[c].astype(object).where(df[c].notna(), None)
    return df


def clean(x):
    """JSON-ready values: NaN and None become null, numpy scalars plain Python."""
    if isinstance(x, dict):
        return {str(k): clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [clean(v) for v in x]
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        return None if math.isnan(x) else float(x)
    if x is None or x is pd.NA:
        return None
    return x


def bins() -> dict:
    iris = read_csv("iris.csv")
    diabetes = read_csv("diabetes.csv")
    return {
        "equal_width": {
            "call": "pd.cut(iris.petal_length, 4, labels=False)",
            "values": pd.cut(iris.petal_length, 4, labels=False).tolist(),
        },
        "quantile": {
            "call": "pd.qcut(diabetes.bmi, 5, labels=False, duplicates='drop')",
            "values": pd.qcut(diabetes.bmi, 5, labels=False, duplicates="drop").tolist(),
        },
        "quantile_repeated_edges": {
            "call": "pd.qcut(diabetes.sex, 4, labels=False, duplicates='drop')",
            "values": pd.qcut(diabetes.sex, 4, labels=False, duplicates="drop").tolist(),
        },
    }


def clip() -> dict:
    diabetes = read_csv("diabetes.csv")
    lo, hi = diabetes.bmi.quantile(0.05), diabetes.bmi.quantile(0.95)
    return {
        "call": "diabetes.bmi.clip(bmi.quantile(0.05), bmi.quantile(0.95))",
        "lower": lo,
        "upper": hi,
        "values": diabetes.bmi.clip(lo, hi).tolist(),
    }


def math_ops() -> dict:
    diabetes = read_csv("diabetes.csv")
    return {
        "log1p_bmi": np.log1p(diabetes.bmi).tolist(),
        "sqrt_s5": np.sqrt(diabetes.s5).tolist(),
        "round1_s5": np.round(diabetes.s5, 1).tolist(),
    }


def summarize() -> dict:
    penguins = read_csv("penguins.csv")
    out = {}
    for c in penguins.columns:
        s = penguins[c]
        row = {"count": int(s.count()), "missing": int(s.isna().sum()), "unique": int(s.nunique())}
        if pd.api.types.is_numeric_dtype(s):
            d = s.describe()
            row.update({k: d[k] for k in ["mean", "std", "min", "25%", "50%", "75%", "max"]})
        out[c] = row
    return {"call": "penguins[c].describe(), count(), isna().sum(), nunique()", "columns": out}


def group_by() -> dict:
    penguins = read_csv("penguins.csv")
    g = penguins.groupby(["species", "sex"], dropna=False, sort=True)["body_mass_g"]
    table = g.agg(["count", "sum", "mean", "min", "max", "std"]).reset_index()
    return {
        "call": "penguins.groupby(['species', 'sex'], dropna=False)['body_mass_g'].agg([count, sum, mean, min, max, std])",
        "rows": table.to_dict(orient="records"),
    }


def filter_rows() -> dict:
    titanic = read_csv("titanic.csv")
    kept = titanic[(titanic.age >= 30) & ((titanic.sex == "female") | (titanic.fare > 50))]
    no_cabin = titanic[titanic.cabin.isna() & (titanic.pclass != 3)]
    return {
        "adults": {
            "expression": "age >= 30 and (sex = 'female' or fare > 50)",
            "call": "titanic[(age >= 30) & ((sex == 'female') | (fare > 50))]",
            "rows": int(len(kept)),
            "fare_sum": float(kept.fare.sum()),
            "first_names": kept.name.head(5).tolist(),
        },
        "no_cabin": {
            "expression": "cabin is null and not pclass = 3",
            "call": "titanic[cabin.isna() & (pclass != 3)]",
            "rows": int(len(no_cabin)),
        },
    }


def duplicates() -> dict:
    penguins = read_csv("penguins.csv")
    key = ["species", "island", "sex"]
    return {
        "call": "penguins.drop_duplicates(subset=['species', 'island', 'sex'], keep=...).index",
        "first": penguins.drop_duplicates(subset=key, keep="first").index.tolist(),
        "last": penguins.drop_duplicates(subset=key, keep="last").index.tolist(),
    }


def join() -> dict:
    penguins = read_csv("penguins.csv")
    means = (
        penguins.groupby(["species", "island"], sort=True)["body_mass_g"].mean().rename("body_mass_g_mean").reset_index()
    )
    joined = penguins.merge(means, on=["species", "island"], how="left")
    titanic = read_csv("titanic.csv")
    ports = pd.DataFrame({"embarked": ["S", "C", "X"], "port": ["Southampton", "Cherbourg", "Nowhere"]})
    inner = titanic.merge(ports, on="embarked", how="inner")
    outer = titanic.merge(ports, on="embarked", how="outer")
    return {
        "left_means": {
            "call": "penguins.merge(groupby(['species', 'island']).body_mass_g.mean(), how='left')",
            "values": joined.body_mass_g_mean.tolist(),
        },
        "ports": {
            "call": "titanic.merge(ports, on='embarked', how='inner' / 'outer')",
            "inner_rows": int(len(inner)),
            "outer_rows": int(len(outer)),
            "outer_port_counts": outer.port.value_counts(dropna=False).sort_index().to_dict(),
            "outer_missing_port": int(outer.port.isna().sum()),
        },
    }


def main() -> None:
    fx = {
        "_meta": {"pandas": pd.__version__, "numpy": np.__version__},
        "bins": bins(),
        "clip": clip(),
        "math": math_ops(),
        "summarize": summarize(),
        "group_by": group_by(),
        "filter_rows": filter_rows(),
        "remove_duplicates": duplicates(),
        "join": join(),
    }
    text = json.dumps(clean(fx), indent=2, sort_keys=True, allow_nan=False) + "\n"
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUT.relative_to(ROOT)} ({len(text)} bytes)")


if __name__ == "__main__":
    main()
