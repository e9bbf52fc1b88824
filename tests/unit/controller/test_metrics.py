"""The operator's metrics: one registry per operator, counted by the reconcilers and the
schedule loop through the current operator's metrics, read live at each scrape, served as
GET /metrics on the health port, and the API errors Kube tells."""

from __future__ import annotations

import asyncio
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest
from kubernetes.client.exceptions import ApiException
from prometheus_client.parser import text_string_to_metric_families

from airkube.controller import metrics
from airkube.controller.health import Health
from airkube.controller.metrics import Metrics, Sources
from airkube.core.model.observed import ObservedPod, PodPhase
from airkube.kube.apply import Kube
from unit.controller.fakes import run_body
from unit.controller.test_dry_run_answers import FakeApi
from unit.controller.test_runs import CHAIN, Scene
from unit.controller.test_scheduler import World, at, scheduled


def value(m: Metrics, name: str, **labels: str) -> float:
    """A sample's value (0 when absent)."""
    found = m.registry.get_sample_value(name, labels)
    return found or 0.0


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_each_operator_has_a_registry_of_its_own() -> None:
    one, two = Metrics(), Metrics()  # a global registry would refuse the second
    one.log_store_failed("s3")
    assert value(one, "airkube_log_store_failures_total", store="s3") == 1
    assert value(two, "airkube_log_store_failures_total", store="s3") == 0


def test_the_function_api_counts_into_the_current_operator_and_its_tasks() -> None:
    mine, other = Metrics(), Metrics()

    async def work() -> None:
        metrics.callback_failed("onFailure")
        await asyncio.create_task(asyncio.sleep(0, metrics.log_store_failed("database")))
        await asyncio.to_thread(metrics.callback_failed, "onRunFailure")

    with metrics.active(mine):
        asyncio.run(work())
    with metrics.active(other):
        metrics.log_store_failed("s3")
    metrics.callback_failed("onSuccess")  # no operator: the fallback, served by no one

    assert value(mine, "airkube_callback_failures_total", hook="onFailure") == 1
    assert value(mine, "airkube_callback_failures_total", hook="onRunFailure") == 1
    assert value(mine, "airkube_log_store_failures_total", store="database") == 1
    assert value(other, "airkube_log_store_failures_total", store="s3") == 1
    assert value(mine, "airkube_log_store_failures_total", store="s3") == 0
    assert value(mine, "airkube_callback_failures_total", hook="onSuccess") == 0
    assert metrics.current() is not mine


def test_a_label_that_is_not_a_word_cannot_grow_the_series() -> None:
    m = Metrics()
    m.callback_failed("https://hooks.example/T0/B1")
    m.log_store_failed("")
    assert value(m, "airkube_callback_failures_total", hook="Other") == 1
    assert value(m, "airkube_log_store_failures_total", store="unknown") == 1


def test_a_run_counts_its_start_tries_handoff_and_end(tmp_path: Path) -> None:
    m = Metrics()
    scene = Scene(tmp_path, CHAIN, run_body("r1", "etl"))
    run = {"namespace": "default", "dag": "etl"}
    with metrics.active(m):
        scene.reconcile("r1")
        assert value(m, "airkube_dagruns_started_total", **run) == 1
        scene.set_phase(scene.pod_of("a"), "Succeeded", exit_code=0)
        scene.clock.advance(seconds=3)
        scene.reconcile("r1")
        assert value(m, "airkube_task_step_latency_seconds_count", **run) == 1
        scene.set_phase(scene.pod_of("b"), "Failed", exit_code=1)
        scene.reconcile("r1")
        scene.reconcile("r1")  # nothing new: nothing counted again
    assert scene.status("r1")["state"] == "Failed"
    assert value(m, "airkube_dagruns_started_total", **run) == 1
    assert value(m, "airkube_task_tries_total", **run, state="Succeeded", reason="") == 1
    assert value(m, "airkube_task_tries_total", **run, state="Failed", reason="Error") == 1
    assert value(m, "airkube_dagruns_finished_total", **run, state="Failed") == 1
    assert value(m, "airkube_dagrun_duration_seconds_count", **run, state="Failed") == 1
    assert value(m, "airkube_dagruns_finished_total", **run, state="Succeeded") == 0


def test_a_scheduled_run_observes_its_delay_once() -> None:
    m = Metrics()
    # Catchup off: the one run due, its interval (the 23rd) ended at midnight of the 24th.
    world = World(at(24, 0, 0) + timedelta(seconds=4), startDate="2026-11-20", catchup=False)
    with metrics.active(m):
        world.settle()
        world.restart()
        world.settle()  # created already: AlreadyExists, no second observation
    assert world.run_names() == [scheduled(23)]
    dag = {"namespace": "default", "dag": "etl"}
    assert value(m, "airkube_dagrun_schedule_delay_seconds_count", **dag) == 1
    assert value(m, "airkube_dagrun_schedule_delay_seconds_sum", **dag) == 4.0


