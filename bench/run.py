#!/usr/bin/env python3
"""Pipewright against pandas + scikit-learn, side by side, in one run (see bench/README.md).

Runs with the standard library alone; the reference side and the data generator run under the benchmark's
Python (bench/.venv, made here from PyPI, or --python).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
WORKFLOWS = BENCH / "workflows"
OUT = BENCH / "out"
VENV = BENCH / ".venv"
PACKAGES = ["pandas", "scikit-learn", "polars", "numpy", "psutil", "lightgbm", "pyarrow"]

sys.path.insert(0, str(BENCH))
from generate import DEFAULT_ROWS, dataset_paths  # noqa: E402  (standard library only at import time)

ALL_WORKLOADS = ["W1", "W2", "W3", "W4", "W5", "W6", "W7", "W1P", "W5P", "W8", "INCR", "OVERHEAD"]
# Workloads that are another one on other data: W1P and W5P read Parquet, W8 is W1 on cls_big (50M rows).
SAME_AS = {"W1P": "W1", "W5P": "W5", "W8": "W1"}
W6_SETS = {
    "iris": ["logistic", "tree", "forest", "knn", "naive_bayes"],
    "wine": ["logistic", "tree", "forest", "knn", "naive_bayes"],
    "breast_cancer": ["logistic", "tree", "forest", "knn", "naive_bayes"],
    "diabetes": ["linear", "ridge"],
}
# The node whose duration is Pipewright's fit time, per workload.
FIT_NODES = {"W1": ["train"], "W2": ["train_linear", "train_ridge"], "W3": ["train"], "W4": ["train"], "W7": ["train"]}


def kind(workload: str) -> str:
    """The workload whose flow, quality and reference a workload shares ("W8" → "W1")."""
    return SAME_AS.get(workload, workload)


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------------------------
# Child processes: wall seconds and peak memory
# --------------------------------------------------------------------------------------------------------------


class Child:
    """The outcome of one child process."""

    def __init__(self, cmd, rc, wall, peak_kib, stdout, stderr, timed_out=False):
        self.cmd, self.rc, self.wall, self.peak_kib = cmd, rc, wall, peak_kib
        self.stdout, self.stderr, self.timed_out = stdout, stderr, timed_out

    @property
    def peak_mib(self) -> float | None:
        return None if self.peak_kib is None else self.peak_kib / 1024.0

    def json_line(self):
        """The last line of stdout that parses as a JSON object (or the whole of stdout)."""
        text = self.stdout.strip()
        try:
            return json.loads(text)
        except ValueError:
            pass
        for line in reversed(text.splitlines()):
            try:
                value = json.loads(line)
                if isinstance(value, dict):
                    return value
            except ValueError:
                continue
        return None

    def error_text(self) -> str:
        lines = [l for l in self.stderr.strip().splitlines() if l.strip()]
        if self.timed_out:
            return "timed out"
        return lines[-1][:200] if lines else f"exit code {self.rc}"


def run_child(cmd: list[str], timeout: float, env: dict | None = None, cwd: Path | None = None, memory_cap: int | None = None) -> Child:
    """Runs cmd; wall seconds from start to exit, and its peak resident set size.

    The peak comes from the rusage that wait4() returns for this one child (ru_maxrss, KiB on Linux): the
    kernel's own high-water mark of that process, the figure GNU time's %M prints. Unlike
    getrusage(RUSAGE_CHILDREN) it is not a maximum over every child run so far, and unlike polling it cannot
    miss a short peak.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        def cap():
            # An address-space limit makes a program that outgrows the machine fail with its own out-of-memory
            # error instead of being killed by the kernel (or pushing the machine into swap).
            import resource

            resource.setrlimit(resource.RLIMIT_AS, (memory_cap, memory_cap))

        proc = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env, cwd=cwd, start_new_session=True,
                                preexec_fn=cap if memory_cap else None)
        result = {}

        def wait():
            _, status, usage = os.wait4(proc.pid, 0)
            result["end"] = time.perf_counter()
            result["status"] = status
            result["usage"] = usage

        waiter = threading.Thread(target=wait, daemon=True)
        waiter.start()
        waiter.join(timeout)
        timed_out = waiter.is_alive()
        if timed_out:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            waiter.join()
        proc.returncode = os.waitstatus_to_exitcode(result["status"])
        out.seek(0)
        err.seek(0)
        return Child(
            cmd,
            proc.returncode,
            result["end"] - start,
            result["usage"].ru_maxrss,
            out.read().decode("utf-8", "replace"),
            err.read().decode("utf-8", "replace"),
            timed_out,
        )


# --------------------------------------------------------------------------------------------------------------
# Setup: Python, data, Pipewright
# --------------------------------------------------------------------------------------------------------------


