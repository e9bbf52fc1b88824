"""The generated CRDs: up to date, structural, documented, and as strict as the models."""

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from airkube.api import TriggerRule
from airkube.api.crdgen import crd_files, dag_crd, dagrun_crd, main

CRDS_DIR = Path(__file__).resolve().parents[3] / "crds"

Schema = dict[str, Any]


def test_crds_dir_is_up_to_date() -> None:
    stale = []
    for name, text in crd_files().items():
        path = CRDS_DIR / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            stale.append(name)
    extra = {p.name for p in CRDS_DIR.glob("*.yaml")} - set(crd_files())
    assert not stale, f"crds/ is stale ({', '.join(stale)}): run `make crds`"
    assert not extra, f"crds/ has files the models do not generate: {sorted(extra)}"


def test_generation_is_deterministic_and_the_command_writes_files(tmp_path: Path) -> None:
    assert crd_files() == crd_files()
    assert main([str(tmp_path)]) == 0
    assert {p.name: p.read_text(encoding="utf-8") for p in tmp_path.iterdir()} == crd_files()
    assert main([]) == 2


def schema_of(crd: dict[str, Any]) -> Schema:
    [version] = crd["spec"]["versions"]
    schema: Schema = version["schema"]["openAPIV3Schema"]
    return schema


CRDS = {"dag": dag_crd(), "dagrun": dagrun_crd()}


