"""core.pending: why a try's pod waits, when it is said, and when the try fails."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from plankit import T0 as P0
from plankit import World, dag

from airkube.api import DAGSpec, TaskState, TaskStatus
from airkube.core.model.actions import EventType
from airkube.core.model.observed import ObservedPod, PodPhase
from airkube.core.model.reasons import Reason
from airkube.core.resolve import resolve_task
from airkube.core.rules.pending import MESSAGE_MAX_CHARS, TimedOut, Waiting, decide

T0 = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
LIMIT = timedelta(minutes=5)
SCHED = "0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector."
PULL = 'Back-off pulling image "registry.invalid/nothing:1"'


def status(reason: str | None = None, *, state: TaskState = TaskState.QUEUED) -> TaskStatus:
    return TaskStatus(state=state, try_number=1, pod_name="p", queued_time=T0, reason=reason)


def pod(
    reason: str | None = None, message: str | None = None, phase: PodPhase = PodPhase.PENDING
) -> ObservedPod:
    return ObservedPod(
        name="p",
        task="a",
        try_number=1,
        phase=phase,
        waiting_reason=reason,
        waiting_message=message,
    )


@dataclass(frozen=True)
class Case:
    id: str
    status: TaskStatus
    pod: ObservedPod
    after: timedelta
    reason: str | None
    message: str | None
    event: bool
    wakeup: datetime | None


CASES = [
    Case(
        "first seen unschedulable: shown, with an event",
        status(),
        pod("Unschedulable", SCHED),
        timedelta(seconds=1),
        "Unschedulable",
        f"waiting for its pod: Unschedulable: {SCHED}",
        True,
        T0 + LIMIT,
    ),
    Case(
        "still unschedulable: shown, no second event",
        status("Unschedulable"),
        pod("Unschedulable", SCHED),
        timedelta(minutes=1),
        "Unschedulable",
        f"waiting for its pod: Unschedulable: {SCHED}",
        False,
        T0 + LIMIT,
    ),
    Case(
        "a new reason: an event",
        status("Unschedulable"),
        pod("CreateContainerConfigError", 'secret "db" not found'),
        timedelta(minutes=1),
        "CreateContainerConfigError",
        'waiting for its pod: CreateContainerConfigError: secret "db" not found',
        True,
        T0 + LIMIT,
    ),
    Case(
        "the kubelet's pull and back-off alternate: one problem, one event",
        status("ErrImagePull"),
        pod("ImagePullBackOff", PULL),
        timedelta(minutes=1),
        "ImagePullBackOff",
        f"waiting for its pod: ImagePullBackOff: {PULL}",
        False,
        T0 + LIMIT,
    ),
    Case(
        "a reason without a message",
        status(),
        pod("ErrImageNeverPull"),
        timedelta(seconds=1),
        "ErrImageNeverPull",
        "waiting for its pod: ErrImageNeverPull",
        True,
        T0 + LIMIT,
    ),
    Case(
        "on its normal way: nothing shown, the deadline still holds",
        status(),
        pod("ContainerCreating"),
        timedelta(seconds=1),
        None,
        None,
        False,
        T0 + LIMIT,
    ),
    Case(
        "scheduled at last: the waiting reason goes away",
        status("Unschedulable"),
        pod("PodInitializing"),
        timedelta(minutes=2),
        None,
        None,
        False,
        T0 + LIMIT,
    ),
    Case(
        "running: never subject to the timeout, nothing shown",
        status("Unschedulable"),
        pod(phase=PodPhase.RUNNING),
        timedelta(hours=1),
        None,
        None,
        False,
        None,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_a_pod_that_has_not_started_is_waited_for_with_its_reason(case: Case) -> None:
    verdict = decide("a", case.status, case.pod, LIMIT, T0 + case.after)
    assert isinstance(verdict, Waiting)
    assert (verdict.reason, verdict.message, verdict.wakeup) == (
        case.reason,
        case.message,
        case.wakeup,
    )
    assert (verdict.event is not None) is case.event
    if verdict.event is not None:
        assert verdict.event.type is EventType.WARNING
        assert verdict.event.reason == Reason.POD_PENDING
        assert verdict.event.task == "a"
        assert case.message is not None
        assert case.message in verdict.event.message
        assert "pendingTimeout" in verdict.event.message


@pytest.mark.parametrize(
    ("observed", "why"),
    [
        (pod("Unschedulable", SCHED), f"Unschedulable: {SCHED}"),
        (pod("ImagePullBackOff", PULL), f"ImagePullBackOff: {PULL}"),
        (pod("ContainerCreating"), "it was still ContainerCreating"),
        (pod(), "it was still Pending"),
    ],
)
def test_a_pod_still_pending_at_the_timeout_fails_the_try_naming_why(
    observed: ObservedPod, why: str
) -> None:
    verdict = decide("a", status("Unschedulable"), observed, LIMIT, T0 + LIMIT)
    assert verdict == TimedOut(f"its pod did not start within its pendingTimeout (5m): {why}")
    assert verdict.reason == Reason.PENDING_TIMEOUT == "PendingTimeout"


def test_the_timeout_counts_from_the_tries_queued_time() -> None:
    later = status().model_copy(update={"queued_time": T0 + timedelta(minutes=3)})
    verdict = decide("a", later, pod("Unschedulable"), LIMIT, T0 + LIMIT)
    assert isinstance(verdict, Waiting)
    assert verdict.wakeup == T0 + timedelta(minutes=8)
    assert isinstance(decide("a", later, pod("Unschedulable"), LIMIT, T0 + 8 * LIMIT), TimedOut)


def test_a_running_pod_long_after_the_timeout_is_not_failed() -> None:
    for phase in (PodPhase.RUNNING, PodPhase.SUCCEEDED, PodPhase.FAILED):
        verdict = decide("a", status(state=TaskState.RUNNING), pod(phase=phase), LIMIT, T0 + LIMIT)
        assert verdict == Waiting()


def test_a_long_scheduler_message_is_shortened_on_one_line() -> None:
    long = "0/500 nodes are available:\n" + "x " * 2000
    verdict = decide("a", status(), pod("Unschedulable", long), LIMIT, T0)
    assert isinstance(verdict, Waiting)
    assert verdict.message is not None
    assert "\n" not in verdict.message
    assert len(verdict.message) <= len("waiting for its pod: ") + MESSAGE_MAX_CHARS
    assert verdict.message.endswith("…")


# Through the planner (the call site in core/plan.py's pod-active path).


def test_the_planner_shows_why_a_pod_waits_then_fails_the_try_and_retries() -> None:
    w = World(dag({"name": "a", "retries": 1, "retryDelay": "0s", "pendingTimeout": "20s"}))
    w.step()
    first = w.pod_of("a").name
    w.set_pod("a", PodPhase.PENDING, waiting_reason="Unschedulable", waiting_message=SCHED)
    w.advance(timedelta(seconds=1))
    p = w.step()
    assert w.tasks["a"].state is TaskState.QUEUED
    assert (w.tasks["a"].reason, w.tasks["a"].message) == (
        "Unschedulable",
        f"waiting for its pod: Unschedulable: {SCHED}",
    )
    assert [e.reason for e in p.events] == [Reason.POD_PENDING]
    assert p.next_wakeup == P0 + timedelta(seconds=20)
    assert p.changed == ("a",)

    w.advance(timedelta(seconds=5))
    p = w.step()
    assert not p.events
    assert not p.changed  # nothing new to write

    w.now = P0 + timedelta(seconds=20)
    p = w.step()
    assert [(d.name, d.reason) for d in p.deletes] == [(first, Reason.PENDING_TIMEOUT)]
    # retryDelay 0s: the next try starts in the same pass.
    assert [(c.task, c.try_number) for c in p.creates] == [("a", 2)]
    assert [e.reason for e in p.events] == [Reason.TASK_RETRYING]
    assert "PendingTimeout: its pod did not start within its pendingTimeout (20s)" in (
        p.events[0].message
    )
    assert (w.tasks["a"].state, w.tasks["a"].reason) == (TaskState.QUEUED, None)

    w.set_pod("a", PodPhase.PENDING, waiting_reason="ErrImagePull", waiting_message=PULL)
    w.advance(timedelta(seconds=20))
    w.step()
    assert w.tasks["a"].state is TaskState.FAILED
    assert w.tasks["a"].reason == Reason.PENDING_TIMEOUT
    assert w.tasks["a"].message == (
        f"its pod did not start within its pendingTimeout (20s): ErrImagePull: {PULL}"
    )
    assert w.finished


def test_the_planner_clears_the_waiting_reason_once_the_pod_runs() -> None:
    w = World(dag({"name": "a", "pendingTimeout": "20s"}))
    w.step()
    w.set_pod("a", PodPhase.PENDING, waiting_reason="ErrImagePull", waiting_message=PULL)
    w.step()
    assert w.tasks["a"].reason == "ErrImagePull"
    w.advance(timedelta(minutes=10))
    w.set_pod("a", PodPhase.RUNNING, waiting_reason=None, waiting_message=None)
    p = w.step()
    assert (w.tasks["a"].state, w.tasks["a"].reason, w.tasks["a"].message) == (
        TaskState.RUNNING,
        None,
        None,
    )
    assert not p.deletes


@pytest.mark.parametrize(
    ("task", "defaults", "expected"),
    [
        ({}, {}, timedelta(minutes=5)),  # Airflow's worker_pods_pending_timeout
        ({}, {"pendingTimeout": "1m"}, timedelta(minutes=1)),
        ({"pendingTimeout": "20s"}, {"pendingTimeout": "1m"}, timedelta(seconds=20)),
    ],
)
def test_pending_timeout_comes_from_the_task_then_the_defaults_then_5m(
    task: dict[str, str], defaults: dict[str, str], expected: timedelta
) -> None:
    spec = DAGSpec.model_validate(
        {"defaults": {"image": "x", **defaults}, "tasks": [{"name": "a", **task}]}
    )
    assert resolve_task(spec, spec.tasks[0]).pending_timeout == expected
