"""Observing a task: what its pods say about its current try.

A pod of a try newer than the status knows is adopted (a lost status write); a try whose
pod succeeded, failed, disappeared, was evicted, ran past its executionTimeout or is stuck
terminating ends with a reason, and a failed try is retried by the retry rule.
"""

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime

from airkube.api.dagrun import OUTPUT_MAX_BYTES, TaskStatus
from airkube.api.states import TaskState
from airkube.core.model.actions import DeletePod
from airkube.core.model.facts import RunFacts
from airkube.core.model.observed import ObservedPod, PodPhase
from airkube.core.model.reasons import Reason
from airkube.core.model.step import Step
from airkube.core.model.text import truncate_utf8
from airkube.core.rules import pending
from airkube.core.rules.pod_end import pod_end
from airkube.core.rules.retries import fail_try
from airkube.core.rules.timeouts import (
    execution_deadline,
    pod_missing_deadline,
    pod_terminating_deadline,
    timeout_message,
)


def delete(pod: ObservedPod, reason: str) -> tuple[DeletePod, ...]:
    """Delete ``pod`` unless it is going or done already."""
    if pod.deleted or pod.stopped:
        return ()
    return (DeletePod(pod.name, pod.task, pod.try_number, reason),)


def observe_task(
    facts: RunFacts, name: str, status: TaskStatus, pods: Mapping[int, ObservedPod]
) -> Step:
    """The task's status after looking at its pods (``pods`` by try number)."""
    now = facts.now
    newest = max(pods, default=0)
    if newest > status.try_number and not status.state.finished:
        # A pod of a try the status does not know: an earlier pass created it and its
        # status write was lost. Adopt it rather than start another try; the tries it
        # replaced (the status's own, and any between), ended by those lost passes, go to
        # the history.
        skipped = _replaced(status, pods, newest, now)
        status = TaskStatus(
            state=TaskState.QUEUED,
            try_number=newest,
            max_tries=status.max_tries,
            pod_name=pods[newest].name,
            queued_time=now,
        )
        if skipped:
            step = observe_task(facts, name, status, pods)
            return replace(step, ended=skipped + step.ended)
    if not status.state.has_pod:
        return Step(status)
    if status.queued_time is None:
        status = status.model_copy(update={"queued_time": now})
    pod = pods.get(status.try_number)
    if pod is None:
        missing = pod_missing_deadline(status, facts.options)
        if missing.passed(now):
            return _fail(facts, name, status, missing.reason, missing.message)
        return Step(status, wakeup=missing.at)
    phase = pod.phase
    if not phase.terminal and pod.exit_code is not None:
        # The task container ended but a sidecar keeps the pod going: the try is over
        # (the pod is then deleted as a leftover).
        phase = PodPhase.SUCCEEDED if pod.exit_code == 0 else PodPhase.FAILED
    if phase is PodPhase.SUCCEEDED:
        return Step(_succeeded(status, pod, facts))
    if phase is PodPhase.FAILED or pod.missing:
        # A pod gone before it succeeded ended as its last state says (an eviction, its
        # node lost, a deletion): core/rules/pod_end.py.
        return _pod_failed(facts, name, status, pod)
    return _pod_active(facts, name, status, pod)


def _replaced(
    status: TaskStatus, pods: Mapping[int, ObservedPod], newest: int, now: datetime
) -> tuple[TaskStatus, ...]:
    """The ends of the tries before ``newest`` that lost passes ended and replaced: the
    status's own try (unless it shows the end already) and those it never knew."""
    ended: list[TaskStatus] = []
    own = status.try_number
    for number in range(max(own, 1), newest):
        if number == own and status.state.finished_try:
            continue  # its end is in the status: the planner records it
        pod = pods.get(number)
        known = status if number == own else None
        if pod is not None:
            ended.append(_ended_by_pod(pod, known, now))
        elif known is not None and known.state.has_pod:
            ended.append(
                known.model_copy(
                    update={
                        "state": TaskState.UP_FOR_RETRY,
                        "end_time": now,
                        "reason": Reason.POD_LOST,
                        "message": f"pod {known.pod_name} is gone; try {newest} followed",
                    }
                )
            )
    return tuple(ended)


def _ended_by_pod(pod: ObservedPod, known: TaskStatus | None, now: datetime) -> TaskStatus:
    succeeded = pod.phase is PodPhase.SUCCEEDED
    end = None if succeeded else pod_end(pod)
    return TaskStatus(
        state=TaskState.SUCCEEDED if succeeded else TaskState.UP_FOR_RETRY,
        try_number=pod.try_number,
        pod_name=pod.name,
        queued_time=known.queued_time if known else None,
        start_time=(known.start_time if known else None) or pod.start_time,
        end_time=pod.finish_time or pod.deletion_time or now,
        exit_code=pod.exit_code,
        reason=end.reason if end else None,
        message=end.message if end else None,
    )


