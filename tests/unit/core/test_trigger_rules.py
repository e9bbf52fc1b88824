"""Airflow's trigger rules, rule by rule, against the mixes of upstream states that matter.

Letters: S Succeeded, F Failed, U UpstreamFailed, K Skipped, R Running (not finished),
N None (not started). Expected decisions follow Airflow's TriggerRuleDep as the scheduler
applies it (flag_upstream_failed): rules that can no longer be met settle at once.
"""

import itertools

import pytest

from airkube.api import TaskState, TriggerRule
from airkube.core.rules.trigger import Decision, UpstreamCounts, evaluate

STATES = {
    "S": TaskState.SUCCEEDED,
    "F": TaskState.FAILED,
    "U": TaskState.UPSTREAM_FAILED,
    "K": TaskState.SKIPPED,
    "R": TaskState.RUNNING,
    "N": TaskState.NONE,
    "Q": TaskState.QUEUED,
    "T": TaskState.UP_FOR_RETRY,
}

RUN, WAIT, SKIP, UF = Decision.RUN, Decision.WAIT, Decision.SKIP, Decision.UPSTREAM_FAILED
R = TriggerRule

TABLE: list[tuple[TriggerRule, str, Decision]] = [
    # all_success: every upstream succeeded; a failure → UpstreamFailed, else a skip → Skipped,
    # both without waiting for the rest.
    (R.ALL_SUCCESS, "SS", RUN),
    (R.ALL_SUCCESS, "SR", WAIT),
    (R.ALL_SUCCESS, "ST", WAIT),
    (R.ALL_SUCCESS, "SF", UF),
    (R.ALL_SUCCESS, "FR", UF),
    (R.ALL_SUCCESS, "US", UF),
    (R.ALL_SUCCESS, "SK", SKIP),
    (R.ALL_SUCCESS, "KR", SKIP),
    (R.ALL_SUCCESS, "FK", UF),
    # all_failed: every upstream Failed or UpstreamFailed; a success or skip → Skipped.
    (R.ALL_FAILED, "FF", RUN),
    (R.ALL_FAILED, "FU", RUN),
    (R.ALL_FAILED, "UU", RUN),
    (R.ALL_FAILED, "FR", WAIT),
    (R.ALL_FAILED, "FS", SKIP),
    (R.ALL_FAILED, "FK", SKIP),
    (R.ALL_FAILED, "SR", SKIP),
    # all_done: every upstream finished, whatever the state.
    (R.ALL_DONE, "SF", RUN),
    (R.ALL_DONE, "KU", RUN),
    (R.ALL_DONE, "KK", RUN),
    (R.ALL_DONE, "SR", WAIT),
    (R.ALL_DONE, "NS", WAIT),
    (R.ALL_DONE, "FT", WAIT),
    # all_skipped: every upstream skipped; anything else finished → Skipped.
    (R.ALL_SKIPPED, "KK", RUN),
    (R.ALL_SKIPPED, "KR", WAIT),
    (R.ALL_SKIPPED, "KS", SKIP),
    (R.ALL_SKIPPED, "KF", SKIP),
    (R.ALL_SKIPPED, "UR", SKIP),
    # one_success: runs at the first success; all done without one → Skipped when all were
    # skipped, else UpstreamFailed.
    (R.ONE_SUCCESS, "SR", RUN),
    (R.ONE_SUCCESS, "SF", RUN),
    (R.ONE_SUCCESS, "FR", WAIT),
    (R.ONE_SUCCESS, "KR", WAIT),
    (R.ONE_SUCCESS, "KK", SKIP),
    (R.ONE_SUCCESS, "FK", UF),
    (R.ONE_SUCCESS, "FF", UF),
    (R.ONE_SUCCESS, "UK", UF),
    # one_failed: runs at the first Failed/UpstreamFailed; all done without one → Skipped.
    (R.ONE_FAILED, "FR", RUN),
    (R.ONE_FAILED, "UR", RUN),
    (R.ONE_FAILED, "SR", WAIT),
    (R.ONE_FAILED, "SS", SKIP),
    (R.ONE_FAILED, "SK", SKIP),
    (R.ONE_FAILED, "KK", SKIP),
    # one_done: runs at the first success or failure (UpstreamFailed does not count).
    (R.ONE_DONE, "SR", RUN),
    (R.ONE_DONE, "FR", RUN),
    (R.ONE_DONE, "UR", WAIT),
    (R.ONE_DONE, "KR", WAIT),
    (R.ONE_DONE, "KU", SKIP),
    (R.ONE_DONE, "KK", SKIP),
    # none_failed: all succeeded or skipped; a failure → UpstreamFailed at once.
    (R.NONE_FAILED, "SK", RUN),
    (R.NONE_FAILED, "KK", RUN),
    (R.NONE_FAILED, "SS", RUN),
    (R.NONE_FAILED, "SR", WAIT),
    (R.NONE_FAILED, "FR", UF),
    (R.NONE_FAILED, "US", UF),
    # none_failed_min_one_success: as none_failed, but all skipped → Skipped.
    (R.NONE_FAILED_MIN_ONE_SUCCESS, "SK", RUN),
    (R.NONE_FAILED_MIN_ONE_SUCCESS, "SS", RUN),
    (R.NONE_FAILED_MIN_ONE_SUCCESS, "KK", SKIP),
    (R.NONE_FAILED_MIN_ONE_SUCCESS, "KR", WAIT),
    (R.NONE_FAILED_MIN_ONE_SUCCESS, "SR", WAIT),
    (R.NONE_FAILED_MIN_ONE_SUCCESS, "FK", UF),
    (R.NONE_FAILED_MIN_ONE_SUCCESS, "UR", UF),
    # none_skipped: all finished, none skipped (failures are fine); a skip → Skipped at once.
    (R.NONE_SKIPPED, "SF", RUN),
    (R.NONE_SKIPPED, "SU", RUN),
    (R.NONE_SKIPPED, "SR", WAIT),
    (R.NONE_SKIPPED, "KR", SKIP),
    (R.NONE_SKIPPED, "SK", SKIP),
    # always: at once.
    (R.ALWAYS, "RN", RUN),
    (R.ALWAYS, "FK", RUN),
    (R.ALWAYS, "UU", RUN),
]


