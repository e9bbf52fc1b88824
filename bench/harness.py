"""What the benchmarks share: the local cluster, a namespace, a fresh operator process,
and the baseline every benchmark reports against (the watch's own latency)."""

from __future__ import annotations

import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from kubernetes import client, config, watch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.e2e.cluster import Cluster, pinned_kubectl  # noqa: E402
from tests.e2e.operator_process import OperatorProcess  # noqa: E402
from workloads import SIMULATED  # noqa: E402

GROUP, VERSION = "airkube.io", "v1alpha1"


@dataclass
class Bench:
    core: client.CoreV1Api
    custom: client.CustomObjectsApi
    namespace: str
    operator: OperatorProcess


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@contextmanager
def bench_env(prefix: str) -> Iterator[Bench]:
    """A namespace of its own and an operator on a new SQLite DB, on the local cluster.
    The namespace's pods go to KWOK's simulated node (SIMULATED), as the benchmarks'
    sim.airkube.io annotations expect."""
    cluster = Cluster(None, "kwok-airkube", pinned_kubectl(), started_here=False)
    cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(ROOT / "crds"))
    api = config.new_client_from_config(context=cluster.context)
    core, custom = client.CoreV1Api(api), client.CustomObjectsApi(api)
    while any(n.metadata.name.startswith("bench-") for n in core.list_namespace().items):
        time.sleep(1)  # an earlier benchmark's namespace is still being deleted
    namespace = f"bench-{prefix}-{int(time.time())}"
    meta = client.V1ObjectMeta(name=namespace, annotations=SIMULATED)
    core.create_namespace(client.V1Namespace(metadata=meta))
    work = Path(tempfile.mkdtemp(prefix="airkube-bench-"))
    operator = OperatorProcess(cluster, f"sqlite:///{work / 'airkube.db'}", work / "operator.log")
    operator.start()
    try:
        while not core.list_namespaced_service_account(namespace).items:
            time.sleep(0.1)
        yield Bench(core, custom, namespace, operator)
    finally:
        operator.stop()
        core.delete_namespace(namespace)


def baseline(core: client.CoreV1Api, namespace: str, samples: int = 50) -> list[float]:
    """Create-to-ADDED latency of ConfigMaps: the watch's floor, in seconds."""
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
    time.sleep(0.5)  # let the watch open before the first create
    for i in range(samples):
        name = f"probe-{i}"
        sent[name] = time.time()
        core.create_namespaced_config_map(
            namespace, client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name))
        )
        time.sleep(0.02)
    done.wait(60)
    return got


def report_line(label: str, seconds: list[float]) -> str:
    ms = [s * 1000 for s in seconds]
    return (
        f"  {label}: p50 {percentile(ms, 0.5):.0f} ms, p99 {percentile(ms, 0.99):.0f} ms, "
        f"max {max(ms):.0f} ms (n={len(ms)})"
    )
