"""Schemas vendored from Kubernetes, read from this package's data files.

``pod.json``: the Pod part of Kubernetes' own OpenAPI v3 schema (the definitions reachable
from PodTemplateSpec, PodSpec and Container, reduced to what a field check reads), of the
version named in its ``kubernetesVersion``. ``hack/pod-schema.py`` regenerates it from a
running API server.
"""

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files
from typing import Any


@dataclass(frozen=True)
class OpenAPISchema:
    """Named OpenAPI definitions (references are by name: ``{"$ref": "io.k8s..."}``)."""

    kubernetes_version: str
    definitions: dict[str, Any]


@lru_cache(maxsize=1)
def pod_schema() -> OpenAPISchema:
    """The vendored Pod schema (read once)."""
    data = json.loads(files(__name__).joinpath("pod.json").read_text(encoding="utf-8"))
    return OpenAPISchema(data["kubernetesVersion"], data["definitions"])
