"""The write actions through the API and the pages, against a fake cluster: each preview
shows what the CLI's --dry-run shows and changes nothing; the action writes what the CLI
writes, with who asked; bad input is one message per field; GET changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from action_fakes import ORIGIN, WritableCluster, csrf_client
from fastapi.testclient import TestClient
from web_fakes import dag, run

from airkube.core.requests import CANCELLED_BY, CLEARED_BY, MARKED_BY, PAUSED_BY, TRIGGERED_BY
from airkube.web.app import create_app

API = "/api/v1/namespaces/data/dags"
UI = "/ui/namespaces/data/dags"
PARAMS = {
    "table": "events",
    "limit": {"default": 100, "type": "integer", "minimum": 1, "description": "rows per batch"},
    "mode": {"default": "full", "enum": ["full", "delta"]},
    "dry": {"default": False, "type": "boolean"},
}


@pytest.fixture
def cluster() -> WritableCluster:
    c = WritableCluster()
    c.dags["etl"] = dag(
        "etl",
        [
            {"name": "extract", "image": "busybox:1.36", "command": ["true"]},
            {"name": "check", "image": "busybox:1.36", "dependsOn": ["extract"]},
            {"name": "load", "image": "busybox:1.36", "dependsOn": ["check"]},
        ],
    )
    c.dags["etl"]["spec"]["params"] = PARAMS
    c.dags["etl"]["spec"]["startDate"] = "2026-10-01T00:00:00Z"
    c.runs["etl-1"] = run(
        "etl-1",
        "etl",
        "Failed",
        extract={"state": "Succeeded", "tryNumber": 1},
        check={"state": "Failed", "tryNumber": 2},
        load={"state": "UpstreamFailed"},
    )
    c.runs["etl-2"] = run(
        "etl-2",
        "etl",
        "Running",
        extract={"state": "Succeeded", "tryNumber": 1},
        check={"state": "Running", "tryNumber": 1, "podName": "p"},
    )
    return c


@pytest.fixture
def client(cluster: WritableCluster) -> TestClient:
    return csrf_client(TestClient(create_app(cluster, None, namespace="data", user="alice")))


def writes(cluster: WritableCluster) -> list[str]:
    return [w[0] for w in cluster.writes]


# Trigger ---------------------------------------------------------------------------------


def test_the_params_model_gives_type_default_enum_and_description(client: TestClient) -> None:
    fields = {f["name"]: f for f in client.get(f"{API}/etl/params").json()}
    assert fields["limit"]["types"] == ["integer"]
    assert fields["limit"]["default"] == 100
    assert fields["limit"]["minimum"] == 1
    assert fields["limit"]["description"] == "rows per batch"
    assert fields["mode"]["enum"] == ["full", "delta"]
    assert fields["table"] == {**fields["table"], "types": [], "defaultText": "events"}


def test_a_trigger_preview_shows_the_run_and_command_and_creates_nothing(
    client: TestClient, cluster: WritableCluster
) -> None:
    body = {"params": {"limit": "5", "mode": "delta"}, "logicalDate": "2026-11-02T06:00"}
    answer = client.post(f"{API}/etl/runs?dryRun=true", json=body)
    assert answer.status_code == 200, answer.text
    preview = answer.json()
    assert preview["applied"] is False
    assert preview["name"] == "etl-manual-20261102t060000"
    assert preview["values"] == {"table": "events", "limit": 5, "mode": "delta", "dry": False}
    assert preview["command"] == (
        "kubectl airkube trigger etl -n data --param limit=5 --param mode=delta "
        "--logical-date 2026-11-02T06:00"
    )
    assert writes(cluster) == []


def test_a_trigger_creates_the_run_the_cli_would_with_who_triggered_it(
    client: TestClient, cluster: WritableCluster
) -> None:
    answer = client.post(f"{API}/etl/runs", json={"params": {"limit": 7}, "name": "by-hand"})
    assert answer.status_code == 201, answer.text
    ((kind, name, body),) = cluster.writes
    assert (kind, name) == ("create", "by-hand")
    assert body["metadata"]["annotations"] == {TRIGGERED_BY: "alice"}
    assert body["metadata"]["labels"] == {"airkube.io/dag": "etl"}
    assert body["spec"]["params"] == {"limit": 7}
    assert body["spec"]["runType"] == "manual"
    again = client.post(f"{API}/etl/runs", json={"name": "by-hand"})
    assert again.status_code == 409
    assert "already exists" in again.json()["message"]


@pytest.mark.parametrize(
    ("body", "field", "says"),
    [
        ({"params": {"limit": "ten"}}, "params.limit", "param limit must be an integer, got 'ten'"),
        ({"params": {"limit": 0}}, "params.limit", "param limit must be at least 1, got 0"),
        ({"params": {"mode": "some"}}, "params.mode", "must be one of 'full', 'delta'"),
        ({"logicalDate": "yesterday"}, "logicalDate", "'yesterday' is not a time"),
        ({"name": "Bad_Name"}, "name", "is not a valid resource name"),
    ],
)
def test_bad_trigger_input_is_422_with_one_message_per_field(
    client: TestClient, cluster: WritableCluster, body: dict[str, Any], field: str, says: str
) -> None:
    answer = client.post(f"{API}/etl/runs", json=body)
    assert answer.status_code == 422
    assert says in answer.json()["fields"][field]
    assert says in answer.json()["message"]
    assert writes(cluster) == []


def test_a_malformed_body_is_422_in_the_apis_shape(client: TestClient) -> None:
    answer = client.post(f"{API}/etl/runs", json={"params": "nope"})
    assert answer.status_code == 422
    assert "params" in answer.json()["message"]


def test_a_required_param_without_value_is_named(
    client: TestClient, cluster: WritableCluster
) -> None:
    cluster.dags["etl"]["spec"]["params"] = {"day": {"type": "string"}}
    answer = client.post(f"{API}/etl/runs", json={})
    assert answer.status_code == 422
    assert "param day is required" in answer.json()["fields"]["params.day"]


# Clear, mark, cancel ---------------------------------------------------------------------


def test_clear_preview_and_apply(client: TestClient, cluster: WritableCluster) -> None:
    preview = client.post(
        f"{API}/etl/runs/etl-1/clear?dryRun=true", json={"tasks": ["check"], "downstream": True}
    ).json()
    assert [(c["task"], c["before"], c["after"]) for c in preview["changes"]] == [
        ("check", "Failed", "None"),
        ("load", "UpstreamFailed", "None"),
    ]
    assert preview["command"] == "kubectl airkube clear etl-1 -n data -t check --downstream"
    assert writes(cluster) == []
    done = client.post(f"{API}/etl/runs/etl-1/clear", json={"onlyFailed": True}).json()
    assert done["applied"] is True
    ((kind, name, patch),) = cluster.writes
    assert (kind, name) == ("patch", "etl-1")
    assert patch["metadata"] == {"annotations": {CLEARED_BY: "alice"}}
    clear = patch["spec"]["clear"]
    assert clear["onlyFailed"] is True
    assert clear["tasks"] is None
    assert clear["id"]


def test_clear_of_an_unknown_task_is_422(client: TestClient) -> None:
    answer = client.post(f"{API}/etl/runs/etl-1/clear", json={"tasks": ["nope"]})
    assert answer.status_code == 422
    assert answer.json()["fields"]["tasks"] == 'the run has no task "nope" to clear'


def test_mark_preview_matches_the_clis_effect(client: TestClient, cluster: WritableCluster) -> None:
    preview = client.post(
        f"{API}/etl/runs/etl-1/mark?dryRun=true", json={"state": "success", "tasks": ["check"]}
    ).json()
    assert [(c["task"], c["after"]) for c in preview["changes"]] == [("check", "Succeeded")]
    assert preview["clearedDownstream"] == ["load"]
    assert preview["summary"] == "Succeeded: check; cleared downstream: load"
    whole = client.post(f"{API}/etl/runs/etl-2/mark", json={"state": "failed"}).json()
    assert whole["newRunState"] == "Failed"
    assert [(c["task"], c["after"]) for c in whole["changes"]] == [
        ("check", "Failed"),
        ("load", "Skipped"),
    ]
    ((_, name, patch),) = cluster.writes
    assert name == "etl-2"
    assert patch["metadata"]["annotations"] == {MARKED_BY: "alice"}
    assert patch["spec"]["mark"]["state"] == "Failed"
    assert patch["spec"]["mark"]["tasks"] is None


def test_mark_that_changes_nothing_is_409(client: TestClient, cluster: WritableCluster) -> None:
    answer = client.post(
        f"{API}/etl/runs/etl-1/mark", json={"state": "success", "tasks": ["extract"]}
    )
    assert answer.status_code == 409
    assert "nothing to mark" in answer.json()["message"]
    assert writes(cluster) == []


def test_cancel_preview_apply_and_refusal(client: TestClient, cluster: WritableCluster) -> None:
    preview = client.post(f"{API}/etl/runs/etl-2/cancel?dryRun=true").json()
    assert [(c["task"], c["before"]) for c in preview["changes"]] == [
        ("check", "Running"),
        ("load", "None"),
    ]
    assert preview["stopped"] == ["check"]
    assert preview["newRunState"] == "Cancelled"
    assert writes(cluster) == []
    client.post(f"{API}/etl/runs/etl-2/cancel")
    ((_, _, patch),) = cluster.writes
    assert patch == {"spec": {"cancel": True}, "metadata": {"annotations": {CANCELLED_BY: "alice"}}}
    ended = client.post(f"{API}/etl/runs/etl-1/cancel")
    assert ended.status_code == 409
    assert "already ended Failed" in ended.json()["message"]


def test_a_run_of_another_dag_is_404(client: TestClient, cluster: WritableCluster) -> None:
    cluster.dags["other"] = dag("other")
    answer = client.post(f"{API}/other/runs/etl-1/cancel")
    assert answer.status_code == 404
    assert writes(cluster) == []


# Backfill and pause ----------------------------------------------------------------------


def test_backfill_preview_lists_the_intervals_and_apply_creates_them(
    client: TestClient, cluster: WritableCluster
) -> None:
    body = {"start": "2026-10-01", "end": "2026-10-03"}
    preview = client.post(f"{API}/etl/backfill?dryRun=true", json=body).json()
    assert [r["name"] for r in preview["runs"]] == [
        "etl-backfill-20261001t000000",
        "etl-backfill-20261002t000000",
        "etl-backfill-20261003t000000",
    ]
    assert preview["command"] == (
        "kubectl airkube backfill etl -n data --start 2026-10-01 --end 2026-10-03"
    )
    assert writes(cluster) == []
    done = client.post(f"{API}/etl/backfill", json=body).json()
    assert [r["outcome"] for r in done["runs"]] == ["created"] * 3
    assert all(w[2]["metadata"]["annotations"] == {TRIGGERED_BY: "alice"} for w in cluster.writes)
    assert cluster.runs["etl-backfill-20261002t000000"]["spec"]["runType"] == "backfill"


def test_backfill_of_a_bad_range_is_422(client: TestClient) -> None:
    answer = client.post(f"{API}/etl/backfill", json={"start": "2026-10-05", "end": "2026-10-01"})
    assert answer.status_code == 422
    assert "is before" in answer.json()["message"]
    bad = client.post(f"{API}/etl/backfill", json={"start": "soon", "end": "2026-10-01"})
    assert "'soon' is not a time" in bad.json()["fields"]["start"]


def test_pause_records_who_paused_and_unpause_forgets(
    client: TestClient, cluster: WritableCluster
) -> None:
    client.post(f"{API}/etl/pause", json={"paused": True})
    client.post(f"{API}/etl/pause", json={"paused": False})
    assert [w[2] for w in cluster.writes] == [
        {"spec": {"paused": True}, "metadata": {"annotations": {PAUSED_BY: "alice"}}},
        {"spec": {"paused": False}, "metadata": {"annotations": {PAUSED_BY: None}}},
    ]


# Pages -----------------------------------------------------------------------------------


def page_client(cluster: WritableCluster) -> tuple[TestClient, str]:
    client = TestClient(create_app(cluster, None, namespace="data", user="alice"))
    client.headers["Origin"] = ORIGIN
    token = client.get("/api/v1/csrf").json()["token"]
    return client, token


def test_the_trigger_form_is_generated_from_the_params(cluster: WritableCluster) -> None:
    client, _ = page_client(cluster)
    page = client.get(f"{UI}/etl/trigger")
    assert page.status_code == 200
    text = page.text
    assert 'name="param.limit" value="100" inputmode="decimal"' in text
    assert "rows per batch" in text
    assert "min 1" in text
    assert '<option value="delta">delta</option>' in text
    assert '<select id="param-dry" name="param.dry">' in text


def test_the_trigger_form_previews_then_creates(cluster: WritableCluster) -> None:
    client, token = page_client(cluster)
    form = {"csrf_token": token, "param.limit": "5", "param.mode": "full", "param.table": "events"}
    preview = client.post(f"{UI}/etl/trigger", data={**form, "step": "preview"})
    assert preview.status_code == 200
    assert "kubectl airkube trigger etl -n data --param limit=5" in preview.text
    assert "Triggered by" in preview.text
    assert "alice" in preview.text
    assert writes(cluster) == []
    done = client.post(
        f"{UI}/etl/trigger",
        data={**form, "step": "confirm", "name": "from-form"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert done.headers["location"] == f"{UI}/etl/runs/from-form"
    assert cluster.runs["from-form"]["spec"]["params"] == {"limit": 5}


def test_bad_form_input_shows_the_form_again_with_the_message_by_its_field(
    cluster: WritableCluster,
) -> None:
    client, token = page_client(cluster)
    answer = client.post(
        f"{UI}/etl/trigger",
        data={
            "csrf_token": token,
            "param.limit": "<b>ten</b>",
            "logicalDate": "x",
            "step": "confirm",
        },
    )
    assert answer.status_code == 422
    assert 'data-field="params.limit">param limit must be an integer, got' in answer.text
    assert "&lt;b&gt;ten&lt;/b&gt;" in answer.text
    assert "<b>ten</b>" not in answer.text
    assert 'data-field="logicalDate">logical date: ' in answer.text
    assert "Traceback" not in answer.text
    assert writes(cluster) == []


def test_clear_and_mark_from_the_run_page(cluster: WritableCluster) -> None:
    client, token = page_client(cluster)
    run_page = client.get(f"{UI}/etl/runs/etl-1")
    assert f"{UI}/etl/runs/etl-1/clear" in run_page.text
    form = client.get(f"{UI}/etl/runs/etl-1/clear?task=check")
    assert 'value="check" checked' in form.text
    data = {"csrf_token": token, "task": "check", "downstream": "true"}
    preview = client.post(f"{UI}/etl/runs/etl-1/clear", data={**data, "step": "preview"})
    assert "clear 2 task(s): check, load" in preview.text
    assert writes(cluster) == []
    done = client.post(
        f"{UI}/etl/runs/etl-1/clear", data={**data, "step": "confirm"}, follow_redirects=False
    )
    assert done.status_code == 303
    assert writes(cluster) == ["patch"]
    marked = client.post(
        f"{UI}/etl/runs/etl-2/mark",
        data={"csrf_token": token, "state": "success", "step": "preview"},
    )
    assert "run marked Succeeded" in marked.text
    nothing = client.post(
        f"{UI}/etl/runs/etl-1/mark",
        data={"csrf_token": token, "state": "success", "task": "extract", "step": "confirm"},
    )
    assert nothing.status_code == 409
    assert "nothing to mark" in nothing.text


def test_the_backfill_form_previews(cluster: WritableCluster) -> None:
    client, token = page_client(cluster)
    data = {"csrf_token": token, "start": "2026-10-01", "end": "2026-10-02", "step": "preview"}
    page = client.post(f"{UI}/etl/backfill", data=data)
    assert "2 run(s) to create" in page.text
    assert "etl-backfill-20261002t000000" in page.text
    assert writes(cluster) == []


def test_no_get_changes_anything(cluster: WritableCluster) -> None:
    """Every page and API route answered a GET: nothing is written (the action URLs show
    their forms; the API's write routes answer 405)."""
    client, _ = page_client(cluster)
    paths = [
        f"{UI}/etl/trigger?param.limit=5&step=confirm",
        f"{UI}/etl/backfill?start=2026-10-01&end=2026-10-02&step=confirm",
        f"{UI}/etl/runs/etl-2/clear?step=confirm",
        f"{UI}/etl/runs/etl-2/mark?state=failed&step=confirm",
        f"{UI}/etl/runs/etl-2/cancel?step=confirm",
        f"{UI}/etl/pause?paused=true",
        f"{API}/etl/runs?dryRun=false",
        f"{API}/etl/runs/etl-2/clear",
        f"{API}/etl/runs/etl-2/mark",
        f"{API}/etl/runs/etl-2/cancel",
        f"{API}/etl/backfill",
        f"{API}/etl/pause",
    ]
    for path in paths:
        answer = client.get(path)
        assert answer.status_code in (200, 405), (path, answer.status_code)
    assert writes(cluster) == []
    assert cluster.runs["etl-2"]["spec"].get("cancel") is None


def test_now_is_the_default_logical_date(cluster: WritableCluster) -> None:
    client = csrf_client(TestClient(create_app(cluster, None, namespace="data")))
    before = datetime.now(UTC).replace(microsecond=0)
    preview = client.post(f"{API}/etl/runs?dryRun=true", json={}).json()
    assert datetime.fromisoformat(preview["logicalDate"]) >= before
    assert preview["requestedBy"] is None


def test_the_cancel_page_shows_its_preview_at_once(cluster: WritableCluster) -> None:
    client, _ = page_client(cluster)
    page = client.get(f"{UI}/etl/runs/etl-2/cancel")
    assert "cancel the run: 2 unfinished task(s) Skipped, 1 pod(s) stopped" in page.text
    ended = client.get(f"{UI}/etl/runs/etl-1/cancel")
    assert "already ended Failed" in ended.text
    assert writes(cluster) == []
