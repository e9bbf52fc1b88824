"""podTemplate and env valueFrom checked against Kubernetes' own Pod schema (vendored in
airkube/api/schemas): each unknown field named by its path with the field probably meant,
each value of the wrong JSON type named; valid pods pass whatever they use."""

import re
from pathlib import Path
from typing import Any

import pytest

from airkube.api import ConditionStatus, DAGSpec
from airkube.api.schemas import pod_schema
from airkube.core.conditions import dag_ready_condition
from airkube.core.pod_fields import pod_field_problems
from airkube.core.validation import ProblemReason, check_dag, validate_dag

ROOT = Path(__file__).resolve().parents[3]


def dag(task: dict[str, Any], **defaults: Any) -> DAGSpec:
    return DAGSpec.model_validate(
        {"defaults": {"image": "busybox", **defaults}, "tasks": [{"name": "load", **task}]}
    )


def messages(spec: DAGSpec) -> list[str]:
    return [str(p) for p in pod_field_problems(spec)]


@pytest.mark.parametrize(
    ("pod_template", "message"),
    [
        (
            {"spec": {"nodeSelecter": {"disk": "ssd"}}},
            'podTemplate.spec.nodeSelecter: unknown field (did you mean "nodeSelector"?)',
        ),
        (
            {"spec": {"containers": [{"name": "task", "resorces": {"limits": {"cpu": 1}}}]}},
            'podTemplate.spec.containers[0].resorces: unknown field (did you mean "resources"?)',
        ),
        (
            {
                "spec": {
                    "containers": [{"name": "side", "image": "x", "image_pull_policy": "Never"}]
                }
            },
            "podTemplate.spec.containers[0].image_pull_policy: unknown field "
            '(did you mean "imagePullPolicy"?)',
        ),
        (
            {"spec": {"volumes": [{"name": "v", "configMap": {"nam": "settings"}}]}},
            'podTemplate.spec.volumes[0].configMap.nam: unknown field (did you mean "name"?)',
        ),
        (
            {"spec": {"securityContext": {"RunAsUser": 1000}}},
            'podTemplate.spec.securityContext.RunAsUser: unknown field (did you mean "runAsUser"?)',
        ),
        (
            {"spec": {"affinity": {"nodeAffinity": {"required": {}}}}},
            "podTemplate.spec.affinity.nodeAffinity.required: unknown field "
            '(did you mean "requiredDuringSchedulingIgnoredDuringExecution"?)',
        ),
        ({"spec": {"zzz": 1}}, "podTemplate.spec.zzz: unknown field"),
        (
            {"spec": {"hostNetwork": "yes"}},
            'podTemplate.spec.hostNetwork: must be true or false, not "yes"',
        ),
        (
            {"spec": {"terminationGracePeriodSeconds": 1.5}},
            "podTemplate.spec.terminationGracePeriodSeconds: must be an integer, not 1.5",
        ),
        (
            {"spec": {"securityContext": {"runAsUser": "root"}}},
            'podTemplate.spec.securityContext.runAsUser: must be an integer, not "root"',
        ),
        (
            {"spec": {"containers": [{"name": "task", "ports": [{"containerPort": "80"}]}]}},
            'podTemplate.spec.containers[0].ports[0].containerPort: must be an integer, not "80"',
        ),
        (
            {"spec": {"containers": [{"name": "task", "args": "--fast"}]}},
            'podTemplate.spec.containers[0].args: must be a list, not "--fast"',
        ),
        (
            {"spec": {"dnsConfig": ["8.8.8.8"]}},
            "podTemplate.spec.dnsConfig: must be an object, not a list",
        ),
        (
            {
                "spec": {
                    "containers": [{"name": "task", "livenessProbe": {"httpGet": {"port": 1.5}}}]
                }
            },
            "podTemplate.spec.containers[0].livenessProbe.httpGet.port: must be an integer or "
            "a string, not 1.5",
        ),
    ],
)
def test_unknown_and_mistyped_fields_are_named(pod_template: dict[str, Any], message: str) -> None:
    assert messages(dag({"podTemplate": pod_template})) == [f'task "load": {message}']


def test_env_value_from_is_checked_too_in_tasks_and_defaults() -> None:
    spec = dag(
        {"env": [{"name": "A", "valueFrom": {"secretKeyRef": {"name": "s", "ky": "k"}}}]},
        env=[{"name": "B", "valueFrom": {"configMapKeyRef": {"name": "c", "key": 3}}}],
    )
    assert messages(spec) == [
        "defaults: env[B].valueFrom.configMapKeyRef.key: must be a string, not 3",
        'task "load": env[A].valueFrom.secretKeyRef.ky: unknown field (did you mean "key"?)',
    ]


