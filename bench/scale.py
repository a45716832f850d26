#!/usr/bin/env python3
"""How the engine's cost grows with the number of blocks.

Writes workflows of many cheap blocks on the iris sample dataset and times `pipewright run` on each, with the
project cache (a cold cache, so every block's outputs are written to it, then again with every block served
from it) and with `--no-cache`. Runs are recorded in the project store as usual, so the figures include what a
user pays for.

- `chain<N>`: iris, then N - 1 blocks in a chain, alternately z-scoring and taking absolute values (the shape of
  `workflows/overhead200.flow.json`);
- `fan<N>`: iris read once and N blocks each reading it (raising the measurements to a power of their own, so
  every block has its own cache entry), independent of each other.

Each workflow lives in its own project folder under `bench/out/scale/` (its `.pipewright/` is deleted before
each cold run). Standard library only.

    bench/scale.py --pipewright target/release/pipewright
    bench/scale.py --sizes chain400,chain800,chain1600,chain5000,fan5000 --repeat 3 --json-out bench/out/scale.json
    bench/scale.py --overhead --sizes "" --repeat 5     # the executor overhead of run.py's OVERHEAD alone
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_SIZES = "chain400,chain800,chain1600,chain5000,fan5000"


def node(id: str, kind: str, params: dict, i: int) -> dict:
    return {"id": id, "kind": kind, "params": params, "position": [270.0 * (i % 20), 170.0 * (i // 20)]}


def edge(src: str, dst: str) -> dict:
    return {"from": {"node": src, "port": "data"}, "to": {"node": dst, "port": "data"}}


def chain(n: int) -> dict:
    nodes = [node("n0", "data.sample_dataset", {"dataset": "iris"}, 0)]
    edges = []
    for i in range(1, n):
        params = {"method": "zscore"} if i % 2 else {"operation": "abs"}
        kind = "transform.normalize_data" if i % 2 else "transform.apply_math_operation"
        nodes.append(node(f"n{i}", kind, params, i))
        edges.append(edge(f"n{i - 1}", f"n{i}"))
    return flow(f"Scale: a chain of {n} blocks", nodes, edges)


def fan(n: int) -> dict:
    nodes = [node("source", "data.sample_dataset", {"dataset": "iris"}, 0)]
    edges = []
    for i in range(n):
        params = {"operation": "power", "exponent": 1.0 + i / 10_000}
        nodes.append(node(f"p{i}", "transform.apply_math_operation", params, i + 1))
        edges.append(edge("source", f"p{i}"))
    return flow(f"Scale: {n} independent blocks", nodes, edges)


def flow(name: str, nodes: list, edges: list) -> dict:
    return {"format": "pipewright.workflow", "version": 1, "name": name, "seed": 0, "nodes": nodes, "edges": edges}


def make(size: str, out: Path) -> Path:
    shape, count = size.rstrip("0123456789"), int(size[len(size.rstrip("0123456789")):])
    doc = {"chain": chain, "fan": fan}[shape](count)
    folder = out / size
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{size}.flow.json"
    path.write_text(json.dumps(doc, indent=1))
    return path


def run(pw: str, path: Path, extra: list[str], timeout: float) -> dict:
    started = time.perf_counter()
    try:
        done = subprocess.run([pw, "run", str(path), "--json", *extra], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"ok": False, "seconds": None, "error": f"did not finish in {timeout:.0f} s"}
    seconds = time.perf_counter() - started
    try:
        result = json.loads(done.stdout)
    except json.JSONDecodeError:
        return {"ok": False, "seconds": seconds, "error": (done.stderr.strip().splitlines() or ["no output"])[-1]}
    nodes = result.get("nodes", [])
    return {
        "ok": done.returncode == 0,
        "seconds": seconds,
        "engine_seconds": result.get("duration_secs"),
        "ran": sum(1 for n in nodes if n["status"] == "finished"),
        "cached": sum(1 for n in nodes if n.get("cache_hit")),
        "error": None if done.returncode == 0 else (done.stderr.strip().splitlines() or [""])[-1],
    }


def overhead(pw: str, repeat: int, timeout: float, out: Path) -> dict:
    """The OVERHEAD workload of `run.py` without its reference side: `workflows/overhead200.flow.json` run whole
    and up to its first node (`--to n000`), `--no-cache`, alternately; the difference per added node. Measured
    recorded in the project store (as every run is by default) and with `--no-record` (the executor alone)."""
    folder = out / "overhead200"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "overhead200.flow.json"
    shutil.copy(HERE / "workflows" / "overhead200.flow.json", path)
    nodes = len(json.loads(path.read_text())["nodes"])
    found = {"nodes": nodes}
    for mode, extra in (("recorded", []), ("no_record", ["--no-record"])):
        full, first = [], []
        for _ in range(repeat):
            full.append(run(pw, path, ["--no-cache", *extra], timeout))
            first.append(run(pw, path, ["--no-cache", "--to", "n000", *extra], timeout))
        wall = median([r["seconds"] for r in full if r["ok"]])
        wall_first = median([r["seconds"] for r in first if r["ok"]])
        per_node = (wall - wall_first) / (nodes - 1) * 1000 if wall and wall_first else None
        found[mode] = {"wall_seconds": wall, "first_node_seconds": wall_first, "ms_per_added_node": per_node}
    shutil.rmtree(folder / ".pipewright", ignore_errors=True)
    # The recorded figure is the one a user gets by default.
    found.update(found["recorded"])
    return found


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pipewright", default=None, help="the binary (default: release build under CARGO_TARGET_DIR)")
    p.add_argument("--sizes", default=DEFAULT_SIZES, help=f"comma-separated chainN / fanN (default {DEFAULT_SIZES})")
    p.add_argument("--repeat", type=int, default=1)
    p.add_argument("--timeout", type=float, default=300.0, help="seconds before a run counts as not finishing")
    p.add_argument("--out", type=Path, default=HERE / "out" / "scale")
    p.add_argument("--json-out", type=Path, default=None)
    p.add_argument("--overhead", action="store_true", help="also measure the 200-block executor overhead (OVERHEAD)")
    args = p.parse_args()
    target = Path(os.environ.get("CARGO_TARGET_DIR", Path.home() / ".cache/pipewright/target"))
    pw = args.pipewright or str(target / "release" / "pipewright")
    if not Path(pw).exists():
        print(f"no pipewright binary at {pw}: build it or pass --pipewright", file=sys.stderr)
        return 2
    if args.overhead:
        o = overhead(pw, args.repeat, args.timeout, args.out)
        for mode in ("recorded", "no_record"):
            m = o[mode]
            if m["ms_per_added_node"] is None:
                print(f"overhead200 ({mode}): a run failed", file=sys.stderr)
                continue
            print(f"overhead200 ({mode.replace('_', ' ')}): whole {m['wall_seconds']:.3f} s, first node alone "
                  f"{m['first_node_seconds']:.3f} s, {m['ms_per_added_node']:.3f} ms per added node")
    rows = []
    for size in [s for s in args.sizes.split(",") if s]:
        path = make(size, args.out)
        runs = {"cold cache": [], "warm cache": [], "no cache": []}
        for _ in range(args.repeat):
            shutil.rmtree(path.parent / ".pipewright", ignore_errors=True)
            runs["no cache"].append(run(pw, path, ["--no-cache"], args.timeout))
            shutil.rmtree(path.parent / ".pipewright", ignore_errors=True)
            runs["cold cache"].append(run(pw, path, [], args.timeout))
            runs["warm cache"].append(run(pw, path, [], args.timeout))
        shutil.rmtree(path.parent / ".pipewright", ignore_errors=True)
        row = {"size": size, "blocks": len(json.loads(path.read_text())["nodes"])}
        for mode, results in runs.items():
            ok = [r for r in results if r["ok"]]
            row[mode] = {
                "seconds": median([r["seconds"] for r in ok]) if ok else None,
                "ran": ok[0]["ran"] if ok else None,
                "cached": ok[0]["cached"] if ok else None,
                "error": None if ok else results[0]["error"],
                "runs": results,
            }
        rows.append(row)
        print(f"{size}: " + ", ".join(f"{m} {fmt(row[m])}" for m in runs), flush=True)
    print()
    print("| workflow | blocks | no cache s | cold cache s | cold / no cache | warm cache s |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        nc, cold, warm = r["no cache"]["seconds"], r["cold cache"]["seconds"], r["warm cache"]["seconds"]
        ratio = f"{cold / nc:.2f}" if cold and nc else "–"
        print(f"| {r['size']} | {r['blocks']:,} | {fmt(r['no cache'])} | {fmt(r['cold cache'])} | {ratio} | {fmt(r['warm cache'])} |")
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps({"pipewright": pw, "repeat": args.repeat, "rows": rows}, indent=1))
    return 0 if all(r[m]["seconds"] is not None for r in rows for m in ("no cache", "cold cache", "warm cache")) else 1


def fmt(result: dict) -> str:
    if result["seconds"] is None:
        return f"FAILED ({result['error']})"
    return f"{result['seconds']:.2f}"


if __name__ == "__main__":
    sys.exit(main())
