"""``render``, ``validate`` and ``apply``: DAG files — Python using :mod:`airkube.sdk`, or
YAML resources — turned into DAG resources, checked, and server-side applied.

Every command reads and checks all the files first: a problem anywhere (a syntax error, an
exception, a cycle, an unknown dependency, a bad template…) is reported as ``file:line:
message`` and nothing is rendered or applied. The same DAG defined in several files (a
YAML file and its Python twin) counts once when the definitions agree, and is a problem
when they differ.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

import click
from pydantic import ValidationError

from airkube.api.dag import DAGSpec
from airkube.cli.common import (
    context_option,
    current_namespace,
    fail,
    kubeconfig_option,
    namespace_option,
)
from airkube.cli.output import emit, output_option, print_table
from airkube.core.graph import find_cycles
from airkube.core.validation import Problem as SpecProblem
from airkube.core.validation import ProblemReason, check_dag
from airkube.sdk.dag import dag_name_problem
from airkube.sdk.loader import LoadedDAG, load_paths
from airkube.sdk.locations import Location, display_path
from airkube.sdk.render import resource_yaml

FIELD_MANAGER = "airkube"
"""The field manager of ``airkube apply``'s server-side apply."""
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "airkube-cli"
"""The label ``airkube apply`` sets on the DAGs it applies; ``--prune`` only deletes these."""
APPLY_PATCH = "application/apply-patch+yaml"

_TASK_IN_MESSAGE = re.compile(r'^task "([^"]+)"')

paths_argument = click.argument(
    "paths", nargs=-1, required=True, type=click.Path(path_type=str), metavar="PATH..."
)


@dataclass(frozen=True)
class FileProblem:
    """A problem of a DAG file, where it is."""

    location: Location
    message: str
    dag: str | None = None
    task: str | None = None
    reason: str = "LoadError"

    def __str__(self) -> str:
        owner = f"DAG {self.dag}: " if self.dag else ""
        return f"{self.location}: {owner}{self.message}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": display_path(self.location.file),
            "line": self.location.line,
            "dag": self.dag,
            "task": self.task,
            "reason": self.reason,
            "message": self.message,
        }


@dataclass
class FoundDAG:
    """A valid DAG, and the other files that define it the same way."""

    dag: LoadedDAG
    also: list[Location] = field(default_factory=list)

    @property
    def sources(self) -> str:
        return ", ".join(str(loc) for loc in [self.dag.location, *self.also])


@dataclass
class Checked:
    """What the paths define: the valid DAGs (one per name) and every problem."""

    files: list[Path]
    dags: list[FoundDAG]
    problems: list[FileProblem]


def _problem_location(dag: LoadedDAG, problem: SpecProblem, spec: DAGSpec | None) -> Location:
    task = problem.task
    if task is None:
        match = _TASK_IN_MESSAGE.match(problem.message)
        task = match.group(1) if match else None
    if problem.reason is ProblemReason.CYCLE and spec is not None and dag.edge_locations:
        # Point at the dependency set last among the cycle's: the one that closed it.
        upstream = {t.name: list(t.depends_on or ()) for t in spec.tasks}
        for cycle in find_cycles(upstream):
            if cycle[0] == problem.task:
                edges = [dag.edge_locations.get(e) for e in pairwise(cycle)]
                known = [e for e in edges if e is not None]
                if known:
                    return max(known)[1]
    if task is not None and task in dag.task_locations:
        return dag.task_locations[task]
    return dag.location


def check_loaded(dag: LoadedDAG) -> list[FileProblem]:
    """The problems of one DAG resource read from a file (the operator's own checks)."""
    name_problem = dag_name_problem(dag.name)
    if name_problem:
        return [FileProblem(dag.location, name_problem, reason="InvalidName")]
    spec_data = dag.resource.get("spec")
    if not isinstance(spec_data, Mapping):
        return [FileProblem(dag.location, "spec is required", dag.name, reason="InvalidSpec")]
    spec, problems = check_dag(spec_data)
    return [
        FileProblem(_problem_location(dag, p, spec), p.message, dag.name, p.task, p.reason.value)
        for p in problems
    ]


