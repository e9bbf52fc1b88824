"""Watching the operator's own event loop: how long it went without running anything else.

Everything of the operator shares one asyncio loop (kopf's watches, the work queues, the
schedule loop, the health endpoint), so work that does not yield delays all of them: a
big DAG's checks or templates run in threads for that reason. This watch sleeps a short
tick and measures how late it wakes: the lateness is the longest any other work held the
loop. A stall over ``warn_over`` seconds is one WARNING line; the largest one is kept for
``/healthz`` and said once when the operator stops.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Final

log = logging.getLogger("airkube")

TICK_S: Final = 0.1
WARN_OVER_S: Final = 0.5


class LoopWatch:
    """Measures the event loop's stalls while :meth:`run` runs."""

    def __init__(
        self,
        tick: float = TICK_S,
        warn_over: float = WARN_OVER_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.tick = tick
        self.warn_over = warn_over
        self._clock = clock
        self.largest = 0.0
        """The longest stall seen, in seconds."""
        self.stalls = 0
        """How many stalls went over ``warn_over``."""
        self._started: float | None = None

    def saw(self, late: float) -> None:
        """One wake-up ``late`` seconds after it was due."""
        self.largest = max(self.largest, late)
        if late > self.warn_over:
            self.stalls += 1
            log.warning(
                "event loop stalled %.2f s: work on it did not yield (every watch, queue and "
                "probe of this operator waited)",
                late,
            )

    async def run(self) -> None:
        """Tick until cancelled."""
        self._started = self._clock()
        while True:
            due = self._clock() + self.tick
            await asyncio.sleep(self.tick)
            self.saw(max(0.0, self._clock() - due))

    def summary(self) -> str:
        running = self._clock() - self._started if self._started is not None else 0.0
        return (
            f"event loop: largest stall {self.largest:.3f} s, {self.stalls} over "
            f"{self.warn_over:g} s, in {running:.0f} s of running"
        )
