"""The task graph of a DAG: upstream and downstream tasks, a topological order, the leaves
and the cycles."""

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from graphlib import CycleError, TopologicalSorter

from airkube.api.dag import DAGSpec
from airkube.core.memo import IdentityCache


class GraphError(ValueError):
    """The DAG's dependencies do not form a DAG (see :func:`validation.validate_dag`)."""


@dataclass(frozen=True)
class Graph:
    """The dependencies between the tasks of a valid DAG spec."""

    order: tuple[str, ...]
    """Every task, upstream tasks first; ties keep the order of the spec."""
    upstream: Mapping[str, tuple[str, ...]]
    downstream: Mapping[str, tuple[str, ...]]
    leaves: frozenset[str]
    """Tasks nothing depends on: they decide the run's final state."""

    @classmethod
    def from_spec(cls, spec: DAGSpec) -> "Graph":
        """The graph of ``spec``; raise :class:`GraphError` when it has no valid order."""
        upstream: dict[str, tuple[str, ...]] = {}
        for task in spec.tasks:
            if task.name in upstream:
                raise GraphError(f'task "{task.name}" is defined more than once')
            upstream[task.name] = tuple(dict.fromkeys(task.depends_on or ()))
        downstream: dict[str, list[str]] = {name: [] for name in upstream}
        for name, deps in upstream.items():
            for dep in deps:
                if dep not in downstream:
                    raise GraphError(f'task "{name}" depends on unknown task "{dep}"')
                downstream[dep].append(name)
        sorter = TopologicalSorter(upstream)
        try:
            order = tuple(sorter.static_order())
        except CycleError as exc:
            cycle = " → ".join(exc.args[1])
            raise GraphError(f"tasks form a cycle: {cycle}") from exc
        return cls(
            order=order,
            upstream=upstream,
            downstream={name: tuple(d) for name, d in downstream.items()},
            leaves=frozenset(name for name, d in downstream.items() if not d),
        )


graph_of: IdentityCache[DAGSpec, Graph] = IdentityCache(Graph.from_spec)
"""``Graph.from_spec(spec)``, remembered for the last few specs."""


def find_cycles(upstream: Mapping[str, Sequence[str]]) -> list[list[str]]:
    """One cycle through each group of tasks that depend on one another, in data-flow order
    (each task before the ones depending on it), as ``[a, b, c, a]``.

    ``upstream`` maps each task to the tasks it depends on; unknown names are ignored.
    Self-dependencies are not reported here. Deterministic: groups and cycles start from
    the task declared first.
    """
    position = {name: i for i, name in enumerate(upstream)}
    downstream: dict[str, list[str]] = {name: [] for name in upstream}
    for name, deps in upstream.items():
        for dep in deps:
            if dep in downstream and dep != name:
                downstream[dep].append(name)
    cycles = []
    for component in _strongly_connected(downstream):
        if len(component) < 2:
            continue
        members = set(component)
        start = min(component, key=position.__getitem__)
        cycles.append(_shortest_cycle(start, members, downstream))
    cycles.sort(key=lambda cycle: position[cycle[0]])
    return cycles


def _shortest_cycle(start: str, members: set[str], edges: Mapping[str, list[str]]) -> list[str]:
    # Breadth-first from start back to start within the component.
    parent: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for nxt in edges[node]:
                if nxt not in members:
                    continue
                if nxt == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(parent[path[-1]])
                    return [*reversed(path), start]
                if nxt not in parent:
                    parent[nxt] = node
                    following.append(nxt)
        frontier = following
    raise AssertionError("a strongly connected component has a cycle")  # pragma: no cover


def _strongly_connected(edges: Mapping[str, list[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative (DAGs may have thousands of tasks)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    for root in edges:
        if root in index:
            continue
        work: list[tuple[str, int]] = [(root, 0)]
        while work:
            node, child = work.pop()
            if child == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            successors = edges[node]
            if child < len(successors):
                work.append((node, child + 1))
                nxt = successors[child]
                if nxt not in index:
                    work.append((nxt, 0))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(component)
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return components


def tree_lines(
    order: Sequence[str], upstream: Mapping[str, Sequence[str]]
) -> list[tuple[str, str]]:
    """(prefix, task) per task, drawing the DAG as a tree: each task under the upstream
    task that comes last in ``order`` (tasks with several upstreams say so elsewhere).

    What ``kubectl airkube get`` prints and the web UI's run page shows."""
    position = {name: i for i, name in enumerate(order)}
    children: dict[str | None, list[str]] = {}
    for name in order:
        ups = [u for u in upstream.get(name, ()) if u in position]
        parent = max(ups, key=position.__getitem__) if ups else None
        children.setdefault(parent, []).append(name)

    def walk(parent: str | None, indent: str) -> Iterator[tuple[str, str]]:
        kids = children.get(parent, [])
        for i, name in enumerate(kids):
            last = i == len(kids) - 1
            if parent is None:
                yield "", name
                yield from walk(name, "")
            else:
                yield indent + ("└─ " if last else "├─ "), name
                yield from walk(name, indent + ("   " if last else "│  "))

    return list(walk(None, ""))
