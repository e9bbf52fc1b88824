"""The schedule loop: for each DAG, create the DAGRuns whose time has come (core decides
which), and keep the DAG's status (nextRunTime, lastRun, lastScheduledRun) current.

Each DAG is a key of its own work queue, woken by its watch events, by a timer at its
nextRunTime, and whenever one of its runs changes state (a held-back catchup resumes when
a run ends). Run names are deterministic, so a restarted operator — or a second replica —
that creates a run again gets AlreadyExists, which is success.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from kubernetes.client.exceptions import ApiException

from airkube.api import DAGSpec, DAGStatus, LastRun, RunState
from airkube.api.dag import LastScheduledRun
from airkube.api.dates import date_range_problem
from airkube.core.patch import merge_patch
from airkube.core.run_names import dagrun_manifest
from airkube.core.timestamps import parse_time
from airkube.core.timetables import DataInterval, ScheduledRun, next_runs
from airkube.core.validation import check_dag
from airkube.kube.apply import Kube

from . import metrics
from .clock import Clock, utc_now
from .informer import Informer, Key
from .workqueue import retry_delay

log = logging.getLogger(__name__)

ACTIVE = (RunState.QUEUED.value, RunState.RUNNING.value)
SCHEDULE_FAILED = "ScheduleFailed"
"""The reason of the Warning event of a DAG whose schedule could not be computed."""


def runs_of(runs: Informer, namespace: str, dag: str) -> list[dict[str, Any]]:
    return [body for _, body in runs.in_group((namespace, dag))]


def run_state(body: Mapping[str, Any]) -> str:
    return str((body.get("status") or {}).get("state") or RunState.QUEUED.value)


def last_run(runs: list[dict[str, Any]]) -> LastRun | None:
    """The DAG's most recent run by logical date (else creation time)."""

    def when(body: Mapping[str, Any]) -> datetime:
        created = _time(body["metadata"].get("creationTimestamp"))
        logical = _time((body.get("spec") or {}).get("logicalDate"))
        if logical is not None and date_range_problem(logical) is None:
            return logical
        # A date the DAGRun's model refuses (that run fails InvalidSpec) or no date at all.
        return created or datetime.min.replace(tzinfo=UTC)

    if not runs:
        return None
    newest = max(runs, key=lambda b: (when(b), b["metadata"]["name"]))
    status = newest.get("status") or {}
    try:
        state: RunState | None = RunState(run_state(newest))
    except ValueError:  # a status no airkube wrote
        state = None
    return LastRun(
        name=newest["metadata"]["name"],
        state=state,
        logical_date=when(newest),
        start_time=_time(status.get("startTime")),
        end_time=_time(status.get("endTime")),
    )


def _time(value: Any) -> datetime | None:
    """A timestamp as written in a resource; None when absent or not one (a run whose
    spec no datetime can hold: 0000-01-01, a +25:00 offset)."""
    try:
        parsed = parse_time(value)
    except (TypeError, ValueError):
        return None
    return parsed if parsed is not None and parsed.utcoffset() is not None else None