def walk(node: Schema, path: str = "") -> Iterator[tuple[str, Schema]]:
    yield path, node
    for name, child in node.get("properties", {}).items():
        yield from walk(child, f"{path}.{name}")
    if isinstance(node.get("items"), dict):
        yield from walk(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        yield from walk(node["additionalProperties"], f"{path}{{}}")


ALLOWED_KEYS = {
    "type", "description", "properties", "required", "items", "additionalProperties",
    "enum", "pattern", "minimum", "maximum", "minLength", "maxLength", "minItems", "maxItems",
    "format", "default", "anyOf",
    "x-kubernetes-preserve-unknown-fields", "x-kubernetes-int-or-string",
    "x-kubernetes-list-type", "x-kubernetes-list-map-keys",
}  # fmt: skip


@pytest.mark.parametrize("kind", CRDS)
def test_schema_is_structural(kind: str) -> None:
    for path, node in walk(schema_of(CRDS[kind])):
        assert set(node) <= ALLOWED_KEYS, (path, set(node) - ALLOWED_KEYS)
        if node.get("x-kubernetes-int-or-string"):
            assert node.get("anyOf") == [{"type": "integer"}, {"type": "string"}], path
            assert "type" not in node, path
        else:
            assert "anyOf" not in node, path
            assert "type" in node or node.get("x-kubernetes-preserve-unknown-fields"), path
        if node.get("type") == "object" and "properties" in node:
            assert "additionalProperties" not in node, path
        if "default" in node:
            assert not path.startswith(".status"), path
            assert problems(node, node["default"]) == [], path
        for key in node.get("required", []):
            assert key in node.get("properties", {}), (path, key)
        if node.get("x-kubernetes-list-type") == "map":
            items = node["items"]
            for key in node["x-kubernetes-list-map-keys"]:
                assert key in items["required"], (path, key)
                assert "default" not in items["properties"][key], path
        if node.get("x-kubernetes-list-type") == "set":
            assert node["items"]["type"] in ("string", "integer"), path
        if "pattern" in node:
            re.compile(node["pattern"])


@pytest.mark.parametrize("kind", CRDS)
def test_every_field_has_a_description(kind: str) -> None:
    missing = [
        path
        for path, node in walk(schema_of(CRDS[kind]))
        if path not in ("", ".metadata") and not node.get("description")
        and not path.endswith(("[]", "{}"))
    ]  # fmt: skip
    assert not missing


def test_metadata_is_left_to_the_api_server() -> None:
    for crd in CRDS.values():
        assert schema_of(crd)["properties"]["metadata"] == {"type": "object"}


def test_trigger_rule_is_explained_and_enumerated() -> None:
    node = schema_of(CRDS["dag"])["properties"]["spec"]["properties"]["tasks"]["items"][
        "properties"
    ]["triggerRule"]
    assert node["enum"] == [rule.value for rule in TriggerRule]
    assert node["default"] == "all_success"
    for rule in TriggerRule:
        assert (
            f"{rule.value}:" in node["description"]
            or f"{rule.value} (default):" in (node["description"])
        )


def test_names_scope_and_subresources() -> None:
    for crd, plural, kind, short in (
        (CRDS["dag"], "dags", "DAG", "dag"),
        (CRDS["dagrun"], "dagruns", "DAGRun", "dr"),
    ):
        assert crd["apiVersion"] == "apiextensions.k8s.io/v1"
        assert crd["metadata"]["name"] == f"{plural}.airkube.io"
        spec = crd["spec"]
        assert spec["group"] == "airkube.io"
        assert spec["scope"] == "Namespaced"
        assert spec["names"] == {
            "kind": kind,
            "listKind": f"{kind}List",
            "plural": plural,
            "singular": kind.lower(),
            "shortNames": [short],
            "categories": ["airkube"],
        }
        [version] = spec["versions"]
        assert version["name"] == "v1alpha1"
        assert version["served"] is True
        assert version["storage"] is True
        assert version["subresources"] == {"status": {}}


def resolve_path(schema: Schema, json_path: str) -> Schema | None:
    node: Schema | None = schema
    for part in json_path.lstrip(".").split("."):
        if node is None:
            return None
        node = node.get("properties", {}).get(part)
    return node


@pytest.mark.parametrize(
    ("kind", "columns"),
    [
        ("dag", ["Schedule", "Paused", "Last Run", "Last State", "Next Run", "Age"]),
        (
            "dagrun",
            ["DAG", "State", "Progress", "Started", "Duration", "Logical Date", "Type", "Age"],
        ),
    ],
)
def test_printer_columns(kind: str, columns: list[str]) -> None:
    crd = CRDS[kind]
    [version] = crd["spec"]["versions"]
    printed = version["additionalPrinterColumns"]
    assert [c["name"] for c in printed] == columns
    schema = schema_of(crd)
    for column in printed:
        if column["jsonPath"] == ".metadata.creationTimestamp":
            continue
        node = resolve_path(schema, column["jsonPath"])
        assert node is not None, column
        expected = {"date": "string", "string": "string", "boolean": "boolean"}[column["type"]]
        assert node["type"] == expected, column


# A small interpreter of the schema subset used above: enough to check what the API server
# would accept or refuse (the e2e tests check it against a real one).
def problems(node: Schema, value: Any, path: str = "") -> list[str]:
    if node.get("x-kubernetes-int-or-string"):
        if not isinstance(value, int | str) or isinstance(value, bool):
            return [f"{path}: must be an integer or a string"]
        if isinstance(value, str) and "pattern" in node and not re.search(node["pattern"], value):
            return [f"{path}: does not match {node['pattern']}"]
        return []
    kind = node.get("type")
    found: list[str] = []
    python = {"object": dict, "array": list, "string": str, "integer": int, "boolean": bool}
    if (kind and not isinstance(value, python[kind])) or (
        kind == "integer" and isinstance(value, bool)
    ):
        return [f"{path}: must be {kind}"]
    if "enum" in node and value not in node["enum"]:
        found.append(f"{path}: unsupported value {value!r}")
    if "minimum" in node and value < node["minimum"]:
        found.append(f"{path}: must be >= {node['minimum']}")
    if "pattern" in node and not re.search(node["pattern"], value):
        found.append(f"{path}: does not match")
    if "maxLength" in node and len(value) > node["maxLength"]:
        found.append(f"{path}: too long")
    if kind == "object":
        for key in node.get("required", []):
            if key not in value:
                found.append(f"{path}.{key}: required")
        for key, item in value.items():
            if key in node.get("properties", {}):
                found += problems(node["properties"][key], item, f"{path}.{key}")
            elif isinstance(node.get("additionalProperties"), dict):
                found += problems(node["additionalProperties"], item, f"{path}.{key}")
    if kind == "array":
        if "minItems" in node and len(value) < node["minItems"]:
            found.append(f"{path}: too few items")
        for i, item in enumerate(value):
            found += problems(node["items"], item, f"{path}[{i}]")
        if node.get("x-kubernetes-list-type") == "map":
            keys = [tuple(i.get(k) for k in node["x-kubernetes-list-map-keys"]) for i in value]
            if len(keys) != len(set(keys)):
                found.append(f"{path}: Duplicate value")
        if node.get("x-kubernetes-list-type") == "set" and len(value) != len(set(value)):
            found.append(f"{path}: Duplicate value")
    return found


def dag_object(*tasks: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "airkube.io/v1alpha1",
        "kind": "DAG",
        "metadata": {"name": "d"},
        "spec": {"defaults": {"image": "busybox"}, "tasks": list(tasks), **spec},
    }


DAG_SCHEMA = schema_of(CRDS["dag"])


def test_schema_accepts_a_full_dag() -> None:
    example = yaml.safe_load((Path(__file__).parent / "warehouse_dag.yaml").read_text())
    example["spec"]["startDate"] = "2024-01-01"  # as kubectl sends a YAML date
    assert problems(DAG_SCHEMA, example) == []


@pytest.mark.parametrize(
    ("tasks", "spec", "problem"),
    [
        (
            [{"name": "a", "triggerRule": "sometimes"}],
            {},
            ".spec.tasks[0].triggerRule: unsupported",
        ),
        ([{"name": "a", "retries": -1}], {}, ".spec.tasks[0].retries: must be >= 0"),
        ([{"name": "a"}, {"name": "a"}], {}, ".spec.tasks: Duplicate value"),
        ([{"name": "Bad_Name"}], {}, ".spec.tasks[0].name: does not match"),
        ([{"name": "a", "dependsOn": ["b", "b"]}], {}, ".spec.tasks[0].dependsOn: Duplicate"),
        ([{"name": "a", "retryDelay": "5 minutes"}], {}, ".spec.tasks[0].retryDelay: does not"),
        ([{"name": "a"}], {"schedule": "daily"}, ".spec.schedule: does not match"),
        ([{"name": "a"}], {"maxActiveRuns": 0}, ".spec.maxActiveRuns: must be >= 1"),
        ([], {}, ".spec.tasks: too few items"),
    ],
)
def test_schema_refuses_what_the_api_server_must_refuse(
    tasks: list[dict[str, Any]], spec: dict[str, Any], problem: str
) -> None:
    found = problems(DAG_SCHEMA, dag_object(*tasks, **spec))
    assert any(p.startswith(problem) for p in found), found


def test_crd_files_are_valid_yaml_with_a_header() -> None:
    for text in crd_files().values():
        assert text.startswith("# Generated from operator/airkube/api by `make crds`.")
        assert "&id" not in text
        assert yaml.safe_load(text)["kind"] == "CustomResourceDefinition"