def _canonical(resource: Mapping[str, Any]) -> dict[str, Any]:
    metadata = resource.get("metadata") or {}
    try:
        spec = DAGSpec.model_validate(resource.get("spec")).to_dict()
    except ValidationError:  # pragma: no cover - only valid DAGs are compared
        spec = dict(resource.get("spec") or {})
    return {
        "labels": metadata.get("labels") or {},
        "annotations": metadata.get("annotations") or {},
        "spec": spec,
    }


def _differences(one: dict[str, Any], other: dict[str, Any]) -> list[str]:
    keys = [k for k in ("labels", "annotations") if one[k] != other[k]]
    spec_keys = dict.fromkeys([*one["spec"], *other["spec"]])
    keys += [f"spec.{k}" for k in spec_keys if one["spec"].get(k) != other["spec"].get(k)]
    return keys


def check_paths(paths: Sequence[str]) -> Checked:
    """Read every DAG file of ``paths`` and check every DAG in them."""
    loaded = load_paths(paths)
    problems = [FileProblem(p.location, p.message) for p in loaded.problems]
    found: dict[str, tuple[FoundDAG, dict[str, Any]]] = {}
    for dag in loaded.dags:
        dag_problems = check_loaded(dag)
        if dag_problems:
            problems.extend(dag_problems)
            continue
        canonical = _canonical(dag.resource)
        if dag.name not in found:
            found[dag.name] = (FoundDAG(dag), canonical)
            continue
        first, first_canonical = found[dag.name]
        if canonical == first_canonical:
            first.also.append(dag.location)
        else:
            differing = ", ".join(_differences(first_canonical, canonical))
            problems.append(
                FileProblem(
                    dag.location,
                    f"also defined at {first.dag.location}, differently ({differing}): a DAG "
                    "name may be defined in several files only if they agree",
                    dag.name,
                    reason="DuplicateDAG",
                )
            )
    return Checked(loaded.files, [f for f, _ in found.values()], problems)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def checked_or_fail(paths: Sequence[str], what: str) -> Checked:
    """The checked DAGs of ``paths``; when anything is wrong, every problem on stderr and
    exit 1 (so nothing is ``what``)."""
    checked = check_paths(paths)
    if checked.problems:
        for problem in checked.problems:
            click.echo(str(problem), err=True)
        fail(f"{_count(len(checked.problems), 'problem')} found: nothing {what}")
    if not checked.dags:
        fail(f"no DAG found in {', '.join(paths)} (Python files using airkube.sdk, or YAML)")
    return checked


# render -------------------------------------------------------------------------------------


@click.command(short_help="Print the DAG resources that Python and YAML files define.")
@paths_argument
@output_option
@click.option(
    "--out-dir",
    "-d",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write each DAG to DIR/<name>.yaml (or .json) instead of stdout.",
)
def render(paths: tuple[str, ...], output: str | None, out_dir: Path | None) -> None:
    """Print the DAG resources defined in PATH... (Python files using airkube.sdk; YAML files
    pass through), as YAML (default) or JSON. Directories are searched recursively.

    Nothing is printed if any file has a problem (see `airkube validate`)."""
    checked = checked_or_fail(paths, "rendered")
    resources = [found.dag.resource for found in checked.dags]
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        suffix = "json" if output == "json" else "yaml"
        for found in checked.dags:
            target = out_dir / f"{found.dag.name}.{suffix}"
            if output == "json":
                text = json.dumps(found.dag.resource, indent=2) + "\n"
            else:
                text = f"# Source: {found.sources}\n{resource_yaml(found.dag.resource)}"
            target.write_text(text, encoding="utf-8")
            click.echo(f"{display_path(str(target))}  (from {found.sources})")
        return
    if output == "json":
        click.echo(json.dumps({"apiVersion": "v1", "kind": "List", "items": resources}, indent=2))
        return
    documents = [
        f"# Source: {found.sources}\n{resource_yaml(found.dag.resource)}" for found in checked.dags
    ]
    click.echo("---\n".join(documents), nl=False)


