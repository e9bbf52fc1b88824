"""Property tests: any order of writes, in any batching, ends where the rules say.

The model folds writes with the rules of airkube.store.states in plain Python; the
store, doing the same through INSERT … ON CONFLICT on each backend, must agree.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from store_testing import NS, at, run, task_try

from airkube.store import RUN_STATES, TASK_STATES, Store
from airkube.store.states import RUN_STATE_RANK, TASK_STATE_RANK

SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],  # unique rows per example
)
names = itertools.count()


@dataclass(frozen=True)
class Fact:
    state: str
    pod: str | None
    message: str | None
    clear_number: int = 0


def fold(stored: Fact | None, new: Fact, ranks: dict[str, int]) -> Fact:
    """The rules, written plainly."""
    if stored is None or new.clear_number > stored.clear_number:
        return new
    if new.clear_number < stored.clear_number:
        return stored
    if new.state == stored.state:
        return Fact(
            new.state, new.pod or stored.pod, new.message or stored.message, new.clear_number
        )
    if ranks[new.state] > ranks[stored.state]:
        return Fact(new.state, new.pod or stored.pod, new.message, new.clear_number)
    return stored


def facts(states: tuple[str, ...], clears: bool) -> st.SearchStrategy[Fact]:
    return st.builds(
        Fact,
        state=st.sampled_from(states),
        pod=st.sampled_from([None, "pod-a", "pod-b"]),
        message=st.sampled_from([None, "m1", "m2"]),
        clear_number=st.integers(0, 1) if clears else st.just(0),
    )


def batches(writes: list[Fact], cuts: list[int]) -> list[list[Fact]]:
    """The writes split into consecutive passes at the given cut points."""
    points = sorted({c % (len(writes) + 1) for c in cuts} | {0, len(writes)})
    return [writes[a:b] for a, b in itertools.pairwise(points) if b > a]


@SETTINGS
@given(
    writes=st.lists(facts(TASK_STATES, clears=False), min_size=1, max_size=8),
    cuts=st.lists(st.integers(0, 8), max_size=4),
)
def test_task_tries_end_where_the_rules_say(
    store: Store, writes: list[Fact], cuts: list[int]
) -> None:
    name = f"prop-{next(names)}"
    store.upsert_run(run(name), now=at(0))
    for i, batch in enumerate(batches(writes, cuts)):
        tries = [task_try(state=f.state, pod_name=f.pod, message=f.message) for f in batch]
        store.record_task_tries(NS, name, tries, now=at(i + 1))

    expected: Fact | None = None
    for f in writes:
        expected = fold(expected, f, dict(TASK_STATE_RANK))
    (got,) = store.task_tries(NS, name)
    assert Fact(got.state, got.pod_name, got.message) == expected


@SETTINGS
@given(writes=st.lists(facts(RUN_STATES, clears=True), min_size=1, max_size=8))
def test_runs_end_where_the_rules_say(store: Store, writes: list[Fact]) -> None:
    name = f"prop-run-{next(names)}"
    for i, f in enumerate(writes):
        record = run(
            name, state=f.state, dag_version=f.pod, message=f.message, clear_number=f.clear_number
        )
        store.upsert_run(record, now=at(i))

    expected: Fact | None = None
    for f in writes:
        expected = fold(expected, f, dict(RUN_STATE_RANK))
    got = store.get_run(NS, name)
    assert got is not None
    assert Fact(got.state, got.dag_version, got.message, got.clear_number) == expected
