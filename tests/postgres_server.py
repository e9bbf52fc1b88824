"""The PostgreSQL server the tests use: ``AIRKUBE_TEST_PG_URL`` when set, else the
throwaway server of ``hack/postgres.sh``, stopped afterwards only if started here and
``AIRKUBE_KEEP_PG`` is unset. Without PostgreSQL binaries the caller's tests are skipped,
unless ``CI`` is set: CI must test PostgreSQL for real."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

POSTGRES_SH = Path(__file__).resolve().parents[1] / "hack" / "postgres.sh"
NO_BINARIES = 3  # hack/postgres.sh's exit status when PostgreSQL is not installed


def _script(command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(POSTGRES_SH), command], capture_output=True, text=True, timeout=120, check=False
    )


@contextmanager
def postgres_server(skip_reason: str) -> Iterator[str]:
    """The URL of a PostgreSQL database the tests may create schemas in.

    ``skip_reason`` starts the skip message when PostgreSQL is not installed.
    """
    given = os.environ.get("AIRKUBE_TEST_PG_URL")
    if given:
        yield given
        return
    started_here = _script("status").returncode != 0
    if started_here:
        up = _script("up")
        if up.returncode == NO_BINARIES and not os.environ.get("CI"):
            pytest.skip(f"{skip_reason}: {up.stderr.strip()}")
        if up.returncode != 0:
            reason = up.stderr.strip().splitlines()[-1] if up.stderr.strip() else "no output"
            pytest.fail(f"hack/postgres.sh up failed: {reason}", pytrace=False)
    try:
        yield _script("url").stdout.strip()
    finally:
        if started_here and not os.environ.get("AIRKUBE_KEEP_PG"):
            _script("down")