def test_valid_pods_pass_whatever_they_use() -> None:
    pod_template = {
        "metadata": {"labels": {"team": "data"}, "annotations": {"a": "b"}},
        "spec": {
            "serviceAccountName": "etl",
            "nodeSelector": {"disk": "ssd"},
            "tolerations": [{"key": "k", "operator": "Exists", "effect": "NoSchedule"}],
            "priorityClassName": "high",
            "terminationGracePeriodSeconds": 30,
            "hostAliases": [{"ip": "10.0.0.1", "hostnames": ["db"]}],
            "securityContext": {"runAsUser": 1000, "fsGroup": 2000, "runAsNonRoot": True},
            "affinity": {
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {
                        "nodeSelectorTerms": [
                            {"matchExpressions": [{"key": "z", "operator": "In", "values": ["a"]}]}
                        ]
                    }
                }
            },
            "volumes": [
                {"name": "data", "emptyDir": {"sizeLimit": "1Gi"}},
                {"name": "conf", "configMap": {"name": "c", "defaultMode": 420}},
                {"name": "pvc", "persistentVolumeClaim": {"claimName": "p", "readOnly": True}},
            ],
            "containers": [
                {
                    "name": "task",
                    "securityContext": {"allowPrivilegeEscalation": False},
                    "ports": [{"containerPort": 8080, "protocol": "TCP"}],
                    "livenessProbe": {"httpGet": {"port": "http", "path": "/"}},
                    "readinessProbe": {"tcpSocket": {"port": 8080}},
                },
                {
                    "name": "proxy",
                    "image": "envoy",
                    "resources": {"limits": {"cpu": 0.5, "memory": "64Mi"}, "requests": {"cpu": 1}},
                    "env": [
                        {"name": "X", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}
                    ],
                    "restartPolicy": "Always",
                },
            ],
            "initContainers": [{"name": "init", "image": "busybox", "command": ["true"]}],
            "topologySpreadConstraints": [
                {
                    "maxSkew": 1,
                    "topologyKey": "zone",
                    "whenUnsatisfiable": "ScheduleAnyway",
                    "labelSelector": {"matchLabels": {"app": "x"}},
                }
            ],
            "activeDeadlineSeconds": None,
        },
    }
    env = [
        {"name": "S", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k", "optional": True}}}
    ]
    spec = dag({"podTemplate": pod_template, "env": env}, podTemplate=pod_template)
    assert pod_field_problems(spec) == []
    assert validate_dag(spec) == []


def test_a_typo_makes_the_dag_not_ready_naming_the_field() -> None:
    _, problems = check_dag(
        {
            "defaults": {"image": "busybox"},
            "tasks": [
                {"name": "ok"},
                {"name": "web", "podTemplate": {"spec": {"nodeSelecter": {"disk": "ssd"}}}},
            ],
        }
    )
    assert [(p.reason, p.task) for p in problems] == [(ProblemReason.INVALID_POD_FIELD, "web")]
    condition = dag_ready_condition(problems, generation=1)
    assert condition.status is ConditionStatus.FALSE
    assert condition.reason == "InvalidPodField"
    assert condition.message == (
        'task "web": podTemplate.spec.nodeSelecter: unknown field (did you mean "nodeSelector"?)'
    )


def test_the_vendored_schema_is_kubernetes_own_of_the_pinned_version() -> None:
    versions = (ROOT / "hack/versions.sh").read_text()
    pinned = re.search(r'KUBE_VERSION="\$\{AIRKUBE_KUBE_VERSION:-(v[0-9.]+)\}"', versions)
    assert pinned is not None
    schema = pod_schema()
    assert schema.kubernetes_version == pinned.group(1), "run hack/pod-schema.py"
    pod_spec = schema.definitions["io.k8s.api.core.v1.PodSpec"]["properties"]
    assert pod_spec["nodeSelector"] == {
        "type": "object",
        "additionalProperties": {"type": "string"},
    }
    assert pod_spec["containers"]["items"] == {"$ref": "io.k8s.api.core.v1.Container"}
    referenced = set(re.findall(r'"\$ref": "([^"]+)"', str(schema.definitions).replace("'", '"')))
    assert referenced <= set(schema.definitions), "every reference is vendored"