def test_timed_handlers_observe_each_pass_and_count_failures() -> None:
    m = Metrics()

    async def ok(_key: str) -> None:
        pass

    async def broken(_key: str) -> None:
        raise RuntimeError("bug")

    async def passes() -> None:
        await m.timed("runs", ok)("k")
        with pytest.raises(RuntimeError):
            await m.timed("runs", broken)("k")

    asyncio.run(passes())
    assert value(m, "airkube_reconcile_duration_seconds_count", queue="runs") == 2
    assert value(m, "airkube_reconcile_errors_total", queue="runs") == 1


def pod(name: str, phase: PodPhase, waiting: str | None = None, **more: object) -> ObservedPod:
    return ObservedPod(
        name=name, task="t", try_number=1, phase=phase, waiting_reason=waiting, **more
    )  # type: ignore[arg-type]


def test_live_values_are_read_at_each_scrape() -> None:
    m = Metrics()
    queue: list[str] = ["a", "b"]
    pods = [
        ("team", pod("p1", PodPhase.PENDING, "Unschedulable")),
        ("team", pod("p2", PodPhase.PENDING, "Unschedulable")),
        ("team", pod("p3", PodPhase.PENDING, "ImagePullBackOff")),
        ("team", pod("p4", PodPhase.PENDING)),
        ("team", pod("p5", PodPhase.PENDING, "Unschedulable", missing=True)),
        ("ops", pod("p6", PodPhase.RUNNING)),
    ]
    active = [True]
    m.sources = Sources(
        queues={"runs": queue},
        pods=lambda: pods,
        largest_stall=lambda: 0.25,
        stalls=lambda: 3,
        active=lambda: active[0],
    )
    got = samples(m.exposition()[0].decode())

    def at_scrape(name: str, **labels: str) -> float:
        return got.get((name, frozenset(labels.items())), 0.0)

    assert at_scrape("airkube_workqueue_depth", queue="runs") == 2
    pending = "airkube_task_pods_pending"
    assert at_scrape(pending, namespace="team", reason="Unschedulable") == 2
    assert at_scrape(pending, namespace="team", reason="ImagePullBackOff") == 1
    assert at_scrape(pending, namespace="team", reason=metrics.NO_REASON) == 1
    assert at_scrape("airkube_task_pods", namespace="team", phase="Pending") == 5
    assert at_scrape("airkube_task_pods", namespace="ops", phase="Running") == 1
    assert at_scrape("airkube_event_loop_largest_stall_seconds") == 0.25
    assert at_scrape("airkube_event_loop_stalls_total") == 3
    assert at_scrape("airkube_operator_active") == 1

    queue.clear()
    active[0] = False
    got = samples(m.exposition()[0].decode())
    assert at_scrape("airkube_workqueue_depth", queue="runs") == 0
    assert at_scrape("airkube_operator_active") == 0


def test_metrics_are_served_on_the_health_port_in_both_formats() -> None:
    m = Metrics()
    m.runs_started.labels("team", "etl").inc()

    def get(port: int, accept: str | None = None) -> tuple[str, str]:
        request = urllib.request.Request(f"http://127.0.0.1:{port}{metrics.PATH}")
        if accept:
            request.add_header("Accept", accept)
        with urllib.request.urlopen(request, timeout=5) as r:
            return r.headers["Content-Type"], r.read().decode()

    async def scenario() -> list[tuple[str, str]]:
        health = Health(lambda: None, routes={metrics.PATH: m.serve})
        port = await health.start(0, host="127.0.0.1")
        try:
            return [
                await asyncio.to_thread(get, port),
                await asyncio.to_thread(get, port, "application/openmetrics-text; version=1.0.0"),
            ]
        finally:
            await health.stop()

    (plain_type, plain), (open_type, open_text) = asyncio.run(scenario())
    assert plain_type.startswith("text/plain; version=0.0.4")
    assert 'airkube_dagruns_started_total{dag="etl",namespace="team"} 1.0' in plain
    assert open_type.startswith("application/openmetrics-text")
    assert open_text.rstrip().endswith("# EOF")


def test_kube_tells_every_error_answer_and_every_call_without_one() -> None:
    m = Metrics()

    def create(status: int) -> None:
        kube = Kube(FakeApi(status, "no"), concurrency=1, on_error=m.api_error)  # type: ignore[arg-type]
        try:
            asyncio.run(kube.create_pods("team", [{"metadata": {"name": "p"}}]))
        except ApiException:
            pass
        finally:
            kube.close()

    for status in (201, 409, 422, 503):
        create(status)

    class Unreachable(FakeApi):
        def call_api(self, *args: object) -> object:
            raise ConnectionRefusedError("no route")

    kube = Kube(Unreachable(200, None), concurrency=1, on_error=m.api_error)  # type: ignore[arg-type]
    with pytest.raises(ConnectionRefusedError):
        asyncio.run(kube.create_pods("team", [{"metadata": {"name": "p"}}]))
    kube.close()

    errors = "airkube_kubernetes_api_errors_total"
    assert value(m, errors, code="201") == 0
    assert [value(m, errors, code=c) for c in ("409", "422", "503")] == [1, 1, 1]
    assert value(m, errors, code="unreachable") == 1
