"""A real S3-compatible server for the log-store tests: versitygw (built from its Go module
by ``hack/build-tools.sh versitygw`` into the tools cache) with its posix backend on a
temporary directory, listening on a free port of 127.0.0.1, stopped afterwards. Without
the binary the caller's tests are skipped, unless ``CI`` is set: CI must test it for real.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _hack_var(name: str) -> str:
    out = subprocess.run(
        ["bash", "-c", f'. "{ROOT}/hack/versions.sh"; echo "${name}"'],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    access_key: str
    secret_key: str
    root: Path

    def env(self) -> dict[str, str]:
        """The credentials as boto3 reads them from the environment."""
        return {"AWS_ACCESS_KEY_ID": self.access_key, "AWS_SECRET_ACCESS_KEY": self.secret_key}

    def client(self) -> object:
        import boto3
        from botocore.config import Config

        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            config=Config(s3={"addressing_style": "path"}),
        )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def s3_server(workdir: Path, skip_reason: str) -> Iterator[S3Server]:
    """A running versitygw serving ``workdir/data`` (its buckets are directories)."""
    binary = Path(_hack_var("AIRKUBE_BIN")) / f"versitygw-{_hack_var('VERSITYGW_VERSION')}"
    if not binary.exists():
        message = f"{skip_reason}: {binary} is missing (make tools builds it)"
        if os.environ.get("CI"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    data = workdir / "data"
    data.mkdir(parents=True, exist_ok=True)
    meta = workdir / "meta"
    meta.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    access, secret = "airkube-test", secrets.token_hex(16)
    log = (workdir / "versitygw.log").open("wb")
    proc = subprocess.Popen(
        [
            str(binary),
            "--port",
            f"127.0.0.1:{port}",
            "--access",
            access,
            "--secret",
            secret,
            "posix",
            # Object metadata (Content-Encoding…) in files of its own: no need for
            # extended attributes on the test's filesystem.
            "--sidecar",
            str(meta),
            str(data),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "ROOT_ACCESS_KEY": access, "ROOT_SECRET_KEY": secret},
    )
    log.close()
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                text = (workdir / "versitygw.log").read_text(errors="replace")
                raise AssertionError(f"versitygw exited with {proc.returncode}: {text[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise AssertionError("versitygw did not listen within 30s") from None
                time.sleep(0.05)
        yield S3Server(f"http://127.0.0.1:{port}", access, secret, data)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
