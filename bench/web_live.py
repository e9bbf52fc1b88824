"""Benchmark: how soon does a finished pod show on an open page?

One run of N independent tasks (default 50) whose simulated pods end spread over a few
seconds, with the web server (airkube.web, its shared watches) serving it on a local
port and an SSE client subscribed to the run, as an open run page is. For each task:

- pod → stream: this process's own pod watch sees the pod Succeeded, until the web
  server's stream delivers the DAGRun change whose status first says the task succeeded
  (the operator's reaction, its status write, and the web server's watch and fan-out);
- pod → page: until the run page's live fragment (``?fragment=live``), fetched as the page
  does after that event, has been read: what an open tab shows;
- status → stream: for every status change of the run, this process's own DAGRun watch
  seeing it, until the stream delivers it: the web server's own share.

The baseline is the watch's floor measured in the same run (bench/harness.py: ConfigMap
created → its ADDED event). Every time is this process's monotonic clock. Goal: pod →
page p99 under 1 s.

Usage (a local cluster must be up: make cluster-up; AIRKUBE_CLUSTER_NAME names another):
    .venv/bin/python bench/web_live.py [--tasks 50]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx2
from harness import GROUP, ROOT, VERSION, baseline, percentile, report_line
from kubernetes import client, config, watch
from tests.e2e.cluster import Cluster, pinned_kubectl
from tests.e2e.operator_process import OperatorProcess
from tests.e2e.web_server import serve
from workloads import IMAGE, SIMULATED

from airkube.store.repository import Store
from airkube.web.app import create_app
from airkube.web.data import KubeCluster, StoreHistory

TERMINAL = ("Succeeded", "Failed")


class Times:
    """What each observer saw, and when (time.monotonic())."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pod_done: dict[str, float] = {}
        self.status_seen: dict[str, float] = {}  # resourceVersion -> our watch saw it
        self.task_rv: dict[str, str] = {}  # task -> first rv whose status has it done
        self.streamed: dict[str, float] = {}  # rv -> the SSE client got it
        self.paged: dict[str, float] = {}  # rv -> a fragment fetched after it was read
        self.fetches: list[float] = []
        self.dirty = threading.Event()
        self.run_done = threading.Event()
        self.stream_done = threading.Event()


def watch_pods(core: client.CoreV1Api, ns: str, t: Times, stop: threading.Event) -> None:
    w = watch.Watch()
    for e in w.stream(core.list_namespaced_pod, ns, timeout_seconds=300):
        pod = e["object"]
        task = (pod.metadata.labels or {}).get("airkube.io/task")
        if task and pod.status.phase in TERMINAL:
            with t.lock:
                t.pod_done.setdefault(task, time.monotonic())
        if stop.is_set():
            w.stop()


def watch_run(custom: client.CustomObjectsApi, ns: str, name: str, t: Times) -> None:
    w = watch.Watch()
    for e in w.stream(
        custom.list_namespaced_custom_object,
        GROUP,
        VERSION,
        ns,
        "dagruns",
        field_selector=f"metadata.name={name}",
        timeout_seconds=300,
    ):
        now = time.monotonic()
        run: Any = e["object"]
        rv = run["metadata"]["resourceVersion"]
        status = run.get("status") or {}
        with t.lock:
            t.status_seen.setdefault(rv, now)
            for task, entry in (status.get("tasks") or {}).items():
                if entry.get("state") in TERMINAL:
                    t.task_rv.setdefault(task, rv)
        if status.get("state") in TERMINAL:
            t.run_done.set()
            w.stop()


def read_stream(url: str, t: Times, ready: threading.Event, last: list[str]) -> None:
    with httpx2.Client(timeout=httpx2.Timeout(10, read=120)) as c, c.stream("GET", url) as r:
        ready.set()
        fields: dict[str, str] = {}
        for line in r.iter_lines():
            if line and not line.startswith(":"):
                key, _, value = line.partition(": ")
                fields[key] = value
                continue
            if line or fields.get("event") != "change":
                fields = {}
                continue
            now = time.monotonic()
            with t.lock:
                t.streamed.setdefault(fields["id"], now)
            t.dirty.set()
            if json.loads(fields["data"]).get("state") in TERMINAL:
                last.append(fields["id"])
                t.stream_done.set()
                return
            fields = {}


