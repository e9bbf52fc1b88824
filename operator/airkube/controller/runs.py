"""Reconciling a DAGRun: fetch, call the kernel (core), apply — once per pass.

Fetch: the run (its latest status as this process last wrote it, else as read), the
pods of the run from kopf's watch-fed index, pods known to be gone, pods the API server
refused, the DAG. Decide (core, pure): admission (``rules.admission``), the DAG version it
follows (``rules.pinning``), the pass (``plan``) or, when it cannot go on, its abort
(``plan.finish.abort``), pod GC and history limits (``rules.retention``). Apply: create
pods (before the status is written, so a pass cut short is recovered by adopting the
pods it made), patch the status once, delete pods (after it, so the status says why),
post the events, then write to the database what the status now says. The status is the
truth and the database follows it: a pass whose status write failed writes nothing else,
and a run whose database write failed (or that this process has not written yet, as
after a restart) has its whole status written again. Nothing here decides anything about
a run.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any, TypeVar

from pydantic import ValidationError

from airkube.api import (
    DAGRun,
    DAGRunStatus,
    DAGSpec,
    RunState,
    TaskState,
    TaskStatus,
)
from airkube.api.errors import describe_validation_error
from airkube.api.meta import Condition, ConditionStatus
from airkube.core.conditions import set_condition
from airkube.core.model.actions import Event
from airkube.core.model.observed import ObservedPod, PodPhase
from airkube.core.model.reasons import Reason
from airkube.core.model.result import Plan, PlannerOptions
from airkube.core.model.run import Run
from airkube.core.params import ParamsError
from airkube.core.patch import merge_patch
from airkube.core.plan import RunIndex, plan
from airkube.core.plan.finish import abort
from airkube.core.rules.admission import RunStanding, admit
from airkube.core.rules.events import status_events
from airkube.core.rules.pinning import pin
from airkube.core.rules.retention import (
    FinishedRun,
    HistoryLimits,
    pods_to_collect,
    runs_past_history,
)
from airkube.core.status import TaskMap, compact_status, status_document
from airkube.core.templates import run_renderer
from airkube.core.timestamps import parse_time
from airkube.core.validation import ProblemReason
from airkube.kube.apply import Kube
from airkube.store.errors import StoreError, StoreFileLostError
from airkube.store.records import RunRecord, TaskTryRecord
from airkube.store.repository import Store

from . import metrics
from .alerts import Alerts
from .clock import Clock, utc_now
from .informer import Informer, Key
from .logs import LogCapture

log = logging.getLogger(__name__)

T = TypeVar("T")

PLURAL = "dagruns"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass
class RunMemory:
    """What this process wrote last for one run, and the planner's index that follows it:
    not a truth of its own (the index is dropped when a write fails, and rebuilt from the
    status)."""

    uid: str
    status: DAGRunStatus
    """The full status as last written (task map not compacted)."""
    written: dict[str, Any]
    """The status as last written to the API server (compacted): the base of the next patch."""
    db_synced: bool = False
    """The database holds what the status says, every task of it (written by this
    process since it last read the status)."""
    unrecorded_tasks: set[str] = field(default_factory=set)
    """Tasks whose status the database has not recorded yet: a big run's status never
    leaves them out."""
    gone: dict[str, ObservedPod] = field(default_factory=dict)
    """Pods seen deleted (by name): lost unless their try already ended."""
    finished_handled: bool = False
    index: RunIndex | None = None
    """The planner's index after the last pass whose status was written."""
    task_map: TaskMap = field(default_factory=TaskMap)
    """The status's task map as last written, serialised."""


