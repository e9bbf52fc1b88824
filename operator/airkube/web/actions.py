"""The write side of the web server: trigger, clear, mark, cancel, backfill and pause, each
with a preview of exactly what it will change (the same pure core functions the CLI's
``--dry-run`` uses) and then the same change the CLI makes (:mod:`airkube.core.requests`),
recorded with the requesting user (the service's ``user``).

Bad input raises :class:`InputError` (422) with one message per field; an action that
cannot be done (nothing to clear, a run that has ended) raises a :class:`DataError` with
status 409 and a one-line message.
"""

from __future__ import annotations

import json
import re
import secrets
import shlex
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from pydantic import Field

from airkube.api.dagrun import ClearRequest, MarkRequest, MarkState, TaskStatus
from airkube.api.names import DNS1123_LABEL_PATTERN
from airkube.api.states import RunState, TaskState
from airkube.core.backfill import BackfillError, BackfillMode, backfill_intervals
from airkube.core.graph import Graph
from airkube.core.params import ParamDeclaration, ParamsError, declarations, param_from_text
from airkube.core.plan.clear import ClearError, clear_selection
from airkube.core.plan.mark import MarkError, mark_effect
from airkube.core.requests import (
    PAUSED_BY,
    TimeError,
    backfill_command,
    backfill_manifest,
    cancel_effect,
    cancel_patch,
    clear_patch,
    existing_runs,
    in_dag_zone,
    mark_patch,
    problems_by_param,
    read_time,
    request_id,
    trigger_command,
    trigger_plan,
)
from airkube.web.data import DataError
from airkube.web.models import Model
from airkube.web.service import NotFoundError, Service

# What comes in -----------------------------------------------------------------------


class TriggerInput(Model):
    """A manual run to start (``kubectl airkube trigger``)."""

    params: dict[str, Any] = Field(
        default_factory=dict,
        description="Values overriding the DAG's params: JSON values, or text converted as "
        "`--param KEY=TEXT` is.",
    )
    logical_date: str | None = Field(
        default=None, description="ISO 8601; without a zone, in the DAG's timezone. Default: now."
    )
    name: str | None = Field(default=None, description="Default: <dag>-manual-<logical date>.")


class ClearInput(Model):
    """Tasks of a run to run again (``kubectl airkube clear``)."""

    tasks: list[str] | None = Field(default=None, description="Default: every task.")
    downstream: bool = False
    only_failed: bool = False


class MarkInput(Model):
    """Tasks of a run, or the run, to set by hand (``kubectl airkube mark``)."""

    state: Literal["success", "failed"] | MarkState = Field(
        description="success or failed (Airflow's words), or the state: Succeeded or Failed."
    )
    tasks: list[str] | None = Field(default=None, description="Default: the run as a whole.")
    upstream: bool = False
    downstream: bool = False


class BackfillInput(Model):
    """Runs to create for past intervals (``kubectl airkube backfill``)."""

    start: str = Field(description="The first logical date (ISO 8601).")
    end: str = Field(description="The last logical date, included.")
    mode: BackfillMode = BackfillMode.ONLY_MISSING


class PauseInput(Model):
    paused: bool


# What goes out -----------------------------------------------------------------------


class ParamField(Model):
    """A DAG's param as the trigger form shows it."""

    name: str
    types: list[str] = Field(default_factory=list)
    required: bool = False
    default: Any = None
    default_text: str = ""
    enum: list[Any] | None = None
    description: str | None = None
    minimum: int | float | None = None
    maximum: int | float | None = None
    min_length: int | None = None
    max_length: int | None = None


class TriggerResult(Model):
    """The run a trigger creates (``applied`` false: a preview, nothing created)."""

    applied: bool
    namespace: str
    dag: str
    name: str
    logical_date: datetime
    params: dict[str, Any] = Field(description="The run's spec.params: the values given.")
    values: dict[str, Any] = Field(description="Every param as the run's templates read it.")
    extra: list[str] = Field(default_factory=list, description="Params the DAG does not declare.")
    command: str
    requested_by: str | None = None


class TaskChange(Model):
    task: str
    before: str
    after: str


