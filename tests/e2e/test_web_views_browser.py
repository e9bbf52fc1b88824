"""The views in Debian's Chromium against the local cluster with a real run: the DAG list,
the grid, the graph (a fan-out collapsed, trigger rules on edges), the run page (why a task
waits, the Gantt, events) and the try page (pod, command, events, log); no JavaScript
error; a log line with HTML in it is shown as text. Screenshots for the README:
dag-list.png, grid.png, graph.png, run.png, try.png (build/screenshots/)."""

from __future__ import annotations

import time

from kubernetes import client
from playwright.sync_api import Page, expect

from airkube.api import GROUP, VERSION
from airkube.core.logs import LogKey
from airkube.logstore import LogStoreSettings, store_for
from airkube.store.repository import Store
from browser import assert_shown_as_text, screenshot

from .operator_process import OperatorProcess
from .resources import apply_dag, create_run, sim, state, task, tasks
from .waiting import watch_run

HTML_LINE = '<img src=x onerror="window.__hacked=1"> <b>not bold</b> & done'


def test_each_view_renders_a_real_run(
    page: Page,
    web: str,
    operator: OperatorProcess,
    custom: client.CustomObjectsApi,
    namespace: str,
) -> None:
    shards = [task(f"shard-{i:02d}", "extract", podTemplate=sim(duration="1s")) for i in range(12)]
    apply_dag(
        custom,
        namespace,
        "views",
        maxActiveTasks=6,
        tasks=[
            task("extract", podTemplate=sim(duration="1s", output="<i>rows: 12</i>")),
            *shards,
            task("report", *(s["name"] for s in shards), triggerRule="all_done"),
            task("slow", podTemplate=sim(duration="40s")),
            task("after-slow", "slow", triggerRule="none_failed"),
        ],
    )
    create_run(custom, namespace, "views-1", "views")
    watch_run(
        custom,
        namespace,
        "views-1",
        lambda r: (
            (tasks(r).get("report") or {}).get("state") == "Succeeded"
            and (tasks(r).get("slow") or {}).get("state") == "Running"
        ),
        timeout=90,
    )
    ui = f"{web}/ui/namespaces/{namespace}/dags"

    page.goto(f"{ui}/views")
    expect(page.locator("table.grid td.cell a").first).to_be_visible()
    screenshot(page, "grid")

    page.goto(f"{ui}/views/graph?run=views-1")
    graph = page.locator("svg.dag-graph")
    expect(graph).to_be_visible()
    group = page.locator('g.node[data-node="shard-00+11"]')
    expect(group).to_have_count(1)
    expect(group.locator("title").first).to_contain_text("12 Succeeded")
    expect(graph.locator("text.rule", has_text="all_done")).to_have_count(1)
    expect(graph.locator("text.rule", has_text="none_failed")).to_have_count(1)
    screenshot(page, "graph")
    page.locator('g.node[data-node="extract"]').click()
    expect(page.locator("h1")).to_contain_text("extract · try 1")

    page.goto(f"{ui}/views/runs/views-1")
    why = page.locator("#why-after-slow")
    expect(why).to_contain_text("TriggerRule")
    expect(why).to_contain_text("waiting for slow")
    expect(page.locator(".gantt-row")).to_have_count(15)  # every task that has a try
    assert_shown_as_text(page.locator("#task-extract td").last, "<i>rows: 12</i>")
    screenshot(page, "run")

    page.goto(f"{ui}/views/runs/views-1/tasks/slow/tries/1")
    expect(page.locator("code.command")).to_have_text("sh -c 'echo slow'")
    expect(page.locator("table.events")).to_contain_text("Scheduled")
    expect(page.locator("pre.log")).to_be_visible()
    screenshot(page, "try")

    # A log line with markup, from the log store: the operator's capture of shard-00's log
    # is replaced through the log store's API, and read once the run's pods are gone.
    watch_run(custom, namespace, "views-1", lambda r: state(r) == "Succeeded", timeout=90)
    page.goto(f"{ui}/views/runs/views-1")
    expect(page.locator("table.events")).to_contain_text("RunSucceeded")
    expect(page.locator("#why")).to_have_count(0)  # nothing waits in a finished run
    page.goto(f"{ui}?search=views")
    expect(page.locator("table.dags a", has_text="views")).to_be_visible()
    expect(page.locator(".bars a.ok")).to_have_count(1)
    screenshot(page, "dag-list")
    with Store.from_url(operator.db_url, migrate=False) as store:
        deadline = time.monotonic() + 30
        while not any(
            x.task_name == "shard-00" and x.state == "Stored"
            for x in store.task_logs(namespace, "views-1")
        ):
            assert time.monotonic() < deadline, "shard-00's log was never stored"
            time.sleep(0.5)
        logs = store_for("database", LogStoreSettings(), store)
        key = LogKey(namespace, "views", "views-1", "shard-00", 1)
        logs.put(key, f"first line\n{HTML_LINE}\nlast line\n".encode())
    custom.delete_namespaced_custom_object(GROUP, VERSION, namespace, "dagruns", "views-1")
    url = f"{ui}/views/runs/views-1/tasks/shard-00/tries/1"
    deadline = time.monotonic() + 60
    page.goto(url)
    while "from the log store" not in page.locator("main").inner_text():
        assert time.monotonic() < deadline, "the try page never read the log store"
        time.sleep(0.5)
        page.goto(url)
    assert HTML_LINE in page.locator("pre.log").inner_text().splitlines()[1]
    assert page.locator("pre.log img, pre.log b").count() == 0
    assert page.evaluate("window.__hacked") is None
