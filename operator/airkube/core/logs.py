"""Task logs, the pure part: where a try's log is kept (its key), how a log is capped
(head and tail kept, a marker line saying what was cut), which pods' logs are due for
capture, and the sizes people type (``10Mi``).

The operator streams a pod's log through :class:`LogCap`, so that a log of any length
costs at most the cap in memory; the log store keeps what :meth:`LogCap.result` gives.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from airkube.api.dagrun import TaskStatus
from airkube.core.model.observed import ObservedPod


class LogState(StrEnum):
    """How the capture of a try's log ended (what the metadata database records)."""

    STORED = "Stored"
    """In the log store."""
    MISSING = "Missing"
    """There was no log to read: the pod was gone, or its container never started."""
    FAILED = "Failed"
    """The capture gave up (its error is recorded; a Warning event said so)."""


DEFAULT_LOG_CAP = 10 * 1024 * 1024
"""Bytes of one try's log kept by default (10 MiB)."""
MIN_LOG_CAP = 64
"""The smallest cap: room for a head and a tail worth reading."""

_UNITS = {
    "": 1,
    "K": 1000,
    "M": 1000**2,
    "G": 1000**3,
    "Ki": 1024,
    "Mi": 1024**2,
    "Gi": 1024**3,
}
_SIZE = re.compile(r"\s*(\d+)\s*([KMG]i?)?\s*[Bb]?\s*")


def parse_size(text: str) -> int:
    """Bytes from ``10485760``, ``10Mi``, ``512Ki``, ``1G`` (Kubernetes' quantity suffixes).

    Raises ValueError with a one-line message for anything else."""
    match = _SIZE.fullmatch(text)
    if match is None:
        raise ValueError(f"{text!r} is not a size: give bytes (10485760) or 10Mi, 512Ki, 1Gi")
    return int(match.group(1)) * _UNITS[match.group(2) or ""]


@dataclass(frozen=True)
class LogKey:
    """Which try's log: the key layout of every log store is
    ``namespace/dag/run/task/try`` (all Kubernetes names: no ``/`` in them)."""

    namespace: str
    dag: str
    run: str
    task: str
    try_number: int

    @property
    def path(self) -> str:
        return f"{self.namespace}/{self.dag}/{self.run}/{self.task}/{self.try_number}"

    def __post_init__(self) -> None:
        for what in ("namespace", "dag", "run", "task"):
            value = getattr(self, what)
            if not value or "/" in value:
                raise ValueError(f"log key: {what} {value!r} must be a non-empty name without '/'")
        if self.try_number < 1:
            raise ValueError(f"log key: try {self.try_number} must be 1 or more")


def cut_marker(cut: int, total: int) -> bytes:
    """The line put where a capped log was cut."""
    return (
        f"\n[airkube: {cut} bytes of this log were cut here: it had {total} bytes, more than "
        f"the log store keeps per try; its first and last bytes are kept]\n"
    ).encode()


class LogCap:
    """A log fed in chunks, of which the first and the last ``cap // 2`` bytes are kept.

    ``feed`` as the log streams in; ``result`` gives the log itself when it fits in the
    cap, else its head, a marker line saying how many bytes were cut, and its tail.
    """

    def __init__(self, cap: int) -> None:
        if cap < MIN_LOG_CAP:
            raise ValueError(f"the log cap must be at least {MIN_LOG_CAP} bytes, got {cap}")
        self.cap = cap
        self.head_max = cap // 2
        self.tail_max = cap - self.head_max
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0

    def feed(self, chunk: bytes) -> None:
        self.total += len(chunk)
        room = self.head_max - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        if not chunk:
            return
        self.tail += chunk
        # Trimmed in bulk: cutting the front of a bytearray at every chunk would be
        # quadratic in the log's length.
        if len(self.tail) > 2 * self.tail_max:
            del self.tail[: len(self.tail) - self.tail_max]

    @property
    def cut(self) -> int:
        """Bytes left out of the result."""
        return max(0, self.total - self.cap)

    def result(self) -> bytes:
        if self.total <= self.cap:
            return bytes(self.head + self.tail)
        tail = self.tail[len(self.tail) - self.tail_max :]
        return bytes(self.head) + cut_marker(self.cut, self.total) + bytes(tail)


def cap_log(data: bytes, cap: int) -> bytes:
    """``data`` as :class:`LogCap` keeps it."""
    capped = LogCap(cap)
    capped.feed(data)
    return capped.result()


def try_ended(pod: ObservedPod, tasks: Mapping[str, TaskStatus]) -> bool:
    """Whether the try of ``pod`` is over, so that its log is complete: its containers
    stopped, it is being deleted, or the run's status records that try as ended."""
    if pod.stopped or pod.deletion_time is not None:
        return True
    task = tasks.get(pod.task)
    if task is None:
        return False
    return task.try_number > pod.try_number or (
        task.try_number == pod.try_number and task.state.finished_try
    )


def logs_to_capture(
    pods: Iterable[ObservedPod],
    tasks: Mapping[str, TaskStatus],
    settled: Iterable[tuple[str, int]],
) -> list[ObservedPod]:
    """The pods whose log is due for capture: their try ended, the pod still exists, and
    no capture of that try has settled (stored, or given up)."""
    done = set(settled)
    return [
        p
        for p in pods
        if not p.missing and (p.task, p.try_number) not in done and try_ended(p, tasks)
    ]
