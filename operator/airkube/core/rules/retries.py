"""Retries: when the next try of a failed task may start (Airflow's retry_delay,
retry_exponential_backoff and max_retry_delay), and whether a failed try is retried."""

from datetime import datetime, timedelta
from typing import Any

from airkube.api.dagrun import TaskStatus
from airkube.api.states import TaskState
from airkube.core.model.step import Step
from airkube.core.model.text import MESSAGE_MAX_BYTES, truncate_utf8
from airkube.core.resolve import ResolvedTask
from airkube.core.rules.events import task_end_event

# 2**40 seconds is far beyond any cap: stop doubling there so the numbers stay small.
_MAX_EXPONENT = 40
# The precision of the times Kubernetes reports (RFC 3339 with whole seconds).
_REPORTED_PRECISION = timedelta(seconds=1)


def retry_delay(task: ResolvedTask, failed_try: int) -> timedelta:
    """The wait after try ``failed_try`` (from 1) failed.

    retryDelay, or with exponential backoff retryDelay * 2^(failed_try-1) capped at
    maxRetryDelay. Unlike Airflow, no hash-based spread is added: the delay is exactly
    what the spec says.
    """
    if failed_try < 1:
        raise ValueError(f"try numbers start at 1, not {failed_try}")
    if not task.retry_exponential_backoff:
        return task.retry_delay
    exponent = min(failed_try - 1, _MAX_EXPONENT)
    seconds = task.retry_delay.total_seconds() * (1 << exponent)
    if seconds >= task.max_retry_delay.total_seconds():
        return task.max_retry_delay
    return task.retry_delay * (1 << exponent)


def next_retry_time(task: ResolvedTask, failed_try: int, ended: datetime) -> datetime:
    """When the try after ``failed_try`` may start, given when ``failed_try`` ended."""
    return ended + retry_delay(task, failed_try)


def retry_base(reported: datetime, seen: datetime) -> datetime:
    """The end a retry delay counts from, never earlier than the try's real end.

    Kubernetes reports a container's ``finishedAt`` truncated to the second, so the real
    end lies in [reported, reported + 1 s). ``seen`` is when the operator saw the try end
    (full precision, after the real end): the delay counts from it, capped at
    reported + 1 s so an operator that sees an old end after a restart does not add its
    downtime to the wait, and never before ``reported`` (a clock behind the API server's).
    """
    return max(reported, min(seen, reported + _REPORTED_PRECISION))


def fail_try(
    task: ResolvedTask,
    name: str,
    status: TaskStatus,
    reason: str,
    message: str | None,
    exit_code: int | None,
    ended: datetime,
    seen: datetime | None = None,
) -> Step:
    """The try of ``status`` failed: UpForRetry with the time of the next try while tries
    remain, else Failed; with the event that says so.

    ``ended`` is the end recorded in the history (as reported); the next try's time
    counts from :func:`retry_base` of it and ``seen``, when the operator saw the end.
    """
    tried = status.try_number
    max_tries = status.max_tries or task.max_tries
    message = truncate_utf8(message, MESSAGE_MAX_BYTES)
    update: dict[str, Any] = {
        "end_time": ended,
        "exit_code": exit_code,
        "reason": reason,
        "message": message,
        "output": None,
    }
    if tried < max_tries:
        # Backoff counts the tries since the last clear.
        base = ended if seen is None else retry_base(ended, seen)
        retry_at = next_retry_time(task, tried - (max_tries - task.max_tries), base)
        update |= {"state": TaskState.UP_FOR_RETRY, "next_retry_time": retry_at}
    else:
        update |= {"state": TaskState.FAILED, "next_retry_time": None}
    failed = status.model_copy(update=update)
    event = task_end_event(name, failed, max_tries)
    return Step(failed, events=(event,) if event else ())
