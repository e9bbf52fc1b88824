"""What a task's container and pod are made of: env, envFrom, resources, volume mounts and
the partial pod template (Kubernetes' own field names and meanings)."""

import json
import re
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    WithJsonSchema,
)

from airkube.api.base import ApiModel

QUANTITY_PATTERN = (
    r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))"
    r"(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"
)
_QUANTITY = re.compile(QUANTITY_PATTERN)


def _check_quantity(value: int | str) -> int | str:
    if isinstance(value, str) and not _QUANTITY.fullmatch(value):
        raise ValueError(
            f'"{value}" is not a Kubernetes quantity (for example "500m", "2", "1Gi", "512Mi")'
        )
    return value


def _quantity_type(value: Any) -> Any:
    # One message, not one per member of the union; a boolean or a fraction is neither
    # for the CRD (x-kubernetes-int-or-string).
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(
            f"{json.dumps(value, default=str)[:60]} is not a Kubernetes quantity: an integer or "
            'a string such as "500m", "2", "1Gi", "512Mi"'
        )
    return value


Quantity = Annotated[
    int | str,
    BeforeValidator(_quantity_type),
    AfterValidator(_check_quantity),
    WithJsonSchema(
        {
            "anyOf": [{"type": "integer"}, {"type": "string"}],
            "pattern": QUANTITY_PATTERN,
            "x-kubernetes-int-or-string": True,
        }
    ),
]
"""A Kubernetes resource quantity: an integer or a string such as "500m" or "1Gi"."""

ENV_NAME_PATTERN = r"^[-._a-zA-Z][-._a-zA-Z0-9]*$"


class EnvVar(ApiModel):
    """An environment variable of the task's container."""

    name: str = Field(
        description="The variable's name.", pattern=ENV_NAME_PATTERN, min_length=1, max_length=253
    )
    value: str | None = Field(
        default=None,
        description="The value. Templates such as {{ ds }} are rendered when the task starts.",
    )
    value_from: dict[str, Any] | None = Field(
        default=None,
        description=(
            "Where the value comes from instead, as in a Pod: secretKeyRef, configMapKeyRef, "
            "fieldRef or resourceFieldRef."
        ),
    )


class ConfigMapEnvSource(ApiModel):
    """A ConfigMap whose keys become environment variables."""

    name: str = Field(description="The ConfigMap's name.", min_length=1)
    optional: StrictBool | None = Field(
        default=None, description="Start the task even when the ConfigMap does not exist."
    )


class SecretEnvSource(ApiModel):
    """A Secret whose keys become environment variables."""

    name: str = Field(description="The Secret's name.", min_length=1)
    optional: StrictBool | None = Field(
        default=None, description="Start the task even when the Secret does not exist."
    )


class EnvFromSource(ApiModel):
    """A source of environment variables: every key of a ConfigMap or a Secret."""

    prefix: str | None = Field(
        default=None, description="A prefix added to the name of every variable of this source."
    )
    config_map_ref: ConfigMapEnvSource | None = Field(
        default=None, description="The ConfigMap to read."
    )
    secret_ref: SecretEnvSource | None = Field(default=None, description="The Secret to read.")


class ResourceRequirements(ApiModel):
    """Compute resources of the task's container, as in a Pod."""

    requests: dict[str, Quantity] | None = Field(
        default=None,
        description="Resources the container is guaranteed, such as {cpu: 500m, memory: 1Gi}.",
    )
    limits: dict[str, Quantity] | None = Field(
        default=None, description="The most the container may use, such as {memory: 2Gi}."
    )


class VolumeMount(ApiModel):
    """A volume of the pod mounted in the task's container."""

    name: str = Field(
        description="The name of a volume declared in podTemplate.spec.volumes.", min_length=1
    )
    mount_path: str = Field(description="Where in the container to mount it.", min_length=1)
    sub_path: str | None = Field(
        default=None, description="A path within the volume to mount instead of its root."
    )
    read_only: StrictBool | None = Field(default=None, description="Mount it read-only.")


