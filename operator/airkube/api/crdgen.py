"""The CRDs of DAG and DAGRun, generated from the pydantic models.

``python -m airkube.api.crdgen DIR`` (``make crds``) writes ``DIR/airkube.io_dags.yaml`` and
``DIR/airkube.io_dagruns.yaml``, and ``DIR/kopf.dev_clusterkopfpeerings.yaml``: kopf's own
peering CRD, which the replicas of ``airkube run --peering`` need. The schema is made
structural as apiextensions.k8s.io/v1 requires: references inlined, optional fields'
``anyOf [X, null]`` reduced to X, free-form objects marked
``x-kubernetes-preserve-unknown-fields``, quantities ``x-kubernetes-int-or-string``. Scalar
defaults are kept (the API server applies them); the output is sorted so that it only
changes when the models do.
"""

import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from airkube.api.dag import DAGSpec, DAGStatus
from airkube.api.dagrun import DAGRunSpec, DAGRunStatus
from airkube.api.meta import DAG_KIND, DAGRUN_KIND, GROUP, VERSION

HEADER = "# Generated from operator/airkube/api by `make crds`. Do not edit.\n"

_DROPPED_KEYS = frozenset({"title", "$defs", "$schema", "examples"})
_PRESERVE = "x-kubernetes-preserve-unknown-fields"
_INT_OR_STRING = "x-kubernetes-int-or-string"

_API_VERSION_DESCRIPTION = (
    "APIVersion defines the versioned schema of this representation of an object. Servers "
    "should convert recognized schemas to the latest internal value, and may reject "
    "unrecognized values."
)
_KIND_DESCRIPTION = (
    "Kind is a string value representing the REST resource this object represents. Servers "
    "may infer this from the endpoint the client submits requests to. In CamelCase."
)


class SchemaError(ValueError):
    """A model whose JSON schema cannot become a structural CRD schema."""


def _resolve(node: Mapping[str, Any], defs: Mapping[str, Any]) -> dict[str, Any]:
    """``node`` with its ``$ref`` replaced by the definition; the node's own keys win."""
    result = dict(node)
    ref = result.pop("$ref", None)
    if ref is None:
        return result
    target = defs[str(ref).rsplit("/", 1)[-1]]
    merged = dict(target)
    merged.update(result)
    return merged


def _structural(node: Mapping[str, Any], defs: Mapping[str, Any], keep_defaults: bool) -> Any:
    schema = _resolve(node, defs)
    if "anyOf" in schema and not schema.get(_INT_OR_STRING):
        options = [o for o in schema.pop("anyOf") if o != {"type": "null"}]
        if len(options) != 1:
            raise SchemaError(f"a union of several types cannot be structural: {options}")
        inner = _resolve(options[0], defs)
        inner.update(schema)  # the outer description, defaults and extras win
        schema = _resolve(inner, defs)
    for key in _DROPPED_KEYS:
        schema.pop(key, None)
    if "default" in schema:
        default = schema["default"]
        if not keep_defaults or default is None or not isinstance(default, bool | int | str):
            del schema["default"]
    if not schema.get(_INT_OR_STRING) and "type" not in schema and "enum" not in schema:
        # Any: a free-form JSON value.
        return {**schema, _PRESERVE: True}
    if "enum" in schema and "type" not in schema:
        schema["type"] = "string"
    additional = schema.get("additionalProperties")
    if additional is True:
        del schema["additionalProperties"]
        schema[_PRESERVE] = True
    elif additional is False:
        del schema["additionalProperties"]
    elif isinstance(additional, Mapping):
        schema["additionalProperties"] = _structural(additional, defs, keep_defaults)
    if "properties" in schema:
        schema["properties"] = {
            name: _structural(prop, defs, keep_defaults)
            for name, prop in schema["properties"].items()
        }
        schema.setdefault("type", "object")
    if "items" in schema:
        schema["items"] = _structural(schema["items"], defs, keep_defaults)
    return schema


def model_schema(model: type[BaseModel], *, keep_defaults: bool = True) -> dict[str, Any]:
    """The structural OpenAPI v3 schema of ``model`` (by its camelCase field names)."""
    raw = model.model_json_schema(by_alias=True, mode="validation")
    defs = raw.get("$defs", {})
    result: dict[str, Any] = _structural(raw, defs, keep_defaults)
    return result


def _resource_schema(
    description: str, spec: type[BaseModel], status: type[BaseModel]
) -> dict[str, Any]:
    return {
        "type": "object",
        "description": description,
        "required": ["spec"],
        "properties": {
            "apiVersion": {"type": "string", "description": _API_VERSION_DESCRIPTION},
            "kind": {"type": "string", "description": _KIND_DESCRIPTION},
            "metadata": {"type": "object"},
            "spec": model_schema(spec),
            # The operator writes status: no defaults there, so a status it did not write
            # stays empty.
            "status": model_schema(status, keep_defaults=False),
        },
    }


