"""The operator's SQLite file deleted under it: GET /healthz fails with the reason, and
the operator says so in one ERROR line, not a traceback and not at every probe."""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
from pathlib import Path

from .cluster import Cluster
from .operator_process import OperatorProcess


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def healthz(port: int) -> tuple[int, dict[str, object]]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_a_deleted_sqlite_file_fails_the_health_check_with_one_error_line(
    cluster: Cluster, crds: None, tmp_path: Path
) -> None:
    db = tmp_path / "airkube.db"
    port = free_port()
    # A namespace of its own: it acts on nothing the session's operator does.
    args = ["--namespace", "airkube-lost-db", "--health-port", str(port)]
    proc = OperatorProcess(cluster, f"sqlite:///{db}", tmp_path / "operator.log", args)
    proc.start()
    try:
        status, body = healthz(port)
        assert (status, body["ok"]) == (200, True)
        assert "largestLoopStallS" in body

        db.unlink()
        deadline = time.monotonic() + 15
        while (answer := healthz(port))[0] != 503:
            assert time.monotonic() < deadline, f"/healthz still says {answer}:\n{proc.tail()}"
            time.sleep(0.2)
        assert f"{db} was deleted" in str(answer[1]["problem"])
        line = proc.wait_for_line("unhealthy:", timeout=10)
        assert "restart the operator" in line
        # More probes and watch-loop checks (every 5 s) do not repeat it.
        for _ in range(3):
            assert healthz(port)[0] == 503
        time.sleep(6)
        output = proc.output()
        assert [ln for ln in output.splitlines() if " ERROR " in ln] == [line], output
        assert "Traceback" not in output
    finally:
        proc.stop()
