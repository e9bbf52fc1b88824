"""Deterministic DAGRun names: ``<dag>-<run type>-<logical date>``.

The name is a function of (DAG, run type, logical date) only, so an operator that restarts,
or a second replica, computes the same name for the same run and the API server refuses the
second create (AlreadyExists): a run is never created twice. The logical date is written in
UTC as ``yyyymmddthhmmss`` (``etl-scheduled-20261124t000000``): lowercase, as the name is a
DNS subdomain. Sub-second parts are dropped, so two manual runs triggered in the same second
need an explicit name.
"""

import hashlib
from datetime import UTC, datetime
from typing import Any

from airkube.api.dagrun import DAGRunSpec, RunType
from airkube.api.meta import API_VERSION
from airkube.core.pods import LABEL_DAG, label_value

NAME_MAX_LENGTH = 253
"""A DAGRun's name is a DNS subdomain."""

_STAMP_FORMAT = "%Y%m%dt%H%M%S"
_HASH_LENGTH = 8


def run_stamp(logical_date: datetime) -> str:
    """The logical date as it appears in run names: UTC, ``20261124t000000``."""
    if logical_date.tzinfo is None:
        raise ValueError("the logical date must be an aware datetime")
    return logical_date.astimezone(UTC).strftime(_STAMP_FORMAT)


def run_name(dag: str, run_type: RunType, logical_date: datetime) -> str:
    """The name of the ``run_type`` run of ``dag`` for ``logical_date``.

    A DAG name too long to fit is cut and followed by a hash of the whole name, so two long
    DAG names that share a prefix never share run names.
    """
    suffix = f"-{run_type.value}-{run_stamp(logical_date)}"
    room = NAME_MAX_LENGTH - len(suffix)
    if len(dag) > room:
        digest = hashlib.sha256(dag.encode()).hexdigest()[:_HASH_LENGTH]
        dag = f"{dag[: room - _HASH_LENGTH - 1].rstrip('-.')}-{digest}"
    return f"{dag}{suffix}"


def scheduled_run_name(dag: str, logical_date: datetime) -> str:
    """``<dag>-scheduled-<logical date>``: a run the schedule creates."""
    return run_name(dag, RunType.SCHEDULED, logical_date)


def backfill_run_name(dag: str, logical_date: datetime) -> str:
    """``<dag>-backfill-<logical date>``: a run ``airkube backfill`` creates."""
    return run_name(dag, RunType.BACKFILL, logical_date)


def manual_run_name(dag: str, logical_date: datetime) -> str:
    """``<dag>-manual-<logical date>``: a run ``airkube trigger`` creates (the CLI's format)."""
    return run_name(dag, RunType.MANUAL, logical_date)


def dagrun_manifest(namespace: str, name: str, spec: DAGRunSpec) -> dict[str, Any]:
    """A new DAGRun resource: what the schedule loop, ``trigger`` and ``backfill`` create.

    Labelled with its DAG (as a valid label value, whatever the DAG's name) so that
    ``kubectl get dagruns -l airkube.io/dag=NAME`` finds a DAG's runs.
    """
    return {
        "apiVersion": API_VERSION,
        "kind": "DAGRun",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {LABEL_DAG: label_value(spec.dag_ref.name)},
        },
        "spec": spec.to_dict(),
    }
