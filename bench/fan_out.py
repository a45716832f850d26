#!/usr/bin/env python3
"""A sweep fanned out over a cluster: how its wall time falls with the tasks running at once.

Starts the test cluster the cluster tests use (a single-node Slurm on loopback: `tests/cluster/slurm.sh`, as
root, with this machine's cores), writes a synthetic classification table (standard library only) and a
workflow that tunes a decision forest over `--settings` random settings × `--folds` folds, exports it with
`--fan-out` as a job array of `--tasks` tasks once per `--at-once` value (each task asks for one CPU), and
submits each bundle `--repeat` times, alternating, with `pipewright submit --slurm`. Reports the median wall
time of each, the speed-up against one task at once, and what the scaling model in bench/SCALING.md is built
from: every unit's compute time (from the task results), every task's wall time (from its log's timestamps)
and the combine's.

    sudo bench/fan_out.py --pipewright target/release/pipewright
    bench/fan_out.py --at-once 1,2 --repeat 3 --json-out bench/out/fan_out.json
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """The first of three consecutive free ports on loopback."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            first = s.getsockname()[1]
        if first < 60000:
            try:
                for i in (1, 2):
                    with socket.socket() as t:
                        t.bind(("127.0.0.1", first + i))
                return first
            except OSError:
                continue
    raise SystemExit("no three consecutive free ports")


def write_data(path: Path, rows: int, seed: int = 1) -> None:
    """Ten numeric features, a two-class label that depends on five of them, with noise."""
    rng = random.Random(seed)
    with path.open("w") as f:
        f.write(",".join(f"f{i}" for i in range(10)) + ",label\n")
        for _ in range(rows):
            x = [rng.gauss(0, 1) for _ in range(10)]
            score = x[0] + 0.8 * x[1] * x[2] - 0.6 * x[3] + 0.5 * abs(x[4]) + rng.gauss(0, 0.7)
            f.write(",".join(f"{v:.5f}" for v in x) + f",{'yes' if score > 0.4 else 'no'}\n")


def write_workflow(path: Path, data: Path, settings: int, folds: int) -> None:
    def node(id_, kind, params):
        return {"id": id_, "kind": kind, "params": params}

    def wire(a, out, b, inp):
        return {"from": {"node": a, "port": out}, "to": {"node": b, "port": inp}}

    flow = {
        "format": "pipewright.workflow",
        "version": 1,
        "name": "Forest sweep",
        "seed": 7,
        "nodes": [
            node("data", "data.import_data", {"path": str(data)}),
            node("split", "transform.split_data", {"fraction": 0.8, "seed": 3, "stratify_column": "label"}),
            node("forest", "model.decision_forest", {}),
            node("tune", "train.tune_model_hyperparameters",
                 {"label_column": "label", "mode": "random_sweep", "runs": settings, "folds": folds, "seed": 11}),
            node("score", "train.score_model", {}),
            node("evaluate", "evaluate.evaluate_model", {}),
        ],
        "edges": [
            wire("data", "data", "split", "data"),
            wire("forest", "learner", "tune", "learner"),
            wire("split", "first", "tune", "data"),
            wire("tune", "model", "score", "model"),
            wire("split", "second", "score", "data"),
            wire("score", "data", "evaluate", "scored"),
        ],
    }
    path.write_text(json.dumps(flow, indent=2))


