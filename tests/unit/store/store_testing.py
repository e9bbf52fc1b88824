"""Builders of records for the store tests, with defaults a test overrides as it needs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from airkube.store import RunRecord, TaskTryRecord

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
NS = "data"
DAG = "etl"


def at(seconds: float) -> datetime:
    """NOW plus some seconds."""
    return NOW + timedelta(seconds=seconds)


def run(name: str = "etl-manual-1", **overrides: Any) -> RunRecord:
    fields: dict[str, Any] = {
        "namespace": NS,
        "name": name,
        "uid": f"uid-{name}",
        "dag_name": DAG,
        "run_type": "manual",
        "logical_date": NOW,
        "state": "Queued",
    }
    fields.update(overrides)
    return RunRecord(**fields)


def task_try(task: str = "extract", try_number: int = 1, **overrides: Any) -> TaskTryRecord:
    fields: dict[str, Any] = {"task_name": task, "try_number": try_number, "state": "Queued"}
    fields.update(overrides)
    return TaskTryRecord(**fields)
