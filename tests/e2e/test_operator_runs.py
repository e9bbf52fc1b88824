"""The operator on a real API server: runs in order, retries, trigger rules, outputs,
invalid DAGs, cancelling, lost pods."""

from __future__ import annotations

from typing import Any

from kubernetes import client

from airkube.store.repository import Store

from .cluster import Cluster
from .history import recorded
from .operator_process import OperatorProcess
from .resources import (
    TERMINAL,
    apply_dag,
    create_run,
    events_of,
    get_run,
    sim,
    state,
    task,
    tasks,
    wait_dag,
    when,
)
from .waiting import GROUP, VERSION, watch_pod, watch_run, watch_until


def finished(run: dict[str, Any]) -> bool:
    return state(run) in TERMINAL


def test_diamond_dag_runs_in_order_and_succeeds(
    operator: OperatorProcess,
    cluster: Cluster,
    api: client.ApiClient,
    custom: client.CustomObjectsApi,
    namespace: str,
) -> None:
    fast = sim(duration="300ms")
    apply_dag(
        custom,
        namespace,
        "diamond",
        defaults={"podTemplate": fast},
        tasks=[
            task("a"),
            task("b", "a"),
            task("c", "a"),
            task("d", "b", "c"),
        ],
    )
    create_run(custom, namespace, "diamond-1", "diamond")
    run = watch_run(custom, namespace, "diamond-1", finished, timeout=60)

    assert state(run) == "Succeeded", run["status"]
    status = run["status"]
    assert status["progress"] == "4/4"
    assert status["counts"]["succeeded"] == 4
    assert status["reason"] == "TasksSucceeded"
    assert status["startTime"]
    assert status["endTime"]
    assert status["duration"]
    t = tasks(run)
    for up, down in [("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")]:
        assert when(t[down]["queuedTime"]) >= when(t[up]["endTime"]), (up, down, t)
    assert all(entry["tryNumber"] == 1 for entry in t.values())

    dag = wait_dag(custom, namespace, "diamond", lambda d: "dagVersion" in (d.get("status") or {}))
    assert status["dagVersion"] == dag["status"]["dagVersion"]
    reasons = {e.reason for e in events_of(api, namespace, "diamond-1", {"RunSucceeded"})}
    assert "RunSucceeded" in reasons
    table = cluster.kubectl("get", "dagruns", "-n", namespace).stdout
    row = next(line for line in table.splitlines() if line.startswith("diamond-1"))
    assert "Succeeded" in row
    assert "4/4" in row
    described = cluster.kubectl("describe", "dagrun", "diamond-1", "-n", namespace).stdout
    assert "RunSucceeded" in described


def test_failing_task_is_retried_then_fails_and_trigger_rules_pick_what_still_runs(
    operator: OperatorProcess,
    api: client.ApiClient,
    custom: client.CustomObjectsApi,
    namespace: str,
) -> None:
    apply_dag(
        custom,
        namespace,
        "flaky",
        defaults={"podTemplate": sim(duration="200ms")},
        tasks=[
            task(
                "extract",
                retries=1,
                retryDelay="2s",
                podTemplate=sim(exit_code="3", message="source table is locked"),
            ),
            task("load", "extract"),
            task("cleanup", "extract", triggerRule="all_done"),
            task("alert", "extract", triggerRule="one_failed"),
            task("report", "load"),
        ],
    )
    create_run(custom, namespace, "flaky-1", "flaky")
    run = watch_run(custom, namespace, "flaky-1", finished, timeout=60)

    assert state(run) == "Failed", run["status"]
    t = tasks(run)
    assert t["extract"]["state"] == "Failed"
    assert t["extract"]["tryNumber"] == 2
    assert t["extract"]["exitCode"] == 3
    assert "source table is locked" in t["extract"]["message"]
    assert t["load"]["state"] == "UpstreamFailed"
    assert t["report"]["state"] == "UpstreamFailed"
    assert t["cleanup"]["state"] == "Succeeded"
    assert t["alert"]["state"] == "Succeeded"

    _, rows = recorded(custom, operator.db_url, namespace, "flaky-1")
    tries = [x for x in rows if x.task_name == "extract"]
    assert [(x.try_number, x.state) for x in tries] == [(1, "UpForRetry"), (2, "Failed")]
    assert tries[0].end_time is not None
    assert tries[1].start_time is not None
    # The second try waited for the retry delay after the first ended (to the second).
    assert (tries[1].start_time - tries[0].end_time).total_seconds() >= 1

    events = events_of(api, namespace, "flaky-1", {"TaskRetrying", "TaskFailed", "RunFailed"})
    reasons = [e.reason for e in events]
    assert "TaskRetrying" in reasons
    assert "TaskFailed" in reasons
    assert "RunFailed" in reasons
    assert all(e.type == "Warning" for e in events if e.reason in ("TaskFailed", "RunFailed"))