class PullPolicy(StrEnum):
    ALWAYS = "Always"
    IF_NOT_PRESENT = "IfNotPresent"
    NEVER = "Never"


class TolerationOperator(StrEnum):
    EXISTS = "Exists"
    EQUAL = "Equal"


class TaintEffect(StrEnum):
    NO_SCHEDULE = "NoSchedule"
    PREFER_NO_SCHEDULE = "PreferNoSchedule"
    NO_EXECUTE = "NoExecute"


class Toleration(ApiModel):
    """Lets the pod run on nodes with a matching taint."""

    key: str | None = Field(default=None, description="The taint key; empty matches all keys.")
    operator: TolerationOperator | None = Field(
        default=None, description="Equal (the default) or Exists."
    )
    value: str | None = Field(default=None, description="The taint value, for Equal.")
    effect: TaintEffect | None = Field(
        default=None, description="The taint effect to tolerate; empty tolerates all effects."
    )
    toleration_seconds: StrictInt | None = Field(
        default=None, description="For NoExecute: how long the pod stays after the taint appears."
    )


class LocalObjectReference(ApiModel):
    """A reference to an object in the same namespace, by name."""

    name: str = Field(description="The object's name.", min_length=1)


class NamedPodPart(ApiModel):
    """An entry of a pod (a volume, a container) in Pod syntax, identified by its name."""

    model_config = ConfigDict(extra="allow")

    name: str = Field(description="The entry's name, which identifies it when merging.")


class PodTemplateMetadata(ApiModel):
    """Labels and annotations added to the task's pods."""

    labels: dict[str, str] | None = Field(default=None, description="Labels of the pods.")
    annotations: dict[str, str] | None = Field(default=None, description="Annotations of the pods.")


class PodTemplateSpec(ApiModel):
    """A partial Pod spec, in Pod syntax. Any Pod spec field is accepted.

    The task's own container is named "task": an entry of ``containers`` with that name is
    merged into it (for example to set its securityContext or ports); other entries are
    added as sidecar containers. airkube always sets restartPolicy to Never.
    """

    model_config = ConfigDict(extra="allow")

    service_account_name: str | None = Field(
        default=None, description="The ServiceAccount the pods run as."
    )
    node_selector: dict[str, str] | None = Field(
        default=None, description="Node labels the pods' node must have."
    )
    tolerations: list[Toleration] | None = Field(
        default=None,
        description="Taints the pods tolerate. Merged by key and effect with the DAG defaults.",
    )
    volumes: list[NamedPodPart] | None = Field(
        default=None,
        description="Volumes of the pods, in Pod syntax. Merged by name with the DAG defaults.",
    )
    image_pull_secrets: list[LocalObjectReference] | None = Field(
        default=None, description="Secrets used to pull the images. Merged by name."
    )
    containers: list[NamedPodPart] | None = Field(
        default=None,
        description=(
            'Containers in Pod syntax. The entry named "task" is merged into the task\'s '
            "container; other entries are added as sidecars. Merged by name."
        ),
    )
    init_containers: list[NamedPodPart] | None = Field(
        default=None, description="Init containers in Pod syntax. Merged by name."
    )
    security_context: dict[str, Any] | None = Field(
        default=None, description="The pod-level security context, in Pod syntax."
    )
    affinity: dict[str, Any] | None = Field(
        default=None, description="Scheduling affinity rules, in Pod syntax."
    )
    priority_class_name: str | None = Field(
        default=None, description="The PriorityClass of the pods."
    )


class PodTemplate(ApiModel):
    """Overrides of the task's pods: metadata and Pod spec fields.

    Merged deeply with the DAG defaults' podTemplate, the task's values winning; lists of
    named things (containers, volumes, env, tolerations, imagePullSecrets) are merged by
    name, other lists are replaced.
    """

    metadata: PodTemplateMetadata | None = Field(
        default=None, description="Labels and annotations of the pods."
    )
    spec: PodTemplateSpec | None = Field(
        default=None, description="Pod spec fields, in Pod syntax."
    )
