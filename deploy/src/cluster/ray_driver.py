"""Ray job entrypoint: runs this bundle's task set as Ray tasks, then the combine.

Each index of tasks/tasks.json is one Ray task asking for the bundle's CPUs and GPUs (Ray gives each its own
GPUs through CUDA_VISIBLE_DEVICES), retried by Ray when it fails or its worker dies. When every index has
succeeded, the combine runs as one more task and its output (the workflow's result) is this job's log. The
bundle's folder must be readable on every node.
"""
import json
import os
import subprocess
import sys

import ray

BUNDLE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CPUS = __CPUS__
GPUS = __GPUS__
RETRIES = __RETRIES__
AT_ONCE = __AT_ONCE__
# Train Model blocks trained data-parallel: their folders (fit.json, the shards) and ranks.
FITS = __FITS__
# How long the ranks of a fit may wait for the cluster to hold them all at once.
GANG_TIMEOUT_S = 600


def describe(task):
    units = task["units"]
    if len(units) == 1:
        return f'task {task["index"]} ({units[0]["label"]} of block "{units[0]["node"]}")'
    return f'task {task["index"]} ({len(units)} units)'


@ray.remote(num_cpus=CPUS, num_gpus=GPUS, max_retries=RETRIES, retry_exceptions=True)
def run_task(index):
    env = dict(os.environ, PIPEWRIGHT_TASK_RETRIES="0")
    done = subprocess.run(["sh", os.path.join(BUNDLE, "task.sh"), str(index)], cwd=BUNDLE, env=env,
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError((done.stderr or done.stdout).strip()[-2000:] or f"exit code {done.returncode}")
    node = ray.get_runtime_context().get_node_id()[:8]
    return index, node, os.environ.get("CUDA_VISIBLE_DEVICES", "none")


def runner():
    """The Pipewright runner: $PIPEWRIGHT, else the bundle's (bundled or installed on the nodes)."""
    if os.environ.get("PIPEWRIGHT"):
        return os.environ["PIPEWRIGHT"]
    with open(os.path.join(BUNDLE, "bundle.json")) as f:
        manifest = json.load(f)
    return os.path.join(BUNDLE, manifest["runner"]) if manifest["runner_bundled"] else manifest["runner"]


@ray.remote(num_cpus=CPUS, num_gpus=GPUS, max_retries=0)
def fit_rank(directory, rank, ranks, run):
    """One rank of a data-parallel fit: `pipewright shard-fit` over its shard."""
    done = subprocess.run([runner(), "shard-fit", directory, "--rank", str(rank), "--ranks", str(ranks), "--run", run],
                          cwd=BUNDLE, capture_output=True, text=True)
    node = ray.get_runtime_context().get_node_id()[:8]
    return rank, node, done.returncode, (done.stderr or done.stdout).strip()[-2000:]


def run_fits():
    """Each data-parallel fit: its ranks placed at once (a placement group, spread over the nodes), then waited
    for; rank 0 leaves the model for the combine."""
    from ray.util.placement_group import placement_group, remove_placement_group
    from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

    for fit in FITS:
        ranks = fit["ranks"]
        bundle = {"CPU": CPUS} if GPUS == 0 else {"CPU": CPUS, "GPU": GPUS}
        group = placement_group([bundle] * ranks, strategy="SPREAD")
        ready, _ = ray.wait([group.ready()], timeout=GANG_TIMEOUT_S)
        if not ready:
            print(f"error: block \"{fit['node']}\": the cluster cannot hold its {ranks} ranks at once "
                  f"({bundle} each) within {GANG_TIMEOUT_S} s", flush=True)
            sys.exit(1)
        run = f"ray-{ray.get_runtime_context().get_job_id()}"
        strategy = PlacementGroupSchedulingStrategy(placement_group=group)
        refs = [fit_rank.options(scheduling_strategy=strategy).remote(os.path.join(BUNDLE, fit["dir"]), r, ranks, run)
                for r in range(ranks)]
        results = ray.get(refs)
        remove_placement_group(group)
        failed = [r for r in results if r[2] != 0]
        for rank, node, code, said in failed:
            print(f"error: block \"{fit['node']}\": rank {rank} on node {node} failed (exit {code}): {said}", flush=True)
        if failed:
            sys.exit(1)
        nodes = sorted({node for _, node, _, _ in results})
        print(f"fit of block \"{fit['node']}\": {ranks} ranks done on nodes {', '.join(nodes)}", flush=True)


@ray.remote(num_cpus=CPUS, num_gpus=GPUS, max_retries=0)
def combine():
    done = subprocess.run(["sh", os.path.join(BUNDLE, "combine.sh")], cwd=BUNDLE, capture_output=True, text=True)
    return done.returncode, done.stdout, done.stderr


def main():
    with open(os.path.join(BUNDLE, "tasks", "tasks.json")) as f:
        tasks = json.load(f)["tasks"]
    ray.init()
    window = AT_ONCE or len(tasks)
    queue = list(tasks)
    running = {}
    finished = 0
    print(f"pipewright task set in {BUNDLE}: {len(tasks)} tasks, {window} at once", flush=True)
    while queue or running:
        while queue and len(running) < window:
            task = queue.pop(0)
            running[run_task.remote(task["index"])] = task
        ready, _ = ray.wait(list(running), num_returns=1)
        for ref in ready:
            task = running.pop(ref)
            try:
                index, node, gpus = ray.get(ref)
            except Exception as e:  # the task failed after its retries, or its node was lost
                message = str(e).strip().splitlines()
                print(f"error: {describe(task)} failed after {RETRIES} retries: {message[-1] if message else e}",
                      flush=True)
                for ref in running:
                    ray.cancel(ref, force=True)
                sys.exit(1)
            finished += 1
            print(f"task {index} done on node {node} with GPUs: {gpus} ({finished} of {len(tasks)})", flush=True)
    run_fits()
    code, out, err = ray.get(combine.remote())
    sys.stderr.write(err)
    sys.stdout.write(out)
    sys.exit(code)


if __name__ == "__main__":
    main()
