"""How a run ends: Airflow's rule once every task has finished, or stopped early
(cancelled, timed out, aborted) with its unfinished tasks Skipped and their pods deleted."""

from collections.abc import Iterable, Mapping
from datetime import datetime

from airkube.api.dagrun import DAGRunStatus, TaskStatus
from airkube.api.states import RunState, TaskState
from airkube.core.graph import Graph
from airkube.core.model.actions import Action, DeletePod, Event, FinishRun
from airkube.core.model.observed import ObservedPod
from airkube.core.model.reasons import Reason
from airkube.core.model.result import Plan
from airkube.core.model.step import Step
from airkube.core.model.text import names
from airkube.core.plan.observe import delete
from airkube.core.rules.events import run_end_event
from airkube.core.states import run_outcome


def outcome(graph: Graph, states: Mapping[str, TaskStatus]) -> tuple[RunState, str, str]:
    """The end of a run whose tasks have all finished: its state, reason and message."""
    leaves = [name for name in graph.order if name in graph.leaves]
    state = run_outcome(states[name].state for name in leaves)
    if state is RunState.FAILED:
        # Name the tasks that failed, wherever they are: the leaves that made the run
        # fail may only be UpstreamFailed because of them.
        failed = [n for n in graph.order if states[n].state is TaskState.FAILED]
        return state, Reason.TASK_FAILED, f"tasks failed: {names(failed)}"
    return state, Reason.TASKS_SUCCEEDED, f"all {len(states)} tasks finished"


def stop_task(
    now: datetime,
    status: TaskStatus,
    pods: Mapping[int, ObservedPod],
    reason: str,
    message: str,
) -> Step:
    """An unfinished task of a run that stops: Skipped, its running pod deleted."""
    deletes: tuple[DeletePod, ...] = ()
    if status.state.has_pod:
        pod = pods.get(status.try_number)
        if pod is not None:
            deletes = delete(pod, reason)
    skipped = status.model_copy(
        update={
            "state": TaskState.SKIPPED,
            "reason": reason,
            "message": message,
            "end_time": now,
            "next_retry_time": None,
        }
    )
    return Step(skipped, deletes=deletes)


def abort(
    run: DAGRunStatus,
    pods: Iterable[ObservedPod],
    now: datetime,
    reason: str,
    message: str,
) -> Plan:
    """The run fails at once, whatever its DAG (a version lost, params or the DAGRun no
    longer valid): as a cancelled run stops, its unfinished tasks are Skipped and every pod
    still running is deleted. ``run`` is its status as written; no DAG spec is needed."""
    by_task: dict[str, dict[int, ObservedPod]] = {}
    for pod in pods:
        by_task.setdefault(pod.task, {}).setdefault(pod.try_number, pod)
    tasks = dict(run.tasks or {})
    changed = []
    for name, status in list(tasks.items()):
        if not status.state.finished:
            tasks[name] = stop_task(now, status, by_task.get(name, {}), reason, message).status
            changed.append(name)
    deletes: dict[str, DeletePod] = {}
    for task_pods in by_task.values():
        for pod in task_pods.values():
            for d in delete(pod, reason):
                deletes.setdefault(d.name, d)
    finished = run.state.finished
    actions: list[Action] = [deletes[name] for name in sorted(deletes)]
    events: tuple[Event, ...] = ()
    if not finished:
        actions.append(FinishRun(RunState.FAILED, reason, message))
        events = (run_end_event(RunState.FAILED, message, run.clear_number or 0, reason),)
    return Plan(
        run_state=run.state if finished else RunState.FAILED,
        start_time=run.start_time or now,
        end_time=run.end_time if finished else now,
        tasks=tasks,
        changed=tuple(changed),
        actions=tuple(actions),
        events=events,
        next_wakeup=None,
        reason=run.reason if finished else reason,
        message=run.message if finished else message,
        last_clear_id=run.last_clear_id,
        clear_number=run.clear_number or 0,
    )
