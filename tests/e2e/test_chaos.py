"""The chaos test's short version (`make chaos` runs the long one; see tests/e2e/chaos.py)."""

from __future__ import annotations

from pathlib import Path

from .chaos import Config, run_chaos
from .cluster import Cluster
from .operator_process import others_stopped

SHORT = Config(
    runs=1,
    tasks=60,
    layers=6,
    min_kills=6,
    max_kills=10,
    refuse_seconds=5,
    uptime=(0.3, 2.0),
    seed=1414,
    timeout=150,
    settle=20,
)


def test_operator_killed_and_refused_keeps_one_pod_per_try_and_a_database_equal_to_the_status(
    cluster: Cluster, crds: None, tmp_path: Path
) -> None:
    # The session's operator (every namespace) would act on the chaos namespace too.
    with others_stopped():
        figures = run_chaos(cluster, SHORT, tmp_path, say=lambda _: None)
    failures = figures.failures(SHORT)
    assert not failures, figures.table(SHORT) + "\n" + "\n".join(failures[:40])
