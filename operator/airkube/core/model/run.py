"""The run being planned: its identity (for pods and their owner reference), its spec and
where it stands."""

from dataclasses import dataclass
from datetime import datetime

from airkube.api.dagrun import DAGRun, DAGRunSpec, DAGRunStatus
from airkube.api.states import RunState


@dataclass(frozen=True, kw_only=True)
class Run:
    """A DAGRun as the planner and the pod builder see it."""

    namespace: str
    name: str
    uid: str
    """The DAGRun's metadata.uid: the pods' owner, and part of their names' hash, so that a
    run re-created with the same name never adopts the pods of its predecessor."""
    spec: DAGRunSpec
    state: RunState = RunState.QUEUED
    start_time: datetime | None = None
    end_time: datetime | None = None
    last_clear_id: str | None = None
    """The id of the last clear request applied (status.lastClearId)."""
    clear_number: int = 0
    """How many clear requests cleared tasks of the run (status.clearNumber)."""
    last_mark_id: str | None = None
    """The id of the last mark request applied (status.lastMarkId)."""
    reason: str | None = None
    message: str | None = None
    """Why the run ended as it did, once it has (status.reason, status.message)."""

    @property
    def dag(self) -> str:
        return self.spec.dag_ref.name

    @classmethod
    def from_resource(cls, resource: DAGRun, status: DAGRunStatus | None = None) -> "Run":
        """The run of ``resource``, where ``status`` (default: the resource's own) says it
        stands: the operator passes the status it last wrote, which a watch may not have
        brought back yet."""
        status = status or resource.status
        return cls(
            namespace=resource.metadata.namespace,
            name=resource.metadata.name,
            uid=resource.metadata.uid,
            spec=resource.spec,
            state=status.state if status else RunState.QUEUED,
            start_time=status.start_time if status else None,
            end_time=status.end_time if status else None,
            last_clear_id=status.last_clear_id if status else None,
            clear_number=(status.clear_number or 0) if status else 0,
            last_mark_id=status.last_mark_id if status else None,
            reason=status.reason if status else None,
            message=status.message if status else None,
        )
