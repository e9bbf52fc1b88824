"""The pages of the write actions: the trigger form generated from the DAG's params, the
clear / mark / cancel forms of a run, the backfill form, and the DAG list's pause toggle.

Each form posts twice: ``step=preview`` shows exactly what will change (and the same
command for the CLI) with a confirm button; ``step=confirm`` makes the change and
redirects (303) to the run or DAG. Bad input shows the form again (422) with a message
next to each field. Every POST carries the session's CSRF token (:mod:`airkube.web.csrf`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from airkube.web import context, pages
from airkube.web.actions import (
    Actions,
    BackfillInput,
    ClearInput,
    InputError,
    MarkInput,
    TriggerInput,
    param_fields,
    param_text,
)
from airkube.web.data import DataError

router = APIRouter(include_in_schema=False)
DAG = "/ui/namespaces/{namespace}/dags/{dag}"
RUN = DAG + "/runs/{run}"
RUN_ACTIONS = {"clear": "Clear", "mark": "Mark", "cancel": "Cancel"}
pages.env.globals["param_text"] = param_text
T = TypeVar("T")


async def _form(request: Request) -> dict[str, list[str]]:
    """The posted form (application/x-www-form-urlencoded), each field's values."""
    body = await request.body()
    return parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)


def _one(form: dict[str, list[str]], key: str, default: str = "") -> str:
    return (form.get(key) or [default])[0]


def _flag(form: dict[str, list[str]], key: str) -> bool:
    return _one(form, key).lower() in ("true", "on", "1")


def _page(name: str, status: int = 200, **values: Any) -> HTMLResponse:
    page = pages.env.get_template(name).render(**values)
    return HTMLResponse(page, status_code=status)


def _errors(error: DataError) -> dict[str, str]:
    return error.fields if isinstance(error, InputError) else {"": str(error)}


async def _call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    # The cluster's client blocks: off the event loop, as FastAPI runs plain routes.
    return await run_in_threadpool(fn, *args, **kwargs)


# Trigger -------------------------------------------------------------------------------


