"""Benchmark: how late does the schedule loop create runs?

500 DAGs on a per-minute schedule (`* * * * *`, catchup false). For every run the
schedule creates for an interval that closes while the benchmark watches, the delay is
the time this process receives the DAGRun's ADDED watch event minus the interval's end
(dataIntervalEnd). The baseline, measured in the same run on the same cluster, is the
watch's own floor: the time from creating a ConfigMap to receiving its ADDED event.

Usage (the local cluster must be up: make cluster-up):
    .venv/bin/python bench/schedule_latency.py [--dags 500] [--minutes 2]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from kubernetes import client, config, watch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.e2e.cluster import Cluster, pinned_kubectl  # noqa: E402
from tests.e2e.operator_process import OperatorProcess  # noqa: E402

GROUP, VERSION = "airkube.io", "v1alpha1"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def dag(name: str) -> dict:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "DAG",
        "metadata": {"name": name},
        "spec": {
            "schedule": "* * * * *",
            "startDate": "2026-01-01T00:00:00Z",
            "catchup": False,
            "defaults": {
                "image": "busybox",
                "podTemplate": {"metadata": {"annotations": {"sim.airkube.io/duration": "100ms"}}},
            },
            "tasks": [{"name": "tick", "command": ["true"]}],
        },
    }


def baseline(core: client.CoreV1Api, namespace: str, samples: int = 50) -> list[float]:
    """Create-to-ADDED latency of ConfigMaps: the watch's floor."""
    sent: dict[str, float] = {}
    got: list[float] = []
    done = threading.Event()
    listed = core.list_namespaced_config_map(namespace)

    def watcher() -> None:
        w = watch.Watch()
        for event in w.stream(
            core.list_namespaced_config_map,
            namespace,
            resource_version=listed.metadata.resource_version,
            timeout_seconds=60,
        ):
            name = event["object"].metadata.name
            if event["type"] == "ADDED" and name in sent:
                got.append(time.time() - sent[name])
                if len(got) == samples:
                    w.stop()
                    break
        done.set()

    threading.Thread(target=watcher, daemon=True).start()
    time.sleep(0.5)
    for i in range(samples):
        name = f"probe-{i}"
        sent[name] = time.time()
        core.create_namespaced_config_map(
            namespace, client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name))
        )
        time.sleep(0.02)
    done.wait(60)
    return got


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dags", type=int, default=500)
    parser.add_argument("--minutes", type=int, default=2, help="interval ends to measure")
    args = parser.parse_args()

    cluster = Cluster(None, "kwok-airkube", pinned_kubectl(), started_here=False)
    cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(ROOT / "crds"))
    api = config.new_client_from_config(context=cluster.context)
    core, custom = client.CoreV1Api(api), client.CustomObjectsApi(api)
    namespace = f"bench-sched-{int(time.time())}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace)))
    work = Path(tempfile.mkdtemp(prefix="airkube-bench-"))
    operator = OperatorProcess(cluster, f"sqlite:///{work / 'airkube.db'}", work / "operator.log")
    operator.start()
    try:
        while any(
            n.metadata.name.startswith("bench-sched-") and n.metadata.name != namespace
            for n in core.list_namespace().items
        ):
            time.sleep(1)  # an earlier benchmark's namespace is still being deleted
        while not core.list_namespaced_service_account(namespace).items:
            time.sleep(0.1)
        floor = baseline(core, namespace)
        t0 = time.time()
        for i in range(args.dags):
            custom.create_namespaced_custom_object(
                GROUP, VERSION, namespace, "dags", dag(f"d{i:04d}")
            )
        created_by = datetime.now(UTC)
        print(f"created {args.dags} DAGs in {time.time() - t0:.1f}s", flush=True)
        # Measure from the second interval end after every DAG exists: the first minute also
        # runs the 500 runs each new DAG gets at once (catchup false: the latest interval).
        first_end = created_by.replace(second=0, microsecond=0) + timedelta(minutes=2)
        last_end = first_end + timedelta(minutes=args.minutes - 1)
        delays: list[float] = []
        listed = custom.list_namespaced_custom_object(GROUP, VERSION, namespace, "dagruns")
        w = watch.Watch()
        stop_at = last_end.timestamp() + 60
        expected = args.dags * args.minutes
        for event in w.stream(
            custom.list_namespaced_custom_object,
            GROUP,
            VERSION,
            namespace,
            "dagruns",
            resource_version=listed["metadata"]["resourceVersion"],
            timeout_seconds=int(stop_at - time.time()) + 5,
        ):
            if event["type"] != "ADDED":
                continue
            received = time.time()
            spec = event["object"]["spec"]
            end = datetime.fromisoformat(spec["dataIntervalEnd"].replace("Z", "+00:00"))
            if first_end <= end <= last_end:
                delays.append(received - end.timestamp())
                if len(delays) == expected:
                    w.stop()
        print(
            f"\nschedule latency, {args.dags} DAGs x {args.minutes} interval ends "
            f"({len(delays)}/{expected} runs seen):"
        )
        print(
            f"  interval end -> DAGRun ADDED: p50 {percentile(delays, 0.5) * 1000:.0f} ms, "
            f"p99 {percentile(delays, 0.99) * 1000:.0f} ms, max {max(delays) * 1000:.0f} ms"
        )
        print(
            f"  baseline (ConfigMap create -> ADDED): p50 {percentile(floor, 0.5) * 1000:.1f} ms, "
            f"p99 {percentile(floor, 0.99) * 1000:.1f} ms"
        )
        print(
            f"  ratio p50 / baseline p50: {percentile(delays, 0.5) / percentile(floor, 0.5):.0f}x"
        )
        print(f"  mean {statistics.mean(delays) * 1000:.0f} ms; operator log: {operator.log_path}")
    finally:
        operator.stop()
        core.delete_namespace(namespace)


if __name__ == "__main__":
    main()
