"""The operator under test, run as a real process (`airkube run`) against the test cluster."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from .cluster import Cluster


class OperatorProcess:
    """One `airkube run` process; can be SIGKILLed and started again on the same DB."""

    def __init__(self, cluster: Cluster, db_url: str, log_path: Path) -> None:
        self.cluster = cluster
        self.db_url = db_url
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_offset = 0

    def start(self) -> None:
        args = [sys.executable, "-m", "airkube.cli.main", "run", "--db-url", self.db_url]
        if self.cluster.kubeconfig:
            args += ["--kubeconfig", self.cluster.kubeconfig]
        if self.cluster.context:
            args += ["--context", self.cluster.context]
        self.log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        env = {**os.environ, "AIRKUBE_LOG_LEVEL": "INFO", "AIRKUBE_HEALTH_PORT": "0"}
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env)
        log.close()
        self.wait_ready()

    def wait_ready(self, timeout: float = 30) -> None:
        """Wait for the operator's 'ready' log line (its informers have listed everything)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"operator exited with {self.proc.returncode}:\n{self.tail()}")
            with self.log_path.open("rb") as log:
                log.seek(self.log_offset)
                if b"airkube operator ready" in log.read():
                    return
            time.sleep(0.1)
        raise AssertionError(f"operator not ready in {timeout}s:\n{self.tail()}")

    def kill(self) -> None:
        """SIGKILL: no chance to clean up, as when a node dies."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        self.proc = None

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def tail(self, lines: int = 60) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])
