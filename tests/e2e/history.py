"""Reading the metadata database in the e2e tests: once it has caught up with the run's
status (the operator writes the status first, then the database from it)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from kubernetes import client

from airkube.store.records import StoredRun, StoredTaskTry
from airkube.store.repository import Store

from .resources import get_run


def agrees(status: Mapping[str, Any], run: StoredRun | None, tries: list[StoredTaskTry]) -> bool:
    """Whether the database says what ``status`` says: the run's state, and each task's
    current try (its last row) with its state."""
    if run is None or run.state != status.get("state", "Queued"):
        return False
    last = {t.task_name: t for t in tries}  # ordered by try: the last one wins
    for name, task in (status.get("tasks") or {}).items():
        number, state = task.get("tryNumber", 0), task.get("state", "None")
        if number == 0 and state in ("None", "Scheduled", "Queued", "Running"):
            continue  # no history yet
        row = last.get(name)
        if row is None or (row.try_number, row.state) != (number, state):
            return False
    return True


def recorded(
    custom: client.CustomObjectsApi,
    db_url: str,
    namespace: str,
    name: str,
    timeout: float = 15,
) -> tuple[StoredRun | None, list[StoredTaskTry]]:
    """The run's row and its tries once they agree with its status (as it is then), or as
    they are after ``timeout`` seconds, for the test's own assertions to say what differs."""
    deadline = time.monotonic() + timeout
    with Store.from_url(db_url, migrate=False) as store:
        while True:
            status = get_run(custom, namespace, name).get("status") or {}
            run, tries = store.get_run(namespace, name), store.task_tries(namespace, name)
            if agrees(status, run, tries) or time.monotonic() > deadline:
                return run, tries
            time.sleep(0.05)