def python_has(python: str, modules: list[str]) -> bool:
    code = "; ".join(f"import {m}" for m in modules)
    return subprocess.run([python, "-c", code], capture_output=True).returncode == 0


def setup_python(args) -> str:
    if args.python:
        python = shutil.which(args.python) or args.python
        if not python_has(python, ["numpy", "pandas", "sklearn"]):
            sys.exit(f"error: {python} lacks numpy, pandas or scikit-learn (needed by the reference side)")
        return python
    python = str(VENV / "bin" / "python")
    if not Path(python).exists():
        log(f"creating {VENV}")
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    if not python_has(python, ["numpy", "pandas", "sklearn", "polars", "psutil", "lightgbm", "pyarrow"]):
        log(f"installing {' '.join(PACKAGES)} into {VENV}")
        rc = subprocess.run([python, "-m", "pip", "install", "--quiet", *PACKAGES]).returncode
        if rc != 0:
            sys.exit("error: pip install failed; on a machine without internet pass --python with a Python that has pandas and scikit-learn")
    return python


def python_versions(python: str) -> dict:
    code = (
        "import json, sys\n"
        "v = {'python': sys.version.split()[0]}\n"
        "for m in ('numpy', 'pandas', 'sklearn', 'polars', 'lightgbm', 'pyarrow'):\n"
        "    try:\n"
        "        v[m] = __import__(m).__version__\n"
        "    except ImportError:\n"
        "        v[m] = None\n"
        "print(json.dumps(v))\n"
    )
    out = subprocess.run([python, "-c", code], capture_output=True, text=True)
    try:
        return json.loads(out.stdout)
    except ValueError:
        return {}


def find_pipewright(args) -> str:
    if args.pipewright:
        path = shutil.which(args.pipewright) or args.pipewright
        if not Path(path).exists():
            sys.exit(f"error: --pipewright {args.pipewright}: no such file")
        return str(Path(path).resolve())
    target = Path(os.environ.get("CARGO_TARGET_DIR") or Path.home() / ".cache" / "pipewright" / "target")
    env = dict(os.environ, CARGO_TARGET_DIR=str(target))
    log(f"building pipewright (release) into {target}: cargo build --release --bin pipewright")
    rc = subprocess.run(["cargo", "build", "--release", "--bin", "pipewright"], cwd=REPO, env=env).returncode
    if rc != 0:
        sys.exit("error: cargo build failed; pass --pipewright PATH to use a binary that exists")
    return str(target / "release" / "pipewright")


def ensure_data(args, python: str, workloads: list[str]) -> dict[str, Path]:
    paths = dataset_paths(args.data_dir, args.rows, args.big_rows)
    needed = set()
    for w in workloads:
        needed |= {"W1": {"cls"}, "W4": {"cls"}, "W5": {"cls"}, "INCR": {"cls"}, "W2": {"reg"}, "W3": {"blobs"}, "W7": {"cls"},
                   "W1P": {"cls", "cls_parquet"}, "W5P": {"cls", "cls_parquet"}, "W8": {"cls_big"}}.get(w, set())
    sets = ("cls", "reg", "blobs", "cls_parquet", "cls_big")
    missing = [s for s in sets if s in needed and not (paths[s].exists() and (s != "cls" or paths["cls_head"].exists()))]
    if missing:
        log(f"generating {', '.join(missing)} ({args.rows:,} rows; cls_big {args.big_rows:,}) into {args.data_dir}")
        cmd = [python, str(BENCH / "generate.py"), "--rows", str(args.rows), "--big-rows", str(args.big_rows),
               "--out", str(args.data_dir), "--sets", ",".join(missing)]
        subprocess.run(cmd, check=True)
    w6_dir = args.data_dir / "w6"
    paths["w6"] = w6_dir
    if "W6" in workloads and not all((w6_dir / f"{name}.csv").exists() for name in W6_SETS):
        log(f"exporting the W6 datasets with their folds into {w6_dir}")
        subprocess.run([python, str(BENCH / "reference.py"), "export-w6", "--data-dir", str(w6_dir)], check=True, stdout=subprocess.DEVNULL)
    return paths


# --------------------------------------------------------------------------------------------------------------
# Pipewright side
# --------------------------------------------------------------------------------------------------------------


def set_arg(node: str, param: str, value) -> list[str]:
    # Values are passed as JSON, so a path is never mistaken for a number.
    return ["--set", f"{node}.{param}={json.dumps(value)}"]


