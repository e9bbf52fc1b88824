"""recent_runs: the newest runs of many DAGs in one query (the web's DAG list)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event
from store_testing import NOW, NS, at, run

from airkube.store import Store


def test_recent_runs_match_list_runs_per_dag_in_one_query(store: Store) -> None:
    for d in ("a", "b", "c"):
        for day in range(4):
            name = f"{d}-scheduled-{day}"
            store.upsert_run(
                run(name, dag_name=d, logical_date=NOW + timedelta(days=day)), now=at(day)
            )
    store.upsert_run(run("a-elsewhere", dag_name="a", namespace="other-ns"), now=at(9))
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(store.engine, "before_cursor_execute", count)
    try:
        found = store.recent_runs(NS, ["a", "c", "none"], 2)
    finally:
        event.remove(store.engine, "before_cursor_execute", count)
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 1
    assert set(found) == {"a", "c", "none"}
    for d in ("a", "c"):
        assert [r.name for r in found[d]] == [r.name for r in store.list_runs(NS, d, limit=2)]
        assert [r.name for r in found[d]] == [f"{d}-scheduled-3", f"{d}-scheduled-2"]
    assert found["none"] == []
    assert store.recent_runs(NS, [], 2) == {}


def test_recent_runs_refuse_a_count_below_one(store: Store) -> None:
    with pytest.raises(ValueError, match="per_dag"):
        store.recent_runs(NS, ["a"], 0)
