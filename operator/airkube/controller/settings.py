"""The operator's settings, as `airkube run` gathers them from options and environment."""

from __future__ import annotations

from dataclasses import dataclass, field

from airkube.core.status import DEFAULT_STATUS_BUDGET
from airkube.kube.client import KubeTarget
from airkube.logstore import LogStoreSettings


@dataclass(frozen=True)
class OperatorSettings:
    target: KubeTarget = field(default_factory=KubeTarget)
    namespaces: tuple[str, ...] = ()
    """Namespaces to watch; empty means all."""
    db_url: str = "sqlite:///airkube.db"
    log_level: str = "INFO"
    workers: int = 8
    """Runs reconciled concurrently."""
    api_concurrency: int = 32
    """Kubernetes API calls in flight at once."""
    health_port: int | None = 8080
    status_budget: int = DEFAULT_STATUS_BUDGET - 32 * 1024
    """Bytes the task map of a run's status may take (the rest of the object fits in the
    remainder of 256 KiB)."""
    peering: str | None = None
    """Name of the ClusterKopfPeering the replicas share, of which only the active one works;
    None: this operator runs alone (no peering)."""
    peering_priority: int = 0
    """A replica of a higher priority takes over at once; among equal ones the one that
    started first stays active."""
    callback_attempts: int = 5
    """Tries of a callback's webhook before it counts as failed (a Warning event)."""
    callback_backoff: float = 1.0
    """Seconds before a webhook's second try, doubled before each next one."""
    peering_lifetime: int = 15
    """Seconds a replica's keep-alive counts: a replica that stops without saying so (killed,
    node lost) is taken over from this long after its last one. kopf sends keep-alives 5-10 s
    before they lapse (every second below 7 s)."""
    log_store: LogStoreSettings = field(default_factory=LogStoreSettings)
    """Where the logs of ended tries are kept (the metadata database by default), the cap
    per try, and how many captures run at once."""