class Scheduler:
    def __init__(
        self,
        *,
        kube: Kube,
        dags: Informer,
        runs: Informer,
        wake_after: Callable[[Key, float], None],
        wake_status: Callable[[Key], None],
        clock: Clock = utc_now,
    ) -> None:
        self.kube = kube
        self.dags = dags
        self.runs = runs
        self.wake_after = wake_after
        self.clock = clock
        self.wake_status = wake_status
        self.pending: dict[Key, dict[str, Any]] = {}
        self.scheduled: dict[Key, LastScheduledRun] = {}
        self._specs: dict[Key, tuple[int | None, DAGSpec | None]] = {}
        self.failures: dict[Key, int] = {}
        """Failed passes in a row, per DAG (the retry's backoff)."""

    async def reconcile(self, key: Key) -> None:
        """One pass of a DAG. A failure computing its schedule is contained to it: one
        warning line, an event on the DAG, and a retry after a growing delay; the API
        server's refusals go back to the work queue, which retries them."""
        body = self.dags.get(key)
        if body is None:
            return
        try:
            await self._schedule(key, body)
        except (asyncio.CancelledError, ApiException):
            raise
        except Exception as e:
            await self._contain(key, body, e)
        else:
            self.failures.pop(key, None)

    async def _contain(self, key: Key, body: Mapping[str, Any], error: Exception) -> None:
        failures = self.failures.get(key, 0) + 1
        self.failures[key] = failures
        delay = retry_delay(failures)
        message = f"the schedule could not be computed: {type(error).__name__}: {error}"
        log.warning("DAG %s/%s: %s; retry %d in %.0fs", *key, message, failures, delay)
        if failures == 1:
            await self.kube.post_event(
                body, type_="Warning", reason=SCHEDULE_FAILED, note=message, now=self.clock()
            )
        self.wake_after(key, delay)

    async def _schedule(self, key: Key, body: Mapping[str, Any]) -> None:
        spec = await self._spec(key, body)
        if spec is None:
            return  # the DAG reconciler reports why; a fixed spec wakes this key again
        namespace, dag = key
        status_raw = body.get("status") or {}
        status = DAGStatus.from_dict(status_raw)
        now = self.clock()
        mine = runs_of(self.runs, namespace, dag)
        active = sum(1 for r in mine if run_state(r) in ACTIVE)
        last = self._newest(key, status.last_scheduled_run)
        decision = next_runs(
            dag,
            spec,
            last=DataInterval(last.data_interval_start, last.data_interval_end) if last else None,
            now=now,
            active_runs=active,
            created=parse_time(body["metadata"].get("creationTimestamp")),
        )
        for run in decision.runs:
            await self._create(namespace, dag, run)
        newest = decision.last
        # lastRun follows the runs' own watch events, which wake this key again.
        update: dict[str, Any] = {
            "next_run_time": decision.next_run_time,
            "last_run": last_run(mine) or status.last_run,
            "last_scheduled_run": last,
        }
        if newest is not None:
            update["last_scheduled_run"] = self.scheduled[key] = LastScheduledRun(
                name=newest.name,
                logical_date=newest.logical_date,
                data_interval_start=newest.data_interval_start,
                data_interval_end=newest.data_interval_end,
            )
        new_raw = {**status_raw, **status.model_copy(update=update).to_dict()}
        if decision.next_run_time is None:
            new_raw.pop("nextRunTime", None)
        patch = merge_patch(status_raw, new_raw)
        if patch:
            # The status write waits for its own queue: at a tick, every due DAG's run is
            # created before any DAG's status is written.
            self.pending[key] = patch
            self.wake_status(key)
        if decision.next_run_time is not None and not decision.held_back:
            delay = (decision.next_run_time - self.clock()).total_seconds()
            self.wake_after(key, max(0.0, delay))

    def forget(self, key: Key) -> None:
        """The DAG was deleted: drop what was kept of it."""
        for cache in (self._specs, self.scheduled, self.pending, self.failures):
            cache.pop(key, None)

    async def write_status(self, key: Key) -> None:
        """Write the latest status patch computed for a DAG (worker of the status queue)."""
        patch = self.pending.pop(key, None)
        if patch is None:
            return
        try:
            await self.kube.patch_status("dags", key[0], key[1], patch)
        except Exception:
            # Kept for the queue's retry, unless a newer patch (computed from the same
            # unwritten status, so it says all this one did) has replaced it meanwhile.
            self.pending.setdefault(key, patch)
            raise

    def _newest(self, key: Key, written: LastScheduledRun | None) -> LastScheduledRun | None:
        """The newest scheduled run: as the status says, or as this process created it
        since (its status write may still be queued)."""
        mine = self.scheduled.get(key)
        if mine is None or (written is not None and written.logical_date >= mine.logical_date):
            return written
        return mine

    async def _spec(self, key: Key, body: Mapping[str, Any]) -> DAGSpec | None:
        """The DAG's parsed spec, parsed once per generation (the loop runs every tick)."""
        generation = body["metadata"].get("generation")
        cached = self._specs.get(key)
        if cached is not None and cached[0] == generation:
            return cached[1]
        # Off the event loop: a big DAG's templates take seconds to compile.
        spec, problems = await asyncio.to_thread(check_dag, body.get("spec") or {})
        valid = spec if spec is not None and not problems else None
        self._specs[key] = (generation, valid)
        return valid

    async def _create(self, namespace: str, dag: str, run: ScheduledRun) -> None:
        body = dagrun_manifest(namespace, run.name, run.spec(dag))
        created = await self.kube.create_resource("dagruns", namespace, body)
        if created:
            metrics.run_created(namespace, dag, run.data_interval_end, self.clock())
            log.info(
                "created scheduled run %s/%s (data interval %s to %s)",
                namespace,
                run.name,
                run.data_interval_start.isoformat(),
                run.data_interval_end.isoformat(),
            )
