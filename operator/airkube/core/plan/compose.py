"""One pass of the planner, composed from the rules: observe the tasks whose pods moved or
whose timers came, apply a clear request then a mark request, stop a cancelled or timed-out
run, schedule what may run, end the run once every task has, and delete the pods nobody
waits for."""

import heapq
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial

from airkube.api.dag import DAGSpec
from airkube.api.dagrun import TaskStatus
from airkube.api.states import RunState, TaskState
from airkube.core.model.actions import Action, CreatePod, DeletePod, Event, EventType, FinishRun
from airkube.core.model.facts import RunFacts
from airkube.core.model.observed import ObservedPod
from airkube.core.model.reasons import Reason
from airkube.core.model.render import Renderer
from airkube.core.model.result import DEFAULT_OPTIONS, Plan, PlannerOptions
from airkube.core.model.run import Run
from airkube.core.model.step import Step
from airkube.core.model.text import names
from airkube.core.plan.clear import ClearError, clear_selection, clear_task
from airkube.core.plan.finish import outcome, stop_task
from airkube.core.plan.index import RunIndex
from airkube.core.plan.mark import (
    MarkEffect,
    MarkError,
    mark_effect,
    mark_selection,
    mark_task,
    run_mark_reason,
    task_mark_message,
    task_mark_reason,
)
from airkube.core.plan.observe import delete, observe_task
from airkube.core.plan.schedule import retry_due, start_try, trigger
from airkube.core.rules.events import run_end_event
from airkube.core.rules.slots import free_slots
from airkube.core.rules.timeouts import run_deadline


def plan(
    dag: DAGSpec,
    run: Run,
    tasks: Mapping[str, TaskStatus],
    pods: Iterable[ObservedPod],
    now: datetime,
    *,
    renderer: Renderer | None = None,
    options: PlannerOptions = DEFAULT_OPTIONS,
    index: RunIndex | None = None,
) -> Plan:
    """Plan one pass of ``run`` of ``dag`` (the spec the run pinned, already validated).

    ``tasks`` holds the current task states (missing tasks are None); ``pods`` the pods of
    the run as observed; ``now`` is an aware datetime. ``index`` (optional) is the index
    the previous pass of this run left: the pass then looks only at what changed, and
    ``tasks`` is not read. The index is updated in place.
    """
    facts = RunFacts(dag, run, now, options, renderer)
    if index is None or index.dag is not dag:
        index = RunIndex.build(dag, tasks)
    return _Composer(facts, index).plan(pods)


