"""What a plan asks the controller to do, and the events it should post."""

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from airkube.api.states import RunState


@dataclass(frozen=True)
class CreatePod:
    """Create this pod. AlreadyExists means an earlier pass did: not an error."""

    task: str
    try_number: int
    manifest: dict[str, Any]

    @property
    def name(self) -> str:
        return str(self.manifest["metadata"]["name"])


@dataclass(frozen=True)
class DeletePod:
    """Delete this pod (NotFound is not an error)."""

    name: str
    task: str
    try_number: int
    reason: str


@dataclass(frozen=True)
class FinishRun:
    """The run has ended in ``state`` (Succeeded, Failed or Cancelled)."""

    state: RunState
    reason: str
    message: str


Action = CreatePod | DeletePod | FinishRun


class EventType(StrEnum):
    NORMAL = "Normal"
    WARNING = "Warning"


@dataclass(frozen=True)
class Event:
    """An event to post on the DAGRun: only transitions people need to know about."""

    type: EventType
    reason: str
    message: str
    task: str | None = None
    key: str | None = None
    """The transition it announces, when it is one of those a restarted operator may post
    again (core.rules.events): the same key names the same Kubernetes Event, posted once."""
