"""Benchmark: how late does the schedule loop create runs?

500 DAGs on a per-minute schedule (`* * * * *`, catchup false). For every run the
schedule creates for an interval that closes while the benchmark watches, the delay is
the time this process receives the DAGRun's ADDED watch event minus the interval's end
(dataIntervalEnd). The first interval end after the DAGs exist is skipped: that minute
also runs the run each new DAG gets at once. Baseline: see bench/harness.py.

Usage (the local cluster must be up: make cluster-up):
    .venv/bin/python bench/schedule_latency.py [--dags 500] [--minutes 2]
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from harness import GROUP, VERSION, baseline, bench_env, percentile, report_line
from kubernetes import watch
from workloads import IMAGE


def dag(name: str) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "DAG",
        "metadata": {"name": name},
        "spec": {
            "schedule": "* * * * *",
            "startDate": "2026-01-01T00:00:00Z",
            "catchup": False,
            "defaults": {
                "image": IMAGE,
                "podTemplate": {"metadata": {"annotations": {"sim.airkube.io/duration": "100ms"}}},
            },
            "tasks": [{"name": "tick", "command": ["true"]}],
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--dags", type=int, default=500)
    parser.add_argument("--minutes", type=int, default=2, help="interval ends to measure")
    args = parser.parse_args()
    with bench_env("sched") as b:
        floor = baseline(b.core, b.namespace)
        t0 = time.time()
        for i in range(args.dags):
            b.custom.create_namespaced_custom_object(
                GROUP, VERSION, b.namespace, "dags", dag(f"d{i:04d}")
            )
        created_by = datetime.now(UTC)
        print(f"created {args.dags} DAGs in {time.time() - t0:.1f}s", flush=True)
        first_end = created_by.replace(second=0, microsecond=0) + timedelta(minutes=2)
        last_end = first_end + timedelta(minutes=args.minutes - 1)
        delays: list[float] = []
        expected = args.dags * args.minutes
        listed = b.custom.list_namespaced_custom_object(GROUP, VERSION, b.namespace, "dagruns")
        w = watch.Watch()
        for event in w.stream(
            b.custom.list_namespaced_custom_object,
            GROUP,
            VERSION,
            b.namespace,
            "dagruns",
            resource_version=listed["metadata"]["resourceVersion"],
            timeout_seconds=int(last_end.timestamp() - time.time()) + 65,
        ):
            if event["type"] != "ADDED":
                continue
            received = time.time()
            end = datetime.fromisoformat(
                event["object"]["spec"]["dataIntervalEnd"].replace("Z", "+00:00")
            )
            if first_end <= end <= last_end:
                delays.append(received - end.timestamp())
                if len(delays) == expected:
                    w.stop()
        print(f"\nschedule latency, {args.dags} DAGs x {args.minutes} interval ends:")
        print(report_line("interval end -> DAGRun ADDED", delays))
        print(report_line("baseline: ConfigMap create -> ADDED", floor))
        print(
            f"  ratio p50 / baseline p50: {percentile(delays, 0.5) / percentile(floor, 0.5):.0f}x"
        )
        print(f"  operator log: {b.operator.log_path}")


if __name__ == "__main__":
    main()
