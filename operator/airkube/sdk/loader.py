"""Reading DAG files: Python files are run (as Airflow's DAG processor runs them, but in
the CLI's process, never in the operator) and every DAG they create is rendered; YAML files
pass through. Each DAG comes with where it, its tasks and its dependencies are defined, and
each problem with its file and line, so that ``airkube validate`` can point at them.

Directories are searched recursively for ``*.py``, ``*.yaml`` and ``*.yml`` files, skipping
hidden ones and ``__pycache__``; as Airflow's safe mode, a Python file found in a directory
is only run when its text mentions ``airkube`` (files named on the command line always are).
"""

from __future__ import annotations

import importlib.util
import itertools
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from airkube.api.meta import API_VERSION, DAG_KIND
from airkube.sdk.dag import collect_dags
from airkube.sdk.errors import DAGDefinitionError
from airkube.sdk.locations import Location, traceback_location

PYTHON_SUFFIXES = (".py",)
YAML_SUFFIXES = (".yaml", ".yml")

_module_numbers = itertools.count(1)


@dataclass(frozen=True)
class LoadedDAG:
    """A DAG resource read from a file, and where its parts are defined."""

    name: str
    resource: dict[str, Any]
    location: Location
    kind: Literal["python", "yaml"]
    task_locations: Mapping[str, Location] = field(default_factory=dict)
    edge_locations: Mapping[tuple[str, str], tuple[int, Location]] = field(default_factory=dict)
    """(upstream, downstream) → (order in which it was set, where): Python DAGs only."""


@dataclass(frozen=True)
class FileProblem:
    """Something wrong in a file, at a line."""

    location: Location
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"


@dataclass
class Loaded:
    """What a set of paths holds."""

    files: list[Path] = field(default_factory=list)
    dags: list[LoadedDAG] = field(default_factory=list)
    problems: list[FileProblem] = field(default_factory=list)


def _location(path: Path, line: int | None = None) -> Location:
    return Location(os.path.abspath(path), line)


def _walk(directory: Path) -> Iterator[Path]:
    for root, dirs, files in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "__pycache__")
        for name in sorted(files):
            if not name.startswith(".") and name.endswith(PYTHON_SUFFIXES + YAML_SUFFIXES):
                yield Path(root) / name


def _mentions_airkube(path: Path) -> bool:
    try:
        return b"airkube" in path.read_bytes()
    except OSError:
        return True  # let loading it report the problem


def find_files(paths: Sequence[str | Path], loaded: Loaded) -> None:
    """The DAG files at ``paths`` (files, or directories searched recursively)."""
    seen: set[Path] = set()
    for given in paths:
        path = Path(given)
        if path.is_dir():
            found = [f for f in _walk(path) if not f.name.endswith(".py") or _mentions_airkube(f)]
        elif path.exists():
            if not path.name.endswith(PYTHON_SUFFIXES + YAML_SUFFIXES):
                loaded.problems.append(
                    FileProblem(_location(path), "not a DAG file: give .py, .yaml or .yml files")
                )
                continue
            found = [path]
        else:
            loaded.problems.append(FileProblem(_location(path), "no such file or directory"))
            continue
        for file in found:
            key = file.resolve()
            if key not in seen:
                seen.add(key)
                loaded.files.append(file)


def load_paths(paths: Sequence[str | Path]) -> Loaded:
    """Every DAG defined in ``paths``, and every problem found reading them.

    A Python file that fails contributes no DAG; the DAGs of a file with a problem
    elsewhere in it (another document, another DAG) are still read, to be checked too.
    """
    loaded = Loaded()
    find_files(paths, loaded)
    for file in loaded.files:
        if file.name.endswith(PYTHON_SUFFIXES):
            dags, problems = load_python(file)
        else:
            dags, problems = load_yaml(file)
        loaded.dags.extend(dags)
        loaded.problems.extend(problems)
    return loaded


# Python ------------------------------------------------------------------------------------


def _exception_problem(path: Path, exc: BaseException) -> FileProblem:
    if isinstance(exc, SyntaxError):
        where = Location(os.path.abspath(exc.filename or path), exc.lineno)
        return FileProblem(where, f"{type(exc).__name__}: {exc.msg}")
    found = traceback_location(exc.__traceback__)
    if isinstance(exc, DAGDefinitionError):
        return FileProblem(exc.location or found or _location(path), exc.message)
    if isinstance(exc, SystemExit):
        return FileProblem(found or _location(path), f"the file called sys.exit({exc.code!r})")
    return FileProblem(found or _location(path), f"{type(exc).__name__}: {exc}")


