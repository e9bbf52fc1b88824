"""Admission: which Queued runs may start within maxActiveRuns, oldest first."""

from datetime import UTC, datetime

import pytest

from airkube.api.states import RunState
from airkube.core.rules.admission import (
    DEFAULT_MAX_ACTIVE_RUNS,
    QueuedRun,
    RunStanding,
    admit,
    runs_allowed_to_start,
)


def u(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, tzinfo=UTC)


def test_runs_allowed_to_start_oldest_first_within_max_active_runs() -> None:
    queued = [
        QueuedRun("etl-manual-b", None),
        QueuedRun("etl-backfill-3", u(2024, 1, 3)),
        QueuedRun("etl-backfill-1", u(2024, 1, 1)),
        QueuedRun("etl-backfill-2", u(2024, 1, 2)),
    ]
    assert runs_allowed_to_start(1, 0, queued) == ["etl-backfill-1"]
    assert runs_allowed_to_start(3, 1, queued) == ["etl-backfill-1", "etl-backfill-2"]
    assert runs_allowed_to_start(2, 2, queued) == []
    assert runs_allowed_to_start(2, 5, queued) == []
    assert runs_allowed_to_start(10, 0, queued)[-1] == "etl-manual-b"


# -- paused ------------------------------------------------------------------------------


def runs(*standings: tuple[str, RunState, bool, datetime | None]) -> list[RunStanding]:
    return [RunStanding(*s) for s in standings]


@pytest.mark.parametrize(
    ("limit", "others", "allowed"),
    [
        (1, [("r0", RunState.RUNNING, True, u(2024, 1, 1))], False),
        (2, [("r0", RunState.RUNNING, True, u(2024, 1, 1))], True),
        # Started but its status still says Queued (a lost write): it counts as running.
        (1, [("r0", RunState.QUEUED, True, u(2024, 1, 1))], False),
        # An older Queued run goes first.
        (1, [("r0", RunState.QUEUED, False, u(2023, 1, 1))], False),
        (2, [("r0", RunState.QUEUED, False, u(2023, 1, 1))], True),
        # Finished runs take no slot.
        (1, [("r0", RunState.FAILED, True, u(2024, 1, 1))], True),
        # No maxActiveRuns: the default.
        (None, [(f"r{i}", RunState.RUNNING, True, None) for i in range(15)], True),
        (None, [(f"r{i}", RunState.RUNNING, True, None) for i in range(16)], False),
    ],
)
def test_admit_within_max_active_runs_oldest_first(
    limit: int | None, others: list[tuple[str, RunState, bool, datetime | None]], allowed: bool
) -> None:
    me = ("me", RunState.QUEUED, False, u(2024, 6, 1))
    verdict = admit("me", "etl", limit, runs(me, *others))
    assert verdict.ok is allowed
    if not allowed:
        assert verdict.reason == "MaxActiveRuns"
        assert "etl" in (verdict.message or "")
        assert f"maxActiveRuns {limit or DEFAULT_MAX_ACTIVE_RUNS}" in (verdict.message or "")
