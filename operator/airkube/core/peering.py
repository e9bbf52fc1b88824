"""Peering rules: which of several operator replicas is the active one, and what it may send.

Pure decisions behind kopf peering (the I/O is ``airkube.controller.peering``): a replica's
kopf priority (``peering_priority``), the keep-alives of a peering object read as kopf
reads them (``peers_of``), kopf's rule plus a current keep-alive of one's own
(``standing``), and which API requests the write guard lets through a standby
(``is_write``). The clock is passed in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from airkube.core.timestamps import parse_time

SENIORITY_SPAN = 10**15
"""kopf priorities of one --peering-priority differ by less than this (by start time)."""
KOPF_ASSUMED_LIFETIME = 60
"""The lifetime kopf assumes of a peer that states none."""
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def peering_priority(priority: int, started: float, tiebreak: int) -> int:
    """The kopf priority of a replica: its ``--peering-priority`` first, then seniority.

    Among replicas of one priority the one that started first ranks highest, so a replica
    that starts later (a rolling update's new pod, a restarted one) stands by instead of
    taking over from one that works. ``tiebreak`` (0 to 99) separates replicas started in the
    same millisecond: kopf pauses *every* operator when two of equal priority meet.
    """
    started_key = int(started * 1000) * 100 + tiebreak
    return priority * SENIORITY_SPAN + (SENIORITY_SPAN - 1 - started_key)


@dataclass(frozen=True)
class Peer:
    """One operator as a peering object lists it (kopf's keep-alive record)."""

    identity: str
    priority: int
    deadline: datetime
    """When it counts as gone unless it sends a keep-alive before."""


def peers_of(body: Mapping[str, Any] | None, now: datetime) -> list[Peer]:
    """The operators of a peering object, read as kopf reads them."""
    peers: list[Peer] = []
    for identity, info in ((body or {}).get("status") or {}).items():
        if not isinstance(info, Mapping):
            continue
        try:
            seen = parse_time(info.get("lastseen")) or now
            lifetime = int(info.get("lifetime", KOPF_ASSUMED_LIFETIME))
            priority = int(info.get("priority", 0))
        except (TypeError, ValueError):
            continue
        seen = seen if seen.tzinfo else seen.replace(tzinfo=UTC)
        peers.append(Peer(str(identity), priority, seen + timedelta(seconds=lifetime)))
    return peers


@dataclass(frozen=True)
class Standing:
    """Whether an operator is the active one, and why."""

    active: bool
    why: str
    ahead: Peer | None = None
    """The live operator this one gives way to, if any."""
    recheck: datetime | None = None
    """When the standing may change with no new keep-alive (a deadline passes)."""


def standing(peers: Iterable[Peer], identity: str, priority: int, now: datetime) -> Standing:
    """Whether the operator ``identity`` of kopf priority ``priority`` is the active one.

    kopf's rule: an operator pauses while another live one has a higher or an equal
    priority. One more, so that a replica never acts on a lapsed standing: its own
    keep-alive must be in the object and current (a replica cut off from the API server
    for longer than its lifetime steps down, as the others take over after that time).
    """
    peers = list(peers)
    mine = next((p for p in peers if p.identity == identity), None)
    live = [p for p in peers if p.identity != identity and p.deadline > now]
    ahead = [p for p in live if p.priority >= priority]
    deadlines = [p.deadline for p in ahead]
    if mine is not None and mine.deadline > now:
        deadlines.append(mine.deadline)
    recheck = min(deadlines) if deadlines else None
    if ahead:
        first = max(ahead, key=lambda p: p.priority)
        return Standing(False, f"{first.identity} is the active replica", first, recheck)
    if mine is None:
        return Standing(False, "its own keep-alive is not in the peering object", None, recheck)
    if mine.deadline <= now:
        return Standing(False, "its own keep-alive has lapsed", None, recheck)
    return Standing(True, "no live replica ranks above it", None, recheck)


def is_write(method: str) -> bool:
    """Whether an HTTP request of ``method`` may change something (anything but
    GET/HEAD/OPTIONS): what a standby's write guard refuses."""
    return method.upper() not in READ_METHODS
