"""The DAG graph as the UI draws it: wide fan-outs collapsed into one node, then a layered
layout (left to right), computed here rather than in the browser so a 10,000-task DAG
costs the server a fraction of a second and the page only draws what it is given.

:func:`collapse` groups sibling tasks (the same upstream tasks and the same downstream
tasks) when there are more than ``threshold`` of them; :func:`layout` places the nodes in
layers by longest path from the roots and orders each layer by the barycentre of its
neighbours (a few sweeps of the Sugiyama heuristic), so edges mostly run straight.
"""

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from airkube.api.states import TaskState

DEFAULT_THRESHOLD = 8
"""Siblings above this many become one node."""


@dataclass(frozen=True)
class Node:
    id: str
    """The task's name, or for a group ``<first task>+<n-1>``."""
    tasks: tuple[str, ...]
    """The tasks it stands for (one, or the group's members in DAG order)."""

    @property
    def group(self) -> bool:
        return len(self.tasks) > 1


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    """Node ids."""


@dataclass(frozen=True)
class CollapsedGraph:
    nodes: tuple[Node, ...]
    """In DAG order (upstream first)."""
    edges: tuple[Edge, ...]
    node_of: Mapping[str, str]
    """Each task's node id."""


def collapse(
    order: Sequence[str],
    upstream: Mapping[str, Sequence[str]],
    threshold: int = DEFAULT_THRESHOLD,
) -> CollapsedGraph:
    """The graph of tasks ``order`` (upstream first) with dependencies ``upstream``, where
    each set of more than ``threshold`` tasks sharing their upstream and downstream tasks is
    one node. ``threshold`` < 1 raises ValueError."""
    if threshold < 1:
        raise ValueError(f"threshold must be at least 1, got {threshold}")
    downstream: dict[str, list[str]] = {name: [] for name in order}
    for name in order:
        for up in upstream.get(name, ()):
            if up in downstream:
                downstream[up].append(name)
    siblings: dict[tuple[frozenset[str], frozenset[str]], list[str]] = defaultdict(list)
    key_of: dict[str, tuple[frozenset[str], frozenset[str]]] = {}
    for name in order:
        key = key_of[name] = (frozenset(upstream.get(name, ())), frozenset(downstream[name]))
        siblings[key].append(name)
    node_of: dict[str, str] = {}
    nodes: list[Node] = []
    for name in order:
        if name in node_of:
            continue
        members = siblings[key_of[name]]
        if len(members) > threshold:
            node = Node(f"{members[0]}+{len(members) - 1}", tuple(members))
        else:
            node = Node(name, (name,))
        for member in node.tasks:
            node_of[member] = node.id
        nodes.append(node)
    edges: dict[tuple[str, str], None] = {}
    for node in nodes:
        first = node.tasks[0]  # members share their upstream tasks
        for up in upstream.get(first, ()):
            if up in node_of:
                edges[(node_of[up], node.id)] = None
    return CollapsedGraph(
        nodes=tuple(nodes),
        edges=tuple(Edge(s, t) for s, t in edges),
        node_of=node_of,
    )


def state_counts(node: Node, states: Mapping[str, str]) -> dict[str, int]:
    """How many of the node's tasks are in each state (``states`` by task; a task missing
    from it counts as "None"), most frequent first."""
    none = TaskState.NONE.value
    return dict(Counter(states.get(t, none) for t in node.tasks).most_common())


@dataclass(frozen=True)
class Position:
    layer: int
    """Left to right: the longest path from a root."""
    row: int
    """Top to bottom within the layer."""


def layout(nodes: Sequence[str], edges: Sequence[Edge], sweeps: int = 4) -> dict[str, Position]:
    """Layers and rows of ``nodes`` (upstream first, as :func:`collapse` gives them) so that
    every edge goes left to right and few cross. Deterministic; linear in the graph's size
    per sweep."""
    ups: dict[str, list[str]] = {n: [] for n in nodes}
    downs: dict[str, list[str]] = {n: [] for n in nodes}
    for e in edges:
        if e.source in ups and e.target in ups:
            ups[e.target].append(e.source)
            downs[e.source].append(e.target)
    layer_of: dict[str, int] = {}
    for n in nodes:  # upstream first: every parent already has its layer
        layer_of[n] = 1 + max((layer_of[u] for u in ups[n] if u in layer_of), default=-1)
    layers: list[list[str]] = [[] for _ in range(1 + max(layer_of.values(), default=-1))]
    for n in nodes:
        layers[layer_of[n]].append(n)
    row_of = {n: i for layer in layers for i, n in enumerate(layer)}

    def reorder(layer: list[str], neighbours: Mapping[str, list[str]]) -> None:
        def key(n: str) -> tuple[float, int]:
            near = neighbours[n]
            if not near:
                return (row_of[n], row_of[n])
            return (sum(row_of[m] for m in near) / len(near), row_of[n])

        layer.sort(key=key)
        for i, n in enumerate(layer):
            row_of[n] = i

    for _ in range(sweeps):
        for layer in layers[1:]:
            reorder(layer, ups)
        for layer in reversed(layers[:-1]):
            reorder(layer, downs)
    return {n: Position(layer_of[n], row_of[n]) for n in nodes}
