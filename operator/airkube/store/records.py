"""Plain, frozen records going into the store and coming out of it.

They use plain types only (str, int, datetime, dict) so the store does not depend on
the API models: the controller maps its DAGRun status onto :class:`RunRecord` and its
per-task entries onto :class:`TaskTryRecord`. Inputs are validated when built (a bad
value raises ``ValueError`` naming the field); datetimes must be timezone-aware and
come back out in UTC.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from airkube.core.logs import LogState

from .states import RUN_STATE_RANK, RUN_TYPES, TASK_STATE_RANK

NAMESPACE_MAX = 63
NAME_MAX = 253
UID_MAX = 64
HASH_MAX = 128
OUTPUT_MAX_BYTES = 4096
"""Like a container's termination message; longer output is clipped when written."""


def check_name(what: str, value: str, limit: int = NAME_MAX) -> None:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{what} must be a non-empty string, got {value!r}")
    if len(value) > limit:
        raise ValueError(f"{what} is longer than {limit} characters: {value[:40]!r}…")


def check_time(what: str, value: datetime | None) -> None:
    if value is None:
        return
    if not isinstance(value, datetime):
        raise ValueError(f"{what} must be a datetime, got {value!r}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware (UTC), got naive {value.isoformat()}")


def check_json(what: str, value: dict[str, Any]) -> None:
    if not isinstance(value, dict):
        raise ValueError(f"{what} must be a dict, got {type(value).__name__}")
    try:
        json.dumps(value)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{what} must be JSON-serialisable: {e}") from None


def _check_count(what: str, value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{what} must be an integer >= 0, got {value!r}")


@dataclass(frozen=True)
class RunRecord:
    """What the controller knows about one DAGRun resource at the end of a pass.

    ``uid`` is the resource's ``metadata.uid``: a run deleted and created again under
    the same name is a new row, so the history of both is kept.
    ``dag_version`` is the spec hash the run pinned; ``clear_number`` counts clears
    (see :mod:`airkube.store.states`).
    """

    namespace: str
    name: str
    uid: str
    dag_name: str
    run_type: str
    logical_date: datetime
    state: str
    data_interval_start: datetime | None = None
    data_interval_end: datetime | None = None
    params: dict[str, Any] = field(default_factory=dict)
    dag_version: str | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    message: str | None = None
    clear_number: int = 0
    by_hand: bool = False
    """Its state was set by hand (a mark request): it replaces the state the row has, a
    terminal one included (see :mod:`airkube.store.states`)."""

    def __post_init__(self) -> None:
        check_name("namespace", self.namespace, NAMESPACE_MAX)
        check_name("run name", self.name)
        check_name("run uid", self.uid, UID_MAX)
        check_name("dag name", self.dag_name)
        if self.run_type not in RUN_TYPES:
            raise ValueError(
                f"run_type must be one of {', '.join(RUN_TYPES)}, got {self.run_type!r}"
            )
        if self.state not in RUN_STATE_RANK:
            raise ValueError(
                f"run state must be one of {', '.join(RUN_STATE_RANK)}, got {self.state!r}"
            )
        for name in (
            "logical_date",
            "data_interval_start",
            "data_interval_end",
            "start_time",
            "end_time",
        ):
            check_time(name, getattr(self, name))
        if self.logical_date is None:
            raise ValueError("logical_date is required")
        check_json("params", self.params)
        if self.dag_version is not None:
            check_name("dag_version", self.dag_version, HASH_MAX)
        _check_count("clear_number", self.clear_number)


@dataclass(frozen=True)
class TaskTryRecord:
    """One try of one task of a run: its state and what its pod reported."""

    task_name: str
    try_number: int
    state: str
    pod_name: str | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    exit_code: int | None = None
    output: str | None = None
    message: str | None = None
    reason: str | None = None
    by_hand: bool = False
    """Its state was set by hand (a mark request): it replaces the state the row has, a
    terminal one included (see :mod:`airkube.store.states`)."""
    queued_time: datetime | None = None

    def __post_init__(self) -> None:
        check_name("task name", self.task_name)
        _check_count("try_number", self.try_number)
        check_time("queued_time", self.queued_time)
        if self.state not in TASK_STATE_RANK:
            raise ValueError(
                f"task state must be one of {', '.join(TASK_STATE_RANK)}, got {self.state!r}"
            )
        if self.pod_name is not None:
            check_name("pod name", self.pod_name)
        check_time("start_time", self.start_time)
        check_time("end_time", self.end_time)
        if self.exit_code is not None and (
            not isinstance(self.exit_code, int) or isinstance(self.exit_code, bool)
        ):
            raise ValueError(f"exit_code must be an integer, got {self.exit_code!r}")


@dataclass(frozen=True)
class StoredDag:
    """A DAG the operator has seen, and the spec version it last saw."""

    namespace: str
    name: str
    current_spec_hash: str
    first_seen: datetime
    last_seen: datetime
    deleted_at: datetime | None


@dataclass(frozen=True)
class StoredDagVersion:
    """One distinct spec of a DAG, recorded the first time it was seen."""

    namespace: str
    dag_name: str
    spec_hash: str
    spec: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True)