def load_python(path: Path) -> tuple[list[LoadedDAG], list[FileProblem]]:
    """Run a Python file and render the DAGs it creates.

    The file runs as a module of its own, with its directory first on ``sys.path`` (so it
    can import helpers next to it), and what it prints goes to stderr (stdout may be the
    rendered YAML).
    """
    absolute = Path(os.path.abspath(path))
    module_name = f"airkube_dagfile_{next(_module_numbers)}"
    spec = importlib.util.spec_from_file_location(module_name, absolute)
    if spec is None or spec.loader is None:  # pragma: no cover - .py files always have one
        return [], [FileProblem(_location(path), "cannot be loaded as a Python module")]
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    sys.path.insert(0, str(absolute.parent))
    try:
        with collect_dags() as created, redirect_stdout(sys.stderr):
            spec.loader.exec_module(module)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:
        return [], [_exception_problem(path, exc)]
    finally:
        sys.path.remove(str(absolute.parent))
        sys.modules.pop(module_name, None)
    dags: list[LoadedDAG] = []
    problems: list[FileProblem] = []
    for dag in created:
        try:
            resource = dag.to_resource()
        except DAGDefinitionError as exc:
            problems.append(_exception_problem(path, exc))
            continue
        dags.append(
            LoadedDAG(
                name=dag.dag_id,
                resource=resource,
                location=dag.location or _location(path),
                kind="python",
                task_locations=dag.task_locations(),
                edge_locations=dag.edge_locations(),
            )
        )
    return dags, problems


# YAML --------------------------------------------------------------------------------------


def _value(node: yaml.Node, key: str) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode) and k.value == key:
                found: yaml.Node = v
                return found
    return None


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


# libyaml's parser when PyYAML was built with it (its wheels are): a 10,000-task file
# parses in a second rather than eight. Same nodes, same marks.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(path: Path) -> tuple[list[LoadedDAG], list[FileProblem]]:
    """The DAG resources of a YAML file (one or more documents), with their lines."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return [], [FileProblem(_location(path), f"cannot read it: {exc}")]
    dags: list[LoadedDAG] = []
    problems: list[FileProblem] = []
    loader = _Loader(text)
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:  # pragma: no cover - check_node said there is one
                break
            document = loader.construct_document(node)
            if document is None:
                continue
            found = _yaml_dag(path, node, document)
            if isinstance(found, FileProblem):
                problems.append(found)
            else:
                dags.append(found)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = int(mark.line) + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        return [], [FileProblem(_location(path, line), f"invalid YAML: {problem}")]
    finally:
        loader.dispose()
    return dags, problems


def _yaml_dag(path: Path, node: yaml.Node, document: Any) -> LoadedDAG | FileProblem:
    where = _location(path, _line(node))
    if not isinstance(document, dict):
        return FileProblem(where, "a document must be a resource (a mapping), not a list or text")
    kind, api_version = document.get("kind"), document.get("apiVersion")
    if kind != DAG_KIND or api_version != API_VERSION:
        return FileProblem(
            where,
            f"not a DAG ({api_version}, kind {kind}): airkube applies DAG resources of "
            f"{API_VERSION} only; use kubectl for the others",
        )
    metadata = document.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    metadata_node = _value(node, "metadata")
    name_node = _value(metadata_node, "name") if metadata_node is not None else None
    if name_node is not None:
        where = _location(path, _line(name_node))
    if not isinstance(name, str) or not name:
        return FileProblem(where, "the DAG has no metadata.name")
    tasks: dict[str, Location] = {}
    spec_node = _value(node, "spec")
    tasks_node = _value(spec_node, "tasks") if spec_node is not None else None
    if isinstance(tasks_node, yaml.SequenceNode):
        for item in tasks_node.value:
            task_name = _value(item, "name")
            if isinstance(task_name, yaml.ScalarNode):
                tasks.setdefault(task_name.value, _location(path, _line(item)))
    return LoadedDAG(
        name=name, resource=document, location=where, kind="yaml", task_locations=tasks
    )
