"""Properties of the planner over random DAGs and random pod outcomes.

A simulated cluster runs each random DAG to its end: every pass, pods the plan created
appear, and each live pod moves on (starts, succeeds, fails, exits with a skip code, or
vanishes); the clock jumps to the plan's wake-up time when nothing else can happen.
"""

from dataclasses import replace
from datetime import timedelta
from typing import Any

from hypothesis import event, given, settings
from hypothesis import strategies as st
from plankit import World, dag

from airkube.api import DAGSpec, RunState, TaskState, TriggerRule
from airkube.core.model.observed import PodPhase
from airkube.core.model.reasons import Reason
from airkube.core.plan import plan
from airkube.core.states import run_transition_allowed, task_transition_allowed

SETTINGS = settings(max_examples=120, deadline=None)


@st.composite
def dags(draw: st.DrawFn) -> DAGSpec:
    count = draw(st.integers(min_value=1, max_value=7))
    tasks: list[dict[str, Any]] = []
    for i in range(count):
        upstream = draw(st.sets(st.integers(0, i - 1), max_size=3)) if i else set()
        task: dict[str, Any] = {
            "name": f"t{i}",
            "dependsOn": [f"t{u}" for u in sorted(upstream)],
            "triggerRule": draw(st.sampled_from(list(TriggerRule))).value,
            "retries": draw(st.integers(0, 2)),
            "retryDelay": draw(st.sampled_from(["0s", "5s", "90s"])),
            "retryExponentialBackoff": draw(st.booleans()),
        }
        if draw(st.booleans()):
            task["executionTimeout"] = "1m"
        tasks.append(task)
    fields: dict[str, Any] = {"maxActiveTasks": draw(st.integers(1, 4))}
    if draw(st.integers(0, 4)) == 0:
        fields["dagrunTimeout"] = "10m"
    return dag(*tasks, **fields)


OUTCOMES = ["succeed", "fail", "skip", "vanish", "start"]


def live(world: World) -> list[str]:
    return [name for name, p in world.pods.items() if not p.phase.terminal]


def evolve(world: World, data: st.DataObject) -> None:
    """Each live pod moves on; a pending pod may start, a running one ends."""
    for name in live(world):
        current = world.pods[name]
        choices = OUTCOMES if current.phase is PodPhase.PENDING else OUTCOMES[:4]
        outcome = data.draw(st.sampled_from(choices), label=f"{name}")
        start = current.start_time or world.now
        if outcome == "start":
            world.pods[name] = replace(current, phase=PodPhase.RUNNING, start_time=start)
        elif outcome == "vanish":
            del world.pods[name]
        else:
            code = {"succeed": 0, "fail": 1, "skip": 99}[outcome]
            phase = PodPhase.SUCCEEDED if code == 0 else PodPhase.FAILED
            world.pods[name] = replace(
                current, phase=phase, exit_code=code, start_time=start, finish_time=world.now
            )


@SETTINGS
@given(spec=dags(), data=st.data())
def test_runs_end_with_one_pod_per_try_and_airflows_final_state(
    spec: DAGSpec, data: st.DataObject
) -> None:
    world = World(spec)
    created: set[tuple[str, int]] = set()
    task_states: dict[str, TaskState] = {}
    run_state = world.run.state
    cancel_at = data.draw(st.one_of(st.none(), st.integers(0, 12)), label="cancel at")
    tries = sum(1 + t.retries for t in world.dag.tasks if t.retries is not None)
    bound = 4 * (tries + len(spec.tasks)) + 20

    for pass_number in range(bound):
        if pass_number == cancel_at:
            world.run = replace(world.run, spec=world.run.spec.model_copy(update={"cancel": True}))
        run_before, tasks_before = world.run, dict(world.tasks)
        pods_before = list(world.pods.values())
        p = world.step()

        assert plan(spec, run_before, tasks_before, pods_before, world.now) == p
        for create in p.creates:
            key = (create.task, create.try_number)
            assert key not in created, f"second pod for {key}"
            created.add(key)
        # Planning again before the new pods are seen asks for nothing more...
        new = {c.name for c in p.creates}
        unseen = [q for name, q in world.pods.items() if name not in new]
        assert not plan(spec, world.run, world.tasks, unseen, world.now).creates
        # ...and neither does planning again with the pods seen but the status write lost.
        lost = plan(spec, run_before, tasks_before, list(world.pods.values()), world.now)
        assert not {(c.task, c.try_number) for c in lost.creates} & created

        with_pods = sum(1 for status in p.tasks.values() if status.state.has_pod)
        assert with_pods <= spec.max_active_tasks
        for name, status in p.tasks.items():
            old = task_states.get(name, TaskState.NONE)
            assert task_transition_allowed(old, status.state), (name, old, status.state)
            task_states[name] = status.state
        assert run_transition_allowed(run_state, p.run_state)
        run_state = p.run_state

        if world.finished:
            break
        # A run never hangs: something is running, or a wake-up is due.
        assert live(world) or p.next_wakeup is not None, world.states()
        if live(world):
            evolve(world, data)
            jump = data.draw(st.sampled_from([timedelta(seconds=1), timedelta(minutes=2)]))
            world.advance(jump)
        else:
            assert p.next_wakeup is not None
            world.now = max(p.next_wakeup, world.now + timedelta(seconds=1))
    else:
        raise AssertionError(f"the run did not end in {bound} passes: {world.states()}")

    last = world.plans[-1]
    finish = last.finish
    assert finish is not None
    event(f"run ended: {finish.reason}")
    event(f"tries: {max(t for _, t in created) if created else 0}")
    assert all(s.state.finished for s in last.tasks.values())
    upstream = {name for t in spec.tasks for name in t.depends_on or ()}
    leaves = [t.name for t in spec.tasks if t.name not in upstream]
    if finish.reason in (Reason.TASKS_SUCCEEDED, Reason.TASK_FAILED):
        leaf_states = {last.tasks[name].state for name in leaves}
        failed = leaf_states & {TaskState.FAILED, TaskState.UPSTREAM_FAILED}
        assert finish.state is (RunState.FAILED if failed else RunState.SUCCEEDED)
    elif finish.reason == Reason.CANCELLED:
        assert finish.state is RunState.CANCELLED
    else:
        assert finish.reason == Reason.RUN_TIMEOUT
        assert finish.state is RunState.FAILED
    # Nothing is left running once the run has ended (the world removed what was deleted).
    assert not live(world)


