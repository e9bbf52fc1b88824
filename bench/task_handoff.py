"""Benchmark: how long from a task's pod ending to its downstream task's pod appearing?

A chain of N tasks (a0 -> a1 -> ... ), each pod simulated to run 100 ms. One watch on the
run's pods records, in this process, when pod a_i is seen Succeeded and when pod a_{i+1}
is seen ADDED; the handoff is the difference (same watch, same clock). The baseline,
measured in the same run, is the watch's own floor: ConfigMap create -> ADDED.

Usage (the local cluster must be up: make cluster-up):
    .venv/bin/python bench/task_handoff.py [--tasks 30]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from kubernetes import client, config, watch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.e2e.cluster import Cluster, pinned_kubectl  # noqa: E402
from tests.e2e.operator_process import OperatorProcess  # noqa: E402

from bench.schedule_latency import baseline, percentile  # noqa: E402

GROUP, VERSION = "airkube.io", "v1alpha1"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=30)
    args = parser.parse_args()
    cluster = Cluster(None, "kwok-airkube", pinned_kubectl(), started_here=False)
    cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(ROOT / "crds"))
    api = config.new_client_from_config(context=cluster.context)
    core, custom = client.CoreV1Api(api), client.CustomObjectsApi(api)
    namespace = f"bench-handoff-{int(time.time())}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace)))
    work = Path(tempfile.mkdtemp(prefix="airkube-bench-"))
    operator = OperatorProcess(cluster, f"sqlite:///{work / 'airkube.db'}", work / "operator.log")
    operator.start()
    try:
        while not core.list_namespaced_service_account(namespace).items:
            time.sleep(0.1)
        floor = baseline(core, namespace)
        names = [f"a{i}" for i in range(args.tasks)]
        tasks = [{"name": names[0], "command": ["true"]}] + [
            {"name": n, "command": ["true"], "dependsOn": [names[i]]}
            for i, n in enumerate(names[1:])
        ]
        custom.create_namespaced_custom_object(
            GROUP,
            VERSION,
            namespace,
            "dags",
            {
                "apiVersion": f"{GROUP}/{VERSION}",
                "kind": "DAG",
                "metadata": {"name": "chain"},
                "spec": {
                    "podGC": {"strategy": "Never"},
                    "defaults": {
                        "image": "busybox",
                        "podTemplate": {
                            "metadata": {"annotations": {"sim.airkube.io/duration": "100ms"}}
                        },
                    },
                    "tasks": tasks,
                },
            },
        )
        listed = core.list_namespaced_pod(namespace)
        custom.create_namespaced_custom_object(
            GROUP,
            VERSION,
            namespace,
            "dagruns",
            {
                "apiVersion": f"{GROUP}/{VERSION}",
                "kind": "DAGRun",
                "metadata": {"name": "chain-1"},
                "spec": {"dagRef": {"name": "chain"}},
            },
        )
        ended: dict[str, float] = {}
        added: dict[str, float] = {}
        w = watch.Watch()
        for event in w.stream(
            core.list_namespaced_pod,
            namespace,
            resource_version=listed.metadata.resource_version,
            timeout_seconds=300,
        ):
            pod = event["object"]
            task = pod.metadata.labels.get("airkube.io/task")
            now = time.time()
            if event["type"] == "ADDED":
                added.setdefault(task, now)
            if pod.status and pod.status.phase == "Succeeded":
                ended.setdefault(task, now)
                if task == names[-1]:
                    w.stop()
        handoffs = [added[names[i + 1]] - ended[names[i]] for i in range(len(names) - 1)]
        total = ended[names[-1]] - added[names[0]]
        print(f"task handoff, chain of {len(names)} tasks (100 ms each):")
        p50, p99 = percentile(handoffs, 0.5) * 1000, percentile(handoffs, 0.99) * 1000
        print(
            f"  upstream Succeeded -> downstream pod ADDED: p50 {p50:.0f} ms, "
            f"p99 {p99:.0f} ms, max {max(handoffs) * 1000:.0f} ms"
        )
        print(f"  baseline (ConfigMap create -> ADDED): p50 {percentile(floor, 0.5) * 1000:.1f} ms")
        print(
            f"  ratio p50 / baseline p50: {percentile(handoffs, 0.5) / percentile(floor, 0.5):.1f}x"
        )
        print(f"  whole run: {total:.1f} s for {len(names)} tasks")
    finally:
        operator.stop()
        core.delete_namespace(namespace)


if __name__ == "__main__":
    main()
