"""The Python examples in dags/: each renders to exactly the DAG of its YAML twin
(dags/<name>.py and dags/<name>.yaml), and every example is valid."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from airkube.api import DAGSpec
from airkube.cli.dagfiles import check_paths
from airkube.sdk.loader import load_python

DAGS = Path(__file__).resolve().parents[3] / "dags"
PYTHON_EXAMPLES = sorted(DAGS.glob("*.py"))
YAML_EXAMPLES = sorted(DAGS.glob("*.yaml"))
PYTHON_ONLY = {"taskflow"}
"""Examples of what only Python can say (@task functions): no YAML twin."""


def canonical(resource: dict[str, Any]) -> dict[str, Any]:
    """The resource as the API reads it: every default filled in, dates parsed."""
    return {
        "apiVersion": resource["apiVersion"],
        "kind": resource["kind"],
        "metadata": resource["metadata"],
        "spec": DAGSpec.model_validate(resource["spec"]).to_dict(),
    }


@pytest.mark.parametrize("path", PYTHON_EXAMPLES, ids=[p.stem for p in PYTHON_EXAMPLES])
def test_a_python_example_renders_to_its_yaml_twin(path: Path) -> None:
    dags, problems = load_python(path)
    assert problems == []
    assert len(dags) == 1, f"{path.name}: one DAG per example file"
    (dag,) = dags
    twin = path.with_suffix(".yaml")
    if path.stem in PYTHON_ONLY:
        assert not twin.exists()
        return
    assert twin.exists(), f"{path.name} has no YAML twin; list it in PYTHON_ONLY if it needs none"
    (expected,) = [d for d in yaml.safe_load_all(twin.read_text()) if d]
    assert canonical(dag.resource) == canonical(expected)


@pytest.mark.parametrize("path", YAML_EXAMPLES, ids=[p.stem for p in YAML_EXAMPLES])
def test_every_yaml_example_has_a_python_twin(path: Path) -> None:
    assert path.with_suffix(".py").exists(), f"write dags/{path.stem}.py, the Python twin"


def test_the_examples_directory_is_valid_each_dag_once() -> None:
    checked = check_paths([str(DAGS)])
    assert checked.problems == []
    names = [found.dag.name for found in checked.dags]
    assert len(names) == len(set(names)) == len(YAML_EXAMPLES) + len(PYTHON_ONLY)
    twins = [found for found in checked.dags if found.dag.name not in PYTHON_ONLY]
    assert all(len(found.also) == 1 for found in twins)
