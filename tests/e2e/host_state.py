"""What the real node could leave behind on the host, read from the host: mounts, cgroups,
network namespaces and links, firewall rules, the kernel settings kubelet wants to change,
and the processes of the node. hack/node.sh must leave all of it as it found it."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

SYSCTLS = (
    "kernel/panic",
    "kernel/panic_on_oops",
    "vm/overcommit_memory",
    "vm/panic_on_oom",
    "kernel/keys/root_maxkeys",
    "kernel/keys/root_maxbytes",
    "net/ipv4/ip_forward",
    "net/ipv4/conf/all/forwarding",
)
"""kubelet's kernel settings, and the forwarding a CNI bridge turns on."""


def sysctls() -> dict[str, str]:
    return {
        k: Path("/proc/sys", k).read_text().strip()
        for k in SYSCTLS
        if Path("/proc/sys", k).exists()
    }


def _lines(*cmd: str) -> list[str]:
    out = subprocess.run(cmd, capture_output=True, text=True, check=False).stdout
    return sorted(line for line in out.splitlines() if line.strip())


def hierarchies() -> list[Path]:
    """Every cgroup hierarchy: the v1 ones, named ones, and the v2 one of a hybrid host
    (/sys/fs/cgroup/unified), where runc makes the containers' cgroups too."""
    mounts = Path("/proc/self/mounts").read_text().splitlines()
    return [Path(line.split()[1]) for line in mounts if line.split()[2] in ("cgroup", "cgroup2")]


@dataclass(frozen=True)
class HostState:
    mounts: tuple[str, ...]
    cgroups: tuple[str, ...]
    netns: tuple[str, ...]
    links: tuple[str, ...]
    iptables: tuple[str, ...]
    sysctls: tuple[tuple[str, str], ...]
    node_processes: tuple[str, ...]


def host_state(node_cgroup: str) -> HostState:
    """The host as the node could change it; ``node_cgroup`` is the node's cgroup name."""
    mounts = [
        " ".join(line.split()[3:5])
        for line in Path("/proc/self/mountinfo").read_text().splitlines()
    ]
    cgroups = [str(h / node_cgroup) for h in hierarchies() if (h / node_cgroup).exists()]
    links = [
        re.sub(r"^\d+: ", "", line).split("@")[0].split(":")[0]
        for line in _lines("ip", "-o", "link")
    ]
    rules = [line for line in _lines("iptables-save") if not line.startswith(("#", ":"))]
    processes = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if re.search(
                    rf":/{re.escape(node_cgroup)}(/|$)", (proc / "cgroup").read_text(), re.M
                ):
                    processes.append(f"{proc.name} {(proc / 'comm').read_text().strip()}")
            except OSError:
                continue
    return HostState(
        mounts=tuple(sorted(mounts)),
        cgroups=tuple(cgroups),
        netns=tuple(_lines("ip", "netns", "list")),
        links=tuple(sorted(links)),
        iptables=tuple(rules),
        sysctls=tuple(sorted(sysctls().items())),
        node_processes=tuple(sorted(processes)),
    )
