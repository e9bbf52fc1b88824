"""``kubectl airkube ui`` on the local cluster: it prints a URL on 127.0.0.1 whose one-time
token gives a cookie, serves the API with the user's kubeconfig, and refuses another Host,
another Origin and a second use of the token."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from kubernetes import client

from .cluster import Cluster
from .resources import apply_dag, task

URL = re.compile(r"airkube UI: (http://127\.0\.0\.1:(\d+)/\?token=(\S+))")


@pytest.fixture
def ui(cluster: Cluster, namespace: str, tmp_path: Path) -> Iterator[tuple[str, str, str]]:
    args = [sys.executable, "-m", "airkube.cli.main", "ui", "--no-browser", "-n", namespace]
    args += ["--db-url", f"sqlite:///{tmp_path / 'none.db'}"]
    if cluster.kubeconfig:
        args += ["--kubeconfig", cluster.kubeconfig]
    if cluster.context:
        args += ["--context", cluster.context]
    proc = subprocess.Popen(
        args,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        seen = []
        deadline = time.monotonic() + 30
        assert proc.stdout is not None
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            seen.append(line)
            if match := URL.search(line):
                yield match.group(1), match.group(2), match.group(3)
                break
        else:
            raise AssertionError(f"no URL printed in 30 s: {''.join(seen)}")
        if not seen or not URL.search(seen[-1]):
            raise AssertionError(f"ui exited without a URL: {''.join(seen)}")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_the_ui_serves_the_api_behind_its_token_host_and_origin_checks(
    ui: tuple[str, str, str], custom: client.CustomObjectsApi, namespace: str
) -> None:
    url, port, token = ui
    apply_dag(custom, namespace, "uidag", tasks=[task("only")])
    api = f"http://127.0.0.1:{port}/api/v1/namespaces/{namespace}/dags"
    with httpx2.Client(timeout=10) as anonymous:
        assert anonymous.get(api).status_code == 401
    with httpx2.Client(timeout=10, follow_redirects=True) as browser:
        first = browser.get(url)  # follows the redirect with the cookie it was given
        assert first.history[0].status_code == 303
        assert first.status_code == 200
        assert token not in str(first.url)  # the redirect dropped it
        assert "airkube" in first.text
        dags = browser.get(api).json()
        assert [d["name"] for d in dags["items"]] == ["uidag"]
        assert browser.get(api, headers={"host": f"attacker.example:{port}"}).status_code == 403
        assert browser.get(api, headers={"origin": "http://attacker.example"}).status_code == 403
    with httpx2.Client(timeout=10) as second:
        again = second.get(url)
        assert again.status_code == 401
        assert "used already" in again.text