def path_overrides(workload: str, paths: dict[str, Path]) -> list[str]:
    if workload in ("W1", "W5", "INCR", "W7"):
        return set_arg("import", "path", str(paths["cls"]))
    if workload in ("W1P", "W5P"):
        return set_arg("import", "path", str(paths["cls_parquet"]))
    if workload == "W8":
        return set_arg("import", "path", str(paths["cls_big"]))
    if workload == "W2":
        return set_arg("import", "path", str(paths["reg"]))
    if workload == "W3":
        return set_arg("import", "path", str(paths["blobs"]))
    if workload == "W4":
        return set_arg("import", "path", str(paths["cls_head"]))
    if workload == "W6":
        return [a for name in W6_SETS for a in set_arg(f"import_{name}", "path", str(paths["w6"] / f"{name}.csv"))]
    return []


def validate(pw: str, flow: Path) -> tuple[bool, str]:
    out = subprocess.run([pw, "validate", str(flow)], capture_output=True, text=True)
    return out.returncode == 0, (out.stdout + out.stderr).strip()


def prepare_flow(pw: str, workload: str, notes: list[str]) -> Path:
    """The workflow file to run; for W6, a copy without fold_column when this build does not know it."""
    flows = {"W1": "w1", "W2": "w2", "W3": "w3", "W4": "w4", "W5": "w5", "W6": "w6", "W7": "w7", "INCR": "w1"}
    flow = WORKFLOWS / flows[kind(workload)]
    flow = flow.with_suffix(".flow.json")
    ok, text = validate(pw, flow)
    if ok:
        return flow
    if workload == "W6" and "fold_column" in text:
        doc = json.loads(flow.read_text())
        for node in doc["nodes"]:
            node["params"].pop("fold_column", None)
        OUT.mkdir(parents=True, exist_ok=True)
        copy = OUT / "w6_without_fold_column.flow.json"
        copy.write_text(json.dumps(doc, indent=2))
        notes.append(
            "W6: this pipewright build rejects Cross Validate Model's fold_column parameter; W6 ran without it, so "
            "Pipewright used its own (seeded, stratified) folds, not the reference's: quality compares different folds"
        )
        ok, text = validate(pw, copy)
        if ok:
            return copy
    notes.append(f"{workload}: {flow.name} does not validate: {text[:300]}")
    return flow


def pipewright_run(pw: str, flow: Path, extra: list[str], device: str, timeout: float, cache: bool = False) -> Child:
    cmd = [pw, "run", str(flow), "--json", "--device", device, *extra]
    if not cache:
        cmd.append("--no-cache")
    return run_child(cmd, timeout)


def pw_summary(child: Child) -> dict:
    """What the harness keeps of one `pipewright run --json`."""
    doc = child.json_line() or {}
    nodes = doc.get("nodes", [])
    failed = [f"{n['id']}: {n.get('error')}" for n in nodes if n.get("status") in ("failed", "skipped") and n.get("error")]
    ok = child.rc == 0 and doc.get("success") is True
    return {
        "ok": ok,
        "rc": child.rc,
        "wall_seconds": child.wall,
        "peak_mib": child.peak_mib,
        "run_seconds": doc.get("duration_secs"),
        "nodes": {n["id"]: {k: n.get(k) for k in ("kind", "status", "cache_hit", "duration_secs", "device", "outputs")} for n in nodes},
        "metrics": doc.get("metrics", {}),
        "error": None if ok else (failed[0] if failed else child.error_text()),
    }


# --------------------------------------------------------------------------------------------------------------
# Quality
# --------------------------------------------------------------------------------------------------------------


def pw_quality(workload: str, s: dict, extra: dict) -> dict:
    workload = kind(workload)
    m = s.get("metrics", {})
    ev = m.get("evaluate", {})
    if workload == "W1":
        x = ev.get("scored", {})
        return {k: x.get(k) for k in ("accuracy", "roc_auc", "f1")}
    if workload == "W2":
        return {
            "linear": {k: ev.get("scored", {}).get(k) for k in ("rmse", "r2")},
            "ridge": {k: ev.get("scored_2", {}).get(k) for k in ("rmse", "r2")},
        }
    if workload == "W3":
        return {"inertia": ev.get("scored", {}).get("inertia")}
    if workload in ("W4", "W7"):
        x = ev.get("scored", {})
        return {k: x.get(k) for k in ("accuracy", "roc_auc")}
    if workload == "W5":
        rows = None
        summary = (s.get("nodes", {}).get("import", {}).get("outputs") or [""])[0]
        match = re.match(r"(\d+) rows × (\d+) columns", summary)
        if match:
            rows = int(match.group(1))
            return {"rows": rows, "columns": int(match.group(2)), "nulls": extra.get("pw_nulls")}
        return {"rows": None, "columns": None, "nulls": extra.get("pw_nulls")}
    if workload == "W6":
        out = {}
        for name, models in W6_SETS.items():
            metric = "r2" if name == "diabetes" else "accuracy"
            for model in models:
                out[f"{name}/{model}"] = {metric: m.get(f"cv_{name}_{model}", {}).get("mean", {}).get(metric)}
        return out
    return {}