class RunReconciler:
    def __init__(
        self,
        *,
        kube: Kube,
        store: Store,
        runs: Informer,
        dags: Informer,
        pods_of: Callable[[Key, str], Iterable[ObservedPod]],
        wake_after: Callable[[Key, float], None],
        db: Callable[..., Any],
        status_budget: int,
        clock: Clock = utc_now,
        options: PlannerOptions | None = None,
        alerts: Alerts | None = None,
        logs: LogCapture | None = None,
    ) -> None:
        self.kube = kube
        self.store = store
        self.runs = runs
        self.dags = dags
        self.pods_of = pods_of
        self.wake_after = wake_after
        self.db = db
        self.status_budget = status_budget
        self.clock = clock
        self.options = options or PlannerOptions()
        self.alerts = alerts or Alerts(kube, clock=clock)
        self.logs = logs
        """Captures the logs of ended tries before pod GC (None: logs are not kept)."""
        self.memory: dict[Key, RunMemory] = {}
        self.start_locks: dict[Key, asyncio.Lock] = {}
        self.specs: dict[tuple[str, str, str], DAGSpec] = {}
        self.gone_runs: dict[Key, str | None] = {}
        """Runs deleted whose deletion the database has not recorded yet (with their uid)."""

    # Observations that come from watch events -------------------------------------------

    def pod_gone(self, key: Key, owner: str | None, pod: ObservedPod) -> None:
        """A watch DELETED event: ``pod`` is the pod's last state (its phase, container
        end, node and DisruptionTarget condition), kept so that a try whose pod went away
        between two passes ends as that state says (succeeded, evicted, lost with its
        node, deleted) rather than as a pod never seen."""
        mem = self.memory.get(key)
        if mem is not None and mem.uid == owner:
            mem.gone[pod.name] = pod.as_gone()

    def forget(self, key: Key) -> None:
        self.memory.pop(key, None)

    # The pass -------------------------------------------------------------------------

    def deleted(self, key: Key, uid: str | None) -> None:
        """The DAGRun was deleted (a watch event): its next pass records it."""
        self.forget(key)
        self.gone_runs[key] = uid
        if self.logs is not None:
            self.logs.forget(uid)

    async def reconcile(self, key: Key) -> None:
        await self._reconcile(key)
        await self.alerts.deadline(self, key)

    async def _reconcile(self, key: Key) -> None:
        body = self.runs.get(key)
        if key in self.gone_runs:
            # The history outlives the resource: the database says it was deleted (also
            # when a run of the same name was created again meanwhile).
            uid = self.gone_runs[key]
            await self._db(self.store.mark_run_resource_deleted, key[0], key[1], uid, self.clock())
            self.gone_runs.pop(key, None)
        if body is None:
            self.forget(key)
            return
        now = self.clock()
        try:
            resource = DAGRun.from_dict(body)
        except ValidationError as e:
            message = "; ".join(describe_validation_error(e, body, DAGRun))
            await self._refuse(key, body, "InvalidSpec", f"the DAGRun is invalid: {message}", now)
            return
        uid = resource.metadata.uid
        mem = self.memory.get(key)
        if mem is not None and mem.uid != uid:  # deleted and re-created under the same name
            mem = None
        if mem is None:
            mem = await self._recall(key, resource)
            self.memory[key] = mem
            # Posted once per transition (by name): those a killed process missed.
            for event in status_events(mem.status, now):
                await self._post(resource, event, now)
            await self.alerts.recalled(self, key, resource, mem.status, now)
        if mem.status.state.finished:
            clear, mark = resource.spec.clear, resource.spec.mark
            if (clear is None or clear.id == mem.status.last_clear_id) and (
                mark is None or mark.id == mem.status.last_mark_id
            ):
                await self._after_finish(key, resource, mem)
                return
            mem.finished_handled = False  # a clear or a mark may reopen it: plan decides
        if mem.status.start_time is None:
            # Starting a run is decided under its DAG's lock, so that two workers never
            # start more than maxActiveRuns runs between them.
            lock = self.start_locks.setdefault((key[0], resource.spec.dag_ref.name), asyncio.Lock())
            async with lock:
                if await self._may_start(key, resource, mem, now):
                    await self._pass(key, resource, mem, now)
            return
        await self._pass(key, resource, mem, now)

    async def failed(self, key: Key, error: str, retry_in: float) -> None:
        """A pass failed in a way no rule foresaw (the work queue retries it, backing off):
        a Warning event on the run says so, once per distinct error, so that its user
        sees why it does not move."""
        body = self.runs.get(key)
        if body is None:
            return
        digest = hashlib.sha256(error.encode()).hexdigest()[:12]
        await self.kube.post_event(
            body,
            type_="Warning",
            reason="ReconcileError",
            note=(
                f"airkube could not handle this run: {error}; it tries again in "
                f"{retry_in:.0f}s, backing off (a bug of airkube: please report it with the "
                "operator's log)"
            ),
            now=self.clock(),
            key=f"error-{digest}",
        )

    async def _may_start(self, key: Key, resource: DAGRun, mem: RunMemory, now: datetime) -> bool:
        """Whether a run that has not started may (core's admission rule); if not, its
        Waiting condition says why."""
        dag_name = resource.spec.dag_ref.name
        limit = ((self.dags.get((key[0], dag_name)) or {}).get("spec") or {}).get("maxActiveRuns")
        group = self.runs.in_group((key[0], dag_name))
        standings = [s for s in (self._standing(k, body) for k, body in group) if s is not None]
        valid = isinstance(limit, int) and not isinstance(limit, bool) and limit > 0
        verdict = admit(key[1], dag_name, limit if valid else None, standings)
        if verdict.ok:
            return True
        await self._wait(key, resource, mem, verdict.reason or "", verdict.message or "", now)
        return False

    def _standing(self, key: Key, body: Mapping[str, Any]) -> RunStanding | None:
        """A run of the DAG as admission sees it: as this process wrote it last, else as
        the resource says (None when its status is not one airkube writes)."""
        other = self.memory.get(key)
        if other is not None:
            state, started = other.status.state, other.status.start_time is not None
        else:
            raw = body.get("status") or {}
            try:
                state = RunState(raw.get("state") or RunState.QUEUED)
            except ValueError:
                return None
            started = raw.get("startTime") is not None
        spec = body.get("spec") or {}
        logical = spec.get("logicalDate") or body["metadata"].get("creationTimestamp")
        try:
            when = parse_time(logical)
        except (TypeError, ValueError):
            when = None
        return RunStanding(key[1], state, started, when)

    async def _pass(self, key: Key, resource: DAGRun, mem: RunMemory, now: datetime) -> None:
        spec = await self._pinned_spec(key, resource, mem, now)
        if spec is None:
            return
        status = mem.status
        observed = self._observe(key, mem)
        run = Run.from_resource(resource, status)
        created = resource.metadata.creation_timestamp or now
        try:
            renderer = run_renderer(spec, run, created=created)
        except ParamsError as e:
            await self._abort(key, resource, mem, "InvalidParams", str(e), now)
            return

        def decide() -> Plan:
            if mem.index is None or mem.index.dag is not spec:
                mem.index = RunIndex.build(spec, status.tasks or {})
            return plan(
                spec,
                run,
                status.tasks or {},
                observed,
                now,
                renderer=renderer,
                options=self.options,
                index=mem.index,
            )

        # In a thread: a big run's pass (and its templates, up to a second each) would
        # hold the event loop every other run, DAG and watch shares. Passes of one run
        # never overlap (the work queue), so its memory is touched by one at a time.
        result = await asyncio.to_thread(decide)
        try:
            await self._apply(key, resource, mem, result, status.dag_version, now)
        except BaseException:
            # They have moved on to a status that was not written.
            mem.index = None
            mem.task_map = TaskMap(self.status_budget)
            raise

    # Observe --------------------------------------------------------------------------

    async def _recall(self, key: Key, resource: DAGRun) -> RunMemory:
        """Rebuild what the last process knew: the status, and omitted tasks from the DB."""
        status = resource.status or DAGRunStatus()
        written = (self.runs.get(key) or {}).get("status") or {}
        if status.tasks_omitted:
            tasks = dict(status.tasks or {})
            tries = await self._db(
                partial(self.store.task_tries, uid=resource.metadata.uid), key[0], key[1]
            )
            for t in tries:  # ordered by task, then try: the last one wins
                if t.task_name not in (status.tasks or {}):
                    tasks[t.task_name] = TaskStatus(
                        state=TaskState(t.state),
                        try_number=t.try_number,
                        pod_name=t.pod_name,
                        start_time=t.start_time,
                        end_time=t.end_time,
                        exit_code=t.exit_code,
                        reason=t.reason,
                        message=t.message,
                        output=t.output,
                    )
            status = status.model_copy(update={"tasks": tasks})
        return RunMemory(
            uid=resource.metadata.uid,
            status=status,
            written=dict(written),
            task_map=TaskMap(self.status_budget),
        )

    def _observe(self, key: Key, mem: RunMemory) -> list[ObservedPod]:
        pods = {p.name: p for p in self.pods_of(key, mem.uid)}
        for name, gone in list(mem.gone.items()):
            if name in pods:
                continue
            pods[name] = gone
        return list(pods.values())

    async def _pinned_spec(
        self, key: Key, resource: DAGRun, mem: RunMemory, now: datetime
    ) -> DAGSpec | None:
        """The DAG spec the run follows (core's pinning rule): pinned at its first pass,
        from the metadata database afterwards."""
        namespace, dag_name = key[0], resource.spec.dag_ref.name
        version = mem.status.dag_version
        stored = None
        if version is not None:
            stored = self.specs.get((namespace, dag_name, version))
            if stored is None:
                row = await self._db(self.store.get_dag_version, namespace, dag_name, version)
                stored = DAGSpec.from_dict(row.spec) if row is not None else None
        dag_body = self.dags.get((namespace, dag_name))
        current = (dag_body.get("spec") or {}) if dag_body is not None else None
        pinning = pin(dag_name, version, stored, current, _refused_versions(dag_body))
        verdict = pinning.verdict
        if pinning.spec is None or pinning.version is None:
            reason, message = verdict.reason or "", verdict.message or ""
            if pinning.fatal:
                await self._abort(key, resource, mem, reason, message, now)
            else:
                await self._wait(key, resource, mem, reason, message, now)
            return None
        if pinning.new:
            await self._db(
                self.store.record_dag_version,
                namespace,
                dag_name,
                pinning.version,
                pinning.spec.to_dict(),
                now,
            )
            mem.status = mem.status.model_copy(
                update={
                    "dag_version": pinning.version,
                    "conditions": _without(mem.status.conditions, "Waiting"),
                }
            )
        self.specs[(namespace, dag_name, pinning.version)] = pinning.spec
        return pinning.spec

    # Apply ----------------------------------------------------------------------------

    async def _apply(
        self,
        key: Key,
        resource: DAGRun,
        mem: RunMemory,
        result: Plan,
        version: str | None,
        now: datetime,
    ) -> None:
        namespace = key[0]
        rejected: list[ObservedPod] = []
        created_at = now
        if result.creates:
            results = await self.kube.create_pods(namespace, [c.manifest for c in result.creates])
            created_at = self.clock()
            for create, outcome in zip(result.creates, results, strict=True):
                if outcome.error is not None:
                    rejected.append(
                        ObservedPod(
                            name=create.name,
                            task=create.task,
                            try_number=create.try_number,
                            phase=PodPhase.FAILED,
                            reason="PodRejected",
                            message=f"the API server refused the pod: {outcome.error}",
                            missing=True,
                        )
                    )
        document = status_document(
            result,
            dag_version=version,
            observed_generation=resource.metadata.generation,
            conditions=mem.status.conditions,
            task_map=mem.task_map,
            # The ended tries the last status kept stay until the database has them.
            unrecorded=() if mem.db_synced else mem.status.ended_tries or (),
            # Tries the database may not have yet stay in the status whatever its size
            # (an end without a try can be decided again: it is not kept).
            keep=mem.unrecorded_tasks.union(
                n for n in result.changed if result.tasks[n].try_number > 0
            ),
        )
        before, dag = mem.status, resource.spec.dag_ref.name
        if not await self._write(key, mem, document.full, document.raw):
            return
        spec = self.specs.get((namespace, dag, version or ""))
        metrics.run_pass(namespace, dag, before, result, spec, created_at)
        self.alerts.after_pass(self, key, resource, version, before.tasks or {}, result)
        if result.deletes:
            # After the status that says why (a timeout, a cancel): a pod deleted by a pass
            # whose status was not written would read as deleted by someone else. A pass
            # cut short here leaves a pod no try waits for, which the next one deletes.
            await self.kube.delete_pods(namespace, [d.name for d in result.deletes])
        for event in result.events:
            await self._post(resource, event, now)
        await self._record(key, resource, mem, result.changed, now)
        if mem.gone:
            # A gone pod matters while its try may still be going: older tries' ends are
            # written.
            tasks = result.tasks
            mem.gone = {
                name: pod
                for name, pod in mem.gone.items()
                if (task := tasks.get(pod.task)) is not None
                and (
                    pod.try_number > task.try_number
                    or (pod.try_number == task.try_number and not task.state.finished_try)
                )
            }
        for pod in rejected:
            mem.gone[pod.name] = pod
        if not result.run_state.finished:
            await self._gc_pods(key, resource, mem)
        if rejected:
            self.wake_after(key, 0)
        elif result.next_wakeup is not None:
            self.wake_after(key, max(0.0, (result.next_wakeup - now).total_seconds()))
        if result.run_state.finished:
            await self._after_finish(key, resource, mem)

    async def _write(
        self, key: Key, mem: RunMemory, full: DAGRunStatus, raw: dict[str, Any]
    ) -> bool:
        """Patch the status from what was written last to ``raw``; remember ``full`` (the
        status with every task) as the run's. False when the run is gone."""
        patch = merge_patch(mem.written, raw)
        if patch and not await self.kube.patch_status(PLURAL, key[0], key[1], patch):
            self.forget(key)  # the run was deleted meanwhile
            return False
        mem.written = raw
        mem.status = full
        return True

    async def _record(
        self, key: Key, resource: DAGRun, mem: RunMemory, changed: Collection[str], now: datetime
    ) -> bool:
        """Write to the database what the status (as last written) says: the tasks
        ``changed`` and the ended tries it keeps, or all of it when the database may lack
        some (the last write failed, or this process has not written the run yet). Every
        write is an idempotent, monotone upsert: writing a status again is harmless."""
        status = mem.status
        tasks = status.tasks or {}
        names = changed if mem.db_synced else tasks.keys()
        tries = [_try_record(t.task, t) for t in status.ended_tries or ()]
        tries += [_try_record(name, tasks[name]) for name in names]
        try:
            record = self._run_record(key, resource, mem.uid, status)
            await self._db(self.store.record_pass, record, [t for t in tries if t], now)
        except StoreError as e:
            # The status holds the truth meanwhile, ended tries included; the next pass
            # writes all of it again. A lost SQLite file is said once, by the health check.
            if not isinstance(e, StoreFileLostError):
                log.warning("run %s/%s: %s", key[0], key[1], e)
            mem.db_synced = False
            mem.unrecorded_tasks.update(n for n in changed if tasks[n].try_number > 0)
            self.wake_after(key, 5)
            return False
        mem.db_synced = True
        mem.unrecorded_tasks = set()
        return True

    def _run_record(self, key: Key, resource: DAGRun, uid: str, status: DAGRunStatus) -> RunRecord:
        spec = resource.spec
        created = resource.metadata.creation_timestamp or self.clock()
        return RunRecord(
            namespace=key[0],
            name=key[1],
            uid=uid,
            dag_name=spec.dag_ref.name,
            run_type=spec.run_type.value,
            logical_date=spec.logical_date or created,
            state=status.state.value,
            data_interval_start=spec.data_interval_start,
            data_interval_end=spec.data_interval_end,
            params=dict(spec.params or {}),
            dag_version=status.dag_version,
            clear_number=status.clear_number or 0,
            by_hand=status.last_mark_id is not None,
            start_time=status.start_time,
            end_time=status.end_time,
            message=status.message,
        )

    async def _post(self, resource: DAGRun, event: Event, now: datetime) -> None:
        note = f"{event.task}: {event.message}" if event.task else event.message
        await self.kube.post_event(
            _ref(resource),
            type_=event.type.value,
            reason=event.reason,
            note=note,
            now=now,
            key=event.key,
        )

    # Runs that cannot start, and finished runs ---------------------------------------------

    async def _wait(
        self, key: Key, resource: DAGRun, mem: RunMemory, reason: str, message: str, now: datetime
    ) -> None:
        """The run cannot start yet (its DAG is missing or invalid): say why, stay Queued."""
        condition = Condition(
            type="Waiting", status=ConditionStatus.TRUE, reason=reason, message=message
        )
        status = mem.status.model_copy(
            update={
                "conditions": set_condition(mem.status.conditions, condition, now),
                "observed_generation": resource.metadata.generation,
            }
        )
        await self._write(key, mem, status, self._compacted(status).to_dict())

    async def _abort(
        self, key: Key, resource: DAGRun, mem: RunMemory, reason: str, message: str, now: datetime
    ) -> None:
        """The run cannot go on: it fails as a stopped run does (core's abort: unfinished
        tasks Skipped, running pods deleted), through the same apply as any pass."""
        result = abort(
            mem.status,
            self._observe(key, mem),
            now,
            reason,
            message,
        )
        mem.index = None
        await self._apply(key, resource, mem, result, mem.status.dag_version, now)

    def _compacted(self, status: DAGRunStatus) -> DAGRunStatus:
        """``status`` with its task map within the budget, as :func:`run_status` writes it."""
        compact = compact_status(status.tasks or {}, self.status_budget)
        return status.model_copy(update={"tasks": compact.tasks, "tasks_omitted": compact.omitted})

    async def _refuse(
        self, key: Key, body: Mapping[str, Any], reason: str, message: str, now: datetime
    ) -> None:
        """The DAGRun itself is invalid: it fails, and whatever it started stops (core's
        abort on the status as written, read leniently)."""
        old = body.get("status") or {}
        if old.get("state") == RunState.FAILED.value and old.get("reason") == reason:
            return
        try:
            status = DAGRunStatus.from_dict(old)
        except ValidationError:
            status = DAGRunStatus()
        uid = (body.get("metadata") or {}).get("uid") or ""
        result = abort(status, list(self.pods_of(key, uid)), now, reason, message[:2000])
        compact = compact_status(result.tasks, self.status_budget)
        new = {
            **old,
            "state": RunState.FAILED.value,
            "reason": reason,
            "message": message[:2000],
            "endTime": now.isoformat().replace("+00:00", "Z"),
        }
        if compact.tasks:
            new["tasks"] = {name: t.to_dict() for name, t in compact.tasks.items()}
        await self.kube.patch_status(PLURAL, key[0], key[1], merge_patch(old, new))
        if result.deletes:
            await self.kube.delete_pods(key[0], [d.name for d in result.deletes])
        await self.kube.post_event(body, type_="Warning", reason=reason, note=message, now=now)

    async def _gc_pods(self, key: Key, resource: DAGRun, mem: RunMemory) -> bool:
        """Delete the pods the DAG's podGC strategy no longer wants (core's retention),
        once their logs are captured; True when some wait for theirs (the capture wakes
        the run when it settles)."""
        pods = list(self.pods_of(key, mem.uid))
        tasks = mem.status.tasks or {}
        if self.logs is not None:
            await self.logs.track(
                key, _ref(resource), resource.spec.dag_ref.name, mem.uid, pods, tasks
            )
        version = mem.status.dag_version or ""
        spec = self.specs.get((key[0], resource.spec.dag_ref.name, version))
        if spec is None:
            return False
        doomed = pods_to_collect(spec, mem.status.state, tasks, pods)
        held = False
        if doomed and self.logs is not None:
            by_name = {p.name: p for p in pods}
            doomed, held = self.logs.collectable(mem.uid, [by_name[n] for n in doomed])
        if doomed:
            await self.kube.delete_pods(key[0], doomed)
        return held

    async def _enforce_history(self, namespace: str, dag_name: str) -> None:
        """Delete the oldest finished DAGRuns of the DAG past its history limits."""
        limits = HistoryLimits.of((self.dags.get((namespace, dag_name)) or {}).get("spec") or {})
        finished: list[FinishedRun] = []
        for (_, name), body in self.runs.in_group((namespace, dag_name)):
            standing = self._standing((namespace, name), body)
            if standing is None or not standing.state.finished:
                continue
            status = body.get("status") or {}
            try:
                ended = parse_time(status.get("endTime") or body["metadata"]["creationTimestamp"])
            except (KeyError, TypeError, ValueError):
                ended = None
            finished.append(FinishedRun(name, standing.state, ended or _EPOCH))
        for name in runs_past_history(limits, finished):
            if self.logs is not None and self.logs.busy(self._uid_of((namespace, name))):
                continue  # its pods go with it: once their logs are stored (a later pass)
            log.info("deleting DAGRun %s/%s: past the DAG's history limit", namespace, name)
            await self.kube.delete_resource(PLURAL, namespace, name)

    def _uid_of(self, key: Key) -> str | None:
        body = self.runs.get(key)
        return None if body is None else (body.get("metadata") or {}).get("uid")

    async def _after_finish(self, key: Key, resource: DAGRun, mem: RunMemory) -> None:
        """Housekeeping once a run has ended (done once per process and run)."""
        if mem.finished_handled:
            return
        held = await self._gc_pods(key, resource, mem)
        await self._enforce_history(key[0], resource.spec.dag_ref.name)
        now = self.clock()
        if not mem.db_synced and not await self._record(key, resource, mem, (), now):
            return
        if mem.status.ended_tries:
            # Recorded now: the status need not keep them any longer.
            status = mem.status.model_copy(update={"ended_tries": None})
            raw = {k: v for k, v in mem.written.items() if k != "endedTries"}
            if not await self._write(key, mem, status, raw):
                return
        # Pods waiting for their logs are collected when the capture wakes the run.
        mem.finished_handled = not held

    async def _db(self, fn: Callable[..., T], *args: Any) -> T:
        result: T = await self.db(fn, *args)
        return result


