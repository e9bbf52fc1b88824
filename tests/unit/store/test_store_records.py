"""Records refuse bad values when built, naming the field."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from store_testing import NOW, run, task_try


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"namespace": ""}, "namespace must be a non-empty string"),
        ({"namespace": "n" * 64}, "namespace is longer than 63"),
        ({"name": "r" * 254}, "run name is longer than 253"),
        ({"uid": ""}, "run uid"),
        ({"run_type": "adhoc"}, "run_type must be one of scheduled, manual, backfill"),
        ({"state": "Success"}, "run state must be one of Queued, Running"),
        ({"logical_date": datetime(2026, 3, 1)}, "logical_date must be timezone-aware"),
        ({"end_time": "2026-03-01"}, "end_time must be a datetime"),
        ({"params": {"when": NOW}}, "params must be JSON-serialisable"),
        ({"clear_number": -1}, "clear_number must be an integer >= 0"),
    ],
)
def test_a_bad_run_record_is_refused(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        run(**overrides)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"task_name": ""}, "task name must be a non-empty string"),
        ({"try_number": -1}, "try_number must be an integer >= 0"),
        ({"try_number": True}, "try_number must be an integer >= 0"),
        ({"state": "success"}, "task state must be one of None, Scheduled"),
        ({"start_time": datetime(2026, 3, 1)}, "start_time must be timezone-aware"),
        ({"exit_code": "1"}, "exit_code must be an integer"),
    ],
)
def test_a_bad_task_try_record_is_refused(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        task_try(**overrides)