def test_dag_with_a_cycle_is_not_ready_names_the_cycle_and_never_launches_a_pod(
    operator: OperatorProcess,
    core: client.CoreV1Api,
    custom: client.CustomObjectsApi,
    namespace: str,
) -> None:
    apply_dag(
        custom,
        namespace,
        "loop",
        tasks=[task("a", "c"), task("b", "a"), task("c", "b")],
    )

    def ready_false(d: dict[str, Any]) -> bool:
        conditions = (d.get("status") or {}).get("conditions") or []
        return any(c["type"] == "Ready" and c["status"] == "False" for c in conditions)

    dag = wait_dag(custom, namespace, "loop", ready_false)
    (ready,) = [c for c in dag["status"]["conditions"] if c["type"] == "Ready"]
    assert ready["reason"] == "Cycle"
    assert "a → b → c → a" in ready["message"], ready["message"]

    create_run(custom, namespace, "loop-1", "loop")

    def waiting(run: dict[str, Any]) -> bool:
        conditions = (run.get("status") or {}).get("conditions") or []
        return any(c["type"] == "Waiting" and c["reason"] == "DAGInvalid" for c in conditions)

    run = watch_run(custom, namespace, "loop-1", waiting, timeout=30)
    assert state(run) == "Queued"
    assert not core.list_namespaced_pod(namespace).items


def test_task_output_is_kept_in_status_and_in_the_database(
    operator: OperatorProcess, custom: client.CustomObjectsApi, namespace: str
) -> None:
    output = '{"path": "s3://lake/2026-11-24", "rows": 1234}'
    apply_dag(
        custom,
        namespace,
        "produce",
        defaults={"podTemplate": sim(duration="200ms")},
        tasks=[
            task("a"),
            task("b", "a", podTemplate=sim(duration="200ms", output=output)),
        ],
    )
    create_run(custom, namespace, "produce-1", "produce")
    run = watch_run(custom, namespace, "produce-1", finished, timeout=60)

    assert state(run) == "Succeeded"
    assert tasks(run)["b"]["output"] == output
    stored = {x.task_name: x for x in recorded(custom, operator.db_url, namespace, "produce-1")[1]}
    assert stored["b"].output == output
    assert stored["b"].state == "Succeeded"


def test_cancelling_a_run_stops_its_pods_and_ends_it_cancelled(
    operator: OperatorProcess,
    core: client.CoreV1Api,
    custom: client.CustomObjectsApi,
    namespace: str,
) -> None:
    apply_dag(
        custom,
        namespace,
        "slow",
        defaults={"podTemplate": sim(duration="10m")},
        tasks=[task("long"), task("after", "long")],
    )
    create_run(custom, namespace, "slow-1", "slow")
    watch_run(
        custom, namespace, "slow-1", lambda r: tasks(r).get("long", {}).get("state") == "Running"
    )
    custom.patch_namespaced_custom_object(
        "airkube.io", "v1alpha1", namespace, "dagruns", "slow-1", {"spec": {"cancel": True}}
    )
    run = watch_run(custom, namespace, "slow-1", finished, timeout=30)

    assert state(run) == "Cancelled"
    t = tasks(run)
    assert t["long"]["state"] not in ("Running", "Queued")
    assert t["after"]["state"] == "Skipped"
    pod = t["long"]["podName"]
    watch_pod(core, namespace, pod, lambda typ, p: typ == "DELETED" or p is None, timeout=30)


def test_a_run_refused_mid_way_leaves_no_pod_running_and_no_task_running(
    operator: OperatorProcess,
    core: client.CoreV1Api,
    custom: client.CustomObjectsApi,
    namespace: str,
) -> None:
    apply_dag(
        custom,
        namespace,
        "strict",
        params={"limit": {"type": "integer", "default": 10}},
        defaults={"podTemplate": sim(duration="10m")},
        tasks=[task("long"), task("after", "long")],
    )
    create_run(custom, namespace, "strict-1", "strict")
    run = watch_run(
        custom, namespace, "strict-1", lambda r: tasks(r).get("long", {}).get("state") == "Running"
    )
    pod = tasks(run)["long"]["podName"]
    # The run's params stop being valid while it runs: it cannot go on.
    custom.patch_namespaced_custom_object(
        "airkube.io",
        "v1alpha1",
        namespace,
        "dagruns",
        "strict-1",
        {"spec": {"params": {"limit": "a lot"}}},
    )
    run = watch_run(custom, namespace, "strict-1", finished, timeout=30)

    assert state(run) == "Failed"
    assert run["status"]["reason"] == "InvalidParams", run["status"]
    assert {t["state"] for t in tasks(run).values()} == {"Skipped"}, tasks(run)
    watch_pod(core, namespace, pod, lambda typ, p: typ == "DELETED" or p is None, timeout=30)


