"""Server time of the web views on big inputs (issue 17), in process: the real app
(``airkube.web.app.create_app``) over an in-memory cluster and a real SQLite metadata
database, requests through Starlette's TestClient (routing, rendering and serialisation
included; no network).

- the DAG list, a page of 500 DAGs (each with 10 recorded runs and a live one);
  baseline: the same page with the history asked once per DAG (as before recent_runs);
- the grid of 25 runs of a 1,000-task DAG (live runs, every task in their status);
- the graph of the 10,000-task run: the suite's ``big10000`` (10,000 independent tasks),
  a 10,000-task diamond (start → 9,998 → end), and 100 chains of 100 (nothing to
  collapse: the layout's worst case), each with its run (status bounded: 100 running
  tasks listed, the rest from the database).

Goals: < 300 ms, < 1 s, < 2 s. Run: ``.venv/bin/python bench/web_views.py [--repeat N]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from airkube.store import Store
from airkube.store.records import RunRecord, TaskTryRecord
from airkube.web.app import create_app
from airkube.web.data import StoreHistory

NS = "bench"
T0 = datetime(2026, 11, 1, tzinfo=UTC)


def iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


class MemoryCluster:
    """The Cluster interface over dicts: what the app would get from the API server."""

    def __init__(self) -> None:
        self.dags: dict[str, dict[str, Any]] = {}
        self.runs: dict[str, dict[str, Any]] = {}

    def list_dags(self, namespace: str) -> list[dict[str, Any]]:
        return list(self.dags.values())

    def get_dag(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self.dags.get(name)

    def list_runs(self, namespace: str) -> list[dict[str, Any]]:
        return list(self.runs.values())

    def get_run(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self.runs.get(name)

    def try_pod(self, *args: Any) -> dict[str, Any] | None:
        return None

    def pod_log(self, namespace: str, pod: str) -> str | None:
        return None

    def events(self, namespace: str, kind: str, name: str) -> list[dict[str, Any]]:
        return []


class PerDagHistory(StoreHistory):
    """The baseline: the DAG list's bars from one history query per DAG."""

    def recent_runs(self, namespace: str, dags: list[str], per_dag: int) -> dict[str, Any]:
        return {d: self.list_runs(namespace, d, per_dag) for d in dags}


def dag(name: str, shape: list[tuple[str, list[str]]]) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": NS, "resourceVersion": "1"},
        "spec": {
            "schedule": "@daily",
            "defaults": {"image": "busybox:1.36"},
            "tasks": [
                {"name": t, "command": ["true"], **({"dependsOn": deps} if deps else {})}
                for t, deps in shape
            ],
        },
        "status": {"conditions": [{"type": "Ready", "status": "True"}]},
    }


def live_run(name: str, dag_name: str, tasks: dict[str, Any], **status: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": NS, "uid": f"uid-{name}"},
        "spec": {"dagRef": {"name": dag_name}, "runType": "manual", "logicalDate": iso(T0)},
        "status": {"state": "Running", "startTime": iso(T0), "tasks": tasks, **status},
    }


def chain(prefix: str, n: int) -> list[tuple[str, list[str]]]:
    return [(f"{prefix}{i}", [f"{prefix}{i - 1}"] if i else []) for i in range(n)]


SHAPES: dict[str, list[tuple[str, list[str]]]] = {
    "big10000 (10,000 independent tasks)": [(f"t{i:04d}", []) for i in range(10_000)],
    "diamond (start, 9,998, end)": [
        ("start", []),
        *[(f"m{i}", ["start"]) for i in range(9_998)],
        ("end", [f"m{i}" for i in range(9_998)]),
    ],
    "100 chains of 100": [t for c in range(100) for t in chain(f"c{c}-", 100)],
}


