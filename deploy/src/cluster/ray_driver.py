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
    code, out, err = ray.get(combine.remote())
    sys.stderr.write(err)
    sys.stdout.write(out)
    sys.exit(code)


if __name__ == "__main__":
    main()