@SETTINGS
@given(spec=dags(), data=st.data())
def test_the_incremental_planner_plans_what_a_full_replan_plans(
    spec: DAGSpec, data: st.DataObject
) -> None:
    """Each pass with the index the previous passes left gives exactly the plan of a pass
    that starts from the task states alone, whatever happens between passes: pods moving,
    vanishing or stuck terminating, timers coming, clear and mark requests (also of a
    finished run), cancelling."""
    world = World(spec)
    clears = 0
    names = [t.name for t in spec.tasks]
    for _ in range(80):
        run_before, tasks_before = world.run, dict(world.tasks)
        pods_before = list(world.pods.values())
        p = world.step()
        assert plan(spec, run_before, tasks_before, pods_before, world.now) == p
        if world.finished and (
            clears >= 2 or not data.draw(st.booleans(), label="clear the finished run")
        ):
            break
        choice = data.draw(
            st.sampled_from(
                ["evolve", "evolve", "evolve", "wait", "clear", "mark", "terminate", "cancel"]
            ),
            label="next",
        )
        if world.finished:
            choice = data.draw(st.sampled_from(["clear", "mark"]), label="reopen by")
        if choice == "mark":
            clears += 1
            named = data.draw(st.sets(st.sampled_from(names), max_size=2))
            relatives = bool(named) and data.draw(st.booleans())
            world.mark(
                f"m{clears}",
                state=data.draw(st.sampled_from(["Succeeded", "Failed"])),
                tasks=sorted(named) or None,
                upstream=relatives and data.draw(st.booleans()),
                downstream=relatives and data.draw(st.booleans()),
            )
        elif choice == "clear":
            clears += 1
            named = data.draw(st.sets(st.sampled_from(names), max_size=2))
            world.clear(
                f"c{clears}",
                tasks=sorted(named) or None,
                downstream=data.draw(st.booleans()),
                onlyFailed=data.draw(st.booleans()),
            )
        elif choice == "terminate" and live(world):
            name = data.draw(st.sampled_from(live(world)))
            world.pods[name] = replace(world.pods[name], deletion_time=world.now)
        elif choice == "cancel":
            world.run = replace(world.run, spec=world.run.spec.model_copy(update={"cancel": True}))
        elif choice == "wait" or not live(world):
            world.now = max(p.next_wakeup or world.now, world.now) + timedelta(seconds=1)
            continue
        evolve(world, data)
        world.advance(data.draw(st.sampled_from([timedelta(seconds=1), timedelta(minutes=6)])))


def test_a_cleared_tasks_timer_is_its_new_trys_not_the_cleared_ones() -> None:
    """Found by the property above: a clear in the pass that saw the old try's pod vanish,
    then the new try's pod vanishing before any pass saw it (nothing moved for the index)."""
    spec = dag({"name": "t0", "retries": 0})
    world = World(spec)
    world.step()
    world.clear("c1")
    world.pods.clear()
    world.advance(timedelta(seconds=1))
    world.step()
    world.pods.clear()
    world.advance(timedelta(seconds=1))
    run_before, tasks_before = world.run, dict(world.tasks)
    p = world.step()
    full = plan(spec, run_before, tasks_before, [], world.now)
    assert p == full
    assert p.next_wakeup == tasks_before["t0"].queued_time + timedelta(seconds=60)
