"""Scheduling a task: its trigger rule once upstream tasks allow, its retry timer, and the
start of a new try (rendering its templates and building its pod)."""

from collections.abc import Callable, Mapping

from airkube.api.dagrun import TaskStatus
from airkube.api.states import FAILED_TASK_STATES, TaskState
from airkube.core.model.actions import CreatePod, Event, EventType
from airkube.core.model.facts import RunFacts
from airkube.core.model.reasons import Reason
from airkube.core.model.render import RenderError
from airkube.core.model.step import Step
from airkube.core.model.text import names
from airkube.core.pods import build_pod
from airkube.core.rules.trigger import Decision, UpstreamCounts, evaluate


def trigger(
    facts: RunFacts,
    name: str,
    status: TaskStatus,
    counts: UpstreamCounts,
    upstream_states: Callable[[], Mapping[str, TaskState]],
) -> Step:
    """A task not yet considered (None): Scheduled when its trigger rule is met, Skipped
    or UpstreamFailed when it can no longer be, else unchanged."""
    rule = facts.tasks[name].trigger_rule
    decision = evaluate(rule, counts)
    if decision is Decision.WAIT:
        return Step(status)
    if decision is Decision.RUN:
        return Step(status.model_copy(update={"state": TaskState.SCHEDULED}))
    states = upstream_states()
    if decision is Decision.UPSTREAM_FAILED:
        failed = [up for up, s in states.items() if s in FAILED_TASK_STATES]
        message = f"upstream tasks failed: {names(failed)}"
        if not failed:
            message = f"trigger rule {rule} not met: no upstream task succeeded"
        update = {"state": TaskState.UPSTREAM_FAILED, "reason": Reason.UPSTREAM_FAILED}
    else:
        summary = ", ".join(f"{up} {s}" for up, s in list(states.items())[:5])
        more = " …" if len(states) > 5 else ""
        message = f"trigger rule {rule} not met ({summary}{more})"
        update = {"state": TaskState.SKIPPED, "reason": Reason.TRIGGER_RULE}
    return Step(status.model_copy(update={**update, "message": message, "end_time": facts.now}))


def retry_due(facts: RunFacts, status: TaskStatus) -> Step:
    """A task UpForRetry: Scheduled once its retry time has come."""
    due = status.next_retry_time
    if due is not None and due > facts.now:
        return Step(status, wakeup=due)
    return Step(status.model_copy(update={"state": TaskState.SCHEDULED, "next_retry_time": None}))


def start_try(
    facts: RunFacts, name: str, status: TaskStatus, tasks: Mapping[str, TaskStatus]
) -> Step:
    """The next try of a Scheduled task: its pod to create (Queued), or Failed when its
    templates cannot be rendered (rendering again would fail the same way)."""
    try_number = status.try_number + 1
    task = facts.resolved(name)
    if facts.renderer is not None:
        try:
            task = facts.renderer(task, try_number, tasks)
        except RenderError as exc:
            failed = status.model_copy(
                update={
                    "state": TaskState.FAILED,
                    "reason": Reason.TEMPLATE_ERROR,
                    "message": str(exc),
                    "end_time": facts.now,
                }
            )
            event = Event(
                EventType.WARNING,
                Reason.TASK_FAILED,
                f'task "{name}" failed: its templates cannot be rendered: {exc}',
                name,
            )
            return Step(failed, events=(event,))
    manifest = build_pod(task, facts.run, try_number)
    queued = TaskStatus(
        state=TaskState.QUEUED,
        try_number=try_number,
        max_tries=status.max_tries,
        pod_name=manifest["metadata"]["name"],
        queued_time=facts.now,
    )
    # Should the watch never show the pod, the task is found lost after this grace.
    return Step(
        queued,
        create=CreatePod(name, try_number, manifest),
        wakeup=facts.now + facts.options.pod_missing_grace,
    )