def _trigger_page(
    actions: Actions,
    namespace: str,
    dag: str,
    given: dict[str, str],
    logical_date: str = "",
    run_name: str = "",
    preview: Any = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    spec = actions.dag_body(namespace, dag).get("spec") or {}
    return _page(
        "trigger.html",
        status,
        ns=namespace,
        dag=dag,
        fields=param_fields(spec.get("params")),
        timezone=spec.get("timezone") or "UTC",
        given=given,
        logical_date=logical_date,
        run_name=run_name,
        preview=preview,
        errors=errors or {},
    )


@router.get(DAG + "/trigger", response_class=HTMLResponse)
def trigger_form(request: Request, namespace: str, dag: str) -> HTMLResponse:
    return _trigger_page(context.actions(request), namespace, dag, {})


@router.post(DAG + "/trigger", response_class=HTMLResponse)
async def trigger_post(request: Request, namespace: str, dag: str) -> Response:
    actions = context.actions(request)
    form = await _form(request)
    fields = {
        f.name: f
        for f in param_fields(
            ((await _call(actions.dag_body, namespace, dag)).get("spec") or {}).get("params")
        )
    }
    given = {k[len("param.") :]: v[0] for k, v in form.items() if k.startswith("param.")}
    # A field left at its default (or emptied, unless text) gives no override: the run
    # takes the default, as `kubectl airkube trigger` without --param does.
    texts = {
        k: t
        for k, t in given.items()
        if k in fields
        and (fields[k].required or t != fields[k].default_text)
        and (t != "" or fields[k].required or "string" in fields[k].types)
    }
    date, name = _one(form, "logicalDate").strip(), _one(form, "name").strip()
    confirm = _one(form, "step") == "confirm"
    try:
        result = await _call(
            actions.trigger,
            namespace,
            dag,
            TriggerInput(logical_date=date or None, name=name or None),
            apply=confirm,
            texts=texts,
        )
    except DataError as e:
        return await _call(
            _trigger_page,
            actions,
            namespace,
            dag,
            given,
            date,
            name,
            None,
            _errors(e),
            e.status if e.status >= 400 else 422,
        )
    if confirm:
        return RedirectResponse(
            f"/ui/namespaces/{namespace}/dags/{dag}/runs/{result.name}", status_code=303
        )
    return await _call(_trigger_page, actions, namespace, dag, given, date, name, result)


# Clear, mark, cancel -------------------------------------------------------------------


def _run_page(
    request: Request,
    namespace: str,
    dag: str,
    run: str,
    action: str,
    chosen: list[str],
    options: dict[str, Any],
    preview: Any = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    detail = context.service(request).get_run(namespace, run, dag)
    return _page(
        "run_action.html",
        status,
        ns=namespace,
        dag=dag,
        run=detail,
        action=action,
        title=RUN_ACTIONS[action] if action != "mark" else f"Mark {options['state']}",
        chosen=chosen,
        options=options,
        preview=preview,
        errors=errors or {},
    )


def run_action_form(
    request: Request, namespace: str, dag: str, run: str, action: str
) -> HTMLResponse:
    query = request.query_params
    options: dict[str, Any] = {
        "state": "failed" if query.get("state") == "failed" else "success",
        "downstream": query.get("downstream") == "true",
        "upstream": False,
        "only_failed": query.get("onlyFailed") == "true",
    }
    preview: Any = None
    errors: dict[str, str] = {}
    if action == "cancel":  # nothing to choose: what it would change, at once
        try:
            preview = context.actions(request).cancel(namespace, run, apply=False)
        except DataError as e:
            errors = _errors(e)
    return _run_page(
        request, namespace, dag, run, action, query.getlist("task"), options, preview, errors
    )


async def run_action_post(
    request: Request, namespace: str, dag: str, run: str, action: str
) -> Response:
    actions = context.actions(request)
    form = await _form(request)
    chosen = [t for t in form.get("task", []) if t]
    options: dict[str, Any] = {
        "state": "failed" if _one(form, "state") == "failed" else "success",
        "downstream": _flag(form, "downstream"),
        "upstream": _flag(form, "upstream"),
        "only_failed": _flag(form, "onlyFailed"),
    }
    confirm = _one(form, "step") == "confirm"
    body = await _call(actions.cluster.get_run, namespace, run)
    if body is None or ((body.get("spec") or {}).get("dagRef") or {}).get("name") != dag:
        raise DataError(404, f"DAGRun {run} of DAG {dag} not found in namespace {namespace}")
    try:
        if action == "clear":
            given: Any = ClearInput(
                tasks=chosen or None,
                downstream=options["downstream"],
                only_failed=options["only_failed"],
            )
            result = await _call(actions.clear, namespace, run, given, apply=confirm)
        elif action == "mark":
            given = MarkInput(
                state=options["state"],
                tasks=chosen or None,
                upstream=options["upstream"],
                downstream=options["downstream"],
            )
            result = await _call(actions.mark, namespace, run, given, apply=confirm)
        else:
            result = await _call(actions.cancel, namespace, run, apply=confirm)
    except DataError as e:
        return await _call(
            _run_page,
            request,
            namespace,
            dag,
            run,
            action,
            chosen,
            options,
            None,
            _errors(e),
            e.status if e.status >= 400 else 422,
        )
    if confirm:
        return RedirectResponse(f"/ui/namespaces/{namespace}/dags/{dag}/runs/{run}", 303)
    return await _call(_run_page, request, namespace, dag, run, action, chosen, options, result)


def _routes(action: str) -> None:
    # One path per action (not RUN/{action}), so that no other page under a run is shadowed.
    def form(request: Request, namespace: str, dag: str, run: str) -> HTMLResponse:
        return run_action_form(request, namespace, dag, run, action)

    async def post(request: Request, namespace: str, dag: str, run: str) -> Response:
        return await run_action_post(request, namespace, dag, run, action)

    router.add_api_route(f"{RUN}/{action}", form, methods=["GET"], response_class=HTMLResponse)
    router.add_api_route(f"{RUN}/{action}", post, methods=["POST"], response_class=HTMLResponse)


for _action in RUN_ACTIONS:
    _routes(_action)


# Backfill and pause --------------------------------------------------------------------


def _backfill_page(
    actions: Actions,
    namespace: str,
    dag: str,
    given: dict[str, str],
    preview: Any = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    spec = actions.dag_body(namespace, dag).get("spec") or {}
    return _page(
        "backfill.html",
        status,
        ns=namespace,
        dag=dag,
        timezone=spec.get("timezone") or "UTC",
        given=given,
        preview=preview,
        errors=errors or {},
    )


@router.get(DAG + "/backfill", response_class=HTMLResponse)
def backfill_form(request: Request, namespace: str, dag: str) -> HTMLResponse:
    given = {"start": "", "end": "", "mode": "only_missing"}
    return _backfill_page(context.actions(request), namespace, dag, given)


@router.post(DAG + "/backfill", response_class=HTMLResponse)
async def backfill_post(request: Request, namespace: str, dag: str) -> Response:
    actions = context.actions(request)
    form = await _form(request)
    given = {k: _one(form, k).strip() for k in ("start", "end")}
    given["mode"] = _one(form, "mode", "only_missing")
    confirm = _one(form, "step") == "confirm"
    errors = {k: f"{k}: give a date, such as 2026-11-01" for k in ("start", "end") if not given[k]}
    if given["mode"] not in ("only_missing", "rerun_failed", "rerun_all"):
        errors[""] = f"mode {given['mode']!r} is not one of only_missing, rerun_failed, rerun_all"
    try:
        if errors:
            raise InputError(errors)
        result = await _call(
            actions.backfill,
            namespace,
            dag,
            BackfillInput.model_validate(given),
            apply=confirm,
        )
    except DataError as e:
        return await _call(
            _backfill_page,
            actions,
            namespace,
            dag,
            given,
            None,
            _errors(e),
            e.status if e.status >= 400 else 422,
        )
    if confirm:
        return RedirectResponse(f"/ui/namespaces/{namespace}/dags/{dag}", status_code=303)
    return await _call(_backfill_page, actions, namespace, dag, given, result)


@router.post(DAG + "/pause")
async def pause_post(request: Request, namespace: str, dag: str) -> Response:
    """The DAG list's toggle: pause or unpause, then back to the list."""
    actions = context.actions(request)
    form = await _form(request)
    await _call(actions.pause, namespace, dag, _flag(form, "paused"))
    back = _one(form, "back")
    if not back.startswith(f"/ui/namespaces/{namespace}/"):  # never elsewhere
        back = f"/ui/namespaces/{namespace}/dags"
    return RedirectResponse(back, status_code=303)
