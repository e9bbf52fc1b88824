"""Reading a try's log back, as the CLI (``kubectl airkube logs``) and the web server both do:
from the try's pod while it exists, else from the log store the operator captured it into.

The pod is found by its labels and its owner (the DAGRun's uid, so a run deleted and
created again under the same name never shows the old incarnation's pod). A stored log
is found through the metadata database's record of its capture. Every failure is a
:class:`LogReadError` whose message is one line saying what is missing and why.
"""

from __future__ import annotations

from typing import Any

from airkube.core.logs import LogKey, LogState
from airkube.core.pods import LABEL_RUN, LABEL_TASK, LABEL_TRY, label_value
from airkube.logstore import LogStoreError, LogStoreSettings, S3Settings, store_for
from airkube.store.errors import StoreError
from airkube.store.repository import Store


class LogReadError(Exception):
    """A log cannot be read; the message is one line for people."""


def try_pod_selector(run: str, task: str, try_number: int) -> str:
    """The label selector of the pod of one try."""
    return ",".join(
        (
            f"{LABEL_RUN}={label_value(run)}",
            f"{LABEL_TASK}={label_value(task)}",
            f"{LABEL_TRY}={try_number}",
        )
    )


def live_try_pod(core: Any, namespace: str, run: str, task: str, n: int, run_uid: str) -> Any:
    """The pod (a client V1Pod) of try ``n`` of ``task`` owned by the run whose uid is
    ``run_uid``, or None when it no longer exists."""
    selector = try_pod_selector(run, task, n)
    for pod in core.list_namespaced_pod(namespace, label_selector=selector).items:
        if any(o.uid == run_uid for o in (pod.metadata.owner_references or [])):
            return pod
    return None


def read_stored_log(
    store: Store, s3: S3Settings | None, namespace: str, run: str, task: str, n: int
) -> bytes:
    """The stored log of try ``n`` of ``task`` in ``run`` (its newest incarnation).

    Raises :class:`LogReadError` saying why there is none."""
    gone = f"the pod of task {task} try {n} of run {run} no longer exists"
    try:
        record = next(
            (
                x
                for x in store.task_logs(namespace, run)
                if x.task_name == task and x.try_number == n
            ),
            None,
        )
    except StoreError as e:
        raise LogReadError(f"{gone}, and its stored log cannot be read: {e}") from None
    if record is None:
        raise LogReadError(
            f"{gone}, and the metadata database ({store.url}) has no log of it: it ended "
            "before logs were captured, or the operator keeps none (--log-store none)"
        )
    if record.state != LogState.STORED:
        raise LogReadError(
            f"{gone}, and its log was not stored ({record.state}): {record.error or ''}"
        )
    try:
        recorded_run = store.get_run(namespace, run)
        dag = recorded_run.dag_name if recorded_run is not None else "-"
        logstore = store_for(record.store, LogStoreSettings(s3=s3), store)
        data = logstore.get(LogKey(namespace, dag, run, task, n))
    except (LogStoreError, StoreError, ValueError) as e:
        raise LogReadError(f"{gone}; reading its stored log: {e}") from None
    if data is None:
        raise LogReadError(f"{gone}, and its stored log is missing from {record.key}")
    return data
