"""GET /metrics of a running operator, scraped during a run and after it: the counters of
runs, tries and hand-offs move, by DAG and state, and the live values show the run's pods
(a pod no node can take, pending as Unschedulable)."""

from __future__ import annotations

import socket
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from kubernetes import client
from prometheus_client.parser import text_string_to_metric_families

from .cluster import Cluster
from .operator_process import OperatorProcess, others_stopped
from .resources import TERMINAL, apply_dag, create_run, sim, state, task
from .waiting import watch_run

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def scrape(port: int) -> Samples:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        assert r.headers["Content-Type"].startswith("text/plain")
        text = r.read().decode()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum of the samples of ``name`` whose labels include ``labels``."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= ls)


def scrape_until(
    port: int, proc: OperatorProcess, holds: Callable[[Samples], bool], timeout: float = 30
) -> Samples:
    deadline = time.monotonic() + timeout
    while not holds(samples := scrape(port)):
        assert time.monotonic() < deadline, f"/metrics never showed it:\n{proc.tail()}"
        time.sleep(0.2)
    return samples


def test_metrics_move_during_and_after_a_run(
    cluster: Cluster,
    crds: None,
    namespace: str,
    custom: client.CustomObjectsApi,
    tmp_path: Path,
) -> None:
    port = free_port()
    args = ["--namespace", namespace, "--health-port", str(port)]
    proc = OperatorProcess(
        cluster, f"sqlite:///{tmp_path / 'airkube.db'}", tmp_path / "op.log", args
    )
    with others_stopped():
        proc.start()
        try:
            before = scrape(port)
            assert total(before, "airkube_dagruns_started_total") == 0
            assert total(before, "airkube_operator_active") == 1

            apply_dag(
                custom,
                namespace,
                "etl",
                defaults={"podTemplate": sim(duration="2s")},
                tasks=[
                    task("extract"),
                    # Its first try fails (kwok's fail-tries), its retry succeeds.
                    task(
                        "load",
                        "extract",
                        retries=1,
                        retryDelay="1s",
                        podTemplate=sim(duration="300ms", fail_tries="1", reason="Error"),
                    ),
                ],
            )
            create_run(custom, namespace, "etl-1", "etl")
            run = {"namespace": namespace, "dag": "etl"}

            # During: started, not finished, the first pod watched.
            during = scrape_until(
                port,
                proc,
                # (a pass is timed when it ends: after what it counted)
                lambda s: (
                    total(s, "airkube_task_pods", namespace=namespace) >= 1
                    and total(s, "airkube_dagruns_started_total", **run) == 1
                    and total(s, "airkube_reconcile_duration_seconds_count", queue="runs") >= 1
                ),
            )
            assert total(during, "airkube_dagruns_finished_total", **run) == 0

            final = watch_run(custom, namespace, "etl-1", lambda r: state(r) in TERMINAL, 90)
            assert state(final) == "Succeeded", final.get("status")

            # Counted once the status is written, a moment after the watch saw it.
            finished = "airkube_dagruns_finished_total"
            after = scrape_until(port, proc, lambda s: total(s, finished, **run) >= 1)
            assert total(after, "airkube_dagruns_started_total", **run) == 1
            assert total(after, finished, **run) == 1
            assert total(after, finished, **run, state="Succeeded") == 1
            assert total(after, "airkube_dagrun_duration_seconds_count", **run) == 1
            tries = "airkube_task_tries_total"
            assert total(after, tries, **run, state="Succeeded") == 2
            assert total(after, tries, **run, state="UpForRetry", reason="Error") == 1
            # extract -> load's first try; the retry waits for its delay, not for upstream.
            assert total(after, "airkube_task_step_latency_seconds_count", **run) == 1
            latency = total(after, "airkube_task_step_latency_seconds_sum", **run)
            assert 0 <= latency < 10, latency
            queues = {dict(ls)["queue"] for n, ls in after if n == "airkube_workqueue_depth"}
            assert queues == {"runs", "dag_specs", "schedule", "dag_status"}
            assert ("airkube_event_loop_largest_stall_seconds", frozenset()) in after

            # A pod no node can take: pending, and why.
            nowhere = {"spec": {"nodeSelector": {"airkube.io/no-such-node": "yes"}}}
            apply_dag(custom, namespace, "stuck", tasks=[task("wait", podTemplate=nowhere)])
            create_run(custom, namespace, "stuck-1", "stuck")
            pending = "airkube_task_pods_pending"
            stuck = scrape_until(
                port,
                proc,
                lambda s: total(s, pending, namespace=namespace, reason="Unschedulable") == 1,
            )
            assert total(stuck, pending, namespace=namespace) == 1
            assert total(stuck, "airkube_task_pods", namespace=namespace, phase="Pending") == 1
        finally:
            proc.stop()
