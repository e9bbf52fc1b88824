#!/usr/bin/env python3
"""Regenerates operator/airkube/api/schemas/pod.json: the Pod part of Kubernetes' own
OpenAPI v3 schema, which `airkube validate` and the operator check podTemplate against.

It reads /openapi/v3/api/v1 from a running API server of the pinned version
(hack/versions.sh's KUBE_VERSION), keeps the definitions reachable from PodTemplateSpec,
PodSpec and Container, and of each only what the check reads: types, properties,
additionalProperties, items, references and the int-or-string/oneOf alternatives
(descriptions, defaults and list/patch markers are dropped).

Usage (with the local cluster up, e.g. `AIRKUBE_REAL_NODE=0 hack/cluster.sh up`):
    hack/pod-schema.py [--context kwok-airkube] [--kubectl PATH]
    hack/pod-schema.py --from openapi-v1.json --version v1.35.4   # from a saved document
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "operator/airkube/api/schemas/pod.json"
ROOTS = (
    "io.k8s.api.core.v1.PodTemplateSpec",
    "io.k8s.api.core.v1.PodSpec",
    "io.k8s.api.core.v1.Container",
)
REF_PREFIX = "#/components/schemas/"
KEPT_FLAGS = ("x-kubernetes-int-or-string", "x-kubernetes-preserve-unknown-fields")


def kubectl(args: argparse.Namespace, *command: str) -> str:
    context = ["--context", args.context] if args.context else []
    return subprocess.run(
        [args.kubectl, *context, *command], check=True, capture_output=True, text=True
    ).stdout


def reduce(node: dict[str, Any]) -> dict[str, Any]:
    """What the check reads of one schema node."""
    ref = node.get("$ref")
    all_of = node.get("allOf")
    if ref is None and isinstance(all_of, list) and len(all_of) == 1:
        ref = all_of[0].get("$ref")
    if ref is not None:
        return {"$ref": ref.removeprefix(REF_PREFIX)}
    out: dict[str, Any] = {}
    if "type" in node:
        out["type"] = node["type"]
    if "properties" in node:
        out["properties"] = {k: reduce(v) for k, v in sorted(node["properties"].items())}
    extra = node.get("additionalProperties")
    if isinstance(extra, dict):
        out["additionalProperties"] = reduce(extra)
    elif isinstance(extra, bool):
        out["additionalProperties"] = extra
    if "items" in node:
        out["items"] = reduce(node["items"])
    if "oneOf" in node:
        out["oneOf"] = [reduce(alternative) for alternative in node["oneOf"]]
    for flag in KEPT_FLAGS:
        if node.get(flag):
            out[flag] = True
    return out


def references(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if "$ref" in node else []
        return found + [r for value in node.values() for r in references(value)]
    if isinstance(node, list):
        return [r for value in node for r in references(value)]
    return []


def pod_schema(document: dict[str, Any], version: str) -> dict[str, Any]:
    schemas = document["components"]["schemas"]
    definitions: dict[str, Any] = {}
    pending = list(ROOTS)
    while pending:
        name = pending.pop()
        if name in definitions:
            continue
        definitions[name] = reduce(schemas[name])
        pending.extend(references(definitions[name]))
    return {
        "kubernetesVersion": version,
        "source": "/openapi/v3/api/v1 (regenerate with hack/pod-schema.py)",
        "roots": list(ROOTS),
        "definitions": dict(sorted(definitions.items())),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--context", help="kubectl context of the API server to read")
    default_kubectl = Path(
        os.environ.get("AIRKUBE_CACHE", Path.home() / ".cache/airkube"), "path/kubectl"
    )
    parser.add_argument(
        "--kubectl", default=str(default_kubectl) if default_kubectl.exists() else "kubectl"
    )
    parser.add_argument("--from", dest="source", type=Path, help="a saved /openapi/v3/api/v1")
    parser.add_argument("--version", help="the Kubernetes version of --from")
    args = parser.parse_args()
    if args.source is not None:
        if not args.version:
            parser.error("--from needs --version")
        document = json.loads(args.source.read_text())
        version = args.version
    else:
        document = json.loads(kubectl(args, "get", "--raw", "/openapi/v3/api/v1"))
        version = json.loads(kubectl(args, "get", "--raw", "/version"))["gitVersion"]
    schema = pod_schema(document, version)
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(json.dumps(schema, indent=1) + "\n")
    print(f"{OUTPUT.relative_to(ROOT)}: {len(schema['definitions'])} definitions of {version}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