def refresh_page(url: str, t: Times) -> None:
    """As the page does (hx-sync "queue last"): after a change, fetch the fragment; a
    change read while a fetch was in flight gets the next one."""
    with httpx2.Client(timeout=10) as c:
        while not (t.stream_done.is_set() and not t.dirty.is_set()):
            if not t.dirty.wait(0.5):
                continue
            t.dirty.clear()
            started = time.monotonic()
            c.get(url).raise_for_status()
            done = time.monotonic()
            with t.lock:
                t.fetches.append(done - started)
                for rv, seen in t.streamed.items():
                    if seen <= started:
                        t.paged.setdefault(rv, done)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--tasks", type=int, default=50)
    args = parser.parse_args()
    name = os.environ.get("AIRKUBE_CLUSTER_NAME", "airkube")
    cluster = Cluster(None, f"kwok-{name}", pinned_kubectl(), started_here=False)
    cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(ROOT / "crds"))
    api = config.new_client_from_config(context=cluster.context)
    core, custom = client.CoreV1Api(api), client.CustomObjectsApi(api)
    ns = f"bench-web-{int(time.time())}"
    core.create_namespace(
        client.V1Namespace(metadata=client.V1ObjectMeta(name=ns, annotations=SIMULATED))
    )
    work = Path(tempfile.mkdtemp(prefix="airkube-bench-web-"))
    operator = OperatorProcess(cluster, f"sqlite:///{work / 'airkube.db'}", work / "operator.log")
    operator.start()
    try:
        while not core.list_namespaced_service_account(ns).items:
            time.sleep(0.1)
        floor = baseline(core, ns)
        tasks = [
            {
                "name": f"t{i:03d}",
                "command": ["true"],
                "podTemplate": {
                    "metadata": {"annotations": {"sim.airkube.io/duration": f"{2000 + i * 150}ms"}}
                },
            }
            for i in range(args.tasks)
        ]
        custom.create_namespaced_custom_object(
            GROUP,
            VERSION,
            ns,
            "dags",
            {
                "apiVersion": f"{GROUP}/{VERSION}",
                "kind": "DAG",
                "metadata": {"name": "live"},
                "spec": {"defaults": {"image": IMAGE}, "tasks": tasks},
            },
        )
        with (
            Store.from_url(operator.db_url, migrate=False) as store,
            serve(create_app(KubeCluster(api), StoreHistory(store), namespace=ns)) as web,
        ):
            t = Times()
            stop = threading.Event()
            ready = threading.Event()
            last: list[str] = []
            stream = f"{web}/api/v1/namespaces/{ns}/watch?run=live-1&kind=DAGRun"
            page = f"{web}/ui/namespaces/{ns}/dags/live/runs/live-1?fragment=live"
            threads = [
                threading.Thread(target=watch_pods, args=(core, ns, t, stop), daemon=True),
                threading.Thread(target=watch_run, args=(custom, ns, "live-1", t), daemon=True),
                threading.Thread(target=read_stream, args=(stream, t, ready, last), daemon=True),
                threading.Thread(target=refresh_page, args=(page, t), daemon=True),
            ]
            for th in threads:
                th.start()
            ready.wait(10)
            time.sleep(1)  # the namespace's watches list, then watch (the server started them)
            custom.create_namespaced_custom_object(
                GROUP,
                VERSION,
                ns,
                "dagruns",
                {
                    "apiVersion": f"{GROUP}/{VERSION}",
                    "kind": "DAGRun",
                    "metadata": {"name": "live-1"},
                    "spec": {"dagRef": {"name": "live"}},
                },
            )
            assert t.run_done.wait(300), "the run did not finish in 5 minutes"
            assert t.stream_done.wait(30), "the stream did not deliver the run's end"
            stop.set()
            threads[3].join(15)
        with t.lock:
            to_stream = [
                t.streamed[rv] - t.pod_done[task]
                for task, rv in t.task_rv.items()
                if task in t.pod_done and rv in t.streamed
            ]
            to_page = [
                t.paged[rv] - t.pod_done[task]
                for task, rv in t.task_rv.items()
                if task in t.pod_done and rv in t.paged
            ]
            web_share = [
                t.streamed[rv] - seen for rv, seen in t.status_seen.items() if rv in t.streamed
            ]
            operator_share = [
                t.status_seen[rv] - t.pod_done[task]
                for task, rv in t.task_rv.items()
                if task in t.pod_done and rv in t.status_seen
            ]
        print(f"web live latency, {args.tasks} tasks ({len(t.status_seen)} status changes):")
        print(report_line("baseline (watch floor: ConfigMap created -> ADDED)", floor))
        print(report_line("pod done -> SSE event", to_stream))
        print(report_line("pod done -> page fragment fetched", to_page))
        print(report_line("pod done -> status change (the operator's share)", operator_share))
        print(report_line("status change -> SSE event (the web server's share)", web_share))
        print(report_line("a page's fragment fetch", t.fetches))
        p99 = percentile([s * 1000 for s in to_page], 0.99)
        print(f"  goal p99 < 1000 ms (pod -> page): {'met' if p99 < 1000 else 'NOT met'}")
    finally:
        operator.stop()
        core.delete_namespace(ns)


if __name__ == "__main__":
    main()
