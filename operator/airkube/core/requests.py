"""The write requests people make on DAGs and runs (trigger, clear, mark, cancel, backfill,
pause), as the CLI and the web server both make them: the DAGRun a trigger creates, the
patch a clear, mark or cancel writes, what a cancel stops, and who asked.

Who asked is recorded on the resource, in one place: an annotation
``airkube.io/<verb>-by`` (:data:`BY_ANNOTATIONS`) holding the requesting user's
Kubernetes name, written in the same request as the change (the DAGRun a trigger or a
backfill creates; the patch of a clear, mark or cancel; the DAG a pause patches). It is a
record for people, not an audit: the API server's audit log is that.
"""

import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from airkube.api.dagrun import ClearRequest, DagRef, DAGRunSpec, MarkRequest, RunType, TaskStatus
from airkube.api.dates import date_range_problem
from airkube.api.schedule import timezone_problem
from airkube.api.states import RunState, TaskState
from airkube.core.backfill import BackfillMode, BackfillRun, ExistingRun
from airkube.core.cron import to_utc
from airkube.core.params import ParamsError, declarations, resolve_params
from airkube.core.run_names import dagrun_manifest, manual_run_name
from airkube.core.timestamps import parse_time

TRIGGERED_BY = "airkube.io/triggered-by"
CLEARED_BY = "airkube.io/cleared-by"
MARKED_BY = "airkube.io/marked-by"
CANCELLED_BY = "airkube.io/cancelled-by"
PAUSED_BY = "airkube.io/paused-by"
BY_ANNOTATIONS = {
    "trigger": TRIGGERED_BY,
    "backfill": TRIGGERED_BY,
    "clear": CLEARED_BY,
    "mark": MARKED_BY,
    "cancel": CANCELLED_BY,
    "pause": PAUSED_BY,
}
"""The annotation recording who made each kind of request."""

_ANNOTATION_VALUE_MAX = 253


def by_annotation(verb: str, user: str | None) -> dict[str, str]:
    """The annotation saying ``user`` made a ``verb`` request (none when unknown)."""
    if not user:
        return {}
    return {BY_ANNOTATIONS[verb]: user[:_ANNOTATION_VALUE_MAX]}


def request_id(now: datetime, token: str) -> str:
    """A clear or mark request's id: when it was made and a random ``token`` (the operator
    applies each id once)."""
    return f"{now:%Y%m%dt%H%M%S}-{token}"


# Times people type -----------------------------------------------------------------------

TIME_FORMS = (
    "a date (2026-11-01) or a date and time (2026-11-01T06:00), read in the DAG's "
    "timezone, or with a zone (2026-11-01T06:00:00Z, 2026-11-01T06:00:00+01:00)"
)
"""The times the commands and forms accept, as their help and their errors say it."""


class TimeError(ValueError):
    """A time people typed cannot be read; the message says what and how to write it."""


def read_time(text: str, what: str) -> datetime:
    """The one reader of the times people type (ISO 8601): aware when ``text`` names a
    zone, naive (wall-clock time; a date alone is its midnight) when it does not; place a
    naive one with :func:`in_dag_zone`."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise TimeError(f"{what}: {text!r} is not a time; give {TIME_FORMS}") from None
    problem = date_range_problem(value)
    if problem:
        raise TimeError(f"{what}: {problem}")
    return value


def in_dag_zone(value: datetime, timezone: str | None) -> datetime:
    """``value`` as an aware UTC instant: a time without a zone is wall-clock time in the
    DAG's ``timezone`` (UTC when it has none), read as the DAG's own dates are."""
    zone = timezone or "UTC"
    problem = timezone_problem(zone) if value.tzinfo is None else None
    if problem:
        raise TimeError(f"the DAG's {problem}")
    return to_utc(value, zone)


# Trigger ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class TriggerPlan:
    """The manual run a trigger creates."""

    name: str
    logical_date: datetime
    overrides: dict[str, Any]
    """The params the run gives (its spec.params)."""
    values: dict[str, Any]
    """Every param the run's templates will read: defaults overridden, converted."""
    extra: tuple[str, ...]
    manifest: dict[str, Any]


def trigger_plan(
    namespace: str,
    dag: str,
    dag_params: Mapping[str, Any] | None,
    overrides: Mapping[str, Any],
    logical_date: datetime,
    run_name: str | None = None,
    user: str | None = None,
) -> TriggerPlan:
    """The DAGRun ``airkube trigger`` (and the UI's trigger form) creates: a manual run of
    ``dag`` for ``logical_date`` (aware) with ``overrides``, checked by
    :func:`~airkube.core.params.resolve_params` as the operator checks them.

    Raises :class:`~airkube.core.params.ParamsError` listing every problem."""
    resolved = resolve_params(dag_params, overrides)
    if resolved.problems:
        raise ParamsError(resolved.problems)
    name = run_name or manual_run_name(dag, logical_date)
    spec = DAGRunSpec(
        dag_ref=DagRef(name=dag),
        run_type=RunType.MANUAL,
        logical_date=logical_date,
        params=dict(overrides) or None,
    )
    manifest = dagrun_manifest(namespace, name, spec)
    manifest["metadata"]["annotations"] = by_annotation("trigger", user)
    if not manifest["metadata"]["annotations"]:
        del manifest["metadata"]["annotations"]
    return TriggerPlan(
        name, logical_date, dict(overrides), resolved.values, resolved.extra, manifest
    )


