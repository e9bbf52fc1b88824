"""The fuzz test's bounded version (`make fuzz` runs the big one; see tests/e2e/fuzz.py):
issue 15's examples and a few dozen fuzzed DAGs and DAGRuns beside a good DAG, with a
running operator. Every object the API server accepts gets a verdict within 30 s, the
operator logs no traceback, and the good DAG's runs all succeed in time."""

from __future__ import annotations

from pathlib import Path

import pytest

from .cluster import Cluster
from .fuzz import Config, run_fuzz
from .operator_process import others_stopped

BOUNDED = Config(dags=25, runs=12, seed=1515, verdict_timeout=30, good_every=2, good_bound=20)


def test_every_bad_object_gets_a_verdict_no_traceback_and_a_good_dag_keeps_running(
    cluster: Cluster, crds: None, tmp_path: Path
) -> None:
    # The session's operator (every namespace) would act on the fuzz namespace too.
    with others_stopped():
        figures = run_fuzz(cluster, BOUNDED, tmp_path, say=lambda _: None)
    failures = figures.failures(BOUNDED)
    report = "\n".join([figures.table(BOUNDED), figures.catalogue_outcomes(), *failures[:40]])
    if failures:
        pytest.fail(report, pytrace=False)
    accepted = [t for t in figures.tried if t.accepted]
    assert any(t.rejected for t in figures.tried), report
    assert accepted, report
    assert all(t.verdict for t in accepted), report
    assert figures.good, report
    assert figures.traceback_lines == 0, report
