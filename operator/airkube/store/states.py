"""The run and task-try states the store accepts, and the order a row may move in.

The operator may be killed at any instant and redo a pass, and a slow writer may land
after a faster one, so every write is an upsert guarded by these ranks. A write is
applied when it moves the row *forward* (a higher rank) or repeats its current state
(then it fills in facts the row lacks, never erasing one). A write that would move a row
backwards, or from one terminal state to a different one, is ignored: the first
terminal state recorded wins.

Task tries (one row per try): ``None < Scheduled < Queued < Running < UpForRetry <
Succeeded = Failed = UpstreamFailed = Skipped``. ``UpForRetry`` is where a failed try
ends when another try will follow (the next try is a new row, like a status entry whose
``tryNumber`` moved on); it may still become a terminal state, e.g. ``Skipped`` when the
run is cancelled during the retry delay. Tries are numbered on across clears, as in
Airflow, so a cleared task's new try is a new row.

A state set by hand (``kubectl airkube mark``, Airflow's mark success/failed) is the one
exception: a write that says so (``by_hand``) is applied whatever the row says, so that
a Failed try marked Succeeded, or a Failed run marked Succeeded, is recorded as such.

Runs: ``Queued < Running < Succeeded = Failed = Cancelled``, within one *clear number*.
Clearing a finished run (Airflow's ``clear``) must increase the run's ``clear_number``;
a write with a higher clear number starts the run over and is always applied.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final

from airkube.api.dagrun import RunType
from airkube.api.states import FINISHED_TASK_STATES, RunState, TaskState


def _ranks(levels: Iterable[Iterable[str]]) -> dict[str, int]:
    """{state value: rank} from the levels of the order, lowest first."""
    return {str(state): rank for rank, level in enumerate(levels) for state in level}


RUN_TYPES: Final = tuple(t.value for t in RunType)

TERMINAL_RUN_STATES: Final = frozenset(s.value for s in RunState if s.finished)
RUN_STATE_RANK: Final[Mapping[str, int]] = _ranks(
    ([RunState.QUEUED], [RunState.RUNNING], sorted(TERMINAL_RUN_STATES))
)
RUN_STATES: Final = tuple(s.value for s in RunState)

TERMINAL_TASK_STATES: Final = frozenset(s.value for s in FINISHED_TASK_STATES)
TASK_STATE_RANK: Final[Mapping[str, int]] = _ranks(
    (
        [TaskState.NONE],
        [TaskState.SCHEDULED],
        [TaskState.QUEUED],
        [TaskState.RUNNING],
        [TaskState.UP_FOR_RETRY],
        sorted(TERMINAL_TASK_STATES),
    )
)
TASK_STATES: Final = tuple(s.value for s in TaskState)
