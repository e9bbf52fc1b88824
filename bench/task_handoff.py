"""Benchmark: how long from a task's pod ending to its downstream task's pod appearing?

A chain of N tasks (a0 -> a1 -> ...), each pod simulated to run 100 ms. One watch on the
run's pods records, in this process, when pod a_i is seen Succeeded and when pod a_{i+1}
is seen ADDED; the handoff is the difference (same watch, same clock). Baseline: see
bench/harness.py.

Usage (the local cluster must be up: make cluster-up):
    .venv/bin/python bench/task_handoff.py [--tasks 30]
"""

from __future__ import annotations

import argparse
import time

from harness import GROUP, VERSION, baseline, bench_env, percentile, report_line
from kubernetes import watch
from workloads import IMAGE


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--tasks", type=int, default=30)
    args = parser.parse_args()
    with bench_env("handoff") as b:
        floor = baseline(b.core, b.namespace)
        names = [f"a{i}" for i in range(args.tasks)]
        tasks = [{"name": names[0], "command": ["true"]}] + [
            {"name": n, "command": ["true"], "dependsOn": [names[i]]}
            for i, n in enumerate(names[1:])
        ]
        sim = {"metadata": {"annotations": {"sim.airkube.io/duration": "100ms"}}}
        spec = {
            "podGC": {"strategy": "Never"},
            "defaults": {"image": IMAGE, "podTemplate": sim},
            "tasks": tasks,
        }
        dag = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "DAG", "metadata": {"name": "chain"}}
        b.custom.create_namespaced_custom_object(
            GROUP, VERSION, b.namespace, "dags", {**dag, "spec": spec}
        )
        listed = b.core.list_namespaced_pod(b.namespace)
        run = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "DAGRun", "metadata": {"name": "c-1"}}
        b.custom.create_namespaced_custom_object(
            GROUP, VERSION, b.namespace, "dagruns", {**run, "spec": {"dagRef": {"name": "chain"}}}
        )
        ended: dict[str, float] = {}
        added: dict[str, float] = {}
        w = watch.Watch()
        for event in w.stream(
            b.core.list_namespaced_pod,
            b.namespace,
            resource_version=listed.metadata.resource_version,
            timeout_seconds=300,
        ):
            pod, now = event["object"], time.time()
            task = pod.metadata.labels.get("airkube.io/task")
            if event["type"] == "ADDED":
                added.setdefault(task, now)
            if pod.status and pod.status.phase == "Succeeded":
                ended.setdefault(task, now)
                if task == names[-1]:
                    w.stop()
        handoffs = [added[names[i + 1]] - ended[names[i]] for i in range(len(names) - 1)]
        print(f"task handoff, chain of {len(names)} tasks (100 ms each):")
        print(report_line("upstream Succeeded -> downstream pod ADDED", handoffs))
        print(report_line("baseline: ConfigMap create -> ADDED", floor))
        print(
            f"  ratio p50 / baseline p50: {percentile(handoffs, 0.5) / percentile(floor, 0.5):.1f}x"
        )
        print(f"  whole run: {ended[names[-1]] - added[names[0]]:.1f} s for {len(names)} tasks")


if __name__ == "__main__":
    main()