def close(a, b, tol, relative=False) -> bool:
    if a is None or b is None:
        return False
    return abs(a - b) <= (tol * abs(b) if relative else tol)


def quality_match(workload: str, pw: dict, ref: dict) -> tuple[bool, str]:
    """(match, detail) by the tolerances of BENCHMARKS.md."""
    if not ref:
        return False, "no reference result"
    workload = kind(workload)
    if workload == "W7":
        return close(pw.get("roc_auc"), ref.get("roc_auc"), 0.005), "AUC within 0.005"
    if workload == "W1":
        ok = close(pw.get("accuracy"), ref.get("accuracy"), 0.002) and close(pw.get("roc_auc"), ref.get("roc_auc"), 0.002)
        return ok, "acc & AUC within 0.002"
    if workload == "W2":
        ok = all(close(pw[m].get("rmse"), ref[m].get("rmse"), 0.001, relative=True) for m in ("linear", "ridge"))
        return ok, "RMSE within 0.1%"
    if workload == "W3":
        return close(pw.get("inertia"), ref.get("inertia"), 0.01, relative=True), "inertia within 1%"
    if workload == "W4":
        return close(pw.get("accuracy"), ref.get("accuracy"), 0.01), "acc within 0.01"
    if workload == "W5":
        ok = pw.get("rows") == ref.get("rows") and pw.get("nulls") is not None and pw.get("nulls") == ref.get("nulls")
        return ok, "rows & nulls equal"
    if workload == "W6":
        keys = list(ref)
        good = [k for k in keys if close(next(iter(pw.get(k, {}).values()), None), next(iter(ref[k].values())), 0.01)]
        return len(good) == len(keys), f"{len(good)}/{len(keys)} within 0.01"
    return False, ""


def fmt(v, digits=4) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        if abs(v) >= 1e5:
            return f"{v:.6g}"
        return f"{v:.{digits}f}"
    return str(v)


def quality_text(workload: str, q: dict) -> str:
    workload = kind(workload)
    if not q:
        return "-"
    if workload == "W1":
        return f"acc {fmt(q.get('accuracy'))} auc {fmt(q.get('roc_auc'))} f1 {fmt(q.get('f1'))}"
    if workload == "W2":
        return " ".join(f"{m} rmse {fmt(q[m].get('rmse'))} r2 {fmt(q[m].get('r2'))}" for m in ("linear", "ridge") if m in q)
    if workload == "W3":
        return f"inertia {fmt(q.get('inertia'))}"
    if workload in ("W4", "W7"):
        return f"acc {fmt(q.get('accuracy'))} auc {fmt(q.get('roc_auc'))}"
    if workload == "W5":
        return f"rows {fmt(q.get('rows'))} nulls {fmt(q.get('nulls'))}"
    if workload == "W6":
        values = [next(iter(v.values())) for v in q.values()]
        present = [v for v in values if v is not None]
        return f"{len(present)} means" if present else "-"
    return "-"


# --------------------------------------------------------------------------------------------------------------
# Workloads
# --------------------------------------------------------------------------------------------------------------


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def reference_cmd(python: str, workload: str, paths: dict[str, Path], engine: str | None = None) -> list[str]:
    script = str(BENCH / "reference.py")
    data = {"W1": paths["cls"], "W2": paths["reg"], "W3": paths["blobs"], "W4": paths["cls_head"], "W5": paths["cls"],
            "W7": paths["cls"], "W1P": paths["cls_parquet"], "W5P": paths["cls_parquet"], "W8": paths["cls_big"]}
    if workload == "W6":
        return [python, script, "W6", "--data-dir", str(paths["w6"])]
    cmd = [python, script, kind(workload), "--data", str(data[workload])]
    if engine:
        cmd += ["--engine", engine]
    return cmd


def w5_null_count(pw: str, data: Path, timeout: float, notes: list[str]) -> int | None:
    """Pipewright's null count of `data`: Import Data → Summarize Data → Export Data, outside any timing."""
    OUT.mkdir(parents=True, exist_ok=True)
    counts = OUT / "w5_counts.csv"
    counts.unlink(missing_ok=True)
    extra = set_arg("import", "path", str(data)) + set_arg("export", "path", str(counts))
    child = pipewright_run(pw, WORKFLOWS / "w5_check.flow.json", extra, "cpu", timeout)
    if child.rc != 0 or not counts.exists():
        notes.append(f"W5: the null-count check failed: {child.error_text()}")
        return None
    import csv

    with open(counts, newline="") as fh:
        rows = list(csv.DictReader(fh))
    try:
        return int(sum(float(r["missing"]) for r in rows))
    except (KeyError, ValueError) as e:
        notes.append(f"W5: unreadable summary {counts}: {e}")
        return None


