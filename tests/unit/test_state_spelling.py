"""One spelling of each state: the API enums (airkube.api.states, and RunType) are the only
definition, the store's ranks derive from them, and no module of the package writes a
state's value as a string literal where it decides something.

The scan looks at every string literal of the package equal to a run or task state's value
("Queued", "Failed", "None", …) and accepts only:
- the enums' own definitions (airkube/api/states.py);
- a class attribute that is one string (an enum member, or a constant of a class such as
  ``Reason``): a word of another vocabulary spelled alike (a pod's phase, the event reason
  "Cancelled"), defined once where it belongs;
- docstrings and the text of f-strings (messages).
Everything else — a comparison, a tuple or set of states, a dict keyed by states, a
``.get("state", "Queued")`` default — must name the enum member.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

import airkube
from airkube.api.dagrun import RunType
from airkube.api.states import FINISHED_TASK_STATES, RunState, TaskState
from airkube.store import states as store_states

PACKAGE = Path(airkube.__file__).parent
STATE_VALUES = frozenset(s.value for s in RunState) | frozenset(s.value for s in TaskState)

DEFINITIONS = {"api/states.py"}
"""Where the states are defined."""

PENDING: set[str] = set()
"""Modules allowed their literals for now (none)."""


# The store's ranks --------------------------------------------------------------------


def test_the_store_ranks_exactly_the_api_states() -> None:
    assert set(store_states.RUN_STATE_RANK) == {s.value for s in RunState}
    assert set(store_states.TASK_STATE_RANK) == {s.value for s in TaskState}
    assert tuple(s.value for s in RunState) == store_states.RUN_STATES
    assert tuple(s.value for s in TaskState) == store_states.TASK_STATES
    assert tuple(t.value for t in RunType) == store_states.RUN_TYPES


def test_the_store_terminal_states_are_the_api_finished_states() -> None:
    assert {s.value for s in RunState if s.finished} == store_states.TERMINAL_RUN_STATES
    assert {s.value for s in FINISHED_TASK_STATES} == store_states.TERMINAL_TASK_STATES


@pytest.mark.parametrize(
    ("ranks", "terminal"),
    [
        (store_states.RUN_STATE_RANK, store_states.TERMINAL_RUN_STATES),
        (store_states.TASK_STATE_RANK, store_states.TERMINAL_TASK_STATES),
    ],
    ids=["run", "task"],
)
def test_terminal_states_share_the_top_rank_and_no_other_state_has_it(
    ranks: dict[str, int], terminal: frozenset[str]
) -> None:
    top = max(ranks.values())
    assert {state for state, rank in ranks.items() if rank == top} == terminal


def test_the_store_order_follows_a_task_try_through_its_life() -> None:
    rank = store_states.TASK_STATE_RANK
    life = [
        TaskState.NONE,
        TaskState.SCHEDULED,
        TaskState.QUEUED,
        TaskState.RUNNING,
        TaskState.UP_FOR_RETRY,
        TaskState.FAILED,
    ]
    assert [rank[s] for s in life] == sorted({rank[s] for s in life})
    run_rank = store_states.RUN_STATE_RANK
    assert run_rank[RunState.QUEUED] < run_rank[RunState.RUNNING] < run_rank[RunState.FAILED]


# The scan -----------------------------------------------------------------------------


def _allowed(tree: ast.AST) -> set[int]:
    """ids of the string constants the rules accept (see the module docstring)."""
    allowed: set[int] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body:
            first = body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                allowed.add(id(first.value))  # a docstring
        if isinstance(node, ast.ClassDef):
            for stmt in node.body:
                if isinstance(stmt, ast.Assign | ast.AnnAssign) and stmt.value is not None:
                    allowed.add(id(stmt.value))  # only a lone constant: not a tuple of them
        if isinstance(node, ast.JoinedStr):
            allowed.update(id(v) for v in node.values)
    return allowed


def state_literals(source: str) -> Iterator[tuple[int, str]]:
    """(line, value) of each string literal equal to a state's value that the rules do not
    accept."""
    tree = ast.parse(source)
    allowed = _allowed(tree)
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and node.value in STATE_VALUES
            and id(node) not in allowed
        ):
            yield node.lineno, node.value


@pytest.mark.parametrize(
    ("source", "found"),
    [
        ('if state == "Queued":\n    pass\n', [(1, "Queued")]),
        ('TERMINAL = ("Succeeded", "Failed")\n', [(1, "Succeeded"), (1, "Failed")]),
        ('ok = s in {"UpForRetry"}\n', [(1, "UpForRetry")]),
        ('STYLE = {"Skipped": "dim"}\n', [(1, "Skipped")]),
        ('state = status.get("state", "None")\n', [(1, "None")]),
        ('class Phase(StrEnum):\n    RUNNING = "Running"\n', []),
        ('class Reason:\n    CANCELLED = "Cancelled"\n', []),
        ('class Rules:\n    ENDED = ("Failed", "Cancelled")\n', [(2, "Failed"), (2, "Cancelled")]),
        ('def f():\n    """Failed"""\n', []),
        ('msg = f"the run {name} Failed"\n', []),
        ("if state == RunState.QUEUED:\n    pass\n", []),
        ('reason = "TaskFailed"\n', []),
    ],
    ids=[
        "comparison",
        "tuple",
        "set",
        "dict-key",
        "default",
        "enum",
        "class-constant",
        "class-tuple",
        "docstring",
        "f-string",
        "enum-member",
        "other-word",
    ],
)
def test_the_scan_finds_state_literals_and_only_them(
    source: str, found: list[tuple[int, str]]
) -> None:
    assert sorted(state_literals(source)) == sorted(found)


def test_no_module_spells_a_state_as_a_string() -> None:
    problems = []
    scanned = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        if relative in DEFINITIONS or relative in PENDING:
            continue
        scanned.add(relative)
        problems += [
            f"airkube/{relative}:{line}: {value!r}"
            for line, value in state_literals(path.read_text())
        ]
    assert "controller/operator.py" in scanned  # the scan does look at the package
    assert not problems, (
        "states spelled as strings; use airkube.api.states.RunState/TaskState (or the enum "
        "of the other vocabulary, such as PodPhase):\n" + "\n".join(problems)
    )


def test_the_pending_modules_exist() -> None:
    """An entry of PENDING whose module was moved or removed is stale: drop it."""
    assert all((PACKAGE / relative).is_file() for relative in PENDING)
