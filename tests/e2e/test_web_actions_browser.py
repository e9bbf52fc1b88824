"""The write actions in a real browser against the local cluster: a run started from the
trigger form (generated from the DAG's params, checked on the server) succeeds, its page
following it without a reload; mark and clear work from the run page, each through its
preview. Screenshots: trigger-form.png,
clear-preview.png. The DAG list's pause toggle works too."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from kubernetes import client
from playwright.sync_api import Page, expect

from airkube.api import GROUP, VERSION
from airkube.kube.identity import review_user
from airkube.web.app import create_app
from airkube.web.data import KubeCluster

from .operator_process import OperatorProcess
from .resources import apply_dag, create_run, sim, state, task
from .waiting import watch_run
from .web_server import serve

from browser import assert_not_reloaded, mark_loaded, screenshot  # isort: skip  (tests/ is on the path)

RUN_TIMEOUT = 60.0


@pytest.fixture
def site(api: client.ApiClient, operator: OperatorProcess) -> Iterator[str]:
    """A web server acting as the kubeconfig's user (as `kubectl airkube ui` does)."""
    with serve(create_app(KubeCluster(api), None, user=review_user(api))) as url:
        yield url


def run_page_shows(page: Page, want: str, timeout: float = RUN_TIMEOUT) -> None:
    """The open run page comes to show the run ``want`` by itself (live updates): no
    reload, which would lose the marker set here."""
    mark_loaded(page)
    expect(page.locator("h1 .state")).to_have_text(want, timeout=timeout * 1000)
    assert_not_reloaded(page)


def test_a_run_started_from_the_trigger_form_succeeds(
    page: Page, site: str, custom: client.CustomObjectsApi, namespace: str
) -> None:
    apply_dag(
        custom,
        namespace,
        "shop",
        params={
            "rows": {"default": 2, "type": "integer", "minimum": 1, "description": "rows to load"},
            "mode": {"default": "full", "enum": ["full", "delta"]},
            "label": "nightly",
        },
        tasks=[task("fetch", podTemplate=sim(duration="1s")), task("store", "fetch")],
    )
    page.goto(f"{site}/ui/namespaces/{namespace}/dags")
    toggle = page.locator("form.toggle button")
    expect(toggle).to_have_text("active")
    toggle.click()  # the pause toggle: a POST with the session's CSRF token
    expect(toggle).to_have_text("paused")
    dag = custom.get_namespaced_custom_object(GROUP, VERSION, namespace, "dags", "shop")
    assert dag["spec"]["paused"] is True
    page.get_by_role("link", name="shop").click()
    page.get_by_role("link", name="Trigger…").click()
    expect(page.locator("#param-rows")).to_have_value("2")
    expect(page.locator("#trigger-form")).to_contain_text("rows to load")

    page.fill("#param-rows", "0")
    page.click("#preview")
    expect(page.locator('[data-field="params.rows"]')).to_have_text(
        "param rows must be at least 1, got 0"
    )
    page.fill("#param-rows", "5")
    page.select_option("#param-mode", "delta")
    page.fill("#runName", "shop-from-form")
    page.click("#preview")
    expect(page.locator("#command")).to_have_text(
        f"kubectl airkube trigger shop -n {namespace} --param mode=delta --param rows=5 "
        "--name shop-from-form"
    )
    expect(page.locator("#preview-box")).to_contain_text("params.rows")
    screenshot(page, "trigger-form")

    page.click("#confirm")
    expect(page).to_have_url(re.compile(r"/runs/shop-from-form$"))
    run_page_shows(page, "Succeeded")
    run = custom.get_namespaced_custom_object(
        GROUP, VERSION, namespace, "dagruns", "shop-from-form"
    )
    assert run["spec"]["params"] == {"rows": 5, "mode": "delta"}


def test_mark_and_clear_from_the_run_page(
    page: Page, site: str, custom: client.CustomObjectsApi, namespace: str
) -> None:
    apply_dag(
        custom,
        namespace,
        "repair",
        tasks=[
            task("flaky", retries=0, podTemplate=sim(exit_code="1")),
            task("after", "flaky"),
        ],
    )
    create_run(custom, namespace, "repair-1", "repair")
    watch_run(custom, namespace, "repair-1", lambda r: state(r) == "Failed", timeout=RUN_TIMEOUT)
    run_url = f"{site}/ui/namespaces/{namespace}/dags/repair/runs/repair-1"
    page.goto(run_url)

    page.get_by_role("link", name="Mark success…").click()
    page.get_by_label("flaky").check()
    page.click("#preview")
    preview = page.locator("#preview-box")
    expect(preview).to_contain_text("Succeeded: flaky; cleared downstream: after")
    expect(preview.get_by_role("row", name="flaky Failed → Succeeded")).to_be_visible()
    page.click("#confirm")
    expect(page).to_have_url(run_url)
    run_page_shows(page, "Succeeded")  # "after" ran once flaky was marked

    page.get_by_role("link", name="Clear…").click()
    page.get_by_label("after").check()
    page.click("#preview")
    expect(page.locator("#preview-box h2")).to_have_text("clear 1 task(s): after")
    expect(page.locator("#command")).to_have_text(
        f"kubectl airkube clear repair-1 -n {namespace} -t after"
    )
    screenshot(page, "clear-preview")
    page.click("#confirm")
    expect(page).to_have_url(run_url)
    # The task's state and try columns: it ran again, as try 2, shown without a reload.
    mark_loaded(page)
    cells = page.locator("#task-after td")
    expect(cells.nth(2)).to_have_text("Succeeded", timeout=RUN_TIMEOUT * 1000)
    expect(cells.nth(3)).to_have_text("2", timeout=RUN_TIMEOUT * 1000)
    assert_not_reloaded(page)