def test_a_pod_deleted_by_someone_else_is_a_failed_try_and_is_retried(
    operator: OperatorProcess,
    core: client.CoreV1Api,
    custom: client.CustomObjectsApi,
    namespace: str,
) -> None:
    apply_dag(
        custom,
        namespace,
        "fragile",
        defaults={"podTemplate": sim(duration="3s")},
        tasks=[task("work", retries=1, retryDelay="1s")],
    )
    create_run(custom, namespace, "fragile-1", "fragile")
    run = watch_run(
        custom, namespace, "fragile-1", lambda r: tasks(r).get("work", {}).get("state") == "Running"
    )
    first_pod = tasks(run)["work"]["podName"]
    core.delete_namespaced_pod(first_pod, namespace, grace_period_seconds=0)

    retrying = watch_run(
        custom,
        namespace,
        "fragile-1",
        lambda r: tasks(r).get("work", {}).get("tryNumber") == 2 or finished(r),
        timeout=30,
    )
    assert tasks(retrying)["work"]["tryNumber"] == 2, retrying["status"]
    run = watch_run(custom, namespace, "fragile-1", finished, timeout=30)
    assert state(run) == "Succeeded"
    _, rows = recorded(custom, operator.db_url, namespace, "fragile-1")
    first = [x for x in rows if x.try_number == 1]
    assert first[0].state == "UpForRetry"
    assert first[0].reason == "Deleted", first[0]
    assert "not by airkube" in (first[0].message or ""), first[0]
    assert (
        get_run(custom, namespace, "fragile-1")["status"]["tasks"]["work"]["podName"] != first_pod
    )


def test_a_running_run_keeps_the_dag_version_it_started_with(
    operator: OperatorProcess, custom: client.CustomObjectsApi, namespace: str
) -> None:
    apply_dag(
        custom,
        namespace,
        "evolving",
        defaults={"podTemplate": sim(duration="200ms")},
        tasks=[task("first", podTemplate=sim(duration="3s")), task("second", "first")],
    )
    create_run(custom, namespace, "evolving-1", "evolving")
    started = watch_run(
        custom,
        namespace,
        "evolving-1",
        lambda r: tasks(r).get("first", {}).get("state") == "Running",
    )
    pinned = started["status"]["dagVersion"]
    # Edit the DAG while the run is running: a new task, and "second" depends on it.
    custom.patch_namespaced_custom_object(
        "airkube.io",
        "v1alpha1",
        namespace,
        "dags",
        "evolving",
        {
            "spec": {
                "tasks": [
                    task("first"),
                    task("added", "first"),
                    task("second", "first", "added"),
                ]
            }
        },
    )
    dag = wait_dag(
        custom,
        namespace,
        "evolving",
        lambda d: (d.get("status") or {}).get("dagVersion") not in (None, pinned),
    )
    run = watch_run(custom, namespace, "evolving-1", finished, timeout=60)

    assert state(run) == "Succeeded"
    assert set(tasks(run)) == {"first", "second"}
    assert run["status"]["dagVersion"] == pinned != dag["status"]["dagVersion"]
    with Store.from_url(operator.db_url, migrate=False) as store:
        versions = {v.spec_hash for v in store.list_dag_versions(namespace, "evolving")}
    assert {pinned, dag["status"]["dagVersion"]} <= versions


