"""`airkube run --peering` refuses what cannot work with one line, before it opens the
database or reaches a cluster."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (
            ["--peering", "ha", "--db-url", "sqlite:////tmp/airkube-peering-refused.db"],
            "--peering needs a database the replicas share: a SQLite file cannot be",
        ),
        (
            ["--peering", "Not_A_Name", "--db-url", "postgresql://x@localhost/db"],
            "--peering 'Not_A_Name' is not a valid object name",
        ),
    ],
)
def test_peering_is_refused_with_a_clear_line(args: list[str], says: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "airkube.cli.main", "run", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert proc.stderr.startswith(f"airkube: {says}"), proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert not Path("/tmp/airkube-peering-refused.db").exists()  # refused before opening it
