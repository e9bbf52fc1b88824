"""How long validating a big DAG takes (issue 15: it must be linear, well under a second
for 10,000 tasks): prints the seconds for a few shapes of a 10,000-task DAG.

Run: ``.venv/bin/python bench/validate_big.py [tasks]``.
"""

import sys
import time
from collections.abc import Callable
from typing import Any

from airkube.core.validation import check_dag


def _dag(count: int, task: Callable[[int], dict[str, Any]]) -> dict[str, Any]:
    return {"defaults": {"image": "busybox"}, "tasks": [task(i) for i in range(count)]}


SHAPES: dict[str, Callable[[int], dict[str, Any]]] = {
    "valid chain": lambda i: {"name": f"t{i}", "dependsOn": [f"t{i - 1}"] if i else []},
    "all depend on one missing task": lambda i: {"name": f"t{i}", "dependsOn": ["missing"]},
    "each depends on its own missing task": lambda i: {
        "name": f"task-{i}",
        "dependsOn": [f"task-{i}x"],
    },
    "templates naming missing tasks": lambda i: {
        "name": f"t{i}",
        "args": [f"{{{{ tasks.t{i}x.output }}}}"],
    },
    "a podTemplate typo in each": lambda i: {
        "name": f"t{i}",
        "podTemplate": {"spec": {"nodeSelecter": {"a": "b"}}},
    },
    "one cycle through all": lambda i: {"name": f"t{i}", "dependsOn": [f"t{i - 1}"]},
    "every name twice": lambda i: {"name": f"t{i // 2}"},
}


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    for label, shape in SHAPES.items():
        data = _dag(count, shape)
        if label == "one cycle through all":
            data["tasks"][0]["dependsOn"] = [f"t{count - 1}"]
        started = time.perf_counter()
        _spec, problems = check_dag(data)
        elapsed = time.perf_counter() - started
        print(f"{count} tasks, {label}: {elapsed:.3f} s, {len(problems)} problems")


if __name__ == "__main__":
    main()