def _column(
    name: str, type_: str, path: str, description: str, priority: int = 0
) -> dict[str, Any]:
    column: dict[str, Any] = {
        "name": name,
        "type": type_,
        "jsonPath": path,
        "description": description,
    }
    if priority:
        column["priority"] = priority
    return column


_AGE = _column("Age", "date", ".metadata.creationTimestamp", "When the object was created.")


def _crd(
    *,
    kind: str,
    plural: str,
    short_names: Sequence[str],
    schema: dict[str, Any],
    columns: list[dict[str, Any]],
) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "names": {
                "kind": kind,
                "listKind": f"{kind}List",
                "plural": plural,
                "singular": kind.lower(),
                "shortNames": list(short_names),
                "categories": ["airkube"],
            },
            "scope": "Namespaced",
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": columns,
                    "schema": {"openAPIV3Schema": schema},
                }
            ],
        },
    }


def dag_crd() -> dict[str, Any]:
    """The CustomResourceDefinition of ``DAG`` (short name ``dag``)."""
    return _crd(
        kind=DAG_KIND,
        plural="dags",
        short_names=["dag"],
        schema=_resource_schema(
            "A DAG: tasks with dependencies, run on a schedule or by hand (Apache Airflow's "
            "model). Each run is a DAGRun.",
            DAGSpec,
            DAGStatus,
        ),
        columns=[
            _column("Schedule", "string", ".spec.schedule", "When runs are created."),
            _column("Paused", "boolean", ".spec.paused", "Whether scheduling is paused."),
            _column("Last Run", "date", ".status.lastRun.startTime", "When the last run started."),
            _column("Last State", "string", ".status.lastRun.state", "The last run's state."),
            _column("Next Run", "string", ".status.nextRunTime", "When the next run is created."),
            _AGE,
        ],
    )


def dagrun_crd() -> dict[str, Any]:
    """The CustomResourceDefinition of ``DAGRun`` (short name ``dr``)."""
    return _crd(
        kind=DAGRUN_KIND,
        plural="dagruns",
        short_names=["dr"],
        schema=_resource_schema(
            "One run of a DAG, for one logical date: its tasks run in pods, one pod per try.",
            DAGRunSpec,
            DAGRunStatus,
        ),
        columns=[
            _column("DAG", "string", ".spec.dagRef.name", "The DAG this is a run of."),
            _column("State", "string", ".status.state", "The run's state."),
            _column("Progress", "string", ".status.progress", "Finished tasks out of all."),
            _column("Started", "date", ".status.startTime", "When the run started."),
            _column("Duration", "string", ".status.duration", "How long the run took."),
            _column("Logical Date", "string", ".spec.logicalDate", "The run's logical date.", 1),
            _column("Type", "string", ".spec.runType", "scheduled, manual or backfill.", 1),
            _AGE,
        ],
    )


PEERING_GROUP = "kopf.dev"


def peering_crd() -> dict[str, Any]:
    """kopf's ``ClusterKopfPeering`` CRD, as kopf defines it (group ``kopf.dev``, cluster-wide,
    the keep-alives in a free-form ``status``), so that it can stand beside a copy another
    kopf-based operator installed. ``airkube run --peering NAME`` uses one such object."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"clusterkopfpeerings.{PEERING_GROUP}"},
        "spec": {
            "group": PEERING_GROUP,
            "names": {
                "kind": "ClusterKopfPeering",
                "listKind": "ClusterKopfPeeringList",
                "plural": "clusterkopfpeerings",
                "singular": "clusterkopfpeering",
            },
            "scope": "Cluster",
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "description": (
                                "Operators built with kopf that share this object see each "
                                "other: only the one of the highest priority works. airkube's "
                                "replicas (airkube run --peering NAME) use it."
                            ),
                            "properties": {
                                "status": {
                                    "type": "object",
                                    "description": (
                                        "Each operator's keep-alive, by identity: priority, "
                                        "lifetime (seconds) and lastseen."
                                    ),
                                    _PRESERVE: True,
                                }
                            },
                        }
                    },
                }
            ],
        },
    }


def render(crd: Mapping[str, Any]) -> str:
    """``crd`` as YAML, deterministically (sorted keys, no anchors)."""
    # A JSON round trip unshares the nodes the schema reuses, which YAML would alias.
    plain = json.loads(json.dumps(crd))
    return HEADER + yaml.safe_dump(
        plain, sort_keys=True, default_flow_style=False, allow_unicode=True, width=100
    )


def crd_files() -> dict[str, str]:
    """The CRD files' names and contents."""
    return {
        f"{GROUP}_dags.yaml": render(dag_crd()),
        f"{GROUP}_dagruns.yaml": render(dagrun_crd()),
        f"{PEERING_GROUP}_clusterkopfpeerings.yaml": render(peering_crd()),
    }


def write(directory: Path) -> list[Path]:
    """Write the CRD files into ``directory``; return their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in crd_files().items():
        path = directory / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: python -m airkube.api.crdgen DIRECTORY", file=sys.stderr)
        return 2
    for path in write(Path(args[0])):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
