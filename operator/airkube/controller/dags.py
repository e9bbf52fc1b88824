"""Reconciling a DAG: validate it, record its version, and say so in its status."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from airkube.api import DAGStatus
from airkube.core.conditions import dag_ready_condition, set_condition
from airkube.core.patch import merge_patch
from airkube.core.spec_hash import spec_hash
from airkube.core.validation import Problem, check_dag

log = logging.getLogger(__name__)


def dag_status_update(
    body: Mapping[str, Any], problems: list[Problem], version: str | None, now: datetime
) -> dict[str, Any]:
    """The merge patch of the DAG's status for its current spec (empty when up to date)."""
    generation = body["metadata"].get("generation")
    old_raw = body.get("status") or {}
    old = DAGStatus.from_dict(old_raw)
    ready = dag_ready_condition(problems, generation=generation)
    new = old.model_copy(
        update={
            "observed_generation": generation,
            "dag_version": version,
            "conditions": set_condition(old.conditions, ready, now),
        }
    )
    new_raw = {**old_raw, **new.to_dict()}
    if version is None:
        new_raw.pop("dagVersion", None)
    return merge_patch(old_raw, new_raw)


def validate(body: Mapping[str, Any]) -> tuple[Any, list[Problem], str | None]:
    """(spec or None, problems, version hash when the spec is valid)."""
    spec, problems = check_dag(body.get("spec") or {})
    if spec is None or problems:
        return spec, problems, None
    return spec, problems, spec_hash(spec)