class RecentRun:
    """A run as a bar in a list of DAGs: what it was and when it ran, nothing more."""

    namespace: str
    name: str
    dag_name: str
    run_type: str
    logical_date: datetime
    state: str
    start_time: datetime | None
    end_time: datetime | None


@dataclass(frozen=True)
class StoredRun:
    """A run as recorded, with the store's bookkeeping.

    ``resource_deleted_at`` is set once the DAGRun resource is gone; the row stays.
    """

    id: int
    namespace: str
    name: str
    uid: str
    dag_name: str
    run_type: str
    logical_date: datetime
    state: str
    data_interval_start: datetime | None
    data_interval_end: datetime | None
    params: dict[str, Any]
    dag_version: str | None
    start_time: datetime | None
    end_time: datetime | None
    message: str | None
    clear_number: int
    created_at: datetime
    updated_at: datetime
    resource_deleted_at: datetime | None


@dataclass(frozen=True)
class StoredTaskTry:
    """One try of one task as recorded."""

    task_name: str
    try_number: int
    state: str
    pod_name: str | None
    start_time: datetime | None
    end_time: datetime | None
    exit_code: int | None
    output: str | None
    message: str | None
    reason: str | None
    created_at: datetime
    updated_at: datetime
    queued_time: datetime | None = None


LOG_STATES = tuple(s.value for s in LogState)
"""How a try's log capture ended (:class:`airkube.core.logs.LogState`)."""
LOG_STORES = ("database", "s3")


@dataclass(frozen=True)
class TaskLogRecord:
    """Where the log of one try went, or why it was not stored."""

    task_name: str
    try_number: int
    state: str
    store: str | None = None
    key: str | None = None
    pod_name: str | None = None
    node_name: str | None = None
    size: int | None = None
    """Bytes kept (uncompressed, after the cap)."""
    cut_bytes: int | None = None
    """Bytes the cap left out."""
    error: str | None = None

    def __post_init__(self) -> None:
        check_name("task name", self.task_name)
        if self.try_number < 1:
            raise ValueError(f"try_number must be 1 or more, got {self.try_number!r}")
        if self.state not in LOG_STATES:
            raise ValueError(
                f"log state must be one of {', '.join(LOG_STATES)}, got {self.state!r}"
            )
        if self.store is not None and self.store not in LOG_STORES:
            raise ValueError(
                f"log store must be one of {', '.join(LOG_STORES)}, got {self.store!r}"
            )
        for what in ("pod_name", "node_name"):
            value = getattr(self, what)
            if value is not None:
                check_name(what.replace("_", " "), value)


@dataclass(frozen=True)
class StoredTaskLog:
    """A try's log as recorded."""

    task_name: str
    try_number: int
    state: str
    store: str | None
    key: str | None
    pod_name: str | None
    node_name: str | None
    size: int | None
    cut_bytes: int | None
    error: str | None
    created_at: datetime
    updated_at: datetime