class RunActionResult(Model):
    """What a clear, mark or cancel changes in a run (``applied`` false: a preview)."""

    applied: bool
    action: Literal["clear", "mark", "cancel"]
    namespace: str
    dag: str
    run: str
    run_state: str = Field(description="The run's state now.")
    new_run_state: str | None = Field(
        default=None, description="The state the run is set to, when the action sets one."
    )
    changes: list[TaskChange] | None = Field(
        default=None, description="The tasks whose state changes; None: the operator decides."
    )
    cleared_downstream: list[str] = Field(default_factory=list)
    stopped: list[str] = Field(default_factory=list, description="Tasks whose pod is deleted.")
    summary: str
    note: str | None = None
    command: str
    requested_by: str | None = None


class BackfillItem(Model):
    name: str
    logical_date: datetime
    data_interval_start: datetime
    data_interval_end: datetime
    replaces: str | None = Field(default=None, description="A finished run deleted to rerun it.")
    outcome: Literal["wouldCreate", "created", "exists"] = "wouldCreate"


class BackfillSkip(Model):
    logical_date: datetime
    reason: str


class BackfillResult(Model):
    applied: bool
    namespace: str
    dag: str
    runs: list[BackfillItem]
    skipped: list[BackfillSkip]
    command: str
    requested_by: str | None = None


class PauseResult(Model):
    namespace: str
    dag: str
    paused: bool
    requested_by: str | None = None


class InputError(DataError):
    """Bad input: ``fields`` maps each field ("" for the form as a whole) to its message."""

    def __init__(self, fields: Mapping[str, str]) -> None:
        self.fields = dict(fields)
        super().__init__(422, "; ".join(self.fields.values()))


class Writes(Protocol):
    """The writes the actions make (:class:`~airkube.web.data.KubeCluster` has them)."""

    def create_run(self, namespace: str, body: dict[str, Any]) -> dict[str, Any]: ...

    def patch_run(self, namespace: str, name: str, patch: dict[str, Any]) -> dict[str, Any]: ...

    def patch_dag(self, namespace: str, name: str, patch: dict[str, Any]) -> dict[str, Any]: ...

    def delete_run(self, namespace: str, name: str) -> None:
        """Delete the DAGRun and return once it is gone."""
        ...


def param_fields(dag_params: Mapping[str, Any] | None) -> list[ParamField]:
    """The trigger form's fields: one per param the DAG declares, in its order."""
    return [_field(d) for d in declarations(dag_params).values()]


def _field(d: ParamDeclaration) -> ParamField:
    return ParamField(
        name=d.name,
        types=list(d.types),
        required=not d.has_default,
        default=d.default if d.has_default else None,
        default_text=param_text(d.default) if d.has_default else "",
        enum=list(d.enum) if d.enum is not None else None,
        description=d.description,
        minimum=d.minimum,
        maximum=d.maximum,
        min_length=d.min_length,
        max_length=d.max_length,
    )


def param_text(value: Any) -> str:
    """A param value as ``--param KEY=TEXT`` writes it (and the form's field shows it)."""
    if isinstance(value, str):
        return value
    return json.dumps(value)


def _dag_graph(spec: Mapping[str, Any] | None) -> Graph | None:
    from airkube.core.graph import graph_of
    from airkube.core.validation import check_dag

    checked, problems = check_dag(dict(spec or {}))
    if checked is None or problems:
        return None
    return graph_of(checked)


def _states(body: Mapping[str, Any]) -> dict[str, TaskStatus]:
    tasks = (body.get("status") or {}).get("tasks") or {}
    return {name: TaskStatus.model_validate(t) for name, t in tasks.items()}


def _unique(names: Sequence[str] | None) -> list[str] | None:
    return list(dict.fromkeys(n for n in names if n)) or None if names else None


