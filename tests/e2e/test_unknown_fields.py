"""A field the schema does not have (a typo such as ``retires``) never goes silently: every
client airkube ships, and kubectl at its default, refuses it naming the field, before
anything is stored. The API server prunes what a client that turns field validation off
sends (it only warns): that is the one way a typo is dropped, and the README says so."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from .cli import airkube
from .cluster import Cluster
from .resources import task
from .waiting import GROUP, VERSION


def typo_dag(name: str) -> dict[str, Any]:
    bad = {**task("load", image="busybox:1.36"), "retires": 3}
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "DAG",
        "metadata": {"name": name},
        "spec": {"tasks": [bad]},
    }


def dags_in(custom: client.CustomObjectsApi, namespace: str) -> list[str]:
    listed = custom.list_namespaced_custom_object(GROUP, VERSION, namespace, "dags")
    return [item["metadata"]["name"] for item in listed["items"]]


def test_kubectl_and_airkube_apply_refuse_an_unknown_field_naming_it(
    crds: None, cluster: Cluster, custom: client.CustomObjectsApi, namespace: str, tmp_path: Path
) -> None:
    path = tmp_path / "typo.yaml"
    path.write_text(yaml.safe_dump(typo_dag("typo")))

    by_kubectl = cluster.kubectl("apply", "-n", namespace, "-f", str(path), check=False)
    assert by_kubectl.returncode != 0
    assert 'unknown field "spec.tasks[0].retires"' in by_kubectl.stderr

    by_airkube = airkube(cluster, namespace, "apply", str(path), check=False)
    assert by_airkube.returncode == 1
    assert "retires" in by_airkube.stderr + by_airkube.stdout
    assert "did you mean" in by_airkube.stderr + by_airkube.stdout
    assert "Traceback" not in by_airkube.stderr
    assert dags_in(custom, namespace) == []


def test_a_run_with_an_unknown_field_is_refused_by_a_strict_client(
    crds: None, custom: client.CustomObjectsApi, namespace: str
) -> None:
    body = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "DAGRun",
        "metadata": {"name": "typo-run"},
        "spec": {"dagRef": {"name": "typo"}, "parms": {"x": 1}},
    }
    with pytest.raises(ApiException) as refused:
        custom.create_namespaced_custom_object(
            GROUP, VERSION, namespace, "dagruns", body, field_validation="Strict"
        )
    assert refused.value.status == 400
    assert 'unknown field "spec.parms"' in json.loads(refused.value.body)["message"]


def test_a_client_without_field_validation_is_warned_and_the_field_is_pruned(
    crds: None, custom: client.CustomObjectsApi, namespace: str
) -> None:
    _, _, headers = custom.create_namespaced_custom_object_with_http_info(
        GROUP, VERSION, namespace, "dags", typo_dag("pruned"), field_validation="Warn"
    )
    warning = (headers or {}).get("Warning", "")
    assert "unknown field" in warning
    assert "spec.tasks[0].retires" in warning
    stored = custom.get_namespaced_custom_object(GROUP, VERSION, namespace, "dags", "pruned")
    assert "retires" not in stored["spec"]["tasks"][0]