def total_memory() -> int:
    """Physical memory in bytes (16 GiB where it cannot be read)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        return 16 << 30


def bench_workload(workload, args, pw, python, paths, devices, notes, polars_ok, lightgbm_ok):
    """Runs one of W1..W6: Pipewright on each device and the reference, interleaved, `repeat` times."""
    flow = prepare_flow(pw, workload, notes)
    extra = path_overrides(workload, paths)
    engines = [None]
    if kind(workload) == "W5":
        engines = ["pandas", "polars"] if polars_ok else ["pandas"]
        if not polars_ok:
            notes.append(f"{workload}: polars is not installed in the benchmark Python: the polars reference was skipped")
    if workload == "W7":
        engines = ["lightgbm", "hgb"] if lightgbm_ok else ["hgb"]
        if not lightgbm_ok:
            notes.append("W7: lightgbm is not installed in the benchmark Python: only HistGradientBoosting ran")
    # W8 reads about 10 GB per run: --w8-repeat runs (default 1); its reference runs under an address-space cap
    # of the machine's memory less 2 GiB, so pandas fails with MemoryError rather than being killed by the kernel.
    repeat = args.w8_repeat if workload == "W8" else args.repeat
    memory_cap = max(total_memory() - (2 << 30), 1 << 30) if workload == "W8" else None
    pw_runs = {d: [] for d in devices}
    ref_runs = {e: [] for e in engines}
    def run_pipewright(r: int) -> None:
        for d in devices:
            child = pipewright_run(pw, flow, extra, d, args.timeout)
            s = pw_summary(child)
            pw_runs[d].append(s)
            # Pipewright's notes on stderr (for example that --device gpu got a software adapter).
            notes.extend(f"{workload} --device {d}: {l.strip()}" for l in child.stderr.splitlines() if l.strip().startswith("note:"))
            log(f"  {workload} pipewright --device {d} #{r + 1}: {child.wall:.2f}s {fmt(child.peak_mib, 0)} MiB" + ("" if s["ok"] else f" FAILED: {s['error']}"))

    def run_reference(r: int) -> None:
        for e in engines:
            child = run_child(reference_cmd(python, workload, paths, e), args.timeout, memory_cap=memory_cap)
            res = child.json_line() if child.rc == 0 else None
            ref_runs[e].append({"ok": res is not None, "wall_seconds": child.wall, "peak_mib": child.peak_mib, "result": res, "error": None if res else child.error_text()})
            label = f"reference{'/' + e if e else ''}"
            log(f"  {workload} {label} #{r + 1}: " + (f"{res['seconds']:.2f}s (wall {child.wall:.2f}s) {fmt(child.peak_mib, 0)} MiB" if res else f"FAILED: {child.error_text()}"))

    # The sides take turns going first: a process that runs right after another finds the file in the page cache
    # and memory the kernel has just handed back, so neither side always runs on the other's warm-up.
    for r in range(repeat):
        first, second = (run_pipewright, run_reference) if r % 2 == 0 else (run_reference, run_pipewright)
        first(r)
        second(r)
    extra_q = {}
    if kind(workload) == "W5":
        extra_q["pw_nulls"] = w5_null_count(pw, paths["cls_parquet" if workload == "W5P" else "cls"], args.timeout, notes)
    rows = []
    for e in engines:
        refs = ref_runs[e]
        ok_refs = [x for x in refs if x["ok"]]
        ref_quality = ok_refs[0]["result"]["metrics"] if ok_refs else {}
        ref = {
            "ok": bool(ok_refs),
            "seconds": median([x["result"]["seconds"] for x in ok_refs]),
            "fit_seconds": median([x["result"].get("fit_seconds") for x in ok_refs]),
            "wall_seconds": median([x["wall_seconds"] for x in ok_refs]),
            "peak_mib": median([x["peak_mib"] for x in ok_refs]),
            "quality": ref_quality,
            "error": None if ok_refs else refs[0]["error"],
            "runs": refs,
        }
        for d in devices:
            runs = pw_runs[d]
            ok_runs = [x for x in runs if x["ok"]]
            fit_nodes = FIT_NODES.get(kind(workload), [])
            fits = [sum(x["nodes"].get(n, {}).get("duration_secs") or 0.0 for n in fit_nodes) for x in ok_runs] if fit_nodes else []
            q = pw_quality(workload, ok_runs[0], extra_q) if ok_runs else {}
            reported = sorted({n.get("device") for n in ok_runs[0]["nodes"].values() if n.get("device")}) if ok_runs else []
            pwr = {
                "ok": bool(ok_runs),
                "seconds": median([x["wall_seconds"] for x in ok_runs]),
                "run_seconds": median([x["run_seconds"] for x in ok_runs]),
                "fit_seconds": median(fits),
                "peak_mib": median([x["peak_mib"] for x in ok_runs]),
                "quality": q,
                "node_devices": reported,
                "error": None if ok_runs else runs[0]["error"],
                "runs": runs,
            }
            match, rule = quality_match(workload, q, ref_quality) if (ok_runs and ok_refs) else (False, "")
            rows.append({
                "workload": workload + (f"/{e}" if e else ""),
                "device": d,
                "pipewright": pwr,
                "reference": ref,
                "ratio": (pwr["seconds"] / ref["seconds"]) if (pwr["seconds"] and ref["seconds"]) else None,
                "mem_ratio": (pwr["peak_mib"] / ref["peak_mib"]) if (pwr["peak_mib"] and ref["peak_mib"]) else None,
                "quality_match": match,
                "quality_rule": rule,
                "flow": str(flow),
            })
    return rows


def bench_incremental(args, pw, paths, device, notes) -> dict:
    """W1 with the project cache: a cold run, then the evaluate node's seed changed with --set."""
    folder = OUT / "incremental"
    shutil.rmtree(folder, ignore_errors=True)
    (folder / ".pipewright").mkdir(parents=True)  # the project folder, so the cache lands here
    flow = folder / "w1.flow.json"
    shutil.copy(WORKFLOWS / "w1.flow.json", flow)
    extra = path_overrides("INCR", paths)
    try:
        cold = pw_summary(pipewright_run(pw, flow, extra, device, args.timeout, cache=True))
        changed = pw_summary(pipewright_run(pw, flow, extra + set_arg("evaluate", "seed", 7), device, args.timeout, cache=True))
        again = pw_summary(pipewright_run(pw, flow, extra + set_arg("evaluate", "seed", 7), device, args.timeout, cache=True))
    finally:
        cache_bytes = sum(f.stat().st_size for f in (folder / ".pipewright").rglob("*") if f.is_file())
        shutil.rmtree(folder, ignore_errors=True)

    def counts(s):
        nodes = s["nodes"].values()
        return {"ran": sum(1 for n in nodes if n.get("status") == "finished"), "cached": sum(1 for n in nodes if n.get("cache_hit")), "nodes": len(s["nodes"])}

    result = {
        "device": device,
        "cold": {"seconds": cold["wall_seconds"], "ok": cold["ok"], "error": cold["error"], **counts(cold)},
        "changed_last_node": {"seconds": changed["wall_seconds"], "ok": changed["ok"], "error": changed["error"], **counts(changed),
                              "ran_nodes": [k for k, n in changed["nodes"].items() if n.get("status") == "finished"]},
        "unchanged_rerun": {"seconds": again["wall_seconds"], "ok": again["ok"], "error": again["error"], **counts(again)},
        "cache_mib": cache_bytes / 2**20,
    }
    if changed["ok"] and result["changed_last_node"]["ran_nodes"] != ["evaluate"]:
        notes.append(f"INCR: after changing evaluate.seed these nodes ran: {result['changed_last_node']['ran_nodes']} (expected only evaluate)")
    return result


