"""Status conditions (Kubernetes conventions): the DAG's Ready condition from its problems,
and replacing a condition while keeping its lastTransitionTime when its status holds."""

from collections.abc import Sequence
from datetime import datetime

from airkube.api.meta import Condition, ConditionStatus
from airkube.core.validation import Problem

READY = "Ready"
_MESSAGE_MAX_CHARS = 32768


def dag_ready_condition(problems: Sequence[Problem], *, generation: int | None) -> Condition:
    """Ready=True when the spec has no problem; else Ready=False with the first problem's
    reason and every problem's message ("; "-separated)."""
    if not problems:
        return Condition(
            type=READY,
            status=ConditionStatus.TRUE,
            reason="Valid",
            message="the DAG is valid",
            observed_generation=generation,
        )
    message = "; ".join(p.message for p in problems)
    if len(problems) > 1:
        message = f"{len(problems)} problems: {message}"
    if len(message) > _MESSAGE_MAX_CHARS:
        message = message[: _MESSAGE_MAX_CHARS - 1] + "…"
    return Condition(
        type=READY,
        status=ConditionStatus.FALSE,
        reason=problems[0].reason.value,
        message=message,
        observed_generation=generation,
    )


def set_condition(
    conditions: Sequence[Condition] | None, condition: Condition, now: datetime
) -> list[Condition]:
    """``conditions`` with ``condition`` in place of the one of its type. Its
    lastTransitionTime is ``now`` when the status changed, else the previous one."""
    result = list(conditions or ())
    for i, old in enumerate(result):
        if old.type == condition.type:
            since = old.last_transition_time if old.status == condition.status else None
            result[i] = condition.model_copy(update={"last_transition_time": since or now})
            return result
    result.append(condition.model_copy(update={"last_transition_time": now}))
    return result
