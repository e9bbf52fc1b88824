"""The event-loop watch measures how long work held the loop, and says so once per stall."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import time

import pytest

from airkube.controller.health import Health
from airkube.controller.loop_watch import LoopWatch


def test_a_stall_over_the_threshold_is_one_warning_and_the_largest_is_kept(
    caplog: pytest.LogCaptureFixture,
) -> None:
    watch = LoopWatch(warn_over=0.5)
    with caplog.at_level(logging.WARNING, logger="airkube"):
        for late in (0.01, 0.7, 0.2, 1.5):
            watch.saw(late)
    assert watch.largest == 1.5
    assert watch.stalls == 2
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2
    assert warnings[0].startswith("event loop stalled 0.70 s")


def test_work_that_blocks_the_loop_is_measured_as_a_stall_and_located(
    caplog: pytest.LogCaptureFixture,
) -> None:
    watch = LoopWatch(tick=0.01, warn_over=0.1)

    async def main() -> None:
        task = asyncio.create_task(watch.run())
        await asyncio.sleep(0.05)
        time.sleep(0.3)  # the work that does not yield
        await asyncio.sleep(0.05)
        task.cancel()

    with caplog.at_level(logging.WARNING, logger="airkube"):
        asyncio.run(main())
    assert 0.25 < watch.largest < 1.0
    stall = [r.getMessage() for r in caplog.records if "stalled" in r.getMessage()]
    assert len(stall) == 1
    assert "in test_loop_watch.py" in stall[0]
    assert "main" in stall[0]
    assert watch.summary().startswith("event loop: largest stall 0.")


def test_healthz_reports_the_largest_stall() -> None:
    health = Health(lambda: None, lambda: {"largestLoopStallS": 0.25})

    async def main() -> dict[str, object]:
        port = await health.start(0, host="127.0.0.1")
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET /healthz HTTP/1.0\r\n\r\n")
            body = (await reader.read()).split(b"\r\n\r\n", 1)[1]
            writer.close()
        finally:
            await health.stop()
        return dict(json.loads(body))

    assert asyncio.run(main()) == {"ok": True, "largestLoopStallS": 0.25}


def test_time_in_the_garbage_collector_is_counted_and_named_in_the_stall() -> None:
    watch = LoopWatch(tick=0.01, warn_over=10)

    async def main() -> None:
        task = asyncio.create_task(watch.run())
        await asyncio.sleep(0.05)
        gc.collect()
        await asyncio.sleep(0.05)
        task.cancel()

    asyncio.run(main())
    assert watch.gc_total > 0
    assert watch.gc_longest <= watch.gc_total
    assert "garbage collection" in watch.summary()
    assert watch._gc not in gc.callbacks  # removed when the watch stops
