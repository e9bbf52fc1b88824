"""Reconciling a DAG: validate its spec (core), ask the API server whether it would accept
the pods of its tasks (a server-side dry run, once per DAG version), record the version in
the database, and say so in the DAG's status (the Ready condition) and an event.

The kopf handler only updates the DAG informer and adds the DAG's key to a work queue;
:class:`DagReconciler` does the work from that queue. A pass that fails (the API server or
the database unreachable) raises: the work queue retries it with its backoff, and a new
event of the DAG wakes it at once. Once a new spec was handled, the DAG's schedule and the
runs waiting for the DAG are woken.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any, Protocol

from airkube.api import DAGSpec, DAGStatus
from airkube.core.conditions import dag_ready_condition, set_condition
from airkube.core.dry_run import refusal, trial_pods
from airkube.core.patch import merge_patch
from airkube.core.spec_hash import spec_hash
from airkube.core.validation import Problem, check_dag

from .informer import Informer, Key

log = logging.getLogger(__name__)

PLURAL = "dags"


class DagKube(Protocol):
    """The Kubernetes calls a DAG pass makes (:class:`airkube.kube.apply.Kube`)."""

    async def patch_status(
        self, plural: str, namespace: str, name: str, status: Mapping[str, Any]
    ) -> bool: ...

    async def post_event(
        self,
        involved: Mapping[str, Any],
        *,
        type_: str,
        reason: str,
        note: str,
        now: datetime,
        action: str = ...,
    ) -> None: ...

    async def dry_run_pod(self, namespace: str, manifest: Mapping[str, Any]) -> str | None: ...


class DagStore(Protocol):
    """The database writes of a DAG pass (:class:`airkube.store.repository.Store`)."""

    def record_dag_version(
        self,
        namespace: str,
        dag: str,
        spec_hash: str,
        spec: dict[str, Any],
        now: datetime | None = None,
    ) -> bool: ...

    def mark_dag_deleted(self, namespace: str, dag: str, now: datetime | None = None) -> None: ...


def dag_status_update(
    body: Mapping[str, Any], problems: list[Problem], version: str | None, now: datetime
) -> dict[str, Any]:
    """The merge patch of the DAG's status for its current spec (empty when up to date)."""
    generation = body["metadata"].get("generation")
    old_raw = body.get("status") or {}
    old = DAGStatus.from_dict(old_raw)
    ready = dag_ready_condition(problems, generation=generation)
    new = old.model_copy(
        update={
            "observed_generation": generation,
            "dag_version": version,
            "conditions": set_condition(old.conditions, ready, now),
        }
    )
    new_raw = {**old_raw, **new.to_dict()}
    if version is None:
        new_raw.pop("dagVersion", None)
    return merge_patch(old_raw, new_raw)


def validate(body: Mapping[str, Any]) -> tuple[DAGSpec | None, list[Problem], str | None]:
    """(spec or None, problems, version hash when the spec is valid)."""
    spec, problems = check_dag(body.get("spec") or {})
    if spec is None or problems:
        return spec, problems, None
    return spec, problems, spec_hash(spec)


class DagReconciler:
    """Handles each DAG key taken from the DAG work queue (see the module docstring)."""

    def __init__(
        self,
        *,
        kube: DagKube,
        store: DagStore,
        dags: Informer,
        runs: Informer,
        db: Callable[..., Awaitable[Any]],
        clock: Callable[[], datetime],
        wake_schedule: Callable[[Key], None],
        forget_schedule: Callable[[Key], None],
        wake_run: Callable[[Key], None],
    ) -> None:
        self.kube = kube
        self.store = store
        self.dags = dags
        self.runs = runs
        self.db = db
        self.clock = clock
        self.wake_schedule = wake_schedule
        self.forget_schedule = forget_schedule
        self.wake_run = wake_run
        self.handled: dict[Key, tuple[str | None, int | None]] = {}
        """(uid, generation) of the spec last handled, per DAG."""
        self.dry_runs: dict[Key, tuple[str, list[Problem]]] = {}
        """The dry run's verdict on the DAG's latest version: (version, problems)."""

    async def reconcile(self, key: Key) -> None:
        """One pass (a failure raises: the work queue retries it)."""
        body = self.dags.get(key)
        if body is None:
            await self._deleted(key)
            return
        meta = body["metadata"]
        seen = (meta.get("uid"), meta.get("generation"))
        if self.handled.get(key) == seen:
            return  # only the status changed (our own writes): nothing to do
        try:
            await self._handle(key, body)
            self.handled[key] = seen
        finally:
            self.wake_schedule(key)
            # Runs waiting for this DAG (missing or invalid until now) may start.
            for run_key, run in self.runs.in_group(key):
                if not (run.get("status") or {}).get("dagVersion"):
                    self.wake_run(run_key)

    async def _deleted(self, key: Key) -> None:
        # A DAG created again under this name starts afresh (generation 1 again).
        self.handled.pop(key, None)
        self.dry_runs.pop(key, None)
        self.forget_schedule(key)
        await self.db(self.store.mark_dag_deleted, key[0], key[1], self.clock())

    async def _handle(self, key: Key, body: Mapping[str, Any]) -> None:
        now = self.clock()
        # Off the event loop: a big DAG's templates take seconds to compile.
        spec, problems, version = await asyncio.to_thread(validate, body)
        if spec is not None and version is not None:
            await self.db(
                self.store.record_dag_version, key[0], key[1], version, spec.to_dict(), now
            )
            problems = await self._dry_run(key, spec, version)
        patch = dag_status_update(body, problems, version, now)
        if not patch:
            return
        if not await self.kube.patch_status(PLURAL, key[0], key[1], patch):
            return  # deleted meanwhile: its DELETED event follows
        if problems:
            await self.kube.post_event(
                body,
                type_="Warning",
                reason=problems[0].reason.value,
                note="; ".join(p.message for p in problems),
                now=now,
            )

    async def _dry_run(self, key: Key, spec: DAGSpec, version: str) -> list[Problem]:
        """The API server's refusals of the pods of ``spec``'s tasks, asked once per
        version."""
        cached = self.dry_runs.get(key)
        if cached is not None and cached[0] == version:
            return cached[1]
        trials = trial_pods(spec, key[0], key[1])
        answers = await asyncio.gather(
            *(self.kube.dry_run_pod(key[0], trial.manifest) for trial in trials)
        )
        problems = [
            refusal(trial, answer)
            for trial, answer in zip(trials, answers, strict=True)
            if answer is not None
        ]
        self.dry_runs[key] = (version, problems)
        return problems