def bench_overhead(args, pw, device) -> dict:
    flow = WORKFLOWS / "overhead200.flow.json"
    full, one = [], []
    for _ in range(args.repeat):
        full.append(pw_summary(pipewright_run(pw, flow, [], device, args.timeout)))
        one.append(pw_summary(pipewright_run(pw, flow, ["--to", "n000"], device, args.timeout)))
    ok_full = [x for x in full if x["ok"]]
    ok_one = [x for x in one if x["ok"]]
    n = len(full[0]["nodes"]) if full and full[0]["nodes"] else 200
    wall = median([x["wall_seconds"] for x in ok_full])
    wall_one = median([x["wall_seconds"] for x in ok_one])
    node_sum = median([sum(v.get("duration_secs") or 0.0 for v in x["nodes"].values()) for x in ok_full])
    return {
        "device": device,
        "ok": bool(ok_full),
        "error": None if ok_full else full[0]["error"],
        "nodes": n,
        "wall_seconds": wall,
        "run_seconds": median([x["run_seconds"] for x in ok_full]),
        "sum_node_seconds": node_sum,
        "peak_mib": median([x["peak_mib"] for x in ok_full]),
        "wall_seconds_first_node_only": wall_one,
        "ms_per_added_node": ((wall - wall_one) / (n - 1) * 1000.0) if (wall and wall_one and n > 1) else None,
        "ms_overhead_per_node": ((wall - wall_one - node_sum) / (n - 1) * 1000.0) if (wall and wall_one and node_sum is not None and n > 1) else None,
    }


# --------------------------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------------------------