# validate -----------------------------------------------------------------------------------


@click.command(short_help="Check DAG files; report every problem with its file and line.")
@paths_argument
@output_option
def validate(paths: tuple[str, ...], output: str | None) -> None:
    """Check the DAGs defined in PATH... (Python or YAML) as the operator would, and report
    every problem with its file and line. Needs no cluster. Exits 1 when there is any."""
    checked = check_paths(paths)
    if output:
        emit(
            {
                "files": [display_path(str(f)) for f in checked.files],
                "dags": [
                    {
                        "name": found.dag.name,
                        "tasks": len(found.dag.resource["spec"]["tasks"]),
                        "sources": [str(found.dag.location), *map(str, found.also)],
                    }
                    for found in checked.dags
                ],
                "problems": [p.to_dict() for p in checked.problems],
            },
            output,
        )
    else:
        for problem in checked.problems:
            click.echo(str(problem))
        if checked.dags:
            rows = [
                (
                    found.dag.name,
                    str(len(found.dag.resource["spec"]["tasks"])),
                    str(found.dag.resource["spec"].get("schedule") or ""),
                    found.sources,
                )
                for found in checked.dags
            ]
            if checked.problems:
                click.echo()
            print_table(("DAG", "TASKS", "SCHEDULE", "SOURCE"), rows)
    summary = f"{_count(len(checked.dags), 'valid DAG')} in {_count(len(checked.files), 'file')}"
    if checked.problems:
        fail(f"{_count(len(checked.problems), 'problem')} found; {summary}")
    if not checked.dags:
        fail(f"no DAG found in {', '.join(paths)} (Python files using airkube.sdk, or YAML)")
    if not output:
        click.echo(summary)


# apply --------------------------------------------------------------------------------------


def _body(dag: LoadedDAG, namespace: str) -> dict[str, Any]:
    """What is applied: the resource with the namespace and the managed-by label."""
    metadata = dag.resource.get("metadata") or {}
    labels = {**(metadata.get("labels") or {}), MANAGED_BY_LABEL: MANAGED_BY}
    body_metadata: dict[str, Any] = {"name": dag.name, "namespace": namespace, "labels": labels}
    if metadata.get("annotations"):
        body_metadata["annotations"] = metadata["annotations"]
    return {
        "apiVersion": dag.resource["apiVersion"],
        "kind": dag.resource["kind"],
        "metadata": body_metadata,
        "spec": dag.resource["spec"],
    }


def _same(before: Mapping[str, Any], after: Mapping[str, Any]) -> bool:
    def view(obj: Mapping[str, Any]) -> tuple[Any, ...]:
        metadata = obj.get("metadata") or {}
        return (obj.get("spec"), metadata.get("labels"), metadata.get("annotations"))

    return view(before) == view(after)


def _api_error(action: str, error: Exception) -> str:
    from kubernetes.client.exceptions import ApiException

    from airkube.kube.apply import api_message

    if not isinstance(error, ApiException):
        return f"{action}: cannot reach the cluster: {error}"
    message = api_message(error)
    if error.status == 404 and "dags" in str(error.body or "") + message:
        return (
            f"{action}: the DAG resource type is not installed in the cluster (install the "
            "chart, or kubectl apply -f crds/)"
        )
    if error.status == 409:
        return (
            f"{action}: {message} (another field manager owns these fields: pass "
            "--force-conflicts to take them over)"
        )
    return f"{action}: {message}"