def run(cmd: list[str], env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, env=env, capture_output=True, text=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pipewright", default=str(Path(os.environ.get("CARGO_TARGET_DIR", Path.home() / ".cache/pipewright/target")) / "release/pipewright"))
    ap.add_argument("--rows", type=int, default=10000)
    ap.add_argument("--settings", type=int, default=24)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--tasks", type=int, default=24, help="the most tasks (units are dealt several to a task)")
    ap.add_argument("--at-once", default="1,2", help="tasks at once to compare, the first is the reference")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json-out")
    args = ap.parse_args()
    binary = str(Path(args.pipewright).resolve())
    if not Path(binary).is_file():
        raise SystemExit(f"no Pipewright binary at {binary} (cargo build --release, or --pipewright PATH)")
    if os.geteuid() != 0:
        raise SystemExit("the test Slurm runs its daemons as root")

    work = Path(tempfile.mkdtemp(prefix="pwfan"))
    work.chmod(0o755)  # munged runs as its own user and must reach its folder inside
    cluster = work / "slurm"
    up = run(["bash", str(ROOT / "tests/cluster/slurm.sh"), "up", str(cluster), str(free_port())])
    if up.returncode != 0:
        raise SystemExit(f"Slurm did not start:\n{up.stdout}{up.stderr}")
    env = dict(os.environ)
    for line in up.stdout.splitlines():
        if line.startswith("SLURM_CONF="):
            env["SLURM_CONF"] = line.split("=", 1)[1]
    try:
        data = work / "table.csv"
        write_data(data, args.rows)
        flow = work / "sweep.flow.json"
        write_workflow(flow, data, args.settings, args.folds)
        levels = [int(v) for v in args.at_once.split(",")]
        bundles = {}
        for n in levels:
            bundle = work / f"bundle-{n}"
            out = run([binary, "export", str(flow), "-o", str(bundle), "--target", "slurm", "--fan-out",
                       "--at-once", str(n), "--max-tasks", str(args.tasks), "--gpus", "0", "--cpus", "1",
                       "--memory", "2G", "--time", "60m", "--runner-path", binary])
            if out.returncode != 0:
                raise SystemExit(f"export failed:\n{out.stdout}{out.stderr}")
            said = [line.strip() for line in out.stdout.splitlines() if "task set:" in line]
            print(said[0] if said else out.stdout.strip(), flush=True)
            bundles[n] = bundle
        walls: dict[int, list[float]] = {n: [] for n in levels}
        detail: dict[int, list[dict]] = {n: [] for n in levels}
        for r in range(args.repeat):
            order = levels if r % 2 == 0 else list(reversed(levels))
            for n in order:
                started = time.monotonic()
                out = run([binary, "submit", str(bundles[n]), "--slurm", "--poll", "0.2", "--quiet"], env)
                wall = time.monotonic() - started
                if out.returncode != 0:
                    raise SystemExit(f"submit failed:\n{out.stdout}{out.stderr}")
                walls[n].append(wall)
                detail[n].append(measure(bundles[n]))
                print(f"  at once {n}: {wall:.1f} s", flush=True)
        reference = statistics.median(walls[levels[0]])
        print(f"\nsweep of {args.settings} settings x {args.folds} folds, {args.tasks} tasks, decision forest, "
              f"{args.rows} rows; median of {args.repeat}")
        for n in levels:
            m = statistics.median(walls[n])
            print(f"  {n} at once: {m:7.1f} s   speed-up {reference / m:4.2f}x")
        last = detail[levels[0]][-1]
        print(f"  units: {last['units']} ({last['unit_seconds']:.1f} s of compute in all, "
              f"{statistics.mean(last['task_compute']):.2f} s a task on average), combine {last['combine_seconds']:.2f} s")
        if args.json_out:
            Path(args.json_out).parent.mkdir(parents=True, exist_ok=True)
            Path(args.json_out).write_text(json.dumps({"args": vars(args), "walls": walls, "detail": detail}, indent=2))
    finally:
        run(["bash", str(ROOT / "tests/cluster/slurm.sh"), "down", str(cluster)])
        shutil.rmtree(work, ignore_errors=True)
    return 0


def measure(bundle: Path) -> dict:
    """Per unit and per task compute seconds (the task results' records) and the combine's run time."""
    task_compute: dict[int, float] = {}
    units = 0
    for record in (bundle / "tasks/results").glob("*/*/unit.json"):
        unit = json.loads(record.read_text())
        task_compute[unit["task"]] = task_compute.get(unit["task"], 0.0) + unit["seconds"]
        units += 1
    result = json.loads((bundle / "results/result.json").read_text())
    return {
        "units": units,
        "unit_seconds": sum(task_compute.values()),
        "task_compute": [task_compute[k] for k in sorted(task_compute)],
        "combine_seconds": result.get("duration_secs", 0.0),
    }


if __name__ == "__main__":
    sys.exit(main())