@dataclass
class _Composer:
    facts: RunFacts
    index: RunIndex
    deletes: dict[str, DeletePod] = field(default_factory=dict)
    creates: list[CreatePod] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    wakeups: dict[str, datetime] = field(default_factory=dict)
    looked_at: set[str] = field(default_factory=set)
    """Tasks observed this pass: their timers are replaced by what this pass produced."""
    dirty: set[str] = field(default_factory=set)
    """Tasks to schedule this pass (their upstream counts or their own status moved)."""
    cleared: bool = False
    """This pass's clear request (or a mark request, downstream) cleared tasks."""
    ended: list[tuple[str, TaskStatus]] = field(default_factory=list)

    def plan(self, pods: Iterable[ObservedPod]) -> Plan:
        facts, index, run = self.facts, self.index, self.facts.run
        index.before = {}
        moved = index.sync_pods(pods)
        clear_id = facts.clear_id
        everything = index.fresh
        index.fresh = False
        due: set[str] = set()
        if run.state.finished:
            if clear_id is not None:
                self._clear()
            effect = self._mark() if facts.mark_id is not None else None
            if effect is not None and effect.run_state is not None:
                return self._marked_run(run.start_time or facts.now, effect.run_state)
            if not self.cleared:  # nothing to run again: it stays finished
                for pod in index.stray:
                    self._delete(delete(pod, Reason.UNKNOWN_TASK))
                for task_pods in index.pods.values():
                    for pod in task_pods.values():
                        self._delete(delete(pod, Reason.RUN_FINISHED))
                return self._remarked() if effect is not None else self._unchanged()
            # A finished run that a clear reopens starts anew, as Airflow resets its start.
            start = facts.now
        else:
            start = run.start_time or facts.now
            if not everything:
                due = index.due(facts.now)
            for name in sorted(
                index.graph.order if everything else moved | due, key=index.position.__getitem__
            ):
                self._observe(name)
            if clear_id is not None:
                self._clear()
            if facts.mark_id is not None:
                effect = self._mark()
                if effect is not None and effect.run_state is not None:
                    return self._marked_run(start, effect.run_state)
        if run.spec.cancel:
            return self._stop(
                start, RunState.CANCELLED, Reason.RUN_CANCELLED, "the run was cancelled"
            )
        deadline = run_deadline(facts.dag, start)
        if deadline is not None and deadline.passed(facts.now):
            return self._stop(start, RunState.FAILED, deadline.reason, deadline.message)
        self._schedule(
            index.graph.order if everything or self.cleared else self.dirty | moved | due
        )
        self._delete_leftovers(moved, everything=everything)
        self._timers()
        if index.all_finished:
            state, reason, message = outcome(index.graph, index.states)
            return self._result(state, start, facts.now, reason, message)
        wakeups = [t for t in (index.next_timer(), deadline.at if deadline else None) if t]
        return self._result(RunState.RUNNING, start, None, wakeup=min(wakeups, default=None))

    # -- steps ------------------------------------------------------------------------------

    def _take(self, name: str, step: Step) -> None:
        old = self.index.states[name]
        if old.try_number and old.state.finished_try and not step.status.state.finished_try:
            # The end of a try that a new one (or a clear) replaces within this pass.
            self.ended.append((name, old))
        self.ended.extend((name, ended) for ended in step.ended)
        if step.status is not old:
            self.dirty.add(name)
            self.dirty.update(self.index.record(name, step.status))
            # A wake-up asked for the status it replaces is moot (a try cleared, retried):
            # the task's timer follows from the status it ends the pass with, as a pass
            # that starts from that status would compute it.
            self.wakeups.pop(name, None)
        self._delete(step.deletes)
        if step.create is not None:
            self.creates.append(step.create)
        self.events.extend(step.events)
        if step.wakeup is not None:
            known = self.wakeups.get(name)
            self.wakeups[name] = step.wakeup if known is None else min(known, step.wakeup)

    def _delete(self, deletes: Iterable[DeletePod]) -> None:
        for d in deletes:
            self.deletes.setdefault(d.name, d)

    def _observe(self, name: str) -> None:
        if name in self.looked_at:
            return
        self.looked_at.add(name)
        index = self.index
        self._take(
            name, observe_task(self.facts, name, index.states[name], index.pods.get(name, {}))
        )

    def _clear(self) -> bool:
        """Apply the run's clear request; whether it cleared any task."""
        index, request = self.index, self.facts.run.spec.clear
        assert request is not None
        try:
            selected = clear_selection(index.graph, index.states, request)
        except ClearError as exc:
            self.events.append(Event(EventType.WARNING, Reason.CLEAR_REFUSED, str(exc)))
            return False
        if not selected:
            self.events.append(
                Event(EventType.NORMAL, Reason.CLEARED, "clear request: no task matched")
            )
            return False
        for name in selected:
            if not self.facts.run.state.finished:
                self._observe(name)
            tries = self.facts.resolved(name).max_tries
            pods = index.pods.get(name, {})
            self._take(name, clear_task(index.states[name], pods, tries, self.facts.now))
        self.cleared = True
        self.events.append(
            Event(
                EventType.NORMAL,
                Reason.CLEARED,
                f"cleared {len(selected)} tasks: {names(list(selected))}",
            )
        )
        return True

    def _mark(self) -> MarkEffect | None:
        """Apply the run's mark request; what it changed (None: nothing)."""
        facts, index, request = self.facts, self.index, self.facts.run.spec.mark
        assert request is not None
        finished = facts.run.state.finished
        try:
            selected = mark_selection(index.graph, request)
            if not finished:
                for name in selected:
                    self._observe(name)  # what its pods say first: a try may have just ended
            effect = mark_effect(index.graph, index.states, request)
        except MarkError as exc:
            self.events.append(Event(EventType.WARNING, Reason.MARK_REFUSED, str(exc)))
            return None
        if not effect.changes(facts.run.state):
            self.events.append(
                Event(EventType.NORMAL, Reason.MARKED, "mark request: nothing to change")
            )
            return None
        whole_run = effect.run_state is not None
        for name, state in effect.marked:
            old = index.states[name]
            step = mark_task(
                name,
                old,
                index.pods.get(name, {}),
                state,
                task_mark_reason(state, whole_run=whole_run),
                task_mark_message(old, state, whole_run=whole_run),
                facts.now,
            )
            self._take(name, step)
        for name in effect.cleared:
            tries = facts.resolved(name).max_tries
            self._take(
                name, clear_task(index.states[name], index.pods.get(name, {}), tries, facts.now)
            )
        if effect.cleared:
            self.cleared = True
        self.events.append(
            Event(EventType.NORMAL, Reason.MARKED, f"marked by hand: {effect.describe()}")
        )
        return effect

    def _marked_run(self, start: datetime, state: RunState) -> Plan:
        """The run as a whole was marked ``state``: it ends so (its tasks were marked)."""
        self._delete_leftovers(set(), everything=True)
        message = f"the run was marked {state.value} by hand"
        return self._result(state, start, self.facts.now, run_mark_reason(state), message)

    def _unchanged(self) -> Plan:
        run = self.facts.run
        return self._result(
            run.state, run.start_time, run.end_time, run.reason, run.message, finished=True
        )

    def _remarked(self) -> Plan:
        """A finished run whose tasks a mark changed without reopening it: its state by
        Airflow's rule again (a cancelled run stays so)."""
        run, index = self.facts.run, self.index
        if run.state is RunState.CANCELLED or not index.all_finished:
            # (Unfinished tasks in a finished run: it was aborted before they ran.)
            return self._unchanged()
        state, reason, message = outcome(index.graph, index.states)
        if state is run.state:
            return self._unchanged()
        return self._result(state, run.start_time, self.facts.now, reason, message)

    def _schedule(self, candidates: Iterable[str]) -> None:
        facts, index = self.facts, self.index
        slots = free_slots(facts.dag, index.active, facts.options)
        position = index.position
        heap = [(position[n], n) for n in candidates]
        heapq.heapify(heap)
        self.dirty.clear()
        done: set[str] = set()
        while True:
            waiting = index.next_scheduled() if slots > 0 else None
            if waiting is not None and (not heap or position[waiting] < heap[0][0]):
                name = index.take_scheduled()
            elif heap:
                name = heapq.heappop(heap)[1]
            else:
                break
            if name in done:
                continue
            done.add(name)
            self._observe(name)
            status = index.states[name]
            if status.state is TaskState.NONE:
                self._take(
                    name,
                    trigger(
                        facts,
                        name,
                        status,
                        index.upstream_counts(name),
                        partial(index.upstream_states, name),
                    ),
                )
            elif status.state is TaskState.UP_FOR_RETRY:
                self._take(name, retry_due(facts, status))
            status = index.states[name]
            if status.state is TaskState.SCHEDULED and slots > 0:
                step = start_try(facts, name, status, index.states)
                self._take(name, step)
                if step.create is not None:
                    slots -= 1
            for below in self.dirty:
                heapq.heappush(heap, (position[below], below))
            self.dirty.clear()

    def _stop(self, start: datetime, state: RunState, reason: str, message: str) -> Plan:
        index = self.index
        for name in index.graph.order:
            status = index.states[name]
            if not status.state.finished:
                self._take(
                    name,
                    stop_task(self.facts.now, status, index.pods.get(name, {}), reason, message),
                )
        self._delete_leftovers(set(), everything=True)
        run_reason = Reason.CANCELLED if state is RunState.CANCELLED else reason
        return self._result(state, start, self.facts.now, run_reason, message)

    def _delete_leftovers(self, moved: set[str], *, everything: bool) -> None:
        """Delete running pods no task is waiting for: old tries, tasks not in the DAG."""
        index = self.index
        for pod in index.stray:
            self._delete(delete(pod, Reason.UNKNOWN_TASK))
        tasks = (
            index.pods.keys()
            if everything
            else ((moved | index.doomed | index.before.keys()) & index.pods.keys())
        )
        doomed: set[str] = set()
        for name in tasks:
            status = index.states[name]
            for try_number, pod in index.pods[name].items():
                if status.try_number != try_number:
                    found = delete(pod, Reason.SUPERSEDED)
                elif not status.state.has_pod:
                    found = delete(pod, Reason.TRY_ENDED)
                else:
                    found = ()
                self._delete(found)
        for d in self.deletes.values():
            doomed.add(d.task)
        index.doomed = doomed

    def _timers(self) -> None:
        index = self.index
        for name in self.looked_at:
            index.set_timer(name, self.wakeups.get(name))

    def _result(
        self,
        state: RunState,
        start: datetime | None,
        end: datetime | None,
        reason: str | None = None,
        message: str | None = None,
        *,
        finished: bool = False,
        wakeup: datetime | None = None,
    ) -> Plan:
        index, run = self.index, self.facts.run
        actions: list[Action] = [*sorted(self.deletes.values(), key=lambda d: d.name)]
        actions.extend(self.creates)
        if end is not None and not finished:  # the run ends in this pass
            assert reason is not None
            assert message is not None
            actions.append(FinishRun(state, reason, message))
            clears = run.clear_number + (1 if self.cleared else 0)
            self.events.append(run_end_event(state, message, clears))
        position = index.position
        changed = tuple(
            sorted(
                (n for n, old in index.before.items() if index.states[n] != old),
                key=position.__getitem__,
            )
        )
        return Plan(
            run_state=state,
            start_time=start,
            end_time=end,
            tasks=dict(index.states),
            changed=changed,
            actions=tuple(actions),
            events=tuple(self.events),
            next_wakeup=wakeup if end is None else None,
            reason=reason,
            message=message,
            last_clear_id=self.facts.clear_id or run.last_clear_id,
            last_mark_id=self.facts.mark_id or run.last_mark_id,
            clear_number=run.clear_number + (1 if self.cleared else 0),
            counts={state: n for state, n in index.counts.items() if n},
            ended=tuple(self.ended),
        )
