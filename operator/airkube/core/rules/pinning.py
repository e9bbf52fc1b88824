"""Pinning: the DAG version a run follows. A run pins its DAG's current spec when it
starts and follows that version to its end, whatever happens to the DAG meanwhile."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from airkube.api.dag import DAGSpec
from airkube.core.memo import IdentityCache
from airkube.core.model.verdict import Verdict
from airkube.core.spec_hash import spec_hash
from airkube.core.validation import check_dag


@dataclass(frozen=True)
class Pinning:
    spec: DAGSpec | None
    version: str | None
    new: bool = False
    """Pinned by this pass: the version is to be recorded."""
    verdict: Verdict = field(default_factory=Verdict.yes)
    """Why the run cannot go on, if it cannot."""
    fatal: bool = False
    """It never will (fail the run), rather than not yet (it waits)."""


_checked = IdentityCache(check_dag, size=64)
"""check_dag of a DAG resource's spec, by identity: every pass of every run of a DAG reads
the same spec object until the DAG changes, and a big DAG's check costs a tenth of a
second."""


def pin(
    dag: str,
    pinned: str | None,
    stored: DAGSpec | None,
    current: Mapping[str, Any] | None,
    refused: Mapping[str, str] | None = None,
) -> Pinning:
    """The spec a run follows. ``pinned``: the version its status names, if any;
    ``stored``: that version's spec as the metadata database keeps it, if found;
    ``current``: the DAG resource's spec as it is now (None: no such DAG); ``refused``:
    versions whose pods the API server refused (a dry run), with its message: a run does
    not start on one of those (its pods would all be refused), it waits for a fix."""
    if pinned is not None:
        if stored is not None:
            return Pinning(stored, pinned)
        if current is not None:
            parsed, problems = _checked(current)
            if parsed is not None and not problems and spec_hash(parsed) == pinned:
                return Pinning(parsed, pinned)
        return Pinning(
            None,
            pinned,
            verdict=Verdict.no(
                "DAGVersionLost",
                f"the DAG version {pinned} this run follows is in neither the metadata "
                "database nor the DAG resource",
            ),
            fatal=True,
        )
    if current is None:
        return Pinning(None, None, verdict=Verdict.no("DAGNotFound", f"DAG {dag} does not exist"))
    parsed, problems = _checked(current)
    if parsed is None or problems:
        # The first problem only: the DAG's Ready condition lists them all, and a run's
        # condition must stay small however many a DAG has.
        why = problems[0].message if problems else "invalid spec"
        if len(problems) > 1:
            why += f" (and {len(problems) - 1} more: see the DAG's Ready condition)"
        return Pinning(None, None, verdict=Verdict.no("DAGInvalid", f"DAG {dag} is invalid: {why}"))
    version = spec_hash(parsed)
    if refused and version in refused:
        message = f"DAG {dag} is not ready: {refused[version]}"
        return Pinning(None, None, verdict=Verdict.no("DAGInvalid", message))
    return Pinning(parsed, version, new=True)
