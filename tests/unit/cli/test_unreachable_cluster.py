"""Every command that talks to the cluster says in one line when it cannot reach it."""

from pathlib import Path

import pytest
from click.testing import CliRunner

from airkube.cli.main import main

DEAD = """apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
users: [{name: u, user: {token: x}}]
current-context: c
"""


@pytest.mark.parametrize(
    "args",
    [
        ["trigger", "etl"],
        ["get", "etl-1"],
        ["clear", "etl-1"],
        ["backfill", "etl", "--start", "2024-01-01", "--end", "2024-01-02"],
    ],
    ids=["trigger", "get", "clear", "backfill"],
)
def test_an_unreachable_api_server_is_one_line_not_a_traceback(
    tmp_path: Path, args: list[str]
) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(DEAD)
    result = CliRunner().invoke(main, [*args, "--kubeconfig", str(kubeconfig)])
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.stderr.strip().splitlines() == [
        "airkube: cannot reach the Kubernetes API server at https://127.0.0.1:1: "
        "[Errno 111] Connection refused (is the cluster up? kubectl cluster-info)"
    ]
