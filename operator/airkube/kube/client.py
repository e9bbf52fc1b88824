"""Kubernetes client setup: kubeconfig or in-cluster configuration, sized for an operator.

The Python client's connection pool defaults to a handful of connections, which
serialises a pass that creates many pods; the operator sizes it for its own
concurrency instead.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from kubernetes import client, config


class KubeConfigError(Exception):
    """The cluster cannot be reached with the given configuration (a user mistake)."""


@dataclass(frozen=True)
class KubeTarget:
    """Where the cluster is: a kubeconfig file and context, or the in-cluster service account."""

    kubeconfig: str | None = None
    context: str | None = None

    def describe(self) -> str:
        if self.kubeconfig is None and self.context is None and in_cluster():
            return "the in-cluster service account"
        where = self.kubeconfig or os.environ.get("KUBECONFIG") or "~/.kube/config"
        return f"kubeconfig {where}" + (f" (context {self.context})" if self.context else "")


def in_cluster() -> bool:
    return bool(os.environ.get("KUBERNETES_SERVICE_HOST"))


def load_configuration(target: KubeTarget, *, pool_size: int = 64) -> client.Configuration:
    """A client Configuration for ``target``; raises KubeConfigError with a clear message."""
    cfg = client.Configuration()
    try:
        if target.kubeconfig is None and target.context is None and in_cluster():
            config.load_incluster_config(client_configuration=cfg)
        else:
            config.load_kube_config(
                config_file=target.kubeconfig, context=target.context, client_configuration=cfg
            )
    except (config.ConfigException, OSError, TypeError, ValueError) as e:
        raise KubeConfigError(f"cannot load {target.describe()}: {e}") from None
    cfg.connection_pool_maxsize = pool_size
    return cfg


def api_client(target: KubeTarget, *, pool_size: int = 64) -> client.ApiClient:
    return client.ApiClient(load_configuration(target, pool_size=pool_size))
