"""Running `kubectl airkube` (the plugin) against the test cluster, as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from .cluster import Cluster

PLUGIN = Path(sys.executable).with_name("kubectl-airkube")


def plugin(cluster: Cluster, namespace: str, *args: str) -> tuple[list[str], dict[str, str]]:
    """The command and environment of `kubectl airkube ARGS` (kubectl finds kubectl-airkube
    on PATH)."""
    env = {**os.environ, "PATH": f"{PLUGIN.parent}{os.pathsep}{os.environ['PATH']}"}
    return [cluster.kubectl_bin, "airkube", *args, "-n", namespace, *cluster.kubectl_flags()], env


def airkube(
    cluster: Cluster, namespace: str, *args: str, check: bool = True
) -> subprocess.CompletedProcess[str]:
    cmd, env = plugin(cluster, namespace, *args)
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60)
    if check:
        assert proc.returncode == 0, f"{' '.join(cmd)}: {proc.stdout}{proc.stderr}"
    return proc
