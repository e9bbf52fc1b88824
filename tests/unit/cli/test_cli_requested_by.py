"""The CLI's writes record who asked, as the UI's do (airkube.core.requests): the
annotation airkube.io/<verb>-by on the DAGRun it patches."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner
from test_mark_cli import FakeCustom, failed_run

from airkube.cli import runs
from airkube.cli.main import main
from airkube.core.requests import CLEARED_BY, MARKED_BY


@pytest.fixture
def custom(monkeypatch: pytest.MonkeyPatch) -> FakeCustom:
    fake = FakeCustom(failed_run())
    monkeypatch.setattr(runs, "custom_api", lambda *_: fake)
    monkeypatch.setattr("airkube.kube.identity.kubeconfig_user", lambda *_: "dave")
    return fake


def invoke(*args: str) -> Any:
    return CliRunner().invoke(main, [*args, "-n", "ns"])


def test_clear_and_mark_record_the_user(custom: FakeCustom) -> None:
    assert invoke("clear", "etl-1", "--failed").exit_code == 0
    assert invoke("mark", "etl-1", "--state", "success").exit_code == 0
    assert [p["metadata"]["annotations"] for p in custom.patches] == [
        {CLEARED_BY: "dave"},
        {MARKED_BY: "dave"},
    ]
