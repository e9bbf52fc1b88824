"""The schedule loop and backfill on a real API server: catchup, rendered args, backfill."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from kubernetes import client, watch

from .operator_process import OperatorProcess
from .resources import apply_dag, sim, state, task
from .waiting import GROUP, VERSION


def runs_of(custom: client.CustomObjectsApi, namespace: str, run_type: str) -> dict[str, Any]:
    items = custom.list_namespaced_custom_object(GROUP, VERSION, namespace, "dagruns")["items"]
    return {r["metadata"]["name"]: r for r in items if r["spec"].get("runType") == run_type}


def closed_minutes(start: datetime, now: datetime) -> list[datetime]:
    """Logical dates of the per-minute intervals [t, t+1m) from start that have ended."""
    out, t = [], start
    while t + timedelta(minutes=1) <= now:
        out.append(t)
        t += timedelta(minutes=1)
    return out


def test_per_minute_schedule_with_catchup_creates_exactly_the_missed_runs(
    operator: OperatorProcess,
    core: client.CoreV1Api,
    custom: client.CustomObjectsApi,
    namespace: str,
) -> None:
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=3)
    apply_dag(
        custom,
        namespace,
        "minutely",
        schedule="* * * * *",
        startDate=start.isoformat().replace("+00:00", "Z"),
        catchup=True,
        podGC={"strategy": "Never"},
        defaults={"podTemplate": sim(duration="100ms")},
        tasks=[
            task(
                "extract",
                args=["--ds", "{{ ds }}", "--from", "{{ data_interval_start }}", "{{ run_id }}"],
            )
        ],
    )
    deadline = time.monotonic() + 30
    while True:
        expected = {
            f"minutely-scheduled-{t:%Y%m%dt%H%M%S}": t
            for t in closed_minutes(start, datetime.now(UTC))
        }
        runs = runs_of(custom, namespace, "scheduled")
        if set(runs) == set(expected) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert set(runs) == set(expected), (sorted(runs), sorted(expected))
    assert len(expected) >= 3
    for name, logical in expected.items():
        spec = runs[name]["spec"]
        assert datetime.fromisoformat(spec["logicalDate"].replace("Z", "+00:00")) == logical
        assert spec["dataIntervalEnd"] != spec["dataIntervalStart"]

    # Each run's pod got its own rendered args.
    deadline = time.monotonic() + 30
    while True:
        pods = core.list_namespaced_pod(namespace).items
        if len(pods) >= len(expected) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    args = {p.metadata.labels["airkube.io/run"]: p.spec.containers[0].args for p in pods}
    for name, logical in expected.items():
        assert args[name] == ["--ds", f"{logical:%Y-%m-%d}", "--from", str(logical), name]

    dag = custom.get_namespaced_custom_object(GROUP, VERSION, namespace, "dags", "minutely")
    next_run = datetime.fromisoformat(dag["status"]["nextRunTime"].replace("Z", "+00:00"))
    assert next_run == max(expected.values()) + timedelta(minutes=2)


def test_backfill_creates_exactly_the_missing_runs_within_max_active_runs(
    operator: OperatorProcess, custom: client.CustomObjectsApi, namespace: str
) -> None:
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    apply_dag(
        custom,
        namespace,
        "hourly",
        schedule="@hourly",
        startDate=(hour - timedelta(hours=6)).isoformat(),
        catchup=False,
        maxActiveRuns=2,
        defaults={"podTemplate": sim(duration="500ms")},
        tasks=[task("load")],
    )
    # catchup false: the schedule makes only the latest closed interval's run.
    deadline = time.monotonic() + 30
    while not runs_of(custom, namespace, "scheduled") and time.monotonic() < deadline:
        time.sleep(0.2)
    assert list(runs_of(custom, namespace, "scheduled")) == [
        f"hourly-scheduled-{hour - timedelta(hours=1):%Y%m%dt%H%M%S}"
    ]

    def backfill(*extra: str) -> str:
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "airkube.cli.main",
                "backfill",
                "hourly",
                "-n",
                namespace,
                "--context",
                operator.cluster.context or "",
                "--start",
                (hour - timedelta(hours=5)).isoformat(),
                "--end",
                (hour - timedelta(hours=1)).isoformat(),
                *extra,
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        return out.stdout

    dry = backfill("--dry-run")
    assert dry.count("would create") == 4
    assert not runs_of(custom, namespace, "backfill")

    # Watch the runs while the backfill creates them: never more than 2 Running at once.
    w = watch.Watch()
    listed = custom.list_namespaced_custom_object(GROUP, VERSION, namespace, "dagruns")
    backfill()
    expected = {f"hourly-backfill-{hour - timedelta(hours=h):%Y%m%dt%H%M%S}" for h in range(2, 6)}
    states: dict[str, str] = {}
    most_running = 0
    for event in w.stream(
        custom.list_namespaced_custom_object,
        GROUP,
        VERSION,
        namespace,
        "dagruns",
        resource_version=listed["metadata"]["resourceVersion"],
        timeout_seconds=60,
    ):
        run = event["object"]
        states[run["metadata"]["name"]] = state(run) or "Queued"
        most_running = max(most_running, sum(s == "Running" for s in states.values()))
        if all(states.get(n) == "Succeeded" for n in expected):
            w.stop()
    assert set(runs_of(custom, namespace, "backfill")) == expected
    assert all(states[n] == "Succeeded" for n in expected), states
    assert most_running <= 2

    again = backfill()
    assert "nothing to backfill" in again
    assert again.count("skip") == 5
