"""Task tries: one row per try, idempotent, never moving backwards."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from store_testing import NS, at, run, task_try

from airkube.store import Store, StoredTaskTry
from airkube.store.models import TaskInstance

RUN = "etl-manual-1"


def count_tries(store: Store) -> int:
    with store.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(TaskInstance)).scalar_one()


def only_try(store: Store) -> StoredTaskTry:
    (one,) = store.task_tries(NS, RUN)
    return one


def test_a_try_is_recorded_with_every_field(store: Store) -> None:
    record = task_try(
        "load",
        2,
        state="Failed",
        pod_name="etl-manual-1-load-2",
        start_time=at(1),
        end_time=at(4),
        exit_code=3,
        output='{"rows": 10}',
        message="exit code 3",
        reason="Error",
    )
    store.record_pass(run(state="Running"), [record], now=at(5))

    got = only_try(store)
    assert (got.task_name, got.try_number, got.state, got.pod_name) == (
        "load",
        2,
        "Failed",
        "etl-manual-1-load-2",
    )
    assert (got.start_time, got.end_time, got.exit_code) == (at(1), at(4), 3)
    assert (got.output, got.message, got.reason) == ('{"rows": 10}', "exit code 3", "Error")
    assert (got.created_at, got.updated_at) == (at(5), at(5))


def test_each_try_is_its_own_row(store: Store) -> None:
    store.record_pass(
        run(state="Running"),
        [
            task_try("extract", 1, state="UpForRetry", exit_code=1),
            task_try("extract", 2, state="Running"),
            task_try("load", 0, state="None"),
        ],
        now=at(1),
    )

    assert [(t.task_name, t.try_number, t.state) for t in store.task_tries(NS, RUN)] == [
        ("extract", 1, "UpForRetry"),
        ("extract", 2, "Running"),
        ("load", 0, "None"),
    ]


def test_replaying_a_pass_does_not_duplicate_rows_or_change_facts(store: Store) -> None:
    tries = [
        task_try("a", state="Succeeded", exit_code=0, end_time=at(3)),
        task_try("b", state="Running", pod_name="pod-b", start_time=at(2)),
    ]
    store.record_pass(run(state="Running"), tries, now=at(4))
    before = store.task_tries(NS, RUN)
    store.record_pass(run(state="Running"), tries, now=at(4))

    assert count_tries(store) == 2
    assert store.task_tries(NS, RUN) == before


@pytest.mark.parametrize(
    ("newer", "older"),
    [
        ("Queued", "Scheduled"),
        ("Running", "Queued"),
        ("Succeeded", "Running"),
        ("Failed", "Queued"),
        ("UpForRetry", "Running"),
        ("Skipped", "UpForRetry"),
        ("UpstreamFailed", "None"),
    ],
)
def test_an_older_try_state_written_late_does_not_regress_it(
    store: Store, newer: str, older: str
) -> None:
    store.record_pass(run(), [task_try(state=newer, message="newer")], now=at(2))
    store.record_task_tries(NS, RUN, [task_try(state=older, message="older")], now=at(3))

    got = only_try(store)
    assert (got.state, got.message, got.updated_at) == (newer, "newer", at(2))


def test_the_first_terminal_try_state_wins(store: Store) -> None:
    store.record_pass(run(), [task_try(state="Succeeded", exit_code=0)], now=at(1))
    store.record_task_tries(NS, RUN, [task_try(state="Failed", exit_code=137)], now=at(2))

    got = only_try(store)
    assert (got.state, got.exit_code) == ("Succeeded", 0)


def test_up_for_retry_may_still_end_skipped_when_the_run_is_cancelled(store: Store) -> None:
    store.record_pass(run(), [task_try(state="UpForRetry", exit_code=1)], now=at(1))
    store.record_task_tries(NS, RUN, [task_try(state="Skipped", reason="RunCancelled")], now=at(2))

    got = only_try(store)
    assert (got.state, got.reason, got.exit_code) == ("Skipped", "RunCancelled", None)


def test_a_try_keeps_its_pod_and_start_time_when_later_writes_lack_them(store: Store) -> None:
    store.record_pass(
        run(), [task_try(state="Running", pod_name="pod-1", start_time=at(1))], now=at(1)
    )
    store.record_task_tries(NS, RUN, [task_try(state="Succeeded", end_time=at(5))], now=at(5))

    got = only_try(store)
    assert (got.state, got.pod_name, got.start_time, got.end_time) == (
        "Succeeded",
        "pod-1",
        at(1),
        at(5),
    )


def test_a_batch_naming_a_try_twice_applies_the_writes_in_order(store: Store) -> None:
    store.record_pass(
        run(),
        [
            task_try(state="Running", pod_name="p"),
            task_try(state="Succeeded", exit_code=0),
            task_try(state="Queued"),
        ],
        now=at(1),
    )

    got = only_try(store)
    assert (got.state, got.pod_name, got.exit_code) == ("Succeeded", "p", 0)
    assert count_tries(store) == 1


def test_output_is_clipped_to_4_kib_on_a_character_boundary(store: Store) -> None:
    output = "é" * 3000  # 6000 bytes in UTF-8
    store.record_pass(run(), [task_try(state="Succeeded", output=output)], now=at(1))

    got = only_try(store)
    assert got.output is not None
    assert got.output == "é" * 2048
    assert len(got.output.encode()) == 4096


def test_nul_characters_in_pod_text_are_stored_as_replacement_characters(store: Store) -> None:
    store.record_pass(
        run(), [task_try(state="Failed", output="a\x00b", message="m\x00")], now=at(1)
    )

    got = only_try(store)
    assert (got.output, got.message) == ("a\ufffdb", "m\ufffd")


def test_a_large_pass_writes_every_try(store: Store) -> None:
    tries = [task_try(f"task-{i:03}", state="Running") for i in range(450)]
    store.record_pass(run(state="Running"), tries, now=at(1))
    store.record_pass(run(state="Running"), [*tries[:-1], task_try("task-449", state="Failed")])

    got = store.task_tries(NS, RUN)
    assert len(got) == count_tries(store) == 450
    assert [t.state for t in got[-2:]] == ["Running", "Failed"]


def test_the_try_0_row_of_a_task_that_ended_untried_goes_once_it_tries(store: Store) -> None:
    store.record_pass(
        run(state="Running"),
        [task_try("load", 0, state="UpstreamFailed"), task_try("other", 0, state="Skipped")],
        now=at(1),
    )
    # Cleared: the task runs its first try; its try-0 row was no try.
    store.record_pass(run(state="Running"), [task_try("load", 1, state="Queued")], now=at(2))
    assert [(t.task_name, t.try_number, t.state) for t in store.task_tries(NS, RUN)] == [
        ("load", 1, "Queued"),
        ("other", 0, "Skipped"),
    ]


def test_a_state_set_by_hand_replaces_a_terminal_one(store: Store) -> None:
    failed = task_try("load", 1, state="Failed", exit_code=1, reason="Error", message="boom")
    store.record_pass(run(state="Failed"), [failed], now=at(1))
    # An ordinary write cannot move a terminal try to another terminal state...
    store.record_pass(run(state="Failed"), [task_try("load", 1, state="Succeeded")], now=at(2))
    assert only_try(store).state == "Failed"
    # ...a mark can, and a stale ordinary write after it changes nothing.
    marked = task_try(
        "load",
        1,
        state="Succeeded",
        exit_code=1,
        reason="MarkedSuccess",
        message="marked Succeeded by hand (it was Failed, Error)",
        by_hand=True,
    )
    store.record_pass(run(state="Succeeded", by_hand=True), [marked, failed], now=at(3))
    store.record_pass(run(state="Failed"), [failed], now=at(4))
    got = only_try(store)
    assert (got.state, got.reason, got.exit_code) == ("Succeeded", "MarkedSuccess", 1)
    assert got.message == "marked Succeeded by hand (it was Failed, Error)"
    stored = store.get_run(NS, RUN)
    assert stored is not None
    assert stored.state == "Succeeded"
