"""Event names: unique per message within one pass, valid for any object name."""

from __future__ import annotations

from datetime import UTC, datetime

from airkube.kube.apply import event_name

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def test_two_events_of_one_pass_get_different_names() -> None:
    a = event_name("etl-1", NOW, "TaskFailed", "task extract failed")
    b = event_name("etl-1", NOW, "TaskFailed", "task load failed")
    assert a != b
    assert a.startswith("etl-1.")


def test_the_same_event_twice_in_one_pass_gets_one_name() -> None:
    assert event_name("r", NOW, "Succeeded", "ok") == event_name("r", NOW, "Succeeded", "ok")


def test_a_longest_object_name_still_gives_a_valid_name() -> None:
    assert len(event_name("x" * 253, NOW, "R", "n")) <= 253
