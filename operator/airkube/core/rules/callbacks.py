"""Which callbacks a run calls, with what payload, and when its deadline is due.

The transitions come from :mod:`airkube.core.rules.events` (a try ended Failed, UpForRetry
or Succeeded; the run ended): each calls the hook that matches it — the task's
``onFailure``/``onRetry``/``onSuccess`` (else the DAG defaults'), the DAG's
``onRunFailure``/``onRunSuccess`` — and a run not finished when its deadline passes calls
the deadline's callbacks. Every call has an idempotency key that follows from the run's uid,
the transition and the callback, so a delivery made again (at-least-once: after a restart)
says it is the same one, and a notifier pod is named after it (created once).

Payload (version 1), the JSON a webhook receives and a notifier pod reads from its
environment: see ``PAYLOAD_VERSION`` and :func:`payload`.
"""

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from airkube.api.callbacks import Callback, DeadlineReference, NotifierPod, RunDeadline
from airkube.api.dag import DAGSpec
from airkube.api.dagrun import DAGRunStatus
from airkube.api.meta import Condition, ConditionStatus
from airkube.api.states import RunState, TaskState
from airkube.core.memo import IdentityCache
from airkube.core.rules.events import RECENT, RunEnded, Transition, TryEnded

PAYLOAD_VERSION = "airkube.io/callback/v1"
DEADLINE_CONDITION = "DeadlineMissed"
"""The run's condition that records its deadline passed (and its callbacks were called)."""
MESSAGE_CHARS = 2000
POD_NAME_RUN_CHARS = 40


class Hook(StrEnum):
    """Where a callback is declared; also the payload's ``event``-giving hook."""

    ON_FAILURE = "onFailure"
    ON_RETRY = "onRetry"
    ON_SUCCESS = "onSuccess"
    ON_RUN_FAILURE = "onRunFailure"
    ON_RUN_SUCCESS = "onRunSuccess"
    DEADLINE = "deadline"


EVENT_OF_HOOK = {
    Hook.ON_FAILURE: "TaskFailed",
    Hook.ON_RETRY: "TaskRetrying",
    Hook.ON_SUCCESS: "TaskSucceeded",
    Hook.ON_RUN_FAILURE: "RunFailed",
    Hook.ON_RUN_SUCCESS: "RunSucceeded",
    Hook.DEADLINE: "DeadlineMissed",
}
_TASK_HOOKS = {
    TaskState.FAILED: Hook.ON_FAILURE,
    TaskState.UP_FOR_RETRY: Hook.ON_RETRY,
    TaskState.SUCCEEDED: Hook.ON_SUCCESS,
}
_RUN_HOOKS = {RunState.FAILED: Hook.ON_RUN_FAILURE, RunState.SUCCEEDED: Hook.ON_RUN_SUCCESS}


@dataclass(frozen=True)
class RunFacts:
    """What a payload says about the run."""

    namespace: str
    name: str
    uid: str
    dag: str
    logical_date: datetime | None
    queued_at: datetime | None
    """When the run was queued: the DAGRun's creation."""


@dataclass(frozen=True)
class Notice:
    """One callback to call, with its payload and idempotency key."""

    hook: Hook
    callback: Callback
    key: str
    payload: Mapping[str, Any]


@dataclass(frozen=True)
class _Declared:
    """The callbacks a DAG declares, by task and hook (made once per spec)."""

    tasks: Mapping[str, Mapping[Hook, tuple[Callback, ...]]]
    defaults: Mapping[Hook, tuple[Callback, ...]]
    any: bool


_TASK_FIELDS = {
    Hook.ON_FAILURE: "on_failure",
    Hook.ON_RETRY: "on_retry",
    Hook.ON_SUCCESS: "on_success",
}


def _hooks_of(settings: Any) -> dict[Hook, tuple[Callback, ...]]:
    found = {}
    for hook, name in _TASK_FIELDS.items():
        value = getattr(settings, name, None) if settings is not None else None
        if value is not None:
            found[hook] = tuple(value)
    return found


def _declare(spec: DAGSpec) -> _Declared:
    tasks = {t.name: own for t in spec.tasks if (own := _hooks_of(t))}
    defaults = _hooks_of(spec.defaults)
    run_level = (spec.on_run_failure, spec.on_run_success, spec.deadline)
    return _Declared(tasks, defaults, bool(tasks or defaults or any(run_level)))


_declared = IdentityCache(_declare)


