#!/usr/bin/env python3
"""Principal Component Analysis on wide tables: the time of the PCA block alone.

Writes a seeded CSV of ROWS rows and COLUMNS numeric columns (each a mix of a few shared latent factors and
noise, so the spectrum has structure), a workflow Import Data → Principal Component Analysis (10 components),
and runs `pipewright run --no-cache --no-record --json`, reporting the PCA block's own seconds (`duration_secs`
of its node) — reading the CSV is not counted. Standard library only.

    bench/pca.py --pipewright target/release/pipewright
    bench/pca.py --columns 200,1000 --rows 2000 --repeat 3 --timeout 600
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def write_data(path: Path, rows: int, columns: int) -> None:
    if path.exists():
        return
    rng = random.Random(0)
    factors = 8
    loadings = [[rng.gauss(0, 1) for _ in range(factors)] for _ in range(columns)]
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as out:
        out.write(",".join(f"x{j}" for j in range(columns)) + "\n")
        for _ in range(rows):
            latent = [rng.gauss(0, 1) for _ in range(factors)]
            values = (sum(l * z for l, z in zip(loadings[j], latent)) + rng.gauss(0, 0.5) for j in range(columns))
            out.write(",".join(f"{v:.6f}" for v in values) + "\n")


def workflow(data: Path) -> dict:
    return {
        "format": "pipewright.workflow",
        "version": 1,
        "name": f"PCA of {data.stem}",
        "seed": 0,
        "nodes": [
            {"id": "import", "kind": "data.import_data", "params": {"path": str(data)}, "position": [0.0, 0.0]},
            {"id": "pca", "kind": "transform.principal_component_analysis", "params": {"components": 10},
             "position": [270.0, 0.0]},
        ],
        "edges": [{"from": {"node": "import", "port": "data"}, "to": {"node": "pca", "port": "data"}}],
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pipewright", default=None, help="the binary (default: release build under CARGO_TARGET_DIR)")
    p.add_argument("--columns", default="200,1000", help="comma-separated column counts (default 200,1000)")
    p.add_argument("--rows", type=int, default=2000)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--timeout", type=float, default=600.0)
    p.add_argument("--out", type=Path, default=HERE / "out" / "pca")
    args = p.parse_args()
    target = Path(os.environ.get("CARGO_TARGET_DIR", Path.home() / ".cache/pipewright/target"))
    pw = args.pipewright or str(target / "release" / "pipewright")
    print("| columns | rows | PCA block s (median) | runs |")
    print("|---|---|---|---|")
    failed = False
    for columns in (int(c) for c in args.columns.split(",")):
        data = args.out / "data" / f"wide_{args.rows}x{columns}.csv"
        write_data(data, args.rows, columns)
        path = args.out / f"pca{columns}.flow.json"
        path.write_text(json.dumps(workflow(data.resolve()), indent=1))
        seconds = []
        for _ in range(args.repeat):
            try:
                done = subprocess.run([pw, "run", str(path), "--no-cache", "--no-record", "--json"], capture_output=True,
                                      text=True, timeout=args.timeout)
            except subprocess.TimeoutExpired:
                seconds.append(None)
                break
            result = json.loads(done.stdout) if done.stdout.strip() else {}
            node = next((n for n in result.get("nodes", []) if n["id"] == "pca"), None)
            if done.returncode != 0 or node is None:
                print(f"pca{columns}: failed: {done.stderr.strip()[-300:]}", file=sys.stderr)
                seconds.append(None)
                break
            seconds.append(node["duration_secs"])
        ok = [s for s in seconds if s is not None]
        text = f"{statistics.median(ok):.3f}" if ok and len(ok) == len(seconds) else f"did not finish in {args.timeout:.0f} s"
        failed |= not ok or len(ok) != len(seconds)
        print(f"| {columns:,} | {args.rows:,} | {text} | {', '.join('–' if s is None else f'{s:.3f}' for s in seconds)} |",
              flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
