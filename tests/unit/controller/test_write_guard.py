"""The write guard of a peering replica: the operator's API client sends no write while
the replica stands by, and lets reads through."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client

from airkube.controller.peering import StandbyWriteError, guard_writes


def test_the_write_guard_refuses_writes_of_a_standby_and_lets_reads_through() -> None:
    sent: list[str] = []

    class Rest:
        def request(self, method: str, url: str, **_: Any) -> str:
            sent.append(method)
            return "ok"

    api = client.ApiClient()
    api.rest_client = Rest()
    active = False
    guard_writes(api, lambda: active)
    assert api.rest_client.request("GET", "/api/v1/pods") == "ok"
    for method in ("POST", "PATCH", "PUT", "DELETE"):
        with pytest.raises(StandbyWriteError):
            api.rest_client.request(method, "/api/v1/namespaces/x/pods")
    active = True
    assert api.rest_client.request("POST", "/api/v1/namespaces/x/pods") == "ok"
    assert sent == ["GET", "POST"]