_BY_HAND = frozenset({Reason.MARKED_SUCCESS, Reason.MARKED_FAILED})
"""The reasons of a try whose state was set by hand: its row takes it whatever it said."""


def _has_history(status: TaskStatus) -> bool:
    """Whether the task has a row in the database: a try, or an end without one
    (UpstreamFailed, Skipped: one row, try 0, until it tries)."""
    return status.try_number > 0 or status.state.finished


def _try_record(name: str, status: TaskStatus) -> TaskTryRecord | None:
    """The row of the task's try (None for a task without history yet)."""
    if not _has_history(status):
        return None
    return TaskTryRecord(
        task_name=name,
        try_number=status.try_number,
        state=status.state.value,
        pod_name=status.pod_name,
        start_time=status.start_time,
        end_time=status.end_time,
        exit_code=status.exit_code,
        output=status.output,
        message=status.message,
        reason=status.reason,
        by_hand=status.reason in _BY_HAND,
        queued_time=status.queued_time,
    )


def _refused_versions(dag: Mapping[str, Any] | None) -> dict[str, str]:
    """The DAG's version whose pods the API server refused (its dry run), if it is so."""
    status = (dag or {}).get("status") or {}
    version = status.get("dagVersion")
    for condition in status.get("conditions") or []:
        if (
            condition.get("type") == "Ready"
            and condition.get("status") == ConditionStatus.FALSE.value
            and condition.get("reason") == ProblemReason.POD_REFUSED.value
            and isinstance(version, str)
        ):
            return {version: str(condition.get("message") or "its pods are refused")}
    return {}


def _without(conditions: list[Condition] | None, type_: str) -> list[Condition] | None:
    if not conditions:
        return conditions
    return [c for c in conditions if c.type != type_] or None


def _ref(resource: DAGRun) -> dict[str, Any]:
    return {
        "apiVersion": resource.api_version,
        "kind": resource.kind,
        "metadata": {
            "name": resource.metadata.name,
            "namespace": resource.metadata.namespace,
            "uid": resource.metadata.uid,
        },
    }
