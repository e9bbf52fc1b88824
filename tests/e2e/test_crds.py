"""The generated CRDs on a real API server: explain, and what the schema refuses."""

from __future__ import annotations

import time
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from .cluster import Cluster
from .resources import apply_dag, task


def test_kubectl_explain_describes_trigger_rule(cluster: Cluster, crds: None) -> None:
    # The API server publishes a new CRD's OpenAPI schema a moment after it is Established.
    deadline = time.monotonic() + 30
    while True:
        explained = cluster.kubectl("explain", "dag.spec.tasks.triggerRule", check=False)
        if explained.returncode == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert explained.returncode == 0, explained.stderr
    out = explained.stdout
    assert "one_failed" in out
    assert "When the task runs" in out


def test_short_names_and_the_airkube_category_work(
    cluster: Cluster, crds: None, custom: client.CustomObjectsApi, namespace: str
) -> None:
    apply_dag(custom, namespace, "listed", tasks=[task("a")])
    assert "listed" in cluster.kubectl("get", "dag", "-n", namespace).stdout
    assert "listed" in cluster.kubectl("get", "airkube", "-n", namespace).stdout
    cluster.kubectl("get", "dr", "-n", namespace)


@pytest.mark.parametrize(
    ("tasks", "complaint"),
    [
        ([task("a", triggerRule="whenever")], "triggerRule"),
        ([task("a", retries=-1)], "retries"),
        ([task("a"), task("a")], "Duplicate value"),
    ],
    ids=["unknown-trigger-rule", "negative-retries", "duplicate-task-names"],
)
def test_api_server_refuses_malformed_dags(
    crds: None,
    custom: client.CustomObjectsApi,
    namespace: str,
    tasks: list[dict[str, Any]],
    complaint: str,
) -> None:
    with pytest.raises(ApiException) as refused:
        apply_dag(custom, namespace, "bad", tasks=tasks)
    assert refused.value.status == 422
    assert complaint in refused.value.body
