"""hack/build-tools.sh: a broken build step stops with one line saying what to do."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

BUILD = Path(__file__).resolve().parents[2] / "hack" / "build-tools.sh"

pytestmark = pytest.mark.skipif(shutil.which("go") is None, reason="needs the Go toolchain")


def run_build(tmp_path: Path, tool: str, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {
        **os.environ,
        "AIRKUBE_CACHE": str(tmp_path / "cache"),
        # An empty module cache, so nothing can be served without the proxy.
        "GOMODCACHE": str(tmp_path / "gomod"),
        "GOFLAGS": "-modcacherw",
        **env,
    }
    proc = subprocess.run(
        [str(BUILD), tool], capture_output=True, text=True, env=full_env, timeout=120
    )
    subprocess.run(["chmod", "-R", "u+w", str(tmp_path)], check=False)
    return proc


def assert_one_line_failure(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert len(proc.stdout.strip().splitlines()) <= 1, proc.stdout
    return lines[0]


def test_unreachable_go_proxy_says_so_in_one_line(tmp_path: Path) -> None:
    proc = run_build(tmp_path, "helm", GOPROXY="http://127.0.0.1:9", GONOSUMDB="*")
    line = assert_one_line_failure(proc)
    assert "building helm" in line
    assert "cannot reach the Go module proxy" in line
    assert "GOPROXY" in line


def test_bad_version_names_it_and_where_to_fix_it(tmp_path: Path) -> None:
    proc = run_build(tmp_path, "kwok", AIRKUBE_KWOK_VERSION="v0.8.99")
    line = assert_one_line_failure(proc)
    assert "building kwok v0.8.99 failed" in line
    assert "v0.8.99" in line
    assert "hack/versions.sh" in line


def test_unknown_tool_is_refused(tmp_path: Path) -> None:
    proc = run_build(tmp_path, "minikube")
    line = assert_one_line_failure(proc)
    assert "unknown tool 'minikube'" in line
