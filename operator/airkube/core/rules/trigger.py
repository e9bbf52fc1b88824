"""Airflow's trigger rules: from the states of a task's upstream tasks, whether it runs now,
waits, or will never run (Skipped, or UpstreamFailed when upstream failures are the cause).

This follows Airflow's ``TriggerRuleDep`` as the scheduler applies it (with
``flag_upstream_failed``): a rule that can no longer be met is settled at once, without
waiting for the remaining upstream tasks, and the one_* rules fire as soon as one upstream
task qualifies.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from airkube.api.dag import TriggerRule
from airkube.api.states import TaskState


class Decision(StrEnum):
    WAIT = "Wait"
    RUN = "Run"
    SKIP = "Skip"
    UPSTREAM_FAILED = "UpstreamFailed"


@dataclass(frozen=True)
class UpstreamCounts:
    """How many of a task's upstream tasks are in each finished state."""

    total: int = 0
    succeeded: int = 0
    failed: int = 0
    upstream_failed: int = 0
    skipped: int = 0

    @property
    def done(self) -> int:
        return self.succeeded + self.failed + self.upstream_failed + self.skipped

    @property
    def all_done(self) -> bool:
        return self.done >= self.total

    @classmethod
    def of(cls, states: Iterable[TaskState]) -> "UpstreamCounts":
        total = succeeded = failed = upstream_failed = skipped = 0
        for state in states:
            total += 1
            if state is TaskState.SUCCEEDED:
                succeeded += 1
            elif state is TaskState.FAILED:
                failed += 1
            elif state is TaskState.UPSTREAM_FAILED:
                upstream_failed += 1
            elif state is TaskState.SKIPPED:
                skipped += 1
        return cls(total, succeeded, failed, upstream_failed, skipped)


def evaluate(rule: TriggerRule, up: UpstreamCounts) -> Decision:
    """What a task that has not started (state None) does, given its upstream tasks."""
    if up.total == 0 or rule is TriggerRule.ALWAYS:
        return Decision.RUN
    settled = _settled(rule, up)
    if settled is not None:
        return settled
    return Decision.RUN if _met(rule, up) else Decision.WAIT


def _settled(rule: TriggerRule, up: UpstreamCounts) -> Decision | None:
    """The state a task takes when its rule can no longer be met (Airflow's
    flag_upstream_failed branch), or None."""
    failures = up.failed + up.upstream_failed
    match rule:
        case TriggerRule.ALL_SUCCESS:
            if failures:
                return Decision.UPSTREAM_FAILED
            if up.skipped:
                return Decision.SKIP
        case TriggerRule.ALL_FAILED:
            if up.succeeded or up.skipped:
                return Decision.SKIP
        case TriggerRule.ONE_SUCCESS:
            if up.all_done and up.done == up.skipped:
                return Decision.SKIP
            if up.all_done and up.succeeded == 0:
                return Decision.UPSTREAM_FAILED
        case TriggerRule.ONE_FAILED:
            if up.all_done and not failures:
                return Decision.SKIP
        case TriggerRule.ONE_DONE:
            if up.all_done and not (up.failed or up.succeeded):
                return Decision.SKIP
        case TriggerRule.NONE_FAILED:
            if failures:
                return Decision.UPSTREAM_FAILED
        case TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS:
            if failures:
                return Decision.UPSTREAM_FAILED
            if up.skipped == up.total:
                return Decision.SKIP
        case TriggerRule.NONE_SKIPPED:
            if up.skipped:
                return Decision.SKIP
        case TriggerRule.ALL_SKIPPED:
            if up.succeeded or failures:
                return Decision.SKIP
        case TriggerRule.ALL_DONE | TriggerRule.ALWAYS:
            pass
    return None


def _met(rule: TriggerRule, up: UpstreamCounts) -> bool:
    match rule:
        case TriggerRule.ALL_SUCCESS:
            return up.succeeded == up.total
        case TriggerRule.ALL_FAILED:
            return up.failed + up.upstream_failed == up.total
        case TriggerRule.ALL_DONE:
            return up.all_done
        case TriggerRule.ALL_SKIPPED:
            return up.skipped == up.total
        case TriggerRule.ONE_SUCCESS:
            return up.succeeded > 0
        case TriggerRule.ONE_FAILED:
            return up.failed + up.upstream_failed > 0
        case TriggerRule.ONE_DONE:
            return up.succeeded + up.failed > 0
        case TriggerRule.NONE_FAILED | TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS:
            return up.succeeded + up.skipped == up.total
        case TriggerRule.NONE_SKIPPED:
            return up.all_done and up.skipped == 0
        case TriggerRule.ALWAYS:
            return True