def _fail(
    facts: RunFacts,
    name: str,
    status: TaskStatus,
    reason: str,
    message: str | None,
    exit_code: int | None = None,
    ended: datetime | None = None,
) -> Step:
    ended = ended or facts.now
    return fail_try(
        facts.resolved(name), name, status, reason, message, exit_code, ended, seen=facts.now
    )


def _succeeded(status: TaskStatus, pod: ObservedPod, facts: RunFacts) -> TaskStatus:
    return status.model_copy(
        update={
            "state": TaskState.SUCCEEDED,
            "pod_name": pod.name,
            "start_time": status.start_time or pod.start_time,
            "end_time": pod.finish_time or facts.now,
            "exit_code": pod.exit_code if pod.exit_code is not None else 0,
            "output": truncate_utf8(pod.termination_message, OUTPUT_MAX_BYTES) or None,
            "reason": None,
            "message": None,
        }
    )


def _pod_failed(facts: RunFacts, name: str, status: TaskStatus, pod: ObservedPod) -> Step:
    task = facts.resolved(name)
    ended = pod.finish_time or facts.now
    start = status.start_time or pod.start_time
    if pod.exit_code is not None and pod.exit_code in task.skip_on_exit_code:
        return Step(
            status.model_copy(
                update={
                    "state": TaskState.SKIPPED,
                    "pod_name": pod.name,
                    "start_time": start,
                    "end_time": ended,
                    "exit_code": pod.exit_code,
                    "reason": Reason.SKIP_EXIT_CODE,
                    "message": f"exited with {pod.exit_code}, which skips the task",
                }
            )
        )
    end = pod_end(pod)
    reason, message = end.reason, end.message
    deadline = execution_deadline(task, start)
    # The kubelet enforces activeDeadlineSeconds too; its kill may be reported as the
    # container's "Error" rather than the pod's "DeadlineExceeded".
    if pod.reason == "DeadlineExceeded" or (
        not end.removed and deadline is not None and deadline.passed(ended)
    ):
        reason = Reason.TIMEOUT
        detail = pod.termination_message or pod.message
        message = timeout_message(task) + (f": {detail}" if detail else "")
    status = status.model_copy(update={"start_time": start})
    return _fail(facts, name, status, reason, message, pod.exit_code, ended)


def _pod_active(facts: RunFacts, name: str, status: TaskStatus, pod: ObservedPod) -> Step:
    now = facts.now
    start = status.start_time or pod.start_time
    if start is None and pod.phase is PodPhase.RUNNING:
        start = now
    state = TaskState.RUNNING if pod.phase is PodPhase.RUNNING else status.state
    status = status.model_copy(update={"state": state, "start_time": start, "pod_name": pod.name})
    terminating = pod_terminating_deadline(pod, facts.options)
    if terminating is not None:
        if terminating.passed(now):
            reason, message = terminating.reason, terminating.message
            if pod.disruption_reason is not None:  # what is removing it says more
                end = pod_end(pod)
                reason, message = end.reason, f"{end.message}; {message}"
            return _fail(facts, name, status, reason, message)
        return Step(status, wakeup=terminating.at)
    task = facts.resolved(name)
    # A pod that cannot start: why it waits, and its pendingTimeout.
    verdict = pending.decide(name, status, pod, task.pending_timeout, now)
    if isinstance(verdict, pending.TimedOut):
        failed = _fail(facts, name, status, verdict.reason, verdict.message)
        return Step(failed.status, deletes=delete(pod, verdict.reason), events=failed.events)
    if (status.reason, status.message) != (verdict.reason, verdict.message):
        status = status.model_copy(update={"reason": verdict.reason, "message": verdict.message})
    events = (verdict.event,) if verdict.event is not None else ()
    deadline = execution_deadline(task, start)
    if deadline is None:
        return Step(status, events=events, wakeup=verdict.wakeup)
    if deadline.passed(now):
        failed = _fail(facts, name, status, deadline.reason, deadline.message)
        return Step(failed.status, deletes=delete(pod, Reason.TIMEOUT), events=failed.events)
    wakeup = min(deadline.at, verdict.wakeup) if verdict.wakeup else deadline.at
    return Step(status, events=events, wakeup=wakeup)
