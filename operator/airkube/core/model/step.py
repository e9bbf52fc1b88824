"""What a rule decides for one task: its new status, the pods to create or delete, the
events to post, and when to look at the task again."""

from dataclasses import dataclass
from datetime import datetime

from airkube.api.dagrun import TaskStatus
from airkube.core.model.actions import CreatePod, DeletePod, Event


@dataclass(frozen=True)
class Step:
    """A task's next status and what comes with it. ``wakeup``: plan this task again at
    that time if nothing else happens to it before."""

    status: TaskStatus
    create: CreatePod | None = None
    deletes: tuple[DeletePod, ...] = ()
    events: tuple[Event, ...] = ()
    wakeup: datetime | None = None
    ended: tuple[TaskStatus, ...] = ()
    """Earlier tries of the task this step found ended and replaced already (their status
    never written): for the history."""
