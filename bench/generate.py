#!/usr/bin/env python3
"""Deterministic, seeded benchmark data (see bench/README.md).

Writes CSV files with 6 decimals, missing cells empty:

  cls_<S>   S rows: f00..f19 (make_classification: 10 informative, 5 redundant, 2 clusters per class,
            class_sep 1.0, flip_y 0.02), ~1% of numeric cells missing, text columns cat_a (5 levels) and
            cat_b (12 levels) weakly related to the label, binary label 0/1.
  W4 set    the first S/10 rows of cls_<S>: cls_100k.csv for S = 1,000,000, else cls_<S>_head<S/10>.csv.
  reg_<S>   S rows: f00..f19 (make_regression: 10 informative, noise 10), ~1% of cells missing, target y.
  blobs_<S> S rows: f00..f15 from 8 Gaussian clusters (centres in [-10, 10], cluster_std 4).

S is --rows (default 1,000,000), written as 1m, 10m, 20k, ... The numbers come from numpy and scikit-learn
with fixed seeds, so the same --rows gives the same files on every machine with the same library versions.
The whole array is generated at once (make_classification cannot be chunked without changing the problem);
only the CSV writing is chunked. 10M rows need about 5 GiB of memory.

Usage: generate.py [--rows N] [--out DIR] [--sets cls,reg,blobs] [--force]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
DEFAULT_OUT = BENCH / "data"
DEFAULT_ROWS = 1_000_000
CHUNK = 250_000
SEED_CLS = 20240601
SEED_REG = 20240602
SEED_BLOBS = 20240603
SEED_BIG = 20241205
BIG_ROWS = 50_000_000
BIG_CHUNK = 1_000_000
MISSING = 0.01


def size_name(rows: int) -> str:
    """1000000 -> 1m, 10000000 -> 10m, 20000 -> 20k, 2500 -> 2500."""
    if rows % 1_000_000 == 0:
        return f"{rows // 1_000_000}m"
    if rows % 1_000 == 0:
        return f"{rows // 1_000}k"
    return str(rows)


def dataset_paths(out: Path, rows: int, big_rows: int = BIG_ROWS) -> dict[str, Path]:
    """The files for a data size, keyed cls, cls_head (W4), reg, blobs."""
    s = size_name(rows)
    head = max(rows // 10, 1)
    head_name = "cls_100k" if rows == DEFAULT_ROWS else f"cls_{s}_head{size_name(head)}"
    return {
        "cls": out / f"cls_{s}.csv",
        "cls_parquet": out / f"cls_{s}.parquet",
        "cls_big": out / f"cls_{size_name(big_rows)}.csv",
        "cls_head": out / f"{head_name}.csv",
        "reg": out / f"reg_{s}.csv",
        "blobs": out / f"blobs_{s}.csv",
    }


def _frame_writer():
    """A function writing a dict of numpy columns as CSV rows (header optional) to an open binary file.

    polars when present (several times faster), else pandas; both write '%.6f' floats and empty missing cells.
    """
    try:
        import polars as pl

        def write(columns, fh, header):
            series = []
            for name, values in columns.items():
                s = pl.Series(name, values)
                if s.dtype.is_float():
                    s = s.fill_nan(None)
                series.append(s)
            pl.DataFrame(series).write_csv(fh, include_header=header, float_precision=6, null_value="")

        return write, "polars"
    except ImportError:
        import pandas as pd

        def write(columns, fh, header):
            pd.DataFrame(columns).to_csv(fh, header=header, index=False, float_format="%.6f", na_rep="", lineterminator="\n")

        return write, "pandas"


def _format_with_pandas(job):
    """One chunk as CSV bytes (pandas), for the worker processes of _write_csv."""
    import io

    import pandas as pd

    columns, header = job
    buf = io.StringIO()
    pd.DataFrame(columns).to_csv(buf, header=header, index=False, float_format="%.6f", na_rep="", lineterminator="\n")
    return buf.getvalue().encode()


def _write_csv(path: Path, columns: dict, rows: int, head_path: Path | None = None, head_rows: int = 0) -> None:
    """Writes the columns in chunks to path (and the first head_rows rows also to head_path), atomically."""
    write, engine = _frame_writer()
    if engine == "pandas" and (os.cpu_count() or 1) > 2 and rows > CHUNK:
        # pandas formats one chunk at a time on one core: spread the chunks over processes (same bytes).
        from concurrent.futures import ProcessPoolExecutor

        def jobs(limit):
            for start in range(0, limit, CHUNK):
                stop = min(start + CHUNK, limit)
                yield {k: v[start:stop] for k, v in columns.items()}, start == 0

        targets = [(path, rows)] + ([(head_path, head_rows)] if head_path else [])
        with ProcessPoolExecutor() as pool:
            for target, limit in targets:
                tmp = target.with_suffix(".csv.tmp")
                with open(tmp, "wb") as fh:
                    for text in pool.map(_format_with_pandas, jobs(limit)):
                        fh.write(text)
                os.replace(tmp, target)
        return
    tmp = path.with_suffix(".csv.tmp")
    tmp_head = head_path.with_suffix(".csv.tmp") if head_path else None
    with open(tmp, "wb") as fh:
        head_fh = open(tmp_head, "wb") if tmp_head else None
        try:
            for start in range(0, rows, CHUNK):
                stop = min(start + CHUNK, rows)
                chunk = {k: v[start:stop] for k, v in columns.items()}
                write(chunk, fh, start == 0)
                if head_fh and start < head_rows:
                    h_stop = min(stop, head_rows)
                    write({k: v[start:h_stop] for k, v in columns.items()}, head_fh, start == 0)
        finally:
            if head_fh:
                head_fh.close()
    os.replace(tmp, path)
    if tmp_head:
        os.replace(tmp_head, head_path)


def _punch_holes(rng, X):
    """Sets about MISSING of the cells to NaN, in place."""
    import numpy as np

    for start in range(0, X.shape[0], CHUNK):
        block = X[start : start + CHUNK]
        block[rng.random(block.shape) < MISSING] = np.nan


def gen_cls(rows: int, path: Path, head_path: Path) -> None:
    import numpy as np
    from sklearn.datasets import make_classification

    X, y = make_classification(
        n_samples=rows,
        n_features=20,
        n_informative=10,
        n_redundant=5,
        n_repeated=0,
        n_classes=2,
        n_clusters_per_class=2,
        flip_y=0.02,
        class_sep=1.0,
        random_state=SEED_CLS,
    )
    rng = np.random.default_rng(SEED_CLS)
    # Weakly related text columns: with probability 0.3 a level is drawn from a label-specific distribution,
    # otherwise uniformly.
    a_levels = np.array([f"a{i}" for i in range(1, 6)])
    b_levels = np.array([f"b{i:02d}" for i in range(1, 13)])
    tilt_a = np.array([[0.4, 0.3, 0.15, 0.1, 0.05], [0.05, 0.1, 0.15, 0.3, 0.4]])
    tilt_b = np.stack([np.linspace(2, 1, 12), np.linspace(1, 2, 12)])
    tilt_b /= tilt_b.sum(axis=1, keepdims=True)

    def weak(levels, tilt):
        k = len(levels)
        uniform = rng.integers(0, k, size=rows)
        u = rng.random(rows)
        cum = np.cumsum(tilt, axis=1)[y]  # rows x k
        tilted = (u[:, None] > cum).sum(axis=1).clip(max=k - 1)
        use_tilt = rng.random(rows) < 0.3
        return levels[np.where(use_tilt, tilted, uniform)]

    cat_a = weak(a_levels, tilt_a)
    cat_b = weak(b_levels, tilt_b)
    _punch_holes(rng, X)
    columns = {f"f{j:02d}": X[:, j] for j in range(X.shape[1])}
    columns["cat_a"] = cat_a
    columns["cat_b"] = cat_b
    columns["label"] = y.astype(np.int64)
    _write_csv(path, columns, rows, head_path, max(rows // 10, 1))


def _weak_levels(rng, y, levels, tilt):
    """A text column weakly related to the label: with probability 0.3 a level drawn from a label-specific
    distribution, otherwise uniformly."""
    import numpy as np

    rows, k = len(y), len(levels)
    uniform = rng.integers(0, k, size=rows)
    u = rng.random(rows)
    cum = np.cumsum(tilt, axis=1)[y]
    tilted = (u[:, None] > cum).sum(axis=1).clip(max=k - 1)
    use_tilt = rng.random(rows) < 0.3
    return levels[np.where(use_tilt, tilted, uniform)]


def gen_cls_big(rows: int, path: Path) -> None:
    """W8's file: the columns of cls (f00..f19, cat_a, cat_b, label, ~1% missing) for tens of millions of rows,
    written a million rows at a time, so it never needs the memory a whole-array generator would. The rows come
    from one fixed model, the same as make_classification's in shape (10 informative features around two
    Gaussian clusters per class on the vertices of a hypercube of side 2, 5 redundant linear combinations of
    them, 5 of noise, 2% of labels flipped); each chunk draws its rows from its own seeded generator."""
    import numpy as np

    structure = np.random.default_rng(SEED_BIG)
    informative, redundant, noise = 10, 5, 5
    vertices = structure.choice([-1.0, 1.0], size=(4, informative))
    transforms = structure.uniform(-1.0, 1.0, size=(4, informative, informative))
    mixing = structure.uniform(-1.0, 1.0, size=(informative, redundant))
    a_levels = np.array([f"a{i}" for i in range(1, 6)])
    b_levels = np.array([f"b{i:02d}" for i in range(1, 13)])
    tilt_a = np.array([[0.4, 0.3, 0.15, 0.1, 0.05], [0.05, 0.1, 0.15, 0.3, 0.4]])
    tilt_b = np.stack([np.linspace(2, 1, 12), np.linspace(1, 2, 12)])
    tilt_b /= tilt_b.sum(axis=1, keepdims=True)
    write, _ = _frame_writer()
    tmp = path.with_suffix(".csv.tmp")
    with open(tmp, "wb") as fh:
        for chunk, start in enumerate(range(0, rows, BIG_CHUNK)):
            n = min(BIG_CHUNK, rows - start)
            rng = np.random.default_rng([SEED_BIG, chunk])
            cluster = rng.integers(0, 4, size=n)
            y = cluster // 2
            z = rng.standard_normal((n, informative))
            x_inf = np.einsum("ni,nij->nj", z, transforms[cluster]) + vertices[cluster]
            X = np.hstack([x_inf, x_inf @ mixing, rng.standard_normal((n, noise))])
            flip = rng.random(n) < 0.02
            y = np.where(flip, rng.integers(0, 2, size=n), y)
            cat_a = _weak_levels(rng, y, a_levels, tilt_a)
            cat_b = _weak_levels(rng, y, b_levels, tilt_b)
            X[rng.random(X.shape) < MISSING] = np.nan
            columns = {f"f{j:02d}": X[:, j] for j in range(X.shape[1])}
            columns["cat_a"] = cat_a
            columns["cat_b"] = cat_b
            columns["label"] = y.astype(np.int64)
            write(columns, fh, chunk == 0)
    os.replace(tmp, path)


def to_parquet(csv: Path, parquet: Path) -> None:
    """The same table as Parquet (for the Parquet variants of W1 and W5), written with polars."""
    import polars as pl

    tmp = parquet.with_suffix(".parquet.tmp")
    pl.read_csv(csv).write_parquet(tmp)
    os.replace(tmp, parquet)


def gen_reg(rows: int, path: Path) -> None:
    import numpy as np
    from sklearn.datasets import make_regression

    X, y = make_regression(n_samples=rows, n_features=20, n_informative=10, noise=10.0, random_state=SEED_REG)
    rng = np.random.default_rng(SEED_REG)
    _punch_holes(rng, X)
    columns = {f"f{j:02d}": X[:, j] for j in range(X.shape[1])}
    columns["y"] = y
    _write_csv(path, columns, rows)


def gen_blobs(rows: int, path: Path) -> None:
    from sklearn.datasets import make_blobs

    X, _ = make_blobs(
        n_samples=rows, n_features=16, centers=8, cluster_std=4.0, center_box=(-10.0, 10.0), random_state=SEED_BLOBS
    )
    columns = {f"f{j:02d}": X[:, j] for j in range(X.shape[1])}
    _write_csv(path, columns, rows)


def generate(out: Path, rows: int, sets: list[str], force: bool = False, log=print, big_rows: int = BIG_ROWS) -> dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = dataset_paths(out, rows, big_rows)
    _, writer = _frame_writer()
    for name in sets:
        targets = [paths["cls"], paths["cls_head"]] if name == "cls" else [paths[name]]
        if not force and all(p.exists() for p in targets):
            continue
        t0 = time.perf_counter()
        if name == "cls":
            gen_cls(rows, paths["cls"], paths["cls_head"])
        elif name == "reg":
            gen_reg(rows, paths["reg"])
        elif name == "blobs":
            gen_blobs(rows, paths["blobs"])
        elif name == "cls_big":
            gen_cls_big(big_rows, paths["cls_big"])
        elif name == "cls_parquet":
            if not paths["cls"].exists():
                gen_cls(rows, paths["cls"], paths["cls_head"])
            to_parquet(paths["cls"], paths["cls_parquet"])
        else:
            raise SystemExit(f"unknown set {name!r} (cls, reg, blobs, cls_big, cls_parquet)")
        log(f"generated {', '.join(p.name for p in targets)} in {time.perf_counter() - t0:.1f}s ({writer} writer)")
    return paths


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", type=int, default=DEFAULT_ROWS, help="rows of the large sets (default 1,000,000)")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default bench/data)")
    p.add_argument("--sets", default="cls,reg,blobs", help="comma-separated: cls (with its W4 head), reg, blobs, cls_big (W8), cls_parquet (W1P, W5P)")
    p.add_argument("--big-rows", type=int, default=BIG_ROWS, help="rows of cls_big, W8's file (default 50,000,000, about 10 GB)")
    p.add_argument("--force", action="store_true", help="rewrite files that exist")
    args = p.parse_args(argv)
    if args.rows < 10:
        p.error("--rows must be at least 10")
    generate(args.out.resolve(), args.rows, [s for s in args.sets.split(",") if s], args.force, big_rows=args.big_rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