def counts(letters: str) -> UpstreamCounts:
    return UpstreamCounts.of(STATES[letter] for letter in letters)


@pytest.mark.parametrize(("rule", "upstream", "expected"), TABLE)
def test_rule_table(rule: TriggerRule, upstream: str, expected: Decision) -> None:
    assert evaluate(rule, counts(upstream)) is expected


def test_table_covers_every_rule() -> None:
    assert {rule for rule, _, _ in TABLE} == set(TriggerRule)
    assert len(TriggerRule) == 11


@pytest.mark.parametrize("rule", list(TriggerRule))
def test_no_upstream_runs_at_once(rule: TriggerRule) -> None:
    assert evaluate(rule, UpstreamCounts()) is RUN


FINISHED = "SFUK"
MIXES = [
    "".join(mix)
    for size in (1, 2, 3)
    for mix in itertools.combinations_with_replacement("SFUKRN", size)
]


@pytest.mark.parametrize("rule", list(TriggerRule))
def test_every_rule_decides_once_all_upstream_finished(rule: TriggerRule) -> None:
    # No deadlock: when nothing upstream can change any more, the task runs or settles.
    for mix in MIXES:
        if set(mix) <= set(FINISHED):
            assert evaluate(rule, counts(mix)) is not WAIT, mix


@pytest.mark.parametrize("rule", list(TriggerRule))
def test_upstream_failed_only_when_something_upstream_failed(rule: TriggerRule) -> None:
    for mix in MIXES:
        if evaluate(rule, counts(mix)) is UF:
            assert set(mix) & {"F", "U"}, mix


def test_decisions_do_not_depend_on_order() -> None:
    for rule in TriggerRule:
        for mix in MIXES:
            assert evaluate(rule, counts(mix)) is evaluate(rule, counts(mix[::-1]))
