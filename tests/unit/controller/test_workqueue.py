"""The reconcile work queue: dedup, one worker per key, no lost wake-ups, timers, backoff."""

from __future__ import annotations

import asyncio
import contextlib
import itertools

import pytest
from kubernetes.client.exceptions import ApiException

from airkube.controller.workqueue import WorkQueue


async def run_until(queue: WorkQueue[str], handler, done: asyncio.Event, workers: int = 4) -> None:  # type: ignore[no-untyped-def]
    runner = asyncio.create_task(queue.run(handler, workers))
    try:
        await asyncio.wait_for(done.wait(), timeout=5)
    finally:
        runner.cancel()
        with pytest.raises(asyncio.CancelledError):
            await runner


def test_adding_a_waiting_key_twice_processes_it_once() -> None:
    async def main() -> list[str]:
        q: WorkQueue[str] = WorkQueue()
        seen: list[str] = []
        done = asyncio.Event()

        async def handler(key: str) -> None:
            seen.append(key)
            if key == "last":
                done.set()

        q.add("a")
        q.add("a")
        q.add("b")
        q.add("last")
        await run_until(q, handler, done, workers=1)
        return seen

    assert asyncio.run(main()) == ["a", "b", "last"]


def test_a_key_is_never_processed_by_two_workers_at_once_and_no_wakeup_is_lost() -> None:
    async def main() -> tuple[int, int]:
        q: WorkQueue[str] = WorkQueue()
        active = 0
        most = 0
        calls = 0
        done = asyncio.Event()

        async def handler(key: str) -> None:
            nonlocal active, most, calls
            active += 1
            most = max(most, active)
            calls += 1
            if calls == 1:
                q.add("run")  # a pod event arrives while the run is being reconciled
                q.add("run")
            await asyncio.sleep(0)
            active -= 1
            if calls == 2:
                done.set()

        q.add("run")
        await run_until(q, handler, done, workers=4)
        return most, calls

    most, calls = asyncio.run(main())
    assert most == 1
    assert calls == 2  # re-run once for the wake-ups that came during processing


def test_add_after_fires_and_an_earlier_timer_wins() -> None:
    async def main() -> list[tuple[str, float]]:
        q: WorkQueue[str] = WorkQueue()
        loop = asyncio.get_running_loop()
        start = loop.time()
        seen: list[tuple[str, float]] = []
        done = asyncio.Event()

        async def handler(key: str) -> None:
            seen.append((key, loop.time() - start))
            done.set()

        q.add_after("run", 30)
        q.add_after("run", 0.05)  # earlier: replaces the 30 s timer
        await run_until(q, handler, done)
        return seen

    [(key, after)] = asyncio.run(main())
    assert key == "run"
    assert 0.04 <= after < 5


def test_a_failing_handler_is_retried_not_fatal() -> None:
    async def main() -> int:
        q: WorkQueue[str] = WorkQueue()
        calls = 0
        failed = asyncio.Event()
        done = asyncio.Event()

        async def handler(key: str) -> None:
            nonlocal calls
            calls += 1
            if calls == 1:
                failed.set()
                raise RuntimeError("API server hiccup")
            done.set()

        q.add("run")
        # The retry waits 5 s by default; a zero-delay add proves the worker survived.
        runner = asyncio.create_task(q.run(handler, 1))
        await failed.wait()
        q.add("run")
        await asyncio.wait_for(done.wait(), timeout=5)
        runner.cancel()
        with pytest.raises(asyncio.CancelledError):
            await runner
        return calls

    assert asyncio.run(main()) == 2


def test_an_api_server_refusal_is_one_warning_line_without_a_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def main() -> None:
        q: WorkQueue[str] = WorkQueue()
        done = asyncio.Event()

        async def handler(key: str) -> None:
            done.set()
            raise ApiException(status=422, reason="status writes are refused for a while")

        q.add("run")
        await run_until(q, handler, done, workers=1)

    asyncio.run(main())
    [record] = [r for r in caplog.records if r.name == "airkube.controller.workqueue"]
    assert record.levelname == "WARNING"
    assert record.exc_info is None
    assert "answered 422: status writes are refused for a while" in record.getMessage()


def test_a_failing_key_backs_off_with_one_traceback_and_tells_its_owner_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    told: list[tuple[str, str, float]] = []

    async def main() -> list[float]:
        q: WorkQueue[str] = WorkQueue(first_retry_delay=0.05)
        done = asyncio.Event()
        attempts: list[float] = []
        loop = asyncio.get_running_loop()

        async def handler(key: str) -> None:
            if key == "good":
                return
            attempts.append(loop.time())
            if len(attempts) == 4:
                done.set()
            raise RuntimeError("a bug")

        async def on_failure(key: str, error: str, delay: float) -> None:
            told.append((key, error, delay))

        q.add("bad")
        q.add("good")
        worker = asyncio.create_task(q.run(handler, 2, on_failure))
        await asyncio.wait_for(done.wait(), 5)
        worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await worker
        return [b - a for a, b in itertools.pairwise(attempts)]

    gaps = asyncio.run(main())
    assert [round(g, 2) >= d for g, d in zip(gaps, (0.05, 0.1, 0.2), strict=True)] == [True] * 3
    records = [r for r in caplog.records if r.name == "airkube.controller.workqueue"]
    assert len(records) >= 3
    assert [r.exc_info is not None for r in records[:3]] == [True, False, False]
    assert "(2 times in a row)" in records[1].getMessage()
    assert told == [("bad", "RuntimeError: a bug", 0.05)]
