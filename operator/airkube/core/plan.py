"""The run planner: from the pinned DAG spec, the run, its tasks' states, its observed pods
and the clock, the next state of every task and what to do about it.

``plan`` is pure and deterministic: the same inputs give the same plan. It decides trigger
rules, retries with their delays, execution and run timeouts, maxActiveTasks, cancelling,
lost pods, and the run's end; the controller applies the plan (creating pods before it
writes the status, so that a pass interrupted in between is recovered by adopting the pods
it finds) and calls ``plan`` again when a pod changes or ``next_wakeup`` comes.

Guarantees:

- a try has at most one pod: a pod found for a try is never asked for again, and a pod of
  a try newer than the status knows is adopted (a lost status write);
- a try whose pod disappears, is evicted, times out or is stuck terminating fails with a
  reason, and retries apply: a run never hangs waiting for a pod that will not end;
- a clear request (spec.clear, applied once per id) sends the tasks it selects back to
  None with their full retries, stopping their running pods, and reopens a finished run;
- once every task has finished, the run ends: Failed when a leaf task is Failed or
  UpstreamFailed, else Succeeded (Airflow's rule); cancelling ends it Cancelled, its
  dagrunTimeout ends it Failed, and in both cases unfinished tasks are Skipped (Airflow's
  behaviour on dagrun_timeout).
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from airkube.api.dag import DAGSpec
from airkube.api.dagrun import OUTPUT_MAX_BYTES, TaskStatus
from airkube.api.duration import format_duration
from airkube.api.states import FAILED_TASK_STATES, RunState, TaskState
from airkube.core import pending
from airkube.core.clear import ClearError, clear_selection, cleared
from airkube.core.graph import Graph, graph_of
from airkube.core.memo import IdentityCache
from airkube.core.model.actions import Action, CreatePod, DeletePod, Event, EventType, FinishRun
from airkube.core.model.observed import ObservedPod, PodPhase
from airkube.core.model.reasons import Reason
from airkube.core.model.render import Renderer, RenderError
from airkube.core.model.result import DEFAULT_OPTIONS, Plan, PlannerOptions
from airkube.core.model.run import Run
from airkube.core.pods import build_pod
from airkube.core.resolve import ResolvedTask, resolve_task
from airkube.core.retries import next_retry_time
from airkube.core.states import run_outcome
from airkube.core.trigger_rules import Decision, UpstreamCounts, evaluate


def plan(
    dag: DAGSpec,
    run: Run,
    tasks: Mapping[str, TaskStatus],
    pods: Iterable[ObservedPod],
    now: datetime,
    *,
    renderer: Renderer | None = None,
    options: PlannerOptions = DEFAULT_OPTIONS,
) -> Plan:
    """Plan one pass of ``run`` of ``dag`` (the spec the run pinned, already validated).

    ``tasks`` holds the current task states (missing tasks are None); ``pods`` the pods of
    the run as observed; ``now`` is an aware datetime.
    """
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    return _Pass(dag, run, tasks, pods, now, renderer, options).plan()


def _truncate_utf8(text: str | None, limit: int) -> str | None:
    if text is None:
        return None
    data = text.encode()
    if len(data) <= limit:
        return text
    return data[:limit].decode(errors="ignore")


_resolved_tasks: IdentityCache[DAGSpec, dict[str, ResolvedTask]] = IdentityCache(lambda _: {})
"""A pinned spec's tasks as resolved so far: every pass of a run asks again (the timeout of
each running task, say), and resolving merges pod templates."""

_MESSAGE_MAX_BYTES = 4096
_NOT_STARTED = TaskStatus()


@dataclass
class _Pass:
    dag: DAGSpec
    run: Run
    given: Mapping[str, TaskStatus]
    observed: Iterable[ObservedPod]
    now: datetime
    renderer: Renderer | None
    options: PlannerOptions
    graph: Graph = field(init=False)
    states: dict[str, TaskStatus] = field(init=False)
    pods: dict[str, dict[int, ObservedPod]] = field(init=False)
    stray_pods: list[ObservedPod] = field(init=False)
    deletes: dict[str, DeletePod] = field(init=False, default_factory=dict)
    creates: list[CreatePod] = field(init=False, default_factory=list)
    events: list[Event] = field(init=False, default_factory=list)
    wakeups: list[datetime] = field(init=False, default_factory=list)
    clear_id: str | None = field(init=False, default=None)
    """The clear request this pass applies, if any."""
    cleared_tasks: bool = field(init=False, default=False)
    """This pass's clear request cleared tasks."""
    was_finished: bool = field(init=False, default=False)
    """The run had ended and no clear reopens it."""

    def __post_init__(self) -> None:
        request = self.run.spec.clear
        if request is not None and request.id != self.run.last_clear_id:
            self.clear_id = request.id
        self.was_finished = self.run.state.finished and self.clear_id is None
        self.graph = graph_of(self.dag)
        self.states = {name: self.given.get(name) or TaskStatus() for name in self.graph.order}
        self.pods = {}
        self.stray_pods = []
        for pod in sorted(self.observed, key=lambda p: (p.task, p.try_number, p.name)):
            if pod.task in self.states:
                self.pods.setdefault(pod.task, {}).setdefault(pod.try_number, pod)
            else:
                self.stray_pods.append(pod)
        self._tasks_by_name = {task.name: task for task in self.dag.tasks}

    # -- the pass ------------------------------------------------------------------------

    def plan(self) -> Plan:
        run = self.run
        if run.state.finished and (self.clear_id is None or not self._clear()):
            self.was_finished = True
            self._delete_leftover_pods()
            return self._result(run.state, run.start_time, run.end_time)
        # A finished run that a clear reopens starts anew, as Airflow resets its start_date.
        start = self.now if run.state.finished else run.start_time or self.now
        if not run.state.finished:
            for name in self.graph.order:
                self._observe(name)
            if self.clear_id is not None:
                self._clear()
        if run.spec.cancel:
            return self._stop(
                start, RunState.CANCELLED, Reason.RUN_CANCELLED, "the run was cancelled"
            )
        timeout = self.dag.dagrun_timeout
        if timeout is not None:
            if self.now >= start + timeout:
                return self._stop(
                    start,
                    RunState.FAILED,
                    Reason.RUN_TIMEOUT,
                    f"the run took longer than its dagrunTimeout ({format_duration(timeout)})",
                )
            self.wakeups.append(start + timeout)
        self._schedule()
        outcome = self._outcome()
        if outcome is not None:
            state, reason, message = outcome
            self._delete_leftover_pods()
            return self._result(state, start, self.now, reason, message)
        self._delete_leftover_pods()
        return self._result(RunState.RUNNING, start, None)

    # -- clearing ----------------------------------------------------------------------------

    def _clear(self) -> bool:
        """Apply the run's clear request; whether it cleared any task."""
        request = self.run.spec.clear
        assert request is not None
        try:
            names = clear_selection(self.graph, self.states, request)
        except ClearError as exc:
            self.events.append(Event(EventType.WARNING, Reason.CLEAR_REFUSED, str(exc)))
            return False
        if not names:
            self.events.append(
                Event(EventType.NORMAL, Reason.CLEARED, "clear request: no task matched")
            )
            return False
        for name in names:
            status = self.states[name]
            if status.state.has_pod:
                pod = self.pods.get(name, {}).get(status.try_number)
                if pod is not None:
                    self._delete(pod, Reason.CLEARED)
            self.states[name] = cleared(status, self._task(name).max_tries)
        self.cleared_tasks = True
        self.events.append(
            Event(
                EventType.NORMAL,
                Reason.CLEARED,
                f"cleared {len(names)} tasks: {_names(list(names))}",
            )
        )
        return True

    # -- observing pods --------------------------------------------------------------------

    def _task(self, name: str) -> ResolvedTask:
        resolved = _resolved_tasks(self.dag)
        if name not in resolved:
            resolved[name] = resolve_task(self.dag, self._tasks_by_name[name])
        return resolved[name]

    def _observe(self, name: str) -> None:
        status = self.states[name]
        task_pods = self.pods.get(name, {})
        newest = max(task_pods, default=0)
        if newest > status.try_number and not status.state.finished:
            # A pod of a try the status does not know: an earlier pass created it and its
            # status write was lost. Adopt it rather than start another try.
            status = TaskStatus(
                state=TaskState.QUEUED,
                try_number=newest,
                max_tries=status.max_tries,
                pod_name=task_pods[newest].name,
                queued_time=self.now,
            )
        if not status.state.has_pod:
            self.states[name] = status
            return
        if status.queued_time is None:
            status = status.model_copy(update={"queued_time": self.now})
        self.states[name] = status
        pod = task_pods.get(status.try_number)
        if pod is None:
            assert status.queued_time is not None
            lost_at = status.queued_time + self.options.pod_missing_grace
            if self.now >= lost_at:
                self._fail_try(
                    name, Reason.POD_LOST, f"pod {status.pod_name} disappeared", None, None
                )
            else:
                self.wakeups.append(lost_at)
            return
        if pod.missing:
            self._fail_try(name, Reason.POD_LOST, f"pod {pod.name} was deleted", None, None)
            return
        phase = pod.phase
        if not phase.terminal and pod.exit_code is not None:
            # The task container ended but a sidecar keeps the pod going: the try is over
            # (the pod is then deleted as a leftover).
            phase = PodPhase.SUCCEEDED if pod.exit_code == 0 else PodPhase.FAILED
        if phase is PodPhase.SUCCEEDED:
            self._succeed(name, pod)
        elif phase is PodPhase.FAILED:
            self._pod_failed(name, pod)
        else:
            self._pod_active(name, pod)

    def _succeed(self, name: str, pod: ObservedPod) -> None:
        status = self.states[name]
        self.states[name] = status.model_copy(
            update={
                "state": TaskState.SUCCEEDED,
                "pod_name": pod.name,
                "start_time": status.start_time or pod.start_time,
                "end_time": pod.finish_time or self.now,
                "exit_code": pod.exit_code if pod.exit_code is not None else 0,
                "output": _truncate_utf8(pod.termination_message, OUTPUT_MAX_BYTES) or None,
                "reason": None,
                "message": None,
            }
        )

    def _pod_failed(self, name: str, pod: ObservedPod) -> None:
        task = self._task(name)
        status = self.states[name]
        ended = pod.finish_time or self.now
        if pod.exit_code is not None and pod.exit_code in task.skip_on_exit_code:
            self.states[name] = status.model_copy(
                update={
                    "state": TaskState.SKIPPED,
                    "pod_name": pod.name,
                    "start_time": status.start_time or pod.start_time,
                    "end_time": ended,
                    "exit_code": pod.exit_code,
                    "reason": Reason.SKIP_EXIT_CODE,
                    "message": f"exited with {pod.exit_code}, which skips the task",
                }
            )
            return
        reason = pod.reason or Reason.ERROR
        message = pod.termination_message or pod.message
        start = status.start_time or pod.start_time
        limit = task.execution_timeout
        # The kubelet enforces activeDeadlineSeconds too; its kill may be reported as the
        # container's "Error" rather than the pod's "DeadlineExceeded".
        timed_out = limit is not None and start is not None and ended >= start + limit
        if reason == "DeadlineExceeded" or timed_out:
            reason = Reason.TIMEOUT
            message = self._timeout_message(task) + (f": {message}" if message else "")
        elif not message and pod.exit_code is not None:
            message = f"exited with {pod.exit_code}"
        self.states[name] = status.model_copy(
            update={"start_time": status.start_time or pod.start_time}
        )
        self._fail_try(name, reason, message, pod.exit_code, ended)

    @staticmethod
    def _timeout_message(task: ResolvedTask) -> str:
        limit = task.execution_timeout
        return "ran longer than its executionTimeout" + (
            f" ({format_duration(limit)})" if limit is not None else ""
        )

    def _pod_active(self, name: str, pod: ObservedPod) -> None:
        status = self.states[name]
        start = status.start_time or pod.start_time
        if start is None and pod.phase is PodPhase.RUNNING:
            start = self.now
        state = TaskState.RUNNING if pod.phase is PodPhase.RUNNING else status.state
        self.states[name] = status.model_copy(
            update={"state": state, "start_time": start, "pod_name": pod.name}
        )
        if pod.deletion_time is not None:
            lost_at = pod.deletion_time + self.options.pod_terminating_grace
            if self.now >= lost_at:
                self._fail_try(
                    name, Reason.POD_LOST, f"pod {pod.name} did not finish terminating", None, None
                )
            else:
                self.wakeups.append(lost_at)
            return
        # A pod that cannot start: why it waits, and pendingTimeout (core/pending.py).
        verdict = pending.decide(
            name, self.states[name], pod, self._task(name).pending_timeout, self.now
        )
        if isinstance(verdict, pending.TimedOut):
            self._delete(pod, verdict.reason)
            self._fail_try(name, verdict.reason, verdict.message, None, None)
            return
        status = self.states[name]
        if (status.reason, status.message) != (verdict.reason, verdict.message):
            waiting = {"reason": verdict.reason, "message": verdict.message}
            self.states[name] = status.model_copy(update=waiting)
        self.events.extend([verdict.event] if verdict.event else [])
        self.wakeups.extend([verdict.wakeup] if verdict.wakeup else [])
        limit = self._task(name).execution_timeout
        if limit is None or start is None:
            return
        deadline = start + limit
        if self.now >= deadline:
            self._delete(pod, Reason.TIMEOUT)
            message = self._timeout_message(self._task(name))
            self._fail_try(name, Reason.TIMEOUT, message, None, None)
        else:
            self.wakeups.append(deadline)

    def _fail_try(
        self,
        name: str,
        reason: str,
        message: str | None,
        exit_code: int | None,
        ended: datetime | None,
    ) -> None:
        task = self._task(name)
        status = self.states[name]
        ended = ended or self.now
        tried = status.try_number
        max_tries = status.max_tries or task.max_tries
        message = _truncate_utf8(message, _MESSAGE_MAX_BYTES)
        update: dict[str, Any] = {
            "end_time": ended,
            "exit_code": exit_code,
            "reason": reason,
            "message": message,
            "output": None,
        }
        detail = f"{reason}: {_last_line(message)}" if message else reason
        if tried < max_tries:
            # Backoff counts the tries since the last clear.
            retry_at = next_retry_time(task, tried - (max_tries - task.max_tries), ended)
            update |= {"state": TaskState.UP_FOR_RETRY, "next_retry_time": retry_at}
            self.events.append(
                Event(
                    EventType.WARNING,
                    Reason.TASK_RETRYING,
                    f'task "{name}" try {tried} of {max_tries} failed ({detail}); '
                    f"next try at {retry_at.isoformat()}",
                    name,
                )
            )
        else:
            update |= {"state": TaskState.FAILED, "next_retry_time": None}
            self.events.append(
                Event(
                    EventType.WARNING,
                    Reason.TASK_FAILED,
                    f'task "{name}" failed on try {tried} of {max_tries} ({detail})',
                    name,
                )
            )
        self.states[name] = status.model_copy(update=update)

    # -- scheduling --------------------------------------------------------------------

    def _upstream(self, name: str) -> UpstreamCounts:
        return UpstreamCounts.of(self.states[up].state for up in self.graph.upstream[name])

    def _schedule(self) -> None:
        active = sum(1 for s in self.states.values() if s.state.has_pod)
        slots = self.dag.max_active_tasks - active
        if self.options.max_new_pods is not None:
            slots = min(slots, self.options.max_new_pods)
        for name in self.graph.order:
            status = self.states[name]
            if status.state is TaskState.NONE:
                self._apply_trigger_rule(name)
                status = self.states[name]
            elif status.state is TaskState.UP_FOR_RETRY:
                due = status.next_retry_time
                if due is not None and due > self.now:
                    self.wakeups.append(due)
                    continue
                status = status.model_copy(
                    update={"state": TaskState.SCHEDULED, "next_retry_time": None}
                )
                self.states[name] = status
            if status.state is TaskState.SCHEDULED and slots > 0 and self._start_try(name):
                slots -= 1

    def _apply_trigger_rule(self, name: str) -> None:
        rule = self._tasks_by_name[name].trigger_rule
        decision = evaluate(rule, self._upstream(name))
        if decision is Decision.WAIT:
            return
        status = self.states[name]
        if decision is Decision.RUN:
            self.states[name] = status.model_copy(update={"state": TaskState.SCHEDULED})
            return
        states = {up: self.states[up].state for up in self.graph.upstream[name]}
        if decision is Decision.UPSTREAM_FAILED:
            failed = [up for up, s in states.items() if s in FAILED_TASK_STATES]
            message = f"upstream tasks failed: {_names(failed)}"
            if not failed:
                message = f"trigger rule {rule} not met: no upstream task succeeded"
            update = {"state": TaskState.UPSTREAM_FAILED, "reason": Reason.UPSTREAM_FAILED}
        else:
            summary = ", ".join(f"{up} {s}" for up, s in list(states.items())[:5])
            more = " …" if len(states) > 5 else ""
            message = f"trigger rule {rule} not met ({summary}{more})"
            update = {"state": TaskState.SKIPPED, "reason": Reason.TRIGGER_RULE}
        self.states[name] = status.model_copy(
            update={**update, "message": message, "end_time": self.now}
        )

    def _start_try(self, name: str) -> bool:
        status = self.states[name]
        try_number = status.try_number + 1
        # Never a second pod for a try: _observe adopted any pod newer than the status.
        assert try_number not in self.pods.get(name, {}), (name, try_number)
        task = self._task(name)
        if self.renderer is not None:
            try:
                task = self.renderer(task, try_number, self.states)
            except RenderError as exc:
                self.states[name] = status.model_copy(
                    update={
                        "state": TaskState.FAILED,
                        "reason": Reason.TEMPLATE_ERROR,
                        "message": str(exc),
                        "end_time": self.now,
                    }
                )
                self.events.append(
                    Event(
                        EventType.WARNING,
                        Reason.TASK_FAILED,
                        f'task "{name}" failed: its templates cannot be rendered: {exc}',
                        name,
                    )
                )
                return False
        manifest = build_pod(task, self.run, try_number)
        self.creates.append(CreatePod(name, try_number, manifest))
        self.states[name] = TaskStatus(
            state=TaskState.QUEUED,
            try_number=try_number,
            max_tries=status.max_tries,
            pod_name=manifest["metadata"]["name"],
            queued_time=self.now,
        )
        # Should the watch never show the pod, the next pass finds it lost.
        self.wakeups.append(self.now + self.options.pod_missing_grace)
        return True

    # -- ending --------------------------------------------------------------------------

    def _outcome(self) -> tuple[RunState, str, str] | None:
        if not all(s.state.finished for s in self.states.values()):
            return None
        leaves = [name for name in self.graph.order if name in self.graph.leaves]
        state = run_outcome(self.states[name].state for name in leaves)
        if state is RunState.FAILED:
            # Name the tasks that failed, wherever they are: the leaves that made the run
            # fail may only be UpstreamFailed because of them.
            failed = [n for n in self.graph.order if self.states[n].state is TaskState.FAILED]
            return state, Reason.TASK_FAILED, f"tasks failed: {_names(failed)}"
        return state, Reason.TASKS_SUCCEEDED, f"all {len(self.states)} tasks finished"

    def _stop(self, start: datetime, state: RunState, reason: str, message: str) -> Plan:
        for name in self.graph.order:
            status = self.states[name]
            if status.state.finished:
                continue
            if status.state.has_pod:
                pod = self.pods.get(name, {}).get(status.try_number)
                if pod is not None:
                    self._delete(pod, reason)
            self.states[name] = status.model_copy(
                update={
                    "state": TaskState.SKIPPED,
                    "reason": reason,
                    "message": message,
                    "end_time": self.now,
                    "next_retry_time": None,
                }
            )
        self._delete_leftover_pods()
        run_reason = Reason.CANCELLED if state is RunState.CANCELLED else reason
        self.wakeups.clear()
        return self._result(state, start, self.now, run_reason, message)

    # -- pods to delete --------------------------------------------------------------------

    def _delete(self, pod: ObservedPod, reason: str) -> None:
        if pod.deleted or pod.stopped or pod.name in self.deletes:
            return
        self.deletes[pod.name] = DeletePod(pod.name, pod.task, pod.try_number, reason)

    def _delete_leftover_pods(self) -> None:
        """Delete running pods no task is waiting for: old tries, tasks not in the DAG,
        everything once the run has finished."""
        finished = self.was_finished
        for pod in self.stray_pods:
            self._delete(pod, Reason.UNKNOWN_TASK)
        for name, task_pods in self.pods.items():
            status = self.states[name]
            for try_number, pod in task_pods.items():
                if finished:
                    self._delete(pod, Reason.RUN_FINISHED)
                elif status.try_number != try_number:
                    self._delete(pod, Reason.SUPERSEDED)
                elif not status.state.has_pod:
                    self._delete(pod, Reason.TRY_ENDED)

    # -- the result --------------------------------------------------------------------------

    def _result(
        self,
        state: RunState,
        start: datetime | None,
        end: datetime | None,
        reason: str | None = None,
        message: str | None = None,
    ) -> Plan:
        actions: list[Action] = [*self.deletes.values(), *self.creates]
        if end is not None and not self.was_finished:  # the run ends in this pass
            assert reason is not None
            assert message is not None
            actions.append(FinishRun(state, reason, message))
            ok = state is RunState.SUCCEEDED
            self.events.append(
                Event(
                    EventType.NORMAL if ok or state is RunState.CANCELLED else EventType.WARNING,
                    {
                        RunState.SUCCEEDED: Reason.RUN_SUCCEEDED,
                        RunState.FAILED: Reason.RUN_FAILED,
                    }.get(state, Reason.CANCELLED),
                    message,
                )
            )
        changed = tuple(
            name
            for name in self.graph.order
            if self.states[name] != (self.given.get(name) or _NOT_STARTED)
        )
        wakeups = [t for t in self.wakeups if t > self.now]
        return Plan(
            run_state=state,
            start_time=start,
            end_time=end,
            tasks=dict(self.states),
            changed=changed,
            actions=tuple(actions),
            events=tuple(self.events),
            next_wakeup=min(wakeups) if end is None and wakeups else None,
            reason=reason,
            message=message,
            last_clear_id=self.clear_id or self.run.last_clear_id,
            clear_number=self.run.clear_number + (1 if self.cleared_tasks else 0),
        )


def _last_line(text: str, limit: int = 200) -> str:
    """The last non-empty line of ``text`` (of a log tail: usually the error), shortened
    for an event."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    line = lines[-1] if lines else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _names(names: list[str], limit: int = 5) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")
