"""The API group and version, object metadata and status conditions shared by the resources."""

from datetime import datetime
from enum import StrEnum

from pydantic import AwareDatetime, Field

from airkube.api.base import StatusModel

GROUP = "airkube.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"

DAG_KIND = "DAG"
DAGRUN_KIND = "DAGRun"


class ObjectMeta(StatusModel):
    """The parts of Kubernetes object metadata the operator reads."""

    name: str = ""
    namespace: str = ""
    uid: str = ""
    generation: int | None = None
    resource_version: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    creation_timestamp: datetime | None = None


class ConditionStatus(StrEnum):
    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


class Condition(StatusModel):
    """One aspect of the resource's state (Kubernetes condition conventions)."""

    type: str = Field(
        description='The kind of condition, in CamelCase, such as "Ready".',
        max_length=316,
    )
    status: ConditionStatus = Field(description="True, False or Unknown.")
    reason: str = Field(
        default="",
        description="Why the condition is in this status: a one-word CamelCase reason.",
        max_length=1024,
    )
    message: str = Field(
        default="",
        description="Details for people: what is wrong and what to do about it.",
        max_length=32768,
    )
    last_transition_time: AwareDatetime | None = Field(
        default=None, description="When the status last changed."
    )
    observed_generation: int | None = Field(
        default=None,
        description="The metadata.generation of the spec this condition was computed from.",
        ge=0,
    )
