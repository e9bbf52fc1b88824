"""A fake cluster that also takes the actions' writes (airkube.web.actions.Writes), and a
test client that speaks the CSRF protocol as a page or an API client does."""

from __future__ import annotations

import copy
from typing import Any

from fastapi.testclient import TestClient
from web_fakes import FakeCluster

from airkube.web.data import DataError

ORIGIN = "http://testserver"


class WritableCluster(FakeCluster):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[tuple[str, str, Any]] = []

    def create_run(self, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        name = body["metadata"]["name"]
        if name in self.runs:
            raise DataError(409, f"DAGRun {name} already exists in {namespace}")
        self.writes.append(("create", name, body))
        self.runs[name] = copy.deepcopy(body)
        return body

    def patch_run(self, namespace: str, name: str, patch: dict[str, Any]) -> dict[str, Any]:
        self.writes.append(("patch", name, patch))
        self.runs[name]["spec"].update(patch["spec"])
        return self.runs[name]

    def patch_dag(self, namespace: str, name: str, patch: dict[str, Any]) -> dict[str, Any]:
        self.writes.append(("patch-dag", name, patch))
        self.dags[name]["spec"].update(patch["spec"])
        return self.dags[name]

    def delete_run(self, namespace: str, name: str) -> None:
        self.writes.append(("delete", name, None))
        self.runs.pop(name, None)


def csrf_client(client: TestClient) -> TestClient:
    """``client`` with this session's CSRF token and its own Origin on every request."""
    token = client.get("/api/v1/csrf").json()["token"]
    client.headers.update({"X-CSRF-Token": token, "Origin": ORIGIN})
    return client
