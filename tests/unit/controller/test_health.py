"""GET /healthz fails, and one ERROR line says why, while the SQLite file is lost."""

from __future__ import annotations

import asyncio
import json
import logging
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from airkube.controller.health import Health, HealthServerError
from airkube.store import Store


def get(port: int) -> tuple[int, dict[str, object]]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_healthz_fails_with_the_reason_once_the_sqlite_file_is_deleted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "airkube.db"

    async def scenario() -> list[tuple[int, dict[str, object]]]:
        with Store.from_url(f"sqlite:///{path}") as store:
            health = Health(store.health)
            port = await health.start(0, host="127.0.0.1")
            try:
                answers = [await asyncio.to_thread(get, port)]
                path.unlink()
                answers += [await asyncio.to_thread(get, port) for _ in range(3)]
                await health.refresh()  # as the watch loop does between probes
                return answers
            finally:
                await health.stop()

    with caplog.at_level(logging.INFO, logger="airkube"):
        answers = asyncio.run(scenario())

    assert answers[0] == (200, {"ok": True})
    for status, body in answers[1:]:
        assert status == 503
        assert body["ok"] is False
        assert f"{path} was deleted" in str(body["problem"])
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1, "one ERROR line per change, not one per probe"
    assert f"{path} was deleted" in errors[0].getMessage()
    assert errors[0].exc_info is None


def test_a_problem_that_goes_away_is_logged_as_healed(caplog: pytest.LogCaptureFixture) -> None:
    problems: list[str | None] = ["lost", "lost", None, None]
    health = Health(lambda: problems.pop(0))

    async def scenario() -> list[str | None]:
        return [await health.refresh() for _ in range(4)]

    with caplog.at_level(logging.INFO, logger="airkube"):
        assert asyncio.run(scenario()) == ["lost", "lost", None, None]
    lines = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert lines == [
        ("ERROR", "unhealthy: lost"),
        ("INFO", "healthy again: lost no longer applies"),
    ]


def test_a_taken_port_is_one_clear_error() -> None:
    async def scenario() -> None:
        first = Health(lambda: None)
        port = await first.start(0, host="127.0.0.1")
        try:
            with pytest.raises(HealthServerError, match=f"port {port}.*--health-port"):
                await Health(lambda: None).start(port, host="127.0.0.1")
        finally:
            await first.stop()

    asyncio.run(scenario())
