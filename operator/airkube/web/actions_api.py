"""The JSON API's write routes under ``/api/v1``: every one a POST, protected against
cross-site requests (:mod:`airkube.web.csrf`; ``GET /api/v1/csrf`` gives an API client
its token). With ``?dryRun=true`` a route answers with exactly what it would change and
changes nothing (as Kubernetes' ``dryRun``); without, it makes the change and says what it
did. Bad input is 422 with ``{"message": ..., "fields": {field: message}}``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, FastAPI, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from airkube.web import context
from airkube.web.actions import (
    Actions,
    BackfillInput,
    BackfillResult,
    ClearInput,
    InputError,
    MarkInput,
    ParamField,
    PauseInput,
    PauseResult,
    RunActionResult,
    TriggerInput,
    TriggerResult,
    param_fields,
)
from airkube.web.csrf import FIELD, HEADER, current_token
from airkube.web.models import Model
from airkube.web.service import NotFoundError

router = APIRouter(prefix="/api/v1")
DAG = "/namespaces/{namespace}/dags/{dag}"
RUN = DAG + "/runs/{run}"
DryRun = Annotated[
    bool, Query(alias="dryRun", description="Answer with what would change; change nothing.")
]


class CsrfToken(Model):
    token: str
    header: str = HEADER
    form_field: str = FIELD


@router.get("/csrf", response_model=CsrfToken)
def csrf_token() -> CsrfToken:
    """This session's CSRF token (its cookie is set with the answer when it is new): send
    it back in the X-CSRF-Token header of every POST, with the session's cookies."""
    return CsrfToken(token=current_token())


@router.get(DAG + "/params", response_model=list[ParamField])
def dag_params(request: Request, namespace: str, dag: str) -> list[ParamField]:
    """The DAG's params as the trigger form shows them: type, default, allowed values."""
    body = context.actions(request).dag_body(namespace, dag)
    return param_fields((body.get("spec") or {}).get("params"))


def _status(response: Response, dry_run: bool, created: bool = False) -> None:
    response.status_code = 200 if dry_run or not created else 201


@router.post(DAG + "/runs", response_model=TriggerResult, status_code=201)
def trigger(
    request: Request,
    response: Response,
    namespace: str,
    dag: str,
    body: TriggerInput,
    dry_run: DryRun = False,
) -> TriggerResult:
    """Start a manual run (``kubectl airkube trigger``), its params checked as the
    operator checks them."""
    result = context.actions(request).trigger(namespace, dag, body, apply=not dry_run)
    _status(response, dry_run, created=True)
    return result


@router.post(RUN + "/clear", response_model=RunActionResult)
def clear(
    request: Request, namespace: str, dag: str, run: str, body: ClearInput, dry_run: DryRun = False
) -> RunActionResult:
    """Run tasks of the run again (Airflow's clear; ``kubectl airkube clear``)."""
    actions = context.actions(request)
    _same_dag(actions, namespace, dag, run)
    return actions.clear(namespace, run, body, apply=not dry_run)


@router.post(RUN + "/mark", response_model=RunActionResult)
def mark(
    request: Request, namespace: str, dag: str, run: str, body: MarkInput, dry_run: DryRun = False
) -> RunActionResult:
    """Set tasks, or the run, Succeeded or Failed (``kubectl airkube mark``)."""
    actions = context.actions(request)
    _same_dag(actions, namespace, dag, run)
    return actions.mark(namespace, run, body, apply=not dry_run)


@router.post(RUN + "/cancel", response_model=RunActionResult)
def cancel(
    request: Request, namespace: str, dag: str, run: str, dry_run: DryRun = False
) -> RunActionResult:
    """Cancel the run (``kubectl airkube cancel``)."""
    actions = context.actions(request)
    _same_dag(actions, namespace, dag, run)
    return actions.cancel(namespace, run, apply=not dry_run)


@router.post(DAG + "/backfill", response_model=BackfillResult)
async def backfill(
    request: Request, namespace: str, dag: str, body: BackfillInput, dry_run: DryRun = False
) -> BackfillResult:
    """Create runs for the DAG's past intervals (``kubectl airkube backfill``)."""
    actions = context.actions(request)
    result: BackfillResult = await run_in_threadpool(
        actions.backfill, namespace, dag, body, apply=not dry_run
    )
    return result


@router.post(DAG + "/pause", response_model=PauseResult)
def pause(request: Request, namespace: str, dag: str, body: PauseInput) -> PauseResult:
    """Pause or unpause the DAG's schedule."""
    return context.actions(request).pause(namespace, dag, body.paused)


def _same_dag(actions: Actions, namespace: str, dag: str, run: str) -> None:
    """404 unless ``run`` is a run of ``dag`` (the path says so)."""
    body = actions.cluster.get_run(namespace, run)
    found = ((body or {}).get("spec") or {}).get("dagRef", {}).get("name")
    if body is not None and found != dag:
        raise NotFoundError(f"run {run} is a run of DAG {found}, not of {dag}")


def add_error_handlers(app: FastAPI) -> None:
    """Bad input as one line per field, in the API's ``{"message": ...}`` shape."""

    @app.exception_handler(InputError)
    async def input_error(request: Request, error: InputError) -> Response:
        return JSONResponse({"message": str(error), "fields": error.fields}, status_code=422)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> Response:
        fields = {}
        for e in error.errors():
            where = ".".join(str(x) for x in e.get("loc", ())[1:]) or "body"
            fields[where] = f"{where}: {e.get('msg', 'invalid')}"
        return JSONResponse(
            {"message": "; ".join(fields.values()) or "invalid request", "fields": fields},
            status_code=422,
        )