def test_pods_are_cleaned_up_after_success_and_kept_after_failure(
    operator: OperatorProcess,
    core: client.CoreV1Api,
    custom: client.CustomObjectsApi,
    namespace: str,
) -> None:
    apply_dag(
        custom,
        namespace,
        "tidy",
        defaults={"podTemplate": sim(duration="100ms")},
        tasks=[task("ok")],
    )
    apply_dag(
        custom,
        namespace,
        "broken",
        defaults={"podTemplate": sim(duration="100ms", exit_code="1")},
        tasks=[task("ko")],
    )
    create_run(custom, namespace, "tidy-1", "tidy")
    create_run(custom, namespace, "broken-1", "broken")
    ok = watch_run(custom, namespace, "tidy-1", finished, timeout=60)
    ko = watch_run(custom, namespace, "broken-1", finished, timeout=60)
    assert (state(ok), state(ko)) == ("Succeeded", "Failed")

    # OnRunSuccess (the default): the succeeded run's pod goes, the failed run's stays.
    ok_pod = tasks(ok)["ok"]["podName"]
    watch_pod(core, namespace, ok_pod, lambda t, p: t == "DELETED" or p is None, timeout=30)
    ko_pod = tasks(ko)["ko"]["podName"]
    assert core.read_namespaced_pod(ko_pod, namespace).status.phase == "Failed"

    # Deleting the run deletes its pods (ownerReferences, kube-controller-manager's GC).
    custom.delete_namespaced_custom_object(
        "airkube.io", "v1alpha1", namespace, "dagruns", "broken-1"
    )
    watch_pod(core, namespace, ko_pod, lambda t, p: t == "DELETED" or p is None, timeout=30)


def test_a_run_recreated_under_the_same_name_never_adopts_the_old_runs_pods(
    operator: OperatorProcess, custom: client.CustomObjectsApi, namespace: str
) -> None:
    apply_dag(
        custom,
        namespace,
        "again",
        defaults={"podTemplate": sim(duration="100ms", exit_code="1")},
        tasks=[task("only")],
    )
    create_run(custom, namespace, "again-1", "again")
    old = watch_run(custom, namespace, "again-1", finished, timeout=60)
    assert state(old) == "Failed"  # its pod stays (podGC OnRunSuccess)

    custom.patch_namespaced_custom_object(
        "airkube.io",
        "v1alpha1",
        namespace,
        "dags",
        "again",
        {"spec": {"defaults": {"podTemplate": sim(duration="100ms", exit_code="0")}}},
    )
    custom.delete_namespaced_custom_object(
        "airkube.io", "v1alpha1", namespace, "dagruns", "again-1"
    )
    watch_until(
        custom.list_namespaced_custom_object,
        (GROUP, VERSION, namespace, "dagruns"),
        "again-1",
        lambda t, obj: t == "DELETED" or obj is None,
        30,
        "old run deleted",
    )
    create_run(custom, namespace, "again-1", "again")
    new = watch_run(custom, namespace, "again-1", finished, timeout=60)

    assert state(new) == "Succeeded", new["status"]
    assert tasks(new)["only"]["tryNumber"] == 1
    assert tasks(new)["only"]["podName"] != tasks(old)["only"]["podName"]


def test_a_dag_deleted_and_created_again_is_validated_again(
    operator: OperatorProcess, custom: client.CustomObjectsApi, namespace: str
) -> None:
    def ready(d: dict[str, Any]) -> bool:
        conditions = (d.get("status") or {}).get("conditions") or []
        return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)

    apply_dag(custom, namespace, "phoenix", tasks=[task("a")])
    first = wait_dag(custom, namespace, "phoenix", ready)
    custom.delete_namespaced_custom_object("airkube.io", "v1alpha1", namespace, "dags", "phoenix")
    apply_dag(custom, namespace, "phoenix", tasks=[task("a"), task("b", "a")])
    second = wait_dag(custom, namespace, "phoenix", ready)
    assert second["metadata"]["uid"] != first["metadata"]["uid"]
    assert second["status"]["dagVersion"] != first["status"]["dagVersion"]


def test_a_wide_fan_out_with_many_pods_alive_at_once_succeeds(
    operator: OperatorProcess,
    custom: client.CustomObjectsApi,
    namespace: str,
) -> None:
    """More pods alive at once than any internal worker bound: none may be lost because
    the operator's pod watch fell behind (kopf's worker_limit once blocked it)."""
    width = 150
    apply_dag(
        custom,
        namespace,
        "wide",
        maxActiveTasks=width,
        defaults={"podTemplate": sim(duration="3s")},
        tasks=[task("start", podTemplate=sim(duration="100ms"))]
        + [task(f"part-{i}", "start") for i in range(width)],
    )
    create_run(custom, namespace, "wide-1", "wide")
    run = watch_run(custom, namespace, "wide-1", finished, timeout=90)
    states = {t["state"] for t in tasks(run).values()}
    lost = [n for n, t in tasks(run).items() if t.get("reason") == "PodLost"]
    assert state(run) == "Succeeded", (run["status"].get("message"), lost[:5])
    assert states == {"Succeeded"}
    assert all(t["tryNumber"] == 1 for t in tasks(run).values())
