"""The UI's graph: fan-out collapse (table) and the layered layout."""

import pytest

from airkube.core.graph_view import Edge, Node, collapse, layout, state_counts


def fan(width: int) -> tuple[list[str], dict[str, list[str]]]:
    """start -> shard-0..shard-{width-1} -> end"""
    shards = [f"shard-{i}" for i in range(width)]
    order = ["start", *shards, "end"]
    return order, {**{s: ["start"] for s in shards}, "end": shards}


@pytest.mark.parametrize(
    ("width", "threshold", "nodes"),
    [
        (3, 8, ["start", "shard-0", "shard-1", "shard-2", "end"]),  # narrow: kept
        (8, 8, ["start", *[f"shard-{i}" for i in range(8)], "end"]),  # at the threshold: kept
        (9, 8, ["start", "shard-0+8", "end"]),  # above: one node
        (10_000, 8, ["start", "shard-0+9999", "end"]),
        (3, 2, ["start", "shard-0+2", "end"]),
    ],
)
def test_siblings_above_the_threshold_become_one_node(
    width: int, threshold: int, nodes: list[str]
) -> None:
    order, upstream = fan(width)
    g = collapse(order, upstream, threshold)
    assert [n.id for n in g.nodes] == nodes
    middle = nodes[1:-1]
    assert {(e.source, e.target) for e in g.edges} == {
        *(("start", m) for m in middle),
        *((m, "end") for m in middle),
    }
    assert set(g.node_of) == set(order)


def test_siblings_with_other_downstream_tasks_stay_apart() -> None:
    # 10 shards under start, but shard-0 also feeds "audit": it is not a sibling.
    order, upstream = fan(10)
    order.append("audit")
    upstream["audit"] = ["shard-0"]
    g = collapse(order, upstream, 8)
    assert [n.id for n in g.nodes] == ["start", "shard-0", "shard-1+8", "end", "audit"]
    group = g.nodes[2]
    assert group.tasks == tuple(f"shard-{i}" for i in range(1, 10))
    assert g.node_of["shard-5"] == "shard-1+8"


def test_two_fan_outs_under_different_parents_are_two_groups() -> None:
    order = ["a", "b", *[f"a{i}" for i in range(9)], *[f"b{i}" for i in range(9)]]
    upstream = {**{f"a{i}": ["a"] for i in range(9)}, **{f"b{i}": ["b"] for i in range(9)}}
    g = collapse(order, upstream, 8)
    assert [n.id for n in g.nodes] == ["a", "b", "a0+8", "b0+8"]
    assert {(e.source, e.target) for e in g.edges} == {("a", "a0+8"), ("b", "b0+8")}


def test_threshold_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="threshold"):
        collapse(["a"], {}, 0)


def test_state_counts_count_each_member_once_missing_as_none() -> None:
    node = Node("s+3", ("s", "t", "u", "v"))
    assert state_counts(node, {"s": "Succeeded", "t": "Succeeded", "u": "Running"}) == {
        "Succeeded": 2,
        "Running": 1,
        "None": 1,
    }


def test_layout_puts_every_edge_left_to_right_and_uncrosses_a_swap() -> None:
    # a->x, b->y given as rows a,b / y,x: the sweep swaps x and y so nothing crosses.
    nodes = ["a", "b", "y", "x", "z"]
    edges = [Edge("a", "x"), Edge("b", "y"), Edge("x", "z"), Edge("y", "z")]
    pos = layout(nodes, edges)
    for e in edges:
        assert pos[e.source].layer < pos[e.target].layer
    assert pos["a"].layer == pos["b"].layer == 0
    assert pos["z"].layer == 2
    assert (pos["a"].row < pos["b"].row) == (pos["x"].row < pos["y"].row)


def test_layout_layers_by_longest_path() -> None:
    pos = layout(["a", "b", "c"], [Edge("a", "b"), Edge("b", "c"), Edge("a", "c")])
    assert [pos[n].layer for n in "abc"] == [0, 1, 2]


def test_a_10000_task_fan_out_lays_out_as_three_nodes() -> None:
    order, upstream = fan(10_000)
    g = collapse(order, upstream)
    pos = layout([n.id for n in g.nodes], g.edges)
    assert [pos[n.id].layer for n in g.nodes] == [0, 1, 2]