@click.command(short_help="Server-side apply the DAGs of Python and YAML files (--prune).")
@paths_argument
@namespace_option
@click.option(
    "--prune",
    is_flag=True,
    help=f"Delete the DAGs of the namespace that airkube apply manages (label "
    f"{MANAGED_BY_LABEL}={MANAGED_BY}) and PATH... no longer defines.",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Have the API server check everything (server-side dry run) and change nothing.",
)
@click.option(
    "--force-conflicts",
    is_flag=True,
    help="Take over fields another field manager (kubectl, a GitOps tool) owns.",
)
@output_option
@kubeconfig_option
@context_option
def apply(
    paths: tuple[str, ...],
    namespace: str | None,
    prune: bool,
    dry_run: bool,
    force_conflicts: bool,
    output: str | None,
    kubeconfig: str | None,
    context: str | None,
) -> None:
    """Render the DAGs of PATH... (Python or YAML) and server-side apply them (field manager
    "airkube"), labelled as managed by airkube apply.

    Every file is read and checked first, then every DAG is sent as a server-side dry run:
    if anything is wrong, nothing is applied. --prune then deletes the managed DAGs of the
    namespace that PATH... no longer defines."""
    from airkube.api import GROUP, VERSION
    from airkube.cli.common import custom_api

    checked = checked_or_fail(paths, "applied")
    ns = namespace or current_namespace(kubeconfig, context)
    misplaced = [
        FileProblem(
            found.dag.location,
            f"metadata.namespace is {theirs}, but the DAGs are applied to {ns}: remove it "
            "or pass -n",
            found.dag.name,
            reason="WrongNamespace",
        )
        for found in checked.dags
        if (theirs := (found.dag.resource.get("metadata") or {}).get("namespace")) and theirs != ns
    ]
    if misplaced:
        for problem in misplaced:
            click.echo(str(problem), err=True)
        fail("nothing applied")

    custom = custom_api(kubeconfig, context)

    def call(action: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        try:
            return fn(GROUP, VERSION, ns, "dags", *args, **kwargs)
        except (ApiException, HTTPError) as e:
            fail(_api_error(action, e))

    listed = call(f"listing the DAGs of {ns}", custom.list_namespaced_custom_object)
    existing = {item["metadata"]["name"]: item for item in listed["items"]}
    bodies = [(found, _body(found.dag, ns)) for found in checked.dags]

    def apply_all(server_dry_run: bool) -> list[dict[str, Any]]:
        return [
            call(
                f"{found.dag.location}: DAG {found.dag.name}",
                custom.patch_namespaced_custom_object,
                found.dag.name,
                body,
                field_manager=FIELD_MANAGER,
                field_validation="Strict",
                force=force_conflicts,
                dry_run="All" if server_dry_run else None,
                _content_type=APPLY_PATCH,
            )
            for found, body in bodies
        ]

    checks = apply_all(server_dry_run=True)  # the API server's checks, before any change
    results = checks if dry_run else apply_all(server_dry_run=False)

    records: list[dict[str, Any]] = []
    for (found, _), result in zip(bodies, results, strict=True):
        before = existing.get(found.dag.name)
        if before is None:
            action = "created"
        else:
            action = "unchanged" if _same(before, result) else "configured"
        records.append({"name": found.dag.name, "action": action, "source": found.sources})
    if prune:
        applied = {found.dag.name for found in checked.dags}
        for name, item in sorted(existing.items()):
            labels = item["metadata"].get("labels") or {}
            if name in applied or labels.get(MANAGED_BY_LABEL) != MANAGED_BY:
                continue
            call(
                f"pruning DAG {name}",
                custom.delete_namespaced_custom_object,
                name,
                dry_run="All" if dry_run else None,
            )
            records.append({"name": name, "action": "pruned", "source": None})

    if output:
        emit({"namespace": ns, "dryRun": dry_run, "dags": records}, output)
        return
    suffix = " (server dry run)" if dry_run else ""
    for record in records:
        source = f"  ({record['source']})" if record["source"] else ""
        click.echo(f"dag.{GROUP}/{record['name']} {record['action']}{suffix}{source}")


COMMANDS = (render, validate, apply)
