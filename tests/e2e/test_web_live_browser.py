"""Live pages in a real browser (Debian's chromium through Playwright) against the local
cluster: an open run page follows the run's states without a reload, and a try page
streams its pod's log while the pod runs, then shows the stored log. Screenshots:
live-run.png, live-log.png."""

from __future__ import annotations

import time

from kubernetes import client
from playwright.sync_api import Page, expect

from browser import assert_not_reloaded, mark_loaded, screenshot

from .operator_process import OperatorProcess
from .resources import apply_dag, create_run, sim, task
from .test_task_logs import KWOK_LOG
from .waiting import watch_run

LIVE_MS = 15_000
"""How long a page may take to show a state the operator reaches (the run's own time)."""


def test_an_open_run_page_follows_the_runs_states(
    operator: OperatorProcess,
    web: str,
    custom: client.CustomObjectsApi,
    namespace: str,
    page: Page,
) -> None:
    apply_dag(
        custom,
        namespace,
        "livepage",
        tasks=[
            task("extract", podTemplate=sim(duration="2s")),
            task("transform", "extract", podTemplate=sim(duration="2s")),
            task("load", "transform"),
        ],
    )
    create_run(custom, namespace, "livepage-1", "livepage")
    page.goto(f"{web}/ui/namespaces/{namespace}/dags/livepage/runs/livepage-1")
    mark_loaded(page)
    run_state = page.locator("h1 .state")
    transform = page.locator("#task-transform .state")
    expect(run_state).to_have_text("Running", timeout=LIVE_MS)
    expect(transform).to_have_text("Running", timeout=LIVE_MS)
    screenshot(page, "live-run")
    expect(run_state).to_have_text("Succeeded", timeout=LIVE_MS)
    expect(page.locator("tr[id^=task-] .state")).to_have_text(["Succeeded"] * 3)
    assert_not_reloaded(page)


def test_a_try_page_streams_the_running_pods_log(
    operator: OperatorProcess,
    web: str,
    custom: client.CustomObjectsApi,
    namespace: str,
    page: Page,
) -> None:
    apply_dag(
        custom,
        namespace,
        "livelog",
        tasks=[task("talk", podTemplate=sim(start_delay="8s", duration="4s"))],
    )
    create_run(custom, namespace, "livelog-1", "livelog")
    watch_run(
        custom,
        namespace,
        "livelog-1",
        lambda r: ((r.get("status") or {}).get("tasks") or {}).get("talk", {}).get("tryNumber"),
        timeout=30,
    )
    # Opened while the pod is still pending: the log is empty, then streams in.
    page.goto(f"{web}/ui/namespaces/{namespace}/dags/livelog/runs/livelog-1/tasks/talk/tries/1")
    mark_loaded(page)
    log = page.locator("pre.log")
    assert log.get_attribute("data-follow"), "the page should follow the pending pod's log"
    assert log.text_content() == ""
    first_line = KWOK_LOG.splitlines()[0]
    expect(log).to_contain_text(first_line, timeout=LIVE_MS)
    expect(page.locator("h1 .state")).to_have_text("Running")
    streamed = log.text_content()
    assert streamed == KWOK_LOG, streamed
    assert log.evaluate("e => e.childElementCount") == 0  # text nodes only
    screenshot(page, "live-log")
    # The try ends: the page shows its final state and the log as stored.
    started = time.monotonic()
    expect(page.locator("h1 .state")).to_have_text("Succeeded", timeout=LIVE_MS)
    expect(page.locator("[data-log-section] .log-nav")).to_contain_text("from the", timeout=LIVE_MS)
    assert log_text(page) == KWOK_LOG
    assert page.locator("pre.log[data-follow]").count() == 0
    assert time.monotonic() - started < LIVE_MS / 1000
    assert_not_reloaded(page)


def log_text(page: Page) -> str:
    """The log as shown, without the line numbers."""
    text: str = page.locator("pre.log").evaluate(
        "e => Array.from(e.childNodes)"
        ".filter(n => !(n.classList && n.classList.contains('ln')))"
        ".map(n => n.textContent).join('')"
    )
    return text
