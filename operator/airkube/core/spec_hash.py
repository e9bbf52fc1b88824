"""The version of a DAG spec: a stable hash of its canonical JSON, which a run pins and
under which the metadata database keeps the spec."""

import hashlib
import json

from airkube.api.dag import DAGSpec

# Pausing a DAG changes when runs are made, and history limits how long finished runs are
# kept, not what a run is: they make no new version.
_NOT_VERSIONED = frozenset({"paused", "successful_runs_history_limit", "failed_runs_history_limit"})

SPEC_HASH_LENGTH = 16


def canonical_json(spec: DAGSpec) -> str:
    """The spec as JSON with sorted keys, no whitespace, no null fields and durations in
    their canonical form ("90m" and "1h30m" are the same spec)."""
    data = spec.model_dump(
        mode="json", by_alias=True, exclude_none=True, exclude=set(_NOT_VERSIONED)
    )
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def spec_hash(spec: DAGSpec) -> str:
    """The first 16 hex digits of the SHA-256 of :func:`canonical_json`."""
    return hashlib.sha256(canonical_json(spec).encode()).hexdigest()[:SPEC_HASH_LENGTH]