class Actions:
    """The actions of one user (``service.user``) through ``service.cluster``, which must
    also have the :class:`Writes` methods."""

    def __init__(
        self, service: Service, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self.service = service
        self.cluster = service.cluster
        self.writes: Writes = service.cluster  # type: ignore[assignment]
        self.user = service.user
        self.clock = clock

    # Trigger -------------------------------------------------------------------------

    def dag_body(self, namespace: str, dag: str) -> dict[str, Any]:
        body = self.cluster.get_dag(namespace, dag)
        if body is None:
            raise NotFoundError(f"DAG {dag} not found in namespace {namespace}")
        return body

    def trigger(
        self,
        namespace: str,
        dag: str,
        given: TriggerInput,
        *,
        apply: bool,
        texts: Mapping[str, str] | None = None,
    ) -> TriggerResult:
        """Start (``apply``) or preview a manual run. ``texts``: the form's fields, as
        text (read as ``--param KEY=TEXT`` is); else ``given.params``, JSON values."""
        spec = self.dag_body(namespace, dag).get("spec") or {}
        dag_params = spec.get("params")
        errors: dict[str, str] = {}
        if texts is not None:
            overrides = {k: param_from_text(dag_params, k, t) for k, t in texts.items()}
            shown = dict(texts)
        else:
            overrides = dict(given.params)
            shown = {k: param_text(v) for k, v in overrides.items()}
        when = self.clock()
        date_text = (given.logical_date or "").strip() or None
        if date_text:
            try:
                when = in_dag_zone(read_time(date_text, "logical date"), spec.get("timezone"))
            except TimeError as e:
                errors["logicalDate"] = str(e)
        name = (given.name or "").strip() or None
        if name is not None and not _valid_name(name):
            errors["name"] = (
                f"run name {name!r} is not a valid resource name: lowercase letters, "
                "digits, '-' and '.', starting and ending with a letter or digit"
            )
        try:
            plan = trigger_plan(namespace, dag, dag_params, overrides, when, name, self.user)
        except ParamsError as e:
            for param, problems in problems_by_param(dag_params, e.problems).items():
                errors[f"params.{param}" if param else "params"] = "; ".join(problems)
            plan = None
        if errors or plan is None:
            raise InputError(errors)
        result = TriggerResult(
            applied=False,
            namespace=namespace,
            dag=dag,
            name=plan.name,
            logical_date=plan.logical_date,
            params=plan.overrides,
            values=plan.values,
            extra=list(plan.extra),
            command=trigger_command(namespace, dag, shown, date_text, name),
            requested_by=self.user,
        )
        if apply:
            self.writes.create_run(namespace, plan.manifest)
            result.applied = True
        return result

    # Clear, mark, cancel -------------------------------------------------------------

    def _run(self, namespace: str, run: str) -> tuple[dict[str, Any], Graph | None, str | None]:
        """The DAGRun, its DAG's graph (None when it cannot be known) and a note."""
        from airkube.core.spec_hash import spec_hash
        from airkube.core.validation import check_dag

        body = self.cluster.get_run(namespace, run)
        if body is None:
            raise NotFoundError(
                f"DAGRun {run} not found in namespace {namespace}: only live runs can be "
                "cleared, marked or cancelled"
            )
        dag = ((body.get("spec") or {}).get("dagRef") or {}).get("name", "")
        dag_body = self.cluster.get_dag(namespace, dag)
        if dag_body is None:
            return body, None, f"DAG {dag} cannot be read: the operator decides which tasks"
        graph = _dag_graph(dag_body.get("spec"))
        if graph is None:
            return body, None, f"DAG {dag} is invalid now: the operator decides which tasks"
        note = None
        pinned = (body.get("status") or {}).get("dagVersion")
        checked, _ = check_dag(dag_body.get("spec") or {})
        if pinned and checked is not None and spec_hash(checked) != pinned:
            note = f"DAG {dag} changed since this run started: shown with its current tasks"
        omitted = (body.get("status") or {}).get("tasksOmitted")
        if omitted:
            more = f"{omitted} finished tasks are left out of this large run's status"
            note = f"{note}; {more}" if note else more
        return body, graph, note

    def _base(self, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        return {
            "namespace": namespace,
            "dag": ((body.get("spec") or {}).get("dagRef") or {}).get("name", ""),
            "run": body["metadata"]["name"],
            "run_state": (body.get("status") or {}).get("state") or RunState.QUEUED.value,
            "requested_by": self.user,
        }

    def _id(self) -> str:
        return request_id(self.clock(), secrets.token_hex(3))

    def clear(self, namespace: str, run: str, given: ClearInput, *, apply: bool) -> RunActionResult:
        body, graph, note = self._run(namespace, run)
        states = _states(body)
        request = ClearRequest(
            id=self._id(),
            tasks=_unique(given.tasks),
            downstream=given.downstream,
            only_failed=given.only_failed,
        )
        changes: list[TaskChange] | None = None
        summary = "the operator decides which tasks"
        if graph is not None:
            try:
                selected = clear_selection(graph, states, request)
            except ClearError as e:
                raise InputError({"tasks": str(e)}) from None
            if not selected:
                raise DataError(409, f"nothing to clear in run {run}: no task matches")
            changes = [
                TaskChange(
                    task=n,
                    before=(states.get(n) or TaskStatus()).state.value,
                    after=TaskState.NONE.value,
                )
                for n in selected
            ]
            summary = f"clear {len(selected)} task(s): {', '.join(selected)}"
        words = ["kubectl", "airkube", "clear", run, "-n", namespace]
        for t in request.tasks or []:
            words += ["-t", t]
        words += ["--downstream"] if request.downstream else []
        words += ["--failed"] if request.only_failed else []
        result = RunActionResult(
            applied=False,
            action="clear",
            changes=changes,
            stopped=[c.task for c in changes or [] if TaskState(c.before).has_pod],
            summary=summary,
            note=note,
            command=_join(words),
            **self._base(namespace, body),
        )
        if apply:
            self.writes.patch_run(namespace, run, clear_patch(request, body["spec"], self.user))
            result.applied = True
        return result

    def mark(self, namespace: str, run: str, given: MarkInput, *, apply: bool) -> RunActionResult:
        body, graph, note = self._run(namespace, run)
        states = _states(body)
        state = (
            MarkState.SUCCEEDED
            if given.state in ("success", MarkState.SUCCEEDED)
            else MarkState.FAILED
        )
        tasks = _unique(given.tasks)
        if (given.upstream or given.downstream) and not tasks:
            raise InputError(
                {"tasks": "upstream and downstream need tasks: without them the run is marked"}
            )
        request = MarkRequest(
            id=self._id(),
            state=state,
            tasks=tasks,
            upstream=given.upstream,
            downstream=given.downstream,
        )
        changes: list[TaskChange] | None = None
        cleared: list[str] = []
        new_state = RunState(state.value).value if tasks is None else None
        summary = "the operator decides which tasks"
        if graph is not None:
            try:
                effect = mark_effect(graph, states, request)
            except MarkError as e:
                raise InputError({"tasks": str(e)}) from None
            current = RunState((body.get("status") or {}).get("state") or RunState.QUEUED.value)
            if not effect.changes(current):
                raise DataError(409, f"nothing to mark in run {run}: already {state.value}")
            changes = [
                TaskChange(
                    task=n, before=(states.get(n) or TaskStatus()).state.value, after=s.value
                )
                for n, s in effect.marked
            ]
            cleared = list(effect.cleared)
            new_state = effect.run_state.value if effect.run_state else None
            summary = effect.describe()
        words = ["kubectl", "airkube", "mark", run, "-n", namespace]
        words += ["--state", "success" if state is MarkState.SUCCEEDED else "failed"]
        for t in tasks or []:
            words += ["-t", t]
        words += ["--upstream"] if request.upstream else []
        words += ["--downstream"] if request.downstream else []
        result = RunActionResult(
            applied=False,
            action="mark",
            new_run_state=new_state,
            changes=changes,
            cleared_downstream=cleared,
            stopped=[c.task for c in changes or [] if TaskState(c.before).has_pod],
            summary=summary,
            note=note,
            command=_join(words),
            **self._base(namespace, body),
        )
        if apply:
            self.writes.patch_run(namespace, run, mark_patch(request, body["spec"], self.user))
            result.applied = True
        return result

    def cancel(self, namespace: str, run: str, *, apply: bool) -> RunActionResult:
        body, graph, note = self._run(namespace, run)
        current = RunState((body.get("status") or {}).get("state") or RunState.QUEUED.value)
        try:
            effect = cancel_effect(graph.order if graph else (), _states(body), current)
        except ValueError as e:
            raise DataError(409, f"run {run}: {e}") from None
        result = RunActionResult(
            applied=False,
            action="cancel",
            new_run_state=RunState.CANCELLED.value,
            changes=[
                TaskChange(task=n, before=s.value, after=TaskState.SKIPPED.value)
                for n, s in effect.skipped
            ],
            stopped=list(effect.stopped),
            summary=f"cancel the run: {len(effect.skipped)} unfinished task(s) Skipped, "
            f"{len(effect.stopped)} pod(s) stopped",
            note=note,
            command=_join(["kubectl", "airkube", "cancel", run, "-n", namespace]),
            **self._base(namespace, body),
        )
        if apply:
            self.writes.patch_run(namespace, run, cancel_patch(self.user))
            result.applied = True
        return result

    # Backfill and pause --------------------------------------------------------------

    def backfill(
        self, namespace: str, dag: str, given: BackfillInput, *, apply: bool
    ) -> BackfillResult:
        from airkube.core.validation import check_dag

        body = self.dag_body(namespace, dag)
        spec, problems = check_dag(body.get("spec") or {})
        if spec is None or problems:
            raise DataError(409, f"DAG {dag} is invalid: " + "; ".join(p.message for p in problems))
        errors: dict[str, str] = {}
        times: dict[str, datetime] = {}
        for key, text in (("start", given.start), ("end", given.end)):
            try:
                times[key] = in_dag_zone(read_time(text, key), spec.timezone)
            except TimeError as e:
                errors[key] = str(e)
        if errors:
            raise InputError(errors)
        existing = existing_runs(self.cluster.list_runs(namespace), dag)
        try:
            plan = backfill_intervals(
                dag,
                spec,
                times["start"],
                times["end"],
                now=self.clock(),
                existing=existing,
                mode=given.mode,
            )
        except BackfillError as e:
            raise InputError({"": str(e)}) from None
        items = [
            BackfillItem(
                name=r.name,
                logical_date=r.logical_date,
                data_interval_start=r.data_interval_start,
                data_interval_end=r.data_interval_end,
                replaces=r.replaces.name if r.replaces else None,
            )
            for r in plan.runs
        ]
        result = BackfillResult(
            applied=False,
            namespace=namespace,
            dag=dag,
            runs=items,
            skipped=[BackfillSkip(logical_date=w, reason=why) for w, why in plan.skipped],
            command=backfill_command(
                namespace, dag, given.start.strip(), given.end.strip(), given.mode
            ),
            requested_by=self.user,
        )
        if apply:
            for run, item in zip(plan.runs, items, strict=True):
                if run.replaces is not None:
                    self.writes.delete_run(namespace, run.replaces.name)
                try:
                    self.writes.create_run(
                        namespace, backfill_manifest(namespace, dag, run, self.user)
                    )
                    item.outcome = "created"
                except DataError as e:
                    if e.status != 409:
                        raise
                    item.outcome = "exists"
            result.applied = True
        return result

    def pause(self, namespace: str, dag: str, paused: bool) -> PauseResult:
        self.dag_body(namespace, dag)
        patch: dict[str, Any] = {"spec": {"paused": paused}}
        if self.user or not paused:  # who paused it; unpaused, nobody
            patch["metadata"] = {"annotations": {PAUSED_BY: self.user if paused else None}}
        self.writes.patch_dag(namespace, dag, patch)
        return PauseResult(namespace=namespace, dag=dag, paused=paused, requested_by=self.user)


def _valid_name(name: str) -> bool:
    """Whether ``name`` is a DNS subdomain (a resource name)."""
    return len(name) <= 253 and all(
        re.fullmatch(DNS1123_LABEL_PATTERN, part) for part in name.split(".")
    )


def _join(words: list[str]) -> str:
    return shlex.join(words)
