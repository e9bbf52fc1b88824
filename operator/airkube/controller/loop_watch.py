"""Watching the operator's own event loop: how long it went without running anything else.

Everything of the operator shares one asyncio loop (kopf's watches, the work queues, the
schedule loop, the health endpoint), so work that does not yield delays all of them: a
big DAG's checks and a run's pass run in threads for that reason. This watch sleeps a
short tick on the loop and measures how late it wakes: the lateness is the longest any
other work held the loop. A stall over ``warn_over`` seconds is one WARNING line that says
where the loop was (a thread beside it looks at the loop's stack once a stall has gone on
that long) and how much of it was Python's garbage collector (a big run's heap makes its
full collections long); the largest stall is kept for ``/healthz`` and said once when the
operator stops.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import sys
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Final

log = logging.getLogger("airkube")

TICK_S: Final = 0.1
WARN_OVER_S: Final = 0.5
_PACKAGE = str(Path(__file__).resolve().parent.parent)


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
        self._last_tick = 0.0
        self._where: str | None = None
        """Where the loop was during the current stall (the sampler thread's finding)."""
        self._gc_started: float | None = None
        self._gc_in_tick = 0.0
        """Seconds the garbage collector ran since the last tick (on any thread)."""
        self.gc_total = 0.0
        self.gc_longest = 0.0

    def saw(self, late: float, where: str | None = None, gc_s: float = 0.0) -> None:
        """One wake-up ``late`` seconds after it was due; ``where`` the loop was meanwhile,
        ``gc_s`` the garbage collector's share."""
        self.largest = max(self.largest, late)
        if late > self.warn_over:
            self.stalls += 1
            log.warning(
                "event loop stalled %.2f s%s%s: every watch, queue and probe of this operator "
                "waited",
                late,
                f" in {where}" if where else "",
                f" (garbage collection {gc_s:.2f} s of it)" if gc_s >= 0.01 else "",
            )

    def _gc(self, phase: str, _info: dict[str, int]) -> None:
        if phase == "start":
            self._gc_started = self._clock()
        elif self._gc_started is not None:
            took = self._clock() - self._gc_started
            self._gc_started = None
            self._gc_in_tick += took
            self.gc_total += took
            self.gc_longest = max(self.gc_longest, took)

    async def run(self) -> None:
        """Tick until cancelled (with the sampler thread beside it)."""
        self._started = self._last_tick = self._clock()
        stop = threading.Event()
        sampler = threading.Thread(
            target=self._sample,
            args=(threading.get_ident(), stop),
            name="loop-watch",
            daemon=True,
        )
        sampler.start()
        gc.callbacks.append(self._gc)
        try:
            while True:
                due = self._clock() + self.tick
                await asyncio.sleep(self.tick)
                now = self._clock()
                where, self._where = self._where, None
                gc_s, self._gc_in_tick = self._gc_in_tick, 0.0
                self._last_tick = now
                self.saw(max(0.0, now - due), where, gc_s)
        finally:
            gc.callbacks.remove(self._gc)
            stop.set()

    def _sample(self, loop_thread: int, stop: threading.Event) -> None:
        """Once per stall over ``warn_over``: the loop thread's innermost airkube frame."""
        sampled_at = -1.0
        while not stop.wait(self.tick):
            last = self._last_tick
            if last == sampled_at or self._clock() - last < self.warn_over:
                continue
            sampled_at = last
            frame = sys._current_frames().get(loop_thread)
            if frame is not None:
                self._where = _innermost(traceback.extract_stack(frame))

    def summary(self) -> str:
        running = self._clock() - self._started if self._started is not None else 0.0
        return (
            f"event loop: largest stall {self.largest:.3f} s, {self.stalls} over "
            f"{self.warn_over:g} s, in {running:.0f} s of running; garbage collection "
            f"{self.gc_total:.1f} s in all, the longest {self.gc_longest:.3f} s"
        )


def _innermost(stack: traceback.StackSummary) -> str:
    """The innermost airkube frame and the innermost frame of all (``file:line fn``)."""
    ours = [f for f in stack if f.filename.startswith(_PACKAGE)]
    parts = []
    if ours:
        f = ours[-1]
        parts.append(f"airkube/{Path(f.filename).relative_to(_PACKAGE)}:{f.lineno} {f.name}")
    if stack and (not ours or stack[-1] is not ours[-1]):
        f = stack[-1]
        parts.append(f"{Path(f.filename).name}:{f.lineno} {f.name}")
    return " → ".join(parts)
