"""Retry times count from when the try really ended, never from Kubernetes' truncated
``finishedAt``: a delay of N seconds is never shorter than N seconds (issue 15)."""

from datetime import datetime, timedelta

import pytest
from plankit import T0, World, dag

from airkube.api.states import TaskState
from airkube.core.model.observed import PodPhase
from airkube.core.rules.retries import retry_base

S = timedelta(seconds=1)
MS = timedelta(milliseconds=1)


@pytest.mark.parametrize(
    ("reported", "seen", "base"),
    [
        # Seen within the second finishedAt was truncated from: count from when it was seen.
        (T0, T0 + 910 * MS, T0 + 910 * MS),
        (T0, T0 + 1 * MS, T0 + 1 * MS),
        # Seen later (an operator restarted): the real end is before reported + 1 s.
        (T0, T0 + 30 * S, T0 + S),
        (T0, T0 + S, T0 + S),
        # The operator's clock behind the API server's: never before what was reported.
        (T0, T0 - 2 * S, T0),
    ],
)
def test_retry_base(reported: datetime, seen: datetime, base: datetime) -> None:
    assert retry_base(reported, seen) == base


@pytest.mark.parametrize("delay", [1, 2, 4, 5])
@pytest.mark.parametrize("seen_after", [1 * MS, 90 * MS, 350 * MS, 870 * MS])
def test_a_retry_waits_its_whole_delay_after_the_try_was_seen_ending(
    delay: int, seen_after: timedelta
) -> None:
    w = World(dag({"name": "a", "retries": 2, "retryDelay": f"{delay}s"}))
    w.step()
    w.advance(3 * S)
    # The container really ended at w.now; Kubernetes reports it truncated to the second.
    real_end = w.now + 123 * MS
    reported = real_end.replace(microsecond=0)
    w.now = real_end + seen_after
    w.set_pod("a", PodPhase.FAILED, exit_code=1, finish_time=reported)
    p = w.step()  # seen within the second finishedAt was truncated from
    status = w.tasks["a"]
    assert status.state is TaskState.UP_FOR_RETRY
    assert status.end_time == reported  # the history keeps what Kubernetes reported
    assert status.next_retry_time is not None
    assert status.next_retry_time >= real_end + delay * S
    assert status.next_retry_time == w.now + delay * S
    assert p.next_wakeup == status.next_retry_time
    w.now = status.next_retry_time - MS
    assert not w.step().creates
    w.now = status.next_retry_time
    assert [c.try_number for c in w.step().creates] == [2]


def test_an_end_seen_long_after_a_restart_does_not_add_the_downtime() -> None:
    w = World(dag({"name": "a", "retries": 1, "retryDelay": "10s"}))
    w.step()
    reported = w.now + 2 * S
    w.now = reported + 5 * S
    w.set_pod("a", PodPhase.FAILED, exit_code=1, finish_time=reported)
    w.step()
    assert w.tasks["a"].next_retry_time == reported + S + 10 * S
