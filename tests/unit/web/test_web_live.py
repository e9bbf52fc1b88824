"""The live hub (airkube.web.live) with a fake watch source: one watch per kind whatever
the number of subscribers, fan-out through filters, bounded queues that turn into a
resync, resuming from the last resourceVersion, relisting on 410 Gone, and replay for a
reconnecting browser (Last-Event-ID)."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest
from live_fakes import END, FakeSource

from airkube.web.live import (
    DAG,
    DAGRUN,
    KINDS,
    POD,
    RESYNC_BEHIND,
    RESYNC_UNKNOWN_ID,
    Change,
    Filter,
    GoneError,
    Hub,
    Item,
    Resync,
    Subscription,
    change_of,
    follow_kind,
    sse,
)


def dagrun(name: str, rv: str, state: str = "Running", dag: str = "etl") -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": "data", "resourceVersion": rv},
        "spec": {"dagRef": {"name": dag}},
        "status": {"state": state},
    }


def pod(name: str, rv: str, run: str, task: str, phase: str = "Running") -> dict[str, Any]:
    return {
        "metadata": {
            "name": name,
            "namespace": "data",
            "resourceVersion": rv,
            "labels": {"airkube.io/run": run, "airkube.io/task": task, "airkube.io/try": "1"},
            "annotations": {"airkube.io/dag": "etl", "airkube.io/run": run},
        },
        "status": {"phase": phase},
    }


def change(rv: str, run: str = "r1", kind: str = DAGRUN, task: str | None = None) -> Change:
    return Change(rv, kind, "MODIFIED", "data", run, dag="etl", run=run, task=task)


def run_follow(source: FakeSource, kind: str, until: int) -> list[Item]:
    """follow_kind in a thread until it emitted ``until`` items."""
    got: list[Item] = []
    stopping = threading.Event()

    def emit(item: Item) -> None:
        got.append(item)
        if len(got) >= until:
            stopping.set()

    t = threading.Thread(
        target=follow_kind,
        args=(source, kind, "data", emit, stopping),
        kwargs={"retry": (0.0,)},
        daemon=True,
    )
    t.start()
    assert stopping.wait(10), f"emitted only {got}"
    source.close()  # as the hub does when it stops: ends the watch in progress
    t.join(10)
    assert not t.is_alive(), f"follow_kind still running; emitted {got}"
    return got


def test_a_watch_resumes_from_the_last_resource_version_when_it_ends_or_breaks() -> None:
    source = FakeSource()
    feed = source.feed(DAGRUN)
    feed.put({"type": "ADDED", "object": dagrun("r1", "101")})
    feed.put(END)  # the server ended the watch (its timeout)
    feed.put({"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "150"}}})
    feed.put(ConnectionResetError("connection reset"))
    feed.put({"type": "MODIFIED", "object": dagrun("r1", "151", "Succeeded")})
    got = run_follow(source, DAGRUN, until=3)
    assert got[0] == Resync("the DAGRun watch listed at 100")  # for early subscribers
    assert got[1:] == [
        change_of(DAGRUN, {"type": "ADDED", "object": dagrun("r1", "101")}),
        change_of(DAGRUN, {"type": "MODIFIED", "object": dagrun("r1", "151", "Succeeded")}),
    ]
    assert source.lists == [(DAGRUN, "data")]  # listed once: no relist for a broken watch
    assert [w[2] for w in source.watches] == ["100", "101", "150"]


def test_a_gone_watch_lists_again_and_tells_subscribers_to_resync() -> None:
    source = FakeSource()
    feed = source.feed(DAGRUN)
    feed.put({"type": "ADDED", "object": dagrun("r1", "101")})
    feed.put({"type": "ERROR", "object": {"code": 410, "message": "too old resource version"}})
    feed.put({"type": "MODIFIED", "object": dagrun("r1", "300")})
    source.version = "299"
    got = run_follow(source, DAGRUN, until=4)
    assert [c.id if isinstance(c, Change) else "resync" for c in got] == [
        "resync",
        "101",
        "resync",  # what changed between 101 and the new list is unknown
        "300",
    ]
    assert source.lists == [(DAGRUN, "data"), (DAGRUN, "data")]
    assert [w[2] for w in source.watches] == ["299", "299"]


def test_a_410_answer_to_the_watch_request_is_gone_too() -> None:
    source = FakeSource()
    feed = source.feed(POD)
    feed.put(GoneError("410"))
    feed.put({"type": "ADDED", "object": pod("p1", "120", "r1", "load")})
    got = run_follow(source, POD, until=3)
    assert isinstance(got[0], Resync)
    assert isinstance(got[1], Resync)
    assert got[2] == Change(
        "120", POD, "ADDED", "data", "p1", "etl", "r1", "load", try_number=1, state="Running"
    )
    assert len(source.lists) == 2


def test_change_of_reads_names_from_a_pods_annotations_and_ignores_bookmarks() -> None:
    long_run = "r" * 70  # longer than a label value: the label was shortened
    p = pod("p1", "5", run="shortened-abc123", task="load")
    p["metadata"]["annotations"]["airkube.io/run"] = long_run
    c = change_of(POD, {"type": "MODIFIED", "object": p})
    assert c is not None
    assert (c.run, c.task, c.try_number) == (long_run, "load", 1)
    assert change_of(DAGRUN, {"type": "BOOKMARK", "object": {"metadata": {}}}) is None
    meta = {"name": "etl", "namespace": "data", "resourceVersion": "9"}
    dag = change_of(DAG, {"type": "DELETED", "object": {"metadata": meta}})
    assert dag == Change("9", DAG, "DELETED", "data", "etl", dag="etl")


@pytest.mark.parametrize(
    ("filter", "wanted"),
    [
        (Filter("data"), {"dag", "run-r1", "run-r2", "pod-r1-load", "pod-r1-fetch"}),
        (Filter("other"), set()),
        (Filter("data", dag="etl"), {"dag", "run-r1", "run-r2", "pod-r1-load", "pod-r1-fetch"}),
        (Filter("data", dag="report"), set()),
        (Filter("data", run="r1"), {"run-r1", "pod-r1-load", "pod-r1-fetch"}),
        (Filter("data", run="r1", task="load"), {"run-r1", "pod-r1-load"}),
        (Filter("data", run="r1", kinds=frozenset({DAGRUN})), {"run-r1"}),
        (Filter("data", kinds=frozenset({DAG})), {"dag"}),
    ],
)
def test_filters(filter: Filter, wanted: set[str]) -> None:
    changes = {
        "dag": Change("1", DAG, "MODIFIED", "data", "etl", dag="etl"),
        "run-r1": change("2", "r1"),
        "run-r2": change("3", "r2"),
        "pod-r1-load": change("4", "r1", POD, "load"),
        "pod-r1-fetch": change("5", "r1", POD, "fetch"),
    }
    assert {k for k, c in changes.items() if filter.matches(c)} == wanted


def drain(sub: Subscription) -> list[Item]:
    out = []
    while not sub.queue.empty():
        out.append(sub.queue.get_nowait())
    return out


def test_a_subscriber_that_falls_behind_gets_one_resync_instead_of_a_growing_queue() -> None:
    async def main() -> None:
        sub = Subscription(Filter("data"), size=3)
        for i in range(10):
            sub.offer(change(str(i)))
        assert sub.queue.qsize() <= 3
        items = drain(sub)
        assert RESYNC_BEHIND in items
        sub.offer(change("11"))  # then it goes on with the new changes
        assert drain(sub) == [change("11")]

    asyncio.run(main())


def started_hub(source: FakeSource, **kwargs: Any) -> Hub:
    hub = Hub(source, retry=(0.0,), **kwargs)
    hub.start()
    return hub


async def until(predicate: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


async def next_change(sub: Subscription) -> Change:
    """The subscriber's next change, past the resyncs of the watches' first lists."""
    while True:
        item = await asyncio.wait_for(sub.get(), 5)
        if isinstance(item, Change):
            return item


def test_one_watch_per_kind_fans_out_to_every_matching_subscriber() -> None:
    source = FakeSource()

    async def main() -> None:
        hub = started_hub(source)
        try:
            subs = [hub.subscribe(Filter("data", run="r1")) for _ in range(50)]
            other = hub.subscribe(Filter("data", run="r2"))
            await until(lambda: len(source.watches) == len(KINDS))
            source.feed(DAGRUN).put({"type": "MODIFIED", "object": dagrun("r1", "101")})
            got = await asyncio.gather(*(next_change(s) for s in subs))
            assert {c.id for c in got} == {"101"}
            assert not [c for c in drain(other) if isinstance(c, Change)]
            # Fifty tabs, still one watch per kind (and namespace).
            assert sorted((k, ns) for k, ns, _ in source.watches) == sorted(
                (k, "data") for k in KINDS
            )
            hub.unsubscribe(subs[0])
            assert hub.subscribers() == 50
        finally:
            hub.stop()

    asyncio.run(main())


def test_a_reconnecting_subscriber_gets_what_it_missed_or_a_resync() -> None:
    source = FakeSource()

    async def main() -> None:
        hub = started_hub(source, ring_size=3)
        try:
            first = hub.subscribe(Filter("data", run="r1"))
            await until(lambda: len(source.watches) == len(KINDS))  # listed: resyncs sent
            feed = source.feed(DAGRUN)
            for rv, run in (("101", "r1"), ("102", "r2"), ("103", "r1")):
                feed.put({"type": "MODIFIED", "object": dagrun(run, rv)})
            await until(lambda: [c.id for c in hub.scopes["data"].ring] == ["101", "102", "103"])
            hub.unsubscribe(first)
            again = hub.subscribe(Filter("data", run="r1"), last_id="101")
            assert [c.id for c in drain(again) if isinstance(c, Change)] == ["103"]
            for rv in ("104", "105", "106"):
                feed.put({"type": "MODIFIED", "object": dagrun("r2", rv)})
            await until(lambda: [c.id for c in hub.scopes["data"].ring][-1] == "106")
            # 101 has left the ring of three: what followed it is unknown.
            late = hub.subscribe(Filter("data", run="r1"), last_id="101")
            assert drain(late) == [RESYNC_UNKNOWN_ID]
        finally:
            hub.stop()

    asyncio.run(main())


def test_a_relist_resyncs_every_subscriber_of_the_namespace_and_forgets_the_ring() -> None:
    source = FakeSource()

    async def main() -> None:
        hub = started_hub(source)
        try:
            sub = hub.subscribe(Filter("data", run="r1", kinds=frozenset({DAGRUN})))
            feed = source.feed(POD)
            await until(lambda: len(source.watches) == len(KINDS))
            source.feed(DAGRUN).put({"type": "MODIFIED", "object": dagrun("r1", "101")})
            assert await next_change(sub) == change_of(
                DAGRUN, {"type": "MODIFIED", "object": dagrun("r1", "101")}
            )
            feed.put({"type": "ERROR", "object": {"code": 410, "message": "expired"}})
            item = await asyncio.wait_for(sub.get(), 5)
            assert isinstance(item, Resync), item
            assert not hub.scopes["data"].ring
            assert hub.subscribe(Filter("data"), last_id="101").queue.get_nowait() == (
                RESYNC_UNKNOWN_ID
            )
        finally:
            hub.stop()

    asyncio.run(main())


def test_server_sent_events_carry_the_resource_version_as_id() -> None:
    text = sse(change("101"))
    assert text.startswith("id: 101\nevent: change\ndata: {")
    assert text.endswith("\n\n")
    assert text.count("\n") == 4
    assert sse(Resync("gap")) == 'event: resync\ndata: {"reason": "gap"}\n\n'
