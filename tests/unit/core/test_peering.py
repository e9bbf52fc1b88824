"""Peering rules without a cluster: which replica is active, the kopf priority of a
replica, and which requests a standby's write guard refuses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from airkube.core.peering import is_write, peering_priority, peers_of, standing

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LIFETIME = 5


def keepalive(priority: int, seen_ago: float, lifetime: int = LIFETIME) -> dict[str, Any]:
    """A peer's entry as kopf writes it."""
    seen = NOW - timedelta(seconds=seen_ago)
    return {"priority": priority, "lifetime": lifetime, "lastseen": seen.isoformat()}


@pytest.mark.parametrize(
    ("entries", "active", "why"),
    [
        ({"me": keepalive(5, 1)}, True, "no live replica ranks above it"),
        ({"me": keepalive(5, 1), "old": keepalive(9, 1)}, False, "old is the active replica"),
        ({"me": keepalive(5, 1), "young": keepalive(1, 1)}, True, "no live replica"),
        # kopf pauses both of two equal priorities: ours never are (seniority), but if so…
        ({"me": keepalive(5, 1), "twin": keepalive(5, 1)}, False, "twin is the active"),
        ({"me": keepalive(5, 1), "dead": keepalive(9, LIFETIME + 1)}, True, "no live replica"),
        ({"old": keepalive(9, 1)}, False, "old is the active replica"),
        ({}, False, "its own keep-alive is not in the peering object"),
        ({"me": keepalive(5, LIFETIME + 1)}, False, "its own keep-alive has lapsed"),
        # kopf's defaults for what a peer does not state: priority 0, lifetime 60 s.
        ({"me": keepalive(-1, 1), "bare": {}}, False, "bare is the active replica"),
        ({"me": keepalive(5, 1), "junk": "x", "bad": {"priority": "high"}}, True, "no live"),
    ],
)
def test_standing_follows_kopfs_rule_and_needs_a_current_keepalive_of_its_own(
    entries: dict[str, Any], active: bool, why: str
) -> None:
    mine = entries.get("me", {}).get("priority", 0)
    got = standing(peers_of({"status": entries}, NOW), "me", mine, NOW)
    assert got.active is active
    assert got.why.startswith(why)


def test_standing_rechecks_when_the_first_relevant_keepalive_lapses() -> None:
    body = {"status": {"me": keepalive(5, 1), "old": keepalive(9, 3), "young": keepalive(1, 4)}}
    got = standing(peers_of(body, NOW), "me", 5, NOW)
    assert got.ahead is not None
    assert got.ahead.identity == "old"
    assert got.recheck == NOW + timedelta(seconds=LIFETIME - 3)  # old's, not young's
    alone = standing(peers_of({"status": {"me": keepalive(5, 1)}}, NOW), "me", 5, NOW)
    assert alone.recheck == NOW + timedelta(seconds=LIFETIME - 1)  # its own lapses then


def test_priority_ranks_the_given_priority_first_then_the_earlier_start() -> None:
    start = NOW.timestamp()
    first = peering_priority(0, start, 99)
    later = peering_priority(0, start + 0.001, 0)
    assert first > later  # a replica started later stands by
    assert peering_priority(0, start, 1) > peering_priority(0, start, 2)  # same instant
    assert peering_priority(1, start + 10**6, 0) > peering_priority(0, start, 0)
    assert peering_priority(0, start, 0) > peering_priority(-1, start - 10**6, 0)
    year_2200 = datetime(2200, 1, 1, tzinfo=UTC).timestamp()
    for p in (-1000, 1000):  # kept as int64 by the API server
        assert abs(peering_priority(p, year_2200, 99)) < 2**63


@pytest.mark.parametrize(
    ("method", "write"),
    [
        ("GET", False),
        ("HEAD", False),
        ("OPTIONS", False),
        ("get", False),
        ("POST", True),
        ("PUT", True),
        ("PATCH", True),
        ("DELETE", True),
        ("delete", True),
    ],
)
def test_only_get_head_and_options_are_reads(method: str, write: bool) -> None:
    assert is_write(method) is write
