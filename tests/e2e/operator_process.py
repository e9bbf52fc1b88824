"""The operator under test, run as a real process (`airkube run`) against the test cluster."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import ClassVar

from .cluster import Cluster


class OperatorProcess:
    """One `airkube run` process; can be SIGKILLed and started again on the same DB."""

    running: ClassVar[set[OperatorProcess]] = set()
    """The processes started and not stopped (see :func:`others_stopped`)."""

    def __init__(
        self, cluster: Cluster, db_url: str, log_path: Path, args: Sequence[str] = ()
    ) -> None:
        self.cluster = cluster
        self.db_url = db_url
        self.log_path = log_path
        self.args = list(args)
        """More options of `airkube run`."""
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_offset = 0

    def start(self) -> None:
        args = [sys.executable, "-m", "airkube.cli.main", "run", "--db-url", self.db_url]
        args += self.args
        if self.cluster.kubeconfig:
            args += ["--kubeconfig", self.cluster.kubeconfig]
        if self.cluster.context:
            args += ["--context", self.cluster.context]
        self.log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        env = {**os.environ, "AIRKUBE_LOG_LEVEL": "INFO", "AIRKUBE_HEALTH_PORT": "0"}
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env)
        log.close()
        self.running.add(self)
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
        self.running.discard(self)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        self.running.discard(self)

    def tail(self, lines: int = 60) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def output(self) -> str:
        """What the process logged since it was last started."""
        if not self.log_path.exists():
            return ""
        with self.log_path.open("rb") as log:
            log.seek(self.log_offset)
            return log.read().decode(errors="replace")

    def wait_for_line(self, text: str, timeout: float = 30) -> str:
        """Wait until the process logs a line containing ``text``; return that line."""
        deadline = time.monotonic() + timeout
        while True:
            found = [line for line in self.output().splitlines() if text in line]
            if found:
                return found[0]
            if self.proc is None or self.proc.poll() is not None:
                raise AssertionError(f"operator exited before logging {text!r}:\n{self.tail()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"operator did not log {text!r} in {timeout}s:\n{self.tail()}")
            time.sleep(0.05)

    def wait_exit(self, timeout: float = 30) -> int:
        """Wait until the process exits on its own; return its exit status."""
        assert self.proc is not None
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"operator still runs after {timeout}s:\n{self.tail()}") from None
        self.proc = None
        self.running.discard(self)
        return code


@contextlib.contextmanager
def others_stopped() -> Iterator[None]:
    """Stop the operator processes running now (the session's operator acts in every
    namespace) for a test that runs operators of its own; start them again afterwards."""
    stopped = list(OperatorProcess.running)
    for proc in stopped:
        proc.stop()
    try:
        yield
    finally:
        for proc in stopped:
            proc.start()