def print_table(rows, incr, overhead, notes, meta) -> None:
    header = ["workload", "device", "Pipewright s", "reference s", "ratio", "PW fit s", "ref fit s", "PW peak MiB", "ref peak MiB",
              "mem ratio", "quality Pipewright", "quality reference", "quality match"]
    lines = []
    for r in rows:
        p, f = r["pipewright"], r["reference"]
        w = r["workload"].split("/")[0]
        dev = r["device"] + (f" ({','.join(p['node_devices'])})" if p.get("node_devices") else "")
        lines.append([
            r["workload"], dev,
            fmt(p["seconds"], 2) if p["ok"] else "FAILED", fmt(f["seconds"], 2) if f["ok"] else "FAILED",
            fmt(r["ratio"], 2), fmt(p["fit_seconds"], 2), fmt(f["fit_seconds"], 2),
            fmt(p["peak_mib"], 0), fmt(f["peak_mib"], 0), fmt(r["mem_ratio"], 2),
            quality_text(w, p["quality"]) if p["ok"] else (p["error"] or "")[:60],
            quality_text(w, f["quality"]) if f["ok"] else (f["error"] or "")[:60],
            ("yes" if r["quality_match"] else "NO") + (f" ({r['quality_rule']})" if r["quality_rule"] else ""),
        ])
    widths = [max(len(h), *(len(l[i]) for l in lines)) if lines else len(h) for i, h in enumerate(header)]
    print()
    print(f"{meta.get('pipewright_version') or 'pipewright'} ({meta['pipewright']}) against {meta['reference_versions']}; "
          f"rows {meta['rows']:,}; median of {meta['repeat']}; {meta['cpus']} CPUs; {meta['date']}")
    print("Pipewright s: wall seconds of `pipewright run --json --no-cache` (everything a user pays for); reference s: "
          "seconds reported by bench/reference.py (from the start of reading, imports excluded); peak: ru_maxrss of each child.")
    print()
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for l in lines:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(l, widths)) + " |")
    for r in rows:
        if r["workload"] == "W6" and r["pipewright"]["ok"] and r["reference"]["ok"]:
            p, f = r["pipewright"]["quality"], r["reference"]["quality"]
            print(f"\nW6 on {r['device']}: mean accuracy / R² over the 5 folds")
            print(f"| {'dataset/model':<26} | {'Pipewright':>10} | {'reference':>10} | {'|Δ|':>7} |")
            print(f"|{'-' * 28}|{'-' * 12}|{'-' * 12}|{'-' * 9}|")
            for k, v in f.items():
                rv = next(iter(v.values()))
                pv = next(iter(p.get(k, {}).values()), None) if p.get(k) else None
                d = abs(pv - rv) if (pv is not None and rv is not None) else None
                print(f"| {k:<26} | {fmt(pv):>10} | {fmt(rv):>10} | {fmt(d):>7} |")
    by_name = {(r["workload"], r["device"]): r for r in rows}
    for (name, device), r in by_name.items():
        w1 = by_name.get(("W1", device))
        if name == "W8" and r["pipewright"]["ok"]:
            per_million = r["pipewright"]["seconds"] / (meta["big_rows"] / 1e6)
            line = f"\nW8 on {device}: {fmt(per_million, 2)} s per million rows, peak {fmt(r['pipewright']['peak_mib'], 0)} MiB"
            if w1 and w1["pipewright"]["ok"]:
                w1_per_million = w1["pipewright"]["seconds"] / (meta["rows"] / 1e6)
                line += f"; W1: {fmt(w1_per_million, 2)} s per million rows (ratio {fmt(per_million / w1_per_million, 2)})"
            ref = r["reference"]
            line += "; reference: " + (f"{fmt(ref['seconds'], 1)} s" if ref["ok"] else f"failed ({(ref['error'] or '')[:80]})")
            print(line)
    if incr:
        c, ch, ag = incr["cold"], incr["changed_last_node"], incr["unchanged_rerun"]
        print(f"\nIncremental re-run of W1 ({incr['device']}, with the project cache, {fmt(incr['cache_mib'], 0)} MiB on disk):")
        print(f"  cold run:                         {fmt(c['seconds'], 2)} s, {c['ran']} ran, {c['cached']} from cache" + ("" if c["ok"] else f"  FAILED: {c['error']}"))
        print(f"  evaluate.seed changed (--set):    {fmt(ch['seconds'], 2)} s, {ch['ran']} ran ({', '.join(ch['ran_nodes'])}), {ch['cached']} from cache" + ("" if ch["ok"] else f"  FAILED: {ch['error']}"))
        print(f"  same again, nothing changed:      {fmt(ag['seconds'], 2)} s, {ag['ran']} ran, {ag['cached']} from cache" + ("" if ag["ok"] else f"  FAILED: {ag['error']}"))
    if overhead:
        o = overhead
        print(f"\nExecutor overhead ({o['nodes']}-node workflow on iris, {o['device']}, --no-cache):" + ("" if o["ok"] else f" FAILED: {o['error']}"))
        print(f"  wall {fmt(o['wall_seconds'], 3)} s (engine's run {fmt(o['run_seconds'], 3)} s, nodes' own time {fmt(o['sum_node_seconds'], 3)} s, peak {fmt(o['peak_mib'], 0)} MiB); "
              f"first node alone (--to n000) {fmt(o['wall_seconds_first_node_only'], 3)} s")
        print(f"  {fmt(o['ms_per_added_node'], 2)} ms per added node, of which {fmt(o['ms_overhead_per_node'], 2)} ms outside the nodes' own time")
    if notes:
        print("\nNotes:")
        for n in dict.fromkeys(notes):
            print(f"  - {n}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--workloads", default=",".join(ALL_WORKLOADS), help=f"comma-separated, of {','.join(ALL_WORKLOADS)} (default: all)")
    p.add_argument("--repeat", type=int, default=3, help="runs of each side; the median is reported (default 3)")
    p.add_argument("--device", default=None, choices=["cpu", "gpu", "auto"], help="pipewright run --device (default auto)")
    p.add_argument("--devices", default=None, help="comma-separated devices: the Pipewright side runs once per device, e.g. cpu,gpu")
    p.add_argument("--rows", type=int, default=DEFAULT_ROWS, help="rows of the large data sets (default 1,000,000)")
    p.add_argument("--data-dir", type=Path, default=BENCH / "data", help="where the data is, or is generated (default bench/data)")
    p.add_argument("--python", help="Python with pandas and scikit-learn for the reference side (default: bench/.venv, made from PyPI)")
    p.add_argument("--pipewright", help="the pipewright binary (default: cargo build --release --bin pipewright)")
    p.add_argument("--json-out", type=Path, help="write every measurement as JSON to this file")
    p.add_argument("--timeout", type=float, default=3600, help="seconds one child process may run (default 3600)")
    p.add_argument("--big-rows", type=int, default=50_000_000, help="rows of W8's file cls_big (default 50,000,000, about 10 GB)")
    p.add_argument("--w8-repeat", type=int, default=1, help="runs of each side of W8 (default 1: a run reads about 10 GB)")
    args = p.parse_args(argv)
    args.data_dir = args.data_dir.resolve()
    workloads = [w.strip().upper() for w in args.workloads.split(",") if w.strip()]
    unknown = [w for w in workloads if w not in ALL_WORKLOADS]
    if unknown:
        p.error(f"unknown workloads {unknown}; choose from {ALL_WORKLOADS}")
    if args.devices and args.device:
        p.error("give --device or --devices, not both")
    devices = [d.strip() for d in (args.devices or args.device or "auto").split(",") if d.strip()]
    bad = [d for d in devices if d not in ("cpu", "gpu", "auto")]
    if bad:
        p.error(f"unknown devices {bad} (cpu, gpu, auto)")
    if args.repeat < 1:
        p.error("--repeat must be at least 1")

    python = setup_python(args)
    versions = python_versions(python)
    polars_ok = bool(versions.get("polars"))
    lightgbm_ok = bool(versions.get("lightgbm"))
    paths = ensure_data(args, python, workloads)
    pw = find_pipewright(args)
    pw_version = subprocess.run([pw, "--version"], capture_output=True, text=True).stdout.strip()
    meta = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "pipewright": pw,
        "pipewright_version": pw_version,
        "python": python,
        "reference_versions": ", ".join(f"{k} {v}" for k, v in versions.items() if v),
        "rows": args.rows,
        "big_rows": args.big_rows,
        "repeat": args.repeat,
        "devices": devices,
        "data": {k: str(v) for k, v in paths.items()},
        "peak_memory_method": "ru_maxrss from wait4() of each child process",
    }
    notes: list[str] = []
    rows = []
    for w in workloads:
        if w in ("INCR", "OVERHEAD"):
            continue
        log(f"{w}:")
        rows.extend(bench_workload(w, args, pw, python, paths, devices, notes, polars_ok, lightgbm_ok))
    incr = overhead = None
    if "INCR" in workloads:
        log("INCR: W1 with the cache, then evaluate.seed changed")
        incr = bench_incremental(args, pw, paths, devices[0], notes)
    if "OVERHEAD" in workloads:
        log("OVERHEAD: 200-node workflow")
        overhead = bench_overhead(args, pw, devices[0])
    print_table(rows, incr, overhead, notes, meta)
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps({"meta": meta, "rows": rows, "incremental": incr, "overhead": overhead, "notes": list(dict.fromkeys(notes))}, indent=2))
        log(f"wrote {args.json_out}")
    failed = [r for r in rows if not (r["pipewright"]["ok"] and r["reference"]["ok"])]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
