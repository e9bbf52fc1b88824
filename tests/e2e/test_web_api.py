"""The web server against the local cluster with a real run: the JSON API's answers for the
DAG, its runs (live, then from the history once the DAGRun is deleted), the run's tasks and
tries; and every page renders for it."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient
from kubernetes import client

from airkube.api import GROUP, VERSION
from airkube.store.repository import Store
from airkube.web.app import create_app
from airkube.web.data import KubeCluster, StoreHistory

from .operator_process import OperatorProcess
from .resources import apply_dag, create_run, sim, state, task, tasks
from .test_task_logs import KWOK_LOG
from .waiting import watch_run


def test_the_api_answers_for_a_real_run_live_and_after_its_resource_is_deleted(
    operator: OperatorProcess,
    api: client.ApiClient,
    custom: client.CustomObjectsApi,
    namespace: str,
) -> None:
    apply_dag(
        custom,
        namespace,
        "webdag",
        tasks=[
            task("first", podTemplate=sim(duration="1s")),
            task("second", "first"),
            task("slow", podTemplate=sim(duration="15s")),
        ],
    )
    create_run(custom, namespace, "webdag-1", "webdag")
    watch_run(
        custom,
        namespace,
        "webdag-1",
        lambda r: (tasks(r).get("slow") or {}).get("state") == "Running",
        timeout=60,
    )
    with Store.from_url(operator.db_url, migrate=False) as store:
        web = TestClient(create_app(KubeCluster(api), StoreHistory(store)))
        slow = f"/api/v1/namespaces/{namespace}/dags/webdag/runs/webdag-1/tasks/slow/tries/1"
        live_log = web.get(f"{slow}/logs").json()
        assert live_log["source"] == "pod"  # the running pod's own log
        assert "".join(line + "\n" for line in live_log["lines"]) == KWOK_LOG
        assert web.get(slow).json()["podPhase"] == "Running"
    watch_run(custom, namespace, "webdag-1", lambda r: state(r) == "Succeeded", timeout=60)
    with Store.from_url(operator.db_url, migrate=False) as store:
        web = TestClient(create_app(KubeCluster(api), StoreHistory(store)))
        base = f"/api/v1/namespaces/{namespace}/dags"

        dags = web.get(base, params={"search": "webd"}).json()
        assert [d["name"] for d in dags["items"]] == ["webdag"]
        assert [b["state"] for b in dags["items"][0]["recentRuns"]] == ["Succeeded"]

        runs = web.get(f"{base}/webdag/runs").json()["items"]
        assert [(r["name"], r["state"], r["live"]) for r in runs] == [
            ("webdag-1", "Succeeded", True)
        ]
        detail = web.get(f"{base}/webdag/runs/webdag-1").json()
        assert {
            t["name"]: (t["state"], t["tryNumber"], t["upstream"]) for t in detail["tasks"]
        } == {
            "first": ("Succeeded", 1, []),
            "second": ("Succeeded", 1, ["first"]),
            "slow": ("Succeeded", 1, []),
        }
        assert detail["tasks"][0]["name"] == "first"  # the DAG's order: upstream first
        tries = web.get(f"{base}/webdag/runs/webdag-1/tasks/second/tries").json()["items"]
        assert [(t["tryNumber"], t["state"], t["exitCode"]) for t in tries] == [(1, "Succeeded", 0)]
        assert web.get(f"{base}/webdag/runs/webdag-1/tasks/second/tries/1").status_code == 200

        logs = f"{base}/webdag/runs/webdag-1/tasks/second/tries/1/logs"

        ui = f"/ui/namespaces/{namespace}/dags"
        for page in (ui, f"{ui}/webdag", f"{ui}/webdag/runs/webdag-1"):
            answer = web.get(page)
            assert answer.status_code == 200, (page, answer.text)
            assert "webdag" in answer.text
        try_page = web.get(f"{ui}/webdag/runs/webdag-1/tasks/second/tries/1")
        assert try_page.status_code == 200
        assert "second · try 1" in try_page.text

        custom.delete_namespaced_custom_object(GROUP, VERSION, namespace, "dagruns", "webdag-1")
        gone = web.get(f"{base}/webdag/runs").json()["items"]
        assert [(r["name"], r["state"], r["live"]) for r in gone] == [
            ("webdag-1", "Succeeded", False)
        ]
        recorded = web.get(f"{base}/webdag/runs/webdag-1").json()
        assert recorded["live"] is False
        assert {t["name"]: t["state"] for t in recorded["tasks"]} == {
            "first": "Succeeded",
            "second": "Succeeded",
            "slow": "Succeeded",
        }
        # Its pods are gone (pod GC, or the run's deletion): the log comes from the store.
        deadline = time.monotonic() + 60
        while (stored_log := web.get(logs).json()).get("source") != "store":
            assert time.monotonic() < deadline, stored_log
            time.sleep(0.5)
        assert "".join(line + "\n" for line in stored_log["lines"]) == KWOK_LOG
        missing = web.get(f"{base}/webdag/runs/nope")
        assert missing.status_code == 404
        assert "run nope of DAG webdag not found" in missing.json()["message"]
