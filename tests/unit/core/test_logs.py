"""core.logs: the log key layout, capping a log (head and tail kept, a marker line saying
what was cut), sizes people type, and which pods' logs are due for capture."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from airkube.api.dagrun import TaskStatus
from airkube.api.states import TaskState
from airkube.core.logs import LogCap, LogKey, cap_log, logs_to_capture, parse_size, try_ended
from airkube.core.model.observed import ObservedPod, PodPhase


def test_a_log_key_is_namespace_dag_run_task_try() -> None:
    assert LogKey("data", "etl", "etl-1", "load", 2).path == "data/etl/etl-1/load/2"


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        (("data", "", "r", "t", 1), "dag"),
        (("data", "etl", "a/b", "t", 1), "run"),
        (("data", "etl", "r", "t", 0), "try 0"),
    ],
)
def test_a_log_key_refuses_what_would_break_its_layout(
    fields: tuple[str, str, str, str, int], problem: str
) -> None:
    with pytest.raises(ValueError, match=problem):
        LogKey(*fields)


@pytest.mark.parametrize(
    ("text", "size"),
    [("1024", 1024), ("10Mi", 10 * 1024 * 1024), ("512Ki", 512 * 1024), ("1G", 10**9)],
)
def test_sizes_are_read_with_kubernetes_suffixes(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "ten", "10 MB please", "-1", "1.5Mi"])
def test_a_bad_size_is_one_clear_error(text: str) -> None:
    with pytest.raises(ValueError, match="not a size"):
        parse_size(text)


def test_a_log_within_the_cap_is_kept_whole() -> None:
    data = b"line\n" * 20
    assert cap_log(data, 100) == data
    assert cap_log(data, 1000) == data


def test_a_log_over_the_cap_keeps_its_head_and_tail_and_says_how_much_was_cut() -> None:
    lines = b"".join(f"line {i:04d}\n".encode() for i in range(1000))  # 10,000 bytes
    capped = LogCap(200)
    capped.feed(lines)
    kept = capped.result()
    assert kept.startswith(lines[:100])
    assert kept.endswith(lines[-100:])
    assert capped.cut == len(lines) - 200
    assert b"[airkube: 9800 bytes of this log were cut here: it had 10000 bytes" in kept
    assert b"line 0500" not in kept
    # Only the marker line comes on top of the cap.
    marker = kept[100:-100]
    assert marker.startswith(b"\n[airkube: ")
    assert marker.endswith(b"]\n")
    assert marker.count(b"\n") == 2


@given(
    data=st.binary(max_size=3000),
    cap=st.integers(min_value=64, max_value=1000),
    cuts=st.lists(st.integers(min_value=0, max_value=3000), max_size=12),
)
def test_feeding_in_chunks_keeps_the_same_as_feeding_at_once(
    data: bytes, cap: int, cuts: list[int]
) -> None:
    chunked = LogCap(cap)
    bounds = sorted({0, len(data), *(c for c in cuts if c <= len(data))})
    for start, end in pairwise(bounds):
        chunked.feed(data[start:end])
    assert chunked.result() == cap_log(data, cap)
    assert chunked.total == len(data)
    if len(data) > cap:
        assert chunked.result().startswith(data[: cap // 2])
        assert chunked.result().endswith(data[len(data) - (cap - cap // 2) :])


def test_a_cap_below_the_smallest_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 64"):
        LogCap(10)


T0 = datetime(2026, 3, 1, tzinfo=UTC)


def pod(task: str, try_number: int, phase: PodPhase, **kw: object) -> ObservedPod:
    return ObservedPod(
        name=f"r-{task}-{try_number}", task=task, try_number=try_number, phase=phase, **kw
    )


def test_a_try_ended_when_its_pod_stopped_is_deleted_or_the_status_says_so() -> None:
    running = TaskStatus(state=TaskState.RUNNING, try_number=1)
    retried = TaskStatus(state=TaskState.RUNNING, try_number=2)
    failed = TaskStatus(state=TaskState.FAILED, try_number=1)
    assert try_ended(pod("a", 1, PodPhase.SUCCEEDED), {"a": running})
    assert try_ended(pod("a", 1, PodPhase.RUNNING, containers_stopped=True), {"a": running})
    assert try_ended(pod("a", 1, PodPhase.RUNNING, deletion_time=T0), {"a": running})
    assert try_ended(pod("a", 1, PodPhase.RUNNING), {"a": failed})  # timed out
    assert try_ended(pod("a", 1, PodPhase.RUNNING), {"a": retried})
    assert not try_ended(pod("a", 1, PodPhase.RUNNING), {"a": running})
    assert not try_ended(pod("a", 1, PodPhase.PENDING), {})


def test_logs_are_due_for_ended_tries_not_settled_whose_pod_exists() -> None:
    tasks = {"a": TaskStatus(state=TaskState.SUCCEEDED, try_number=2)}
    pods = [
        pod("a", 1, PodPhase.FAILED),
        pod("a", 2, PodPhase.SUCCEEDED),
        pod("b", 1, PodPhase.FAILED, missing=True),
        pod("c", 1, PodPhase.RUNNING),
    ]
    due = logs_to_capture(pods, tasks, settled={("a", 1)})
    assert [p.name for p in due] == ["r-a-2"]