def task_callbacks(spec: DAGSpec, task: str, hook: Hook) -> list[Callback]:
    """The callbacks of ``task`` for ``hook``: the task's own list, else the DAG defaults'."""
    declared = _declared(spec)
    own = declared.tasks.get(task, {}).get(hook)
    return list(own if own is not None else declared.defaults.get(hook, ()))


def has_callbacks(spec: DAGSpec) -> bool:
    """Whether the DAG declares any callback (a pass of one without any skips this rule)."""
    return _declared(spec).any


def idempotency_key(run: RunFacts, transition_key: str, hook: Hook, index: int) -> str:
    return f"{run.uid}/{transition_key}/{hook.value}/{index}"


def _time(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def payload(
    run: RunFacts,
    hook: Hook,
    key: str,
    *,
    state: str,
    reason: str | None,
    message: str | None,
    time: datetime | None,
    task: str | None = None,
    try_number: int | None = None,
) -> dict[str, Any]:
    """The callback payload (version ``PAYLOAD_VERSION``)."""
    ns = run.namespace
    if task is not None:
        link = f"kubectl airkube logs -n {ns} {run.name} {task} --try {try_number}"
    else:
        link = f"kubectl describe dagrun -n {ns} {run.name}"
    return {
        "version": PAYLOAD_VERSION,
        "event": EVENT_OF_HOOK[hook],
        "hook": hook.value,
        "namespace": ns,
        "dag": run.dag,
        "run": run.name,
        "task": task,
        "try": try_number,
        "state": state,
        "reason": reason,
        "message": (message or "")[:MESSAGE_CHARS] or None,
        "logicalDate": _time(run.logical_date),
        "time": _time(time),
        "link": link,
        "idempotencyKey": key,
    }


def slack_text(body: Mapping[str, Any]) -> dict[str, str]:
    """The payload as a Slack incoming webhook takes it: ``{"text": ...}``."""
    what = f'task "{body["task"]}" try {body["try"]}' if body.get("task") else "run"
    subject = f"{body['namespace']}/{body['run']} (DAG {body['dag']})"
    reason = f" ({body['reason']})" if body.get("reason") else ""
    message = f"\n{body['message']}" if body.get("message") else ""
    text = f"[airkube] {body['event']}: {what} of {subject}: {body['state']}{reason}{message}"
    return {"text": f"{text}\n`{body['link']}`"}


def _notices(
    run: RunFacts, hook: Hook, callbacks: Iterable[Callback], transition_key: str, **fields: Any
) -> list[Notice]:
    notices = []
    for index, callback in enumerate(callbacks):
        key = idempotency_key(run, transition_key, hook, index)
        notices.append(Notice(hook, callback, key, payload(run, hook, key, **fields)))
    return notices


def transition_notices(
    spec: DAGSpec, run: RunFacts, transitions: Iterable[Transition]
) -> list[Notice]:
    """The callbacks the transitions call."""
    notices: list[Notice] = []
    for t in transitions:
        if isinstance(t, TryEnded):
            hook = _TASK_HOOKS.get(t.status.state)
            if hook is None:
                continue
            notices += _notices(
                run,
                hook,
                task_callbacks(spec, t.task, hook),
                t.key,
                state=t.status.state.value,
                reason=t.status.reason,
                message=t.status.message,
                time=t.status.end_time,
                task=t.task,
                try_number=t.status.try_number,
            )
        elif isinstance(t, RunEnded):
            run_hook = _RUN_HOOKS.get(t.state)
            if run_hook is None:
                continue
            declared = (
                spec.on_run_failure if run_hook is Hook.ON_RUN_FAILURE else spec.on_run_success
            )
            notices += _notices(
                run,
                run_hook,
                declared or (),
                t.key,
                state=t.state.value,
                reason=t.reason,
                message=t.message,
                time=t.end_time,
            )
    return notices


# Deadlines -------------------------------------------------------------------------------


def deadline_due(deadline: RunDeadline, run: RunFacts) -> datetime | None:
    """When the run's deadline passes (None: the reference is unknown)."""
    if deadline.reference is DeadlineReference.LOGICAL_DATE:
        reference = run.logical_date or run.queued_at
    else:
        reference = run.queued_at
    return reference + deadline.interval if reference is not None else None


def deadline_fired(status: DAGRunStatus) -> Condition | None:
    return next((c for c in status.conditions or () if c.type == DEADLINE_CONDITION), None)


@dataclass(frozen=True)
class DeadlineVerdict:
    """What the deadline asks of a pass: record it missed (``condition``, to write in the
    status before ``notices`` are called), or be woken at ``wake_at``; neither when it is
    met, fired already or absent."""

    condition: Condition | None = None
    notices: tuple[Notice, ...] = ()
    wake_at: datetime | None = None


def check_deadline(
    deadline: RunDeadline | None, run: RunFacts, status: DAGRunStatus, now: datetime
) -> DeadlineVerdict:
    """Whether the run missed its deadline: it is past due and the run had not finished by
    then (also when the pass that saw it finish came later). It fires once: its condition
    records it."""
    if deadline is None or deadline_fired(status) is not None:
        return DeadlineVerdict()
    due = deadline_due(deadline, run)
    if due is None:
        return DeadlineVerdict()
    if status.state.finished:
        if status.end_time is None or status.end_time <= due:
            return DeadlineVerdict()
    elif now < due:
        return DeadlineVerdict(wake_at=due)
    after = (
        "after it was queued"
        if deadline.reference is DeadlineReference.QUEUED
        else "after its logical date"
    )
    message = f"the run had not finished {_duration(deadline.interval)} {after}"
    condition = Condition(
        type=DEADLINE_CONDITION,
        status=ConditionStatus.TRUE,
        reason=DEADLINE_CONDITION,
        message=f"{message} (due {_time(due)})",
    )
    return DeadlineVerdict(
        condition=condition, notices=tuple(_deadline_notices(deadline, run, status, due, message))
    )


def _deadline_notices(
    deadline: RunDeadline, run: RunFacts, status: DAGRunStatus, due: datetime, message: str
) -> list[Notice]:
    return _notices(
        run,
        Hook.DEADLINE,
        deadline.callbacks,
        "deadline",
        state=status.state.value,
        reason=DEADLINE_CONDITION,
        message=message,
        time=due,
    )


def recall_notices(
    spec: DAGSpec,
    run: RunFacts,
    status: DAGRunStatus,
    transitions: Iterable[Transition],
    now: datetime,
    recent: timedelta = RECENT,
) -> list[Notice]:
    """What a restarted operator calls again (at-least-once): the callbacks of the recent
    transitions, and the deadline's when its condition was recorded recently."""
    notices = transition_notices(spec, run, transitions)
    fired = deadline_fired(status)
    if spec.deadline is not None and fired is not None:
        when = fired.last_transition_time
        due = deadline_due(spec.deadline, run)
        if when is not None and when >= now - recent and due is not None:
            message = (fired.message or "").rsplit(" (due ", 1)[0]
            notices += _deadline_notices(spec.deadline, run, status, due, message)
    return notices


def _duration(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [
        f"{hours}h" if hours else "",
        f"{minutes}m" if minutes else "",
        f"{secs}s" if secs else "",
    ]
    return "".join(parts) or "0s"


# Notifier pods ---------------------------------------------------------------------------


def notifier_pod_name(run_name: str, key: str) -> str:
    """A name that follows from the callback's key: the same call never makes two pods."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:10]
    stem = run_name[:POD_NAME_RUN_CHARS].rstrip("-.")
    return f"{stem}-cb-{digest}"


def notifier_pod(
    pod: NotifierPod, notice: Notice, run: RunFacts, api_version: str
) -> dict[str, Any]:
    """The manifest of a notifier pod: the user's image, the payload in ``payloadEnv``,
    owned by the run (deleted with it). It carries no label the operator's pod watch
    selects: it is not a task's pod."""
    env = [{"name": pod.payload_env, "value": json.dumps(notice.payload, sort_keys=True)}]
    env += [e.to_dict() for e in pod.env or () if e.name != pod.payload_env]
    container: dict[str, Any] = {"name": "notifier", "image": pod.image, "env": env}
    if pod.image_pull_policy is not None:
        container["imagePullPolicy"] = pod.image_pull_policy.value
    if pod.command is not None:
        container["command"] = list(pod.command)
    if pod.args is not None:
        container["args"] = list(pod.args)
    spec: dict[str, Any] = {"restartPolicy": "Never", "containers": [container]}
    if pod.service_account_name is not None:
        spec["serviceAccountName"] = pod.service_account_name
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": notifier_pod_name(run.name, notice.key),
            "namespace": run.namespace,
            "labels": {"airkube.io/callback": notice.hook.value},
            "annotations": {"airkube.io/run": run.name, "airkube.io/callback-key": notice.key},
            "ownerReferences": [
                {
                    "apiVersion": api_version,
                    "kind": "DAGRun",
                    "name": run.name,
                    "uid": run.uid,
                    "blockOwnerDeletion": False,
                }
            ],
        },
        "spec": spec,
    }