def build(store: Store) -> MemoryCluster:
    cluster = MemoryCluster()
    small = [("extract", []), ("load", ["extract"])]
    for i in range(500):
        name = f"dag-{i:03d}"
        cluster.dags[name] = dag(name, small)
        for day in range(10):
            store.upsert_run(
                RunRecord(
                    namespace=NS,
                    name=f"{name}-scheduled-{day}",
                    uid=f"u-{name}-{day}",
                    dag_name=name,
                    run_type="scheduled",
                    logical_date=T0 - timedelta(days=day + 1),
                    state="Succeeded" if day % 3 else "Failed",
                    start_time=T0 - timedelta(days=day + 1),
                    end_time=T0 - timedelta(days=day + 1) + timedelta(seconds=30 + day * 7),
                ),
                now=T0,
            )
        cluster.runs[f"{name}-manual"] = live_run(f"{name}-manual", name, {})
    grid = [(f"task-{i:04d}", [f"task-{i - 1:04d}"] if i % 10 else []) for i in range(1000)]
    cluster.dags["grid1000"] = dag("grid1000", grid)
    for r in range(25):
        tasks = {
            t: {"state": "Succeeded", "tryNumber": 1, "podName": f"p-{r}-{t}"} for t, _ in grid
        }
        cluster.runs[f"grid1000-{r:02d}"] = live_run(f"grid1000-{r:02d}", "grid1000", tasks)
    for k, (title, shape) in enumerate(SHAPES.items()):
        name = f"big-{k}"
        cluster.dags[name] = dag(name, shape)
        run = f"{name}-run"
        running = {t: {"state": "Running", "tryNumber": 1} for t, _ in shape[-100:]}
        cluster.runs[run] = live_run(run, name, running, tasksOmitted=len(shape) - 100)
        store.record_pass(
            RunRecord(
                namespace=NS,
                name=run,
                uid=f"uid-{run}",
                dag_name=name,
                run_type="manual",
                logical_date=T0,
                state="Running",
                start_time=T0,
            ),
            [
                TaskTryRecord(
                    task_name=t,
                    try_number=1,
                    state="Succeeded",
                    queued_time=T0,
                    start_time=T0 + timedelta(seconds=1),
                    end_time=T0 + timedelta(seconds=5),
                )
                for t, _ in shape[:-100]
            ],
            now=T0,
        )
        print(f"  {name}: {title}", file=sys.stderr)
    return cluster


def measure(client: TestClient, url: str, repeat: int) -> tuple[float, float, float, int]:
    """(first, median, max) seconds: the first GET (a 10,000-task DAG's spec validated,
    say), then ``repeat`` more; and the body's size."""
    start = time.perf_counter()
    first = client.get(url)
    cold = time.perf_counter() - start
    if first.status_code != 200:
        raise SystemExit(f"GET {url}: {first.status_code} {first.text[:300]}")
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        client.get(url)
        times.append(time.perf_counter() - start)
    return cold, statistics.median(times), max(times), len(first.content)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="timed requests per view")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.from_url(f"sqlite:///{Path(tmp) / 'airkube.db'}")
        print(
            "building 500 DAGs, 5,000 recorded runs, a 1,000-task grid, 10,000-task runs…",
            file=sys.stderr,
        )
        cluster = build(store)
        client = TestClient(create_app(cluster, StoreHistory(store), namespace=NS))
        baseline = TestClient(create_app(cluster, PerDagHistory(store), namespace=NS))
        ui = f"/ui/namespaces/{NS}"
        rows: list[tuple[str, float, float, float, int, float]] = []

        def row(view: str, c: TestClient, url: str, goal: float) -> float:
            cold, median, worst, size = measure(c, url, args.repeat)
            rows.append((view, cold, median, worst, size, goal))
            return median

        base = row(
            "DAG list, 500 DAGs (baseline: a query per DAG)", baseline, f"{ui}/dags?limit=500", 0.3
        )
        new = row("DAG list, 500 DAGs", client, f"{ui}/dags?limit=500", 0.3)
        row("DAG list API, 500 DAGs", client, f"/api/v1/namespaces/{NS}/dags?limit=500", 0.3)
        row("grid, 25 runs x 1,000 tasks", client, f"{ui}/dags/grid1000", 1.0)
        for k, title in enumerate(SHAPES):
            row(f"graph, {title}", client, f"{ui}/dags/big-{k}/graph?run=big-{k}-run", 2.0)
        row(
            "graph API, big10000",
            client,
            f"/api/v1/namespaces/{NS}/dags/big-0/graph?run=big-0-run",
            2.0,
        )
        store.close()
    print(f"\n{'view':<48} {'first':>8} {'median':>8} {'max':>8} {'size':>9}  goal (median)")
    for view, cold, median, worst, size, goal in rows:
        verdict = "ok" if median < goal else "MISSED"
        print(
            f"{view:<48} {cold * 1000:6.0f}ms {median * 1000:6.0f}ms {worst * 1000:6.0f}ms "
            f"{size / 1024:8.0f}K  <{goal * 1000:.0f}ms {verdict}"
        )
    print(f"\nDAG list: one history query per page is {base / new:.1f}x the speed of one per DAG")


if __name__ == "__main__":
    main()
