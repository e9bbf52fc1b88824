"""Task logs outlive their pods: the operator captures each try's log when it ends, before
podGC deletes the pod, into the log store — the metadata database, or an S3-compatible
bucket on a real server (versitygw, started here) — and `kubectl airkube logs` prints it
afterwards as it printed the live pod's; a log over the cap keeps its head and tail.
`kubectl airkube tries` lists every try from the database, the log's capture with it.

The pods are simulated (kwok serves hack/kwok/task.log as every task container's log)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from s3_server import S3Server, s3_server

from .cli import airkube
from .cluster import ROOT, Cluster
from .operator_process import OperatorProcess, others_stopped
from .resources import TERMINAL, apply_dag, events_of, sim, state, task, tasks
from .waiting import watch_run

KWOK_LOG = "".join(
    line.split(" ", 3)[3] + "\n"
    for line in (ROOT / "hack" / "kwok" / "task.log").read_text().splitlines()
    if line.strip()
)
"""What kwok serves as the log of every simulated task container (CRI format unwrapped)."""


def finished(run: dict[str, Any]) -> bool:
    return state(run) in TERMINAL


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    with s3_server(tmp_path_factory.mktemp("s3"), "the S3 log store e2e test skipped") as s:
        c: Any = s.client()
        c.create_bucket(Bucket="airkube-logs")
        yield s


def pods_gone(core: client.CoreV1Api, namespace: str, run: str, timeout: float = 60) -> None:
    """Wait (polling, with a deadline) until podGC has deleted every pod of the run."""
    deadline = time.monotonic() + timeout
    while True:
        pods = core.list_namespaced_pod(namespace, label_selector=f"airkube.io/run={run}").items
        if not pods:
            return
        assert time.monotonic() < deadline, [p.metadata.name for p in pods]
        time.sleep(0.2)


def run_with_retried_task(
    cluster: Cluster,
    core: client.CoreV1Api,
    custom: client.CustomObjectsApi,
    namespace: str,
    operator: OperatorProcess,
) -> str:
    """A DAG whose first task fails its first try: a run of it succeeds with three tries,
    and the default podGC (OnRunSuccess) deletes their pods."""
    apply_dag(
        custom,
        namespace,
        "chatty",
        defaults={"podTemplate": sim(duration="200ms")},
        tasks=[
            task(
                "fetch",
                retries=1,
                retryDelay="0s",
                podTemplate=sim(duration="200ms", fail_tries="1", message="flaky"),
            ),
            task("load", "fetch"),
        ],
    )
    created = json.loads(airkube(cluster, namespace, "trigger", "chatty", "-o", "json").stdout)
    name: str = created["metadata"]["name"]
    run = watch_run(custom, namespace, name, finished, timeout=60)
    assert state(run) == "Succeeded", run["status"]
    assert tasks(run)["fetch"]["tryNumber"] == 2
    pods_gone(core, namespace, name)
    return name


def check_tries(cluster: Cluster, namespace: str, name: str, db: list[str], store: str) -> None:
    listed = json.loads(airkube(cluster, namespace, "tries", name, *db, "-o", "json").stdout)
    seen = {(t["task"], t["try"]): t for t in listed}
    assert sorted(seen) == [("fetch", 1), ("fetch", 2), ("load", 1)], listed
    first = seen["fetch", 1]
    assert (first["state"], first["exitCode"], first["message"]) == ("UpForRetry", 1, "flaky")
    for t in listed:
        assert t["logStored"] is True, t
        assert t["log"]["store"] == store
        assert t["node"] == "kwok-node-0"
        assert t["pod"]
        assert all(t[when] for when in ("queued", "started", "ended")), t
    text = airkube(cluster, namespace, "tries", name, "fetch", *db).stdout
    assert text.split()[:3] == ["TASK", "TRY", "STATE"]
    assert "QUEUED" in text
    assert len([line for line in text.splitlines() if line.startswith("fetch")]) == 2


def test_logs_outlive_their_pods_in_the_metadata_database(
    cluster: Cluster,
    core: client.CoreV1Api,
    custom: client.CustomObjectsApi,
    crds: None,
    namespace: str,
    tmp_path: Path,
) -> None:
    db_url = f"sqlite:///{tmp_path / 'airkube.db'}"
    db = ["--db-url", db_url]
    with others_stopped():
        operator = OperatorProcess(cluster, db_url, tmp_path / "operator.log")
        try:
            operator.start()  # inside: a start that times out still stops the process
            name = run_with_retried_task(cluster, core, custom, namespace, operator)
        finally:
            operator.stop()

    # The pods are gone; every try's log is in the database, printed as the pod's was.
    for task_name, try_number in (("fetch", "1"), ("fetch", "2"), ("load", "1")):
        shown = airkube(
            cluster, namespace, "logs", name, task_name, "--try", try_number, *db
        ).stdout
        assert shown == KWOK_LOG, shown
    latest = airkube(cluster, namespace, "logs", name, "fetch", *db).stdout
    assert latest == KWOK_LOG
    every = airkube(cluster, namespace, "logs", name, "fetch", "--all-tries", *db).stdout
    assert every == f"==> fetch try 1 <==\n{KWOK_LOG}==> fetch try 2 <==\n{KWOK_LOG}"
    check_tries(cluster, namespace, name, db, "database")
    history = airkube(cluster, namespace, "history", "chatty", *db).stdout
    assert "kubectl airkube tries RUN" in history

    # Still there once the DAGRun itself is gone (the database has its history).
    custom.delete_namespaced_custom_object("airkube.io", "v1alpha1", namespace, "dagruns", name)
    deadline = time.monotonic() + 30
    while any(
        r["metadata"]["name"] == name
        for r in custom.list_namespaced_custom_object(
            "airkube.io", "v1alpha1", namespace, "dagruns"
        )["items"]
    ):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    after = airkube(cluster, namespace, "logs", name, "load", *db).stdout
    assert after == KWOK_LOG


def test_logs_outlive_their_pods_in_an_s3_bucket_capped_to_their_head_and_tail(
    cluster: Cluster,
    core: client.CoreV1Api,
    custom: client.CustomObjectsApi,
    api: client.ApiClient,
    crds: None,
    namespace: str,
    tmp_path: Path,
    s3: S3Server,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for k, v in s3.env().items():
        monkeypatch.setenv(k, v)
    db_url = f"sqlite:///{tmp_path / 'airkube.db'}"
    db = ["--db-url", db_url]
    where = ["--log-s3-bucket", "airkube-logs", "--log-s3-endpoint", s3.endpoint]
    where += ["--log-s3-prefix", "runs/"]
    cap = 120
    with others_stopped():
        operator = OperatorProcess(
            cluster,
            db_url,
            tmp_path / "operator.log",
            ["--log-store", "s3", "--log-cap", str(cap), *where],
        )
        try:
            operator.start()  # inside: a start that times out still stops the process
            name = run_with_retried_task(cluster, core, custom, namespace, operator)
        finally:
            operator.stop()

    # In the bucket, under prefix + namespace/dag/run/task/try, compressed.
    key = f"runs/{namespace}/chatty/{name}/fetch/1"
    c: Any = s3.client()
    assert c.head_object(Bucket="airkube-logs", Key=key)["ContentEncoding"] == "gzip"
    assert (s3.root / "airkube-logs" / key).exists()

    # Printed from there: the log's first and last 60 bytes, a line saying what was cut.
    raw = KWOK_LOG.encode()
    assert len(raw) > cap
    shown = airkube(cluster, namespace, "logs", name, "fetch", "--try", "1", *db, *where).stdout
    assert shown.encode().startswith(raw[:60])
    assert shown.encode().endswith(raw[-60:])
    assert f"[airkube: {len(raw) - cap} bytes of this log were cut here" in shown
    check_tries(cluster, namespace, name, db, "s3")

    # Without the bucket's settings the CLI says what it needs, in one line.
    lost = airkube(cluster, namespace, "logs", name, "load", *db, check=False)
    assert lost.returncode == 1
    assert "AIRKUBE_LOG_S3_BUCKET" in lost.stderr
    assert "Traceback" not in lost.stderr
    assert not [e for e in events_of(api, namespace, name) if e.reason == "LogNotStored"]


def test_a_real_containers_log_outlives_its_pod_with_its_head_and_tail(
    cluster: Cluster,
    core: client.CoreV1Api,
    custom: client.CustomObjectsApi,
    crds: None,
    real_namespace: str,
    tmp_path: Path,
) -> None:
    """On the real node: each try prints 2,000 lines of its own (about 30 KB) and the cap
    is 4 KiB; once podGC has deleted the pods, each try's log shows its own first and
    last lines and what was cut between. `logs -f` follows a running try to its end, and
    prints the same afterwards from the store."""
    namespace = real_namespace
    db_url = f"sqlite:///{tmp_path / 'airkube.db'}"
    db = ["--db-url", db_url]
    script = (
        'i=0; while [ $i -lt 2000 ]; do echo "try $AIRKUBE_TRY line $i"; i=$((i+1)); done; '
        '[ "$AIRKUBE_TRY" -ge 2 ]'
    )
    with others_stopped():
        operator = OperatorProcess(cluster, db_url, tmp_path / "operator.log", ["--log-cap", "4Ki"])
        try:
            operator.start()  # inside: a start that times out still stops the process
            apply_dag(
                custom,
                namespace,
                "loud",
                tasks=[
                    task("talk", command=["sh", "-c", script], retries=1, retryDelay="0s"),
                    task("slow", command=["sh", "-c", "echo start; sleep 3; echo end"]),
                ],
            )
            created = json.loads(
                airkube(cluster, namespace, "trigger", "loud", "-o", "json").stdout
            )
            name: str = created["metadata"]["name"]
            watch_run(
                custom,
                namespace,
                name,
                lambda r: tasks(r).get("slow", {}).get("state") == "Running",
                timeout=120,
            )
            # -f follows the live pod and ends by itself when the try ends.
            followed = airkube(cluster, namespace, "logs", name, "slow", "-f", *db)
            assert followed.stdout == "start\nend\n"
            run = watch_run(custom, namespace, name, finished, timeout=120)
            assert state(run) == "Succeeded", run["status"]
            pods_gone(core, namespace, name)
        finally:
            operator.stop()

    for n in (1, 2):
        shown = airkube(cluster, namespace, "logs", name, "talk", "--try", str(n), *db).stdout
        assert shown.startswith(f"try {n} line 0\ntry {n} line 1\n"), shown[:200]
        assert shown.endswith(f"try {n} line 1998\ntry {n} line 1999\n"), shown[-200:]
        assert "bytes of this log were cut here" in shown
        assert f"try {n} line 1000\n" not in shown
        assert len(shown.encode()) < 4096 + 200
    # Within the cap, the stored log is what -f printed from the live pod.
    assert airkube(cluster, namespace, "logs", name, "slow", *db).stdout == "start\nend\n"
    listed = json.loads(
        airkube(cluster, namespace, "tries", name, "talk", *db, "-o", "json").stdout
    )
    assert [(t["try"], t["exitCode"], t["node"], t["logStored"]) for t in listed] == [
        (1, 1, "real-node-0", True),
        (2, 0, "real-node-0", True),
    ]
    assert all(t["log"]["cutBytes"] > 20000 for t in listed), listed
