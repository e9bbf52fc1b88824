"""The Pod fields a DAG passes through to its pods, checked against Kubernetes' own Pod
schema (:mod:`airkube.api.schemas`): ``podTemplate`` (the DAG defaults' and each task's)
and each env entry's ``valueFrom``.

The CRD keeps unknown fields there (a Pod spec is too big to copy into it), and the API
server drops unknown fields of a pod it creates without a word: a typo such as
``nodeSelecter`` would silently disappear. So each unknown field is named by its path,
with the field probably meant, and so is each value of the wrong JSON type. What the
schema cannot say (required fields, allowed values) is left to the API server, which the
operator asks with a dry run.
"""

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from pydantic.alias_generators import to_camel

from airkube.api.container import EnvVar
from airkube.api.dag import DAGSpec, TaskSettings
from airkube.api.schemas import OpenAPISchema, pod_schema
from airkube.core.suggest import Suggestions

POD_TEMPLATE_SPEC = "io.k8s.api.core.v1.PodTemplateSpec"
ENV_VAR_SOURCE = "io.k8s.api.core.v1.EnvVarSource"

_TYPE_NAMES = {
    "object": "an object",
    "array": "a list",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
}
_SCALARS = ("string", "integer", "number", "boolean")


@dataclass(frozen=True)
class FieldProblem:
    """A field of a pod that Kubernetes does not know, or whose value has the wrong type."""

    task: str | None
    """None for the DAG defaults."""
    path: str
    """Where, from the task: ``podTemplate.spec.containers[0].resorces``."""
    message: str

    def __str__(self) -> str:
        owner = f'task "{self.task}"' if self.task is not None else "defaults"
        return f"{owner}: {self.path}: {self.message}"


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__


def _accepts(kind: str, value: Any) -> bool:
    actual = _json_type(value)
    return actual == kind or (kind == "number" and actual == "integer")


def _closest(name: str, known: Mapping[str, Any]) -> str | None:
    """The field probably meant: the camelCase spelling, another case, a close one, or
    the one field it begins."""
    return _closest_of(name, tuple(known))


@lru_cache(maxsize=1024)
def _closest_of(name: str, known: tuple[str, ...]) -> str | None:
    # Cached: the tasks of a big DAG often share a typo (one lookup, not one per task).
    camel = to_camel(name)
    if camel != name and camel in known:
        return camel
    folded = {k.lower(): k for k in known}
    if name.lower() in folded:
        return folded[name.lower()]
    close = Suggestions(known).closest(name)
    if close is not None:
        return close
    longer = [k for k in known if k.lower().startswith(name.lower())]
    return longer[0] if len(longer) == 1 and len(name) >= 3 else None


def _shown(value: Any) -> str:
    kind = _json_type(value)
    text = json.dumps(value) if kind in _SCALARS else _TYPE_NAMES.get(kind, kind)
    return text if len(text) <= 40 else text[:39] + "…"


class _Checker:
    def __init__(self, schema: OpenAPISchema) -> None:
        self.definitions = schema.definitions

    def check(self, value: Any, node: Mapping[str, Any], path: str) -> Iterator[tuple[str, str]]:
        """(path, message) of each problem of ``value`` against the schema ``node``."""
        while "$ref" in node:
            node = self.definitions[node["$ref"]]
        if value is None:
            return  # JSON null: the field's zero value, as the API server reads it
        if node.get("x-kubernetes-int-or-string"):
            alternatives = ["integer", "string"]
        elif "oneOf" in node:
            alternatives = [a["type"] for a in node["oneOf"] if "type" in a]
        else:
            alternatives = [node["type"]] if "type" in node else []
        if alternatives and not any(_accepts(kind, value) for kind in alternatives):
            expected = " or ".join(_TYPE_NAMES.get(k, k) for k in alternatives)
            yield path, f"must be {expected}, not {_shown(value)}"
            return
        if isinstance(value, Mapping):
            yield from self._check_object(value, node, path)
        elif isinstance(value, list | tuple) and "items" in node:
            for i, item in enumerate(value):
                yield from self.check(item, node["items"], f"{path}[{i}]")

    def _check_object(
        self, value: Mapping[str, Any], node: Mapping[str, Any], path: str
    ) -> Iterator[tuple[str, str]]:
        properties: Mapping[str, Any] = node.get("properties") or {}
        extra = node.get("additionalProperties")
        free = node.get("x-kubernetes-preserve-unknown-fields") or (
            not properties and extra is None
        )
        for key, item in value.items():
            where = f"{path}.{key}"
            if key in properties:
                yield from self.check(item, properties[key], where)
            elif isinstance(extra, Mapping):
                yield from self.check(item, extra, where)
            elif not free and extra is not True:
                meant = _closest(str(key), properties)
                hint = f' (did you mean "{meant}"?)' if meant else ""
                yield where, f"unknown field{hint}"


def _owners(spec: DAGSpec) -> Iterator[tuple[str | None, TaskSettings]]:
    if spec.defaults is not None:
        yield None, spec.defaults
    for task in spec.tasks:
        yield task.name, task


def _env_sources(env: list[EnvVar] | None) -> Iterator[tuple[str, dict[str, Any]]]:
    for var in env or ():
        if var.value_from is not None:
            yield f"env[{var.name}].valueFrom", var.value_from


def pod_field_problems(spec: DAGSpec, schema: OpenAPISchema | None = None) -> list[FieldProblem]:
    """The unknown and mistyped Pod fields of ``spec``: the DAG defaults' first, then each
    task's in the spec's order. ``schema`` defaults to the vendored one."""
    checker = _Checker(schema or pod_schema())
    template_node = {"$ref": POD_TEMPLATE_SPEC}
    source_node = {"$ref": ENV_VAR_SOURCE}
    problems: list[FieldProblem] = []
    for owner, settings in _owners(spec):
        if settings.pod_template is not None:
            found = checker.check(settings.pod_template.to_dict(), template_node, "podTemplate")
            problems += [FieldProblem(owner, path, message) for path, message in found]
        for path, source in _env_sources(settings.env):
            found = checker.check(source, source_node, path)
            problems += [FieldProblem(owner, where, message) for where, message in found]
    return problems