def problems_by_param(
    dag_params: Mapping[str, Any] | None, problems: Iterable[str]
) -> dict[str, list[str]]:
    """:func:`resolve_params`'s problems by the param each names ("" for others), so a
    form can show each next to its field."""
    names = sorted(declarations(dag_params), key=len, reverse=True)
    found: dict[str, list[str]] = {}
    for problem in problems:
        owner = next((n for n in names if problem.startswith(f"param {n} ")), "")
        found.setdefault(owner, []).append(problem)
    return found


def trigger_command(
    namespace: str,
    dag: str,
    params: Mapping[str, str],
    logical_date: str | None = None,
    run_name: str | None = None,
) -> str:
    """The ``kubectl airkube trigger`` command line that makes the same run; ``params``
    are the values as text (``--param KEY=TEXT``)."""
    words = ["kubectl", "airkube", "trigger", dag, "-n", namespace]
    for key, text in params.items():
        words += ["--param", f"{key}={text}"]
    if logical_date:
        words += ["--logical-date", logical_date]
    if run_name:
        words += ["--name", run_name]
    return shlex.join(words)


# Clear, mark, cancel ---------------------------------------------------------------------


def _patch(verb: str, user: str | None, spec: dict[str, Any]) -> dict[str, Any]:
    patch: dict[str, Any] = {"spec": spec}
    annotations = by_annotation(verb, user)
    if annotations:
        patch["metadata"] = {"annotations": annotations}
    return patch


def clear_patch(
    request: ClearRequest, run_spec: Mapping[str, Any], user: str | None = None
) -> dict[str, Any]:
    """The merge patch of a DAGRun that asks for ``request`` (a clear lifts a cancel)."""
    # Every field written, null included: a merge patch keeps fields it does not mention.
    spec: dict[str, Any] = {"clear": request.model_dump(mode="json", by_alias=True)}
    if run_spec.get("cancel"):
        spec["cancel"] = False
    return _patch("clear", user, spec)


def mark_patch(
    request: MarkRequest, run_spec: Mapping[str, Any], user: str | None = None
) -> dict[str, Any]:
    """The merge patch of a DAGRun that asks for ``request`` (marking tasks lifts a cancel,
    as a clear does: the tasks it reopens may run)."""
    spec: dict[str, Any] = {"mark": request.model_dump(mode="json", by_alias=True)}
    if request.tasks and run_spec.get("cancel"):
        spec["cancel"] = False
    return _patch("mark", user, spec)


def cancel_patch(user: str | None = None) -> dict[str, Any]:
    """The merge patch of a DAGRun that cancels it."""
    return _patch("cancel", user, {"cancel": True})


@dataclass(frozen=True)
class CancelEffect:
    """What cancelling a run changes: every unfinished task ends Skipped (the pods of the
    ``stopped`` ones are deleted) and the run ends Cancelled."""

    skipped: tuple[tuple[str, TaskState], ...]
    """The unfinished tasks with their state now, in the run's order."""
    stopped: tuple[str, ...]
    """Those whose pod exists (Queued or Running): it is deleted."""


def cancel_effect(
    order: Iterable[str], states: Mapping[str, TaskStatus], run_state: RunState
) -> CancelEffect:
    """What cancelling a run in ``run_state`` whose tasks are in ``states`` changes.

    Raises ValueError when the run has ended (nothing to cancel)."""
    if run_state.finished:
        raise ValueError(f"the run has already ended {run_state.value}: nothing to cancel")
    names = list(order) or list(states)
    unfinished = [
        (n, (states.get(n) or TaskStatus()).state)
        for n in names
        if not (states.get(n) or TaskStatus()).state.finished
    ]
    return CancelEffect(tuple(unfinished), tuple(n for n, s in unfinished if s.has_pod))


# Backfill --------------------------------------------------------------------------------


def existing_runs(runs: Iterable[Mapping[str, Any]], dag: str) -> dict[datetime, ExistingRun]:
    """The runs of ``dag`` among ``runs`` (DAGRun bodies) by logical date, as
    :func:`~airkube.core.backfill.backfill_intervals` takes them."""
    existing: dict[datetime, ExistingRun] = {}
    for run in runs:
        spec, status = run.get("spec") or {}, run.get("status") or {}
        when = parse_time(spec.get("logicalDate"))
        if (spec.get("dagRef") or {}).get("name") != dag or when is None:
            continue
        existing[when] = ExistingRun(
            run["metadata"]["name"], RunState(status.get("state") or RunState.QUEUED)
        )
    return existing


def backfill_mode(rerun_failed: bool, rerun_all: bool) -> BackfillMode:
    if rerun_all:
        return BackfillMode.RERUN_ALL
    return BackfillMode.RERUN_FAILED if rerun_failed else BackfillMode.ONLY_MISSING


def backfill_command(namespace: str, dag: str, start: str, end: str, mode: BackfillMode) -> str:
    """The ``kubectl airkube backfill`` command line that makes the same runs."""
    words = ["kubectl", "airkube", "backfill", dag, "-n", namespace, "--start", start]
    words += ["--end", end]
    if mode is BackfillMode.RERUN_FAILED:
        words.append("--rerun-failed")
    elif mode is BackfillMode.RERUN_ALL:
        words.append("--rerun-all")
    return shlex.join(words)


def backfill_manifest(
    namespace: str, dag: str, run: BackfillRun, user: str | None = None
) -> dict[str, Any]:
    """The DAGRun a backfill creates for ``run``."""
    manifest = dagrun_manifest(namespace, run.name, run.spec(dag))
    annotations = by_annotation("backfill", user)
    if annotations:
        manifest["metadata"]["annotations"] = annotations
    return manifest
