"""When the next try of a failed task may start (Airflow's retry_delay,
retry_exponential_backoff and max_retry_delay)."""

from datetime import datetime, timedelta

from airkube.core.resolve import ResolvedTask

# 2**40 seconds is far beyond any cap: stop doubling there so the numbers stay small.
_MAX_EXPONENT = 40


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
