"""The systems under test, each run the same way: given a fresh namespace, start (a fresh
controller process), submit a workload's runs, say which run and task a pod belongs to and
when a run object is finished, stop.

- Ceiling: no controller; this process creates the pods itself with a plain asyncio
  client, each as soon as its upstream pods are seen Succeeded.
- Airkube: `airkube run` (tests/e2e/operator_process.py) on a new SQLite DB.
- Argo: Argo Workflows' workflow-controller as a local process, at its default settings.
- Argo tuned: the same controller with the settings its scaling docs recommend for
  scale, as far as they apply to these workloads (ARGO_TUNED_FLAGS).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from akube import ApiError, AsyncKube
from tests.e2e.cluster import Cluster, hack_var, pinned_kubectl
from tests.e2e.operator_process import OperatorProcess
from workloads import (
    CEILING_RUN,
    CEILING_TASK,
    Workload,
    airkube_dag,
    airkube_run,
    argo_workflow,
    ceiling_pod,
)

ROOT = Path(__file__).resolve().parents[1]

PodEvent = tuple[float, str, dict[str, Any]]


def proc_stats(pid: int) -> tuple[float, float, float]:
    """(CPU seconds used, RSS MiB now, peak RSS MiB) of a process, from /proc."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks
    rss = hwm = 0.0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) / 1024
            elif line.startswith("VmHWM:"):
                hwm = int(line.split()[1]) / 1024
    return cpu, rss, hwm


def pod_outcome(pod: dict[str, Any]) -> str | None:
    """How a pod ended ("Succeeded", "Failed"), as soon as it is seen to; else None.

    A terminal phase, or every container terminated (Succeeded if all exited 0): a real
    kubelet reports the containers' ends about a second before the pod's phase, having
    first to stop the sandbox (KWOK sets both in one update), and a controller may act on
    the first sign. airkube does (`ObservedPod.stopped`); so do the ceiling and the clock."""
    status = pod.get("status") or {}
    phase = status.get("phase")
    if phase in ("Succeeded", "Failed"):
        return str(phase)
    ends = [
        (cs.get("state") or {}).get("terminated") for cs in status.get("containerStatuses") or []
    ]
    if ends and all(ends):
        return "Succeeded" if all(e.get("exitCode") == 0 for e in ends) else "Failed"
    return None


class System:
    name = ""
    label = ""
    runs_resource: str | None = None
    """Path segment of the run objects under the namespace (None: the system has none)."""

    def __init__(self, kube: AsyncKube, context: str, work: Path) -> None:
        self.kube = kube
        self.context = context
        self.work = work

    async def prepare_cluster(self) -> None:
        """Once per benchmark: CRDs and the like."""

    async def start(self, namespace: str, workload: Workload) -> None:
        """Start a fresh controller watching `namespace`."""

    async def prepare(self, namespace: str, workload: Workload) -> None:
        """Objects the runs need, created before the clock starts (airkube's DAG)."""

    async def submit(self, namespace: str, workload: Workload) -> None:
        raise NotImplementedError

    def on_pod(self, event: PodEvent) -> None:
        """Every pod event of the namespace (the ceiling drives its runs from them)."""

    def run_finished(self, obj: dict[str, Any]) -> str | None:
        """The final state of a run object, or None while it is not finished."""
        return None

    def task_of(self, pod: dict[str, Any]) -> tuple[str, str] | None:
        raise NotImplementedError

    def pid(self) -> int | None:
        return None

    async def stop(self) -> None:
        pass

    def log_path(self) -> Path | None:
        return None


# ---- the ceiling -------------------------------------------------------------------------


class Ceiling(System):
    name = "ceiling"
    label = "ceiling (asyncio client)"

    def __init__(self, kube: AsyncKube, context: str, work: Path, concurrency: int = 64) -> None:
        super().__init__(kube, context, work)
        self.concurrency = concurrency
        self.finished_cb: Callable[[str, float], None] = lambda run, t: None

    async def start(self, namespace: str, workload: Workload) -> None:
        self.namespace = namespace
        self.workload = workload
        self.dependents: dict[str, list[str]] = {name: [] for name, _ in workload.shape}
        self.deps = {name: deps for name, deps in workload.shape}
        for name, deps in workload.shape:
            for d in deps:
                self.dependents[d].append(name)
        self.done: dict[str, set[str]] = {}
        self.created: dict[str, set[str]] = {}
        self.slots = asyncio.Semaphore(self.concurrency)
        self.tasks: set[asyncio.Task[None]] = set()
        self.errors: list[str] = []

    async def _create(self, run: str, task: str) -> None:
        async with self.slots:
            try:
                await self.kube.create(
                    f"/api/v1/namespaces/{self.namespace}/pods",
                    ceiling_pod(self.workload, run, task),
                )
            except ApiError as e:
                self.errors.append(str(e))

    def _launch(self, run: str, tasks: list[str]) -> None:
        for task in tasks:
            self.created[run].add(task)
            t = asyncio.ensure_future(self._create(run, task))
            self.tasks.add(t)
            t.add_done_callback(self.tasks.discard)

    async def submit(self, namespace: str, workload: Workload) -> None:
        roots = [name for name, deps in workload.shape if not deps]
        for run in workload.run_names():
            self.done[run] = set()
            self.created[run] = set()
            self._launch(run, roots)

    def on_pod(self, event: PodEvent) -> None:
        now, _, pod = event
        if pod_outcome(pod) != "Succeeded":
            return
        key = self.task_of(pod)
        if key is None or key[0] not in self.done:
            return
        run, task = key
        if task in self.done[run]:
            return
        self.done[run].add(task)
        ready = [
            d
            for d in self.dependents[task]
            if d not in self.created[run] and all(u in self.done[run] for u in self.deps[d])
        ]
        self._launch(run, ready)
        if len(self.done[run]) == self.workload.tasks:
            self.finished_cb(run, now)

    def task_of(self, pod: dict[str, Any]) -> tuple[str, str] | None:
        labels = pod["metadata"].get("labels") or {}
        if CEILING_RUN in labels:
            return labels[CEILING_RUN], labels[CEILING_TASK]
        return None

    async def stop(self) -> None:
        for t in list(self.tasks):
            t.cancel()


# ---- airkube -----------------------------------------------------------------------------


class Airkube(System):
    name = "airkube"
    label = "airkube"
    runs_resource = "dagruns"

    async def prepare_cluster(self) -> None:
        subprocess.run(
            [
                pinned_kubectl(),
                "--context",
                self.context,
                "apply",
                "--server-side",
                "--force-conflicts",
                "-f",
                str(ROOT / "crds"),
            ],
            check=True,
            capture_output=True,
        )

    async def start(self, namespace: str, workload: Workload) -> None:

        work = Path(tempfile.mkdtemp(prefix=f"airkube-{workload.key}-", dir=self.work))
        cluster = Cluster(None, self.context, pinned_kubectl(), started_here=False)
        # The operator watches this namespace only (as Argo's controller does below).
        os.environ["AIRKUBE_NAMESPACES"] = namespace
        try:
            self.operator = OperatorProcess(
                cluster, f"sqlite:///{work / 'airkube.db'}", work / "operator.log"
            )
            await asyncio.to_thread(self.operator.start)
        finally:
            del os.environ["AIRKUBE_NAMESPACES"]

    async def prepare(self, namespace: str, workload: Workload) -> None:
        base = f"/apis/airkube.io/v1alpha1/namespaces/{namespace}/dags"
        await self.kube.create(base, airkube_dag(workload))
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # set-up, not measured: the DAG is Ready
            dag = await self.kube.get(f"{base}/{workload.key}")
            conditions = (dag.get("status") or {}).get("conditions") or []
            if any(c["type"] == "Ready" and c["status"] == "True" for c in conditions):
                return
            await asyncio.sleep(0.1)
        raise RuntimeError(f"DAG {workload.key} not Ready in 120 s: {dag.get('status')}")

    async def submit(self, namespace: str, workload: Workload) -> None:
        path = f"/apis/airkube.io/v1alpha1/namespaces/{namespace}/dagruns"
        await bounded_gather(
            [self.kube.create(path, airkube_run(workload, n)) for n in workload.run_names()]
        )

    def run_finished(self, obj: dict[str, Any]) -> str | None:
        state = (obj.get("status") or {}).get("state")
        return state if state in ("Succeeded", "Failed", "Cancelled") else None

    def task_of(self, pod: dict[str, Any]) -> tuple[str, str] | None:
        labels = pod["metadata"].get("labels") or {}
        if "airkube.io/run" in labels:
            return labels["airkube.io/run"], labels["airkube.io/task"]
        return None

    def pid(self) -> int | None:
        proc = self.operator.proc
        return proc.pid if proc else None

    async def stop(self) -> None:
        await asyncio.to_thread(self.operator.stop)

    def log_path(self) -> Path | None:
        return self.operator.log_path


# ---- Argo Workflows ----------------------------------------------------------------------

ARGO_NAMESPACE = "argo"


def argo_module_dir(version: str) -> Path:
    """Argo's module source in the Go module cache (downloaded by its build)."""
    modcache = subprocess.run(
        ["go", "env", "GOMODCACHE"], check=True, capture_output=True, text=True
    ).stdout.strip()
    path = Path(modcache) / "github.com/argoproj/argo-workflows" / f"v4@{version}"
    if not path.is_dir():
        subprocess.run(
            ["go", "mod", "download", f"github.com/argoproj/argo-workflows/v4@{version}"],
            check=True,
            env={**os.environ, "GOFLAGS": "-mod=mod"},
            cwd=tempfile.gettempdir(),
        )
    return path


class Argo(System):
    name = "argo"
    label = "Argo Workflows"
    runs_resource = "workflows"

    def __init__(self, kube: AsyncKube, context: str, work: Path) -> None:
        super().__init__(kube, context, work)
        self.version = hack_var("ARGO_VERSION")
        self.binary = Path(hack_var("AIRKUBE_BIN")) / f"workflow-controller-{self.version}"
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: Path | None = None

    async def prepare_cluster(self) -> None:
        """Its CRDs (the full ones, as its cluster-install applies) and its
        workflow-controller-configmap (as shipped: empty, all defaults), from its module."""
        mod = argo_module_dir(self.version)
        k = [pinned_kubectl(), "--context", self.context]
        subprocess.run(
            [*k, "create", "namespace", ARGO_NAMESPACE], capture_output=True, check=False
        )
        crds = sorted((mod / "manifests/base/crds/full").glob("argoproj.io_*.yaml"))
        for args in (
            ["apply", "--server-side", *(a for c in crds for a in ("-f", str(c)))],
            [
                "apply",
                "-n",
                ARGO_NAMESPACE,
                "-f",
                str(mod / "manifests/base/workflow-controller/workflow-controller-configmap.yaml"),
            ],
        ):
            proc = subprocess.run([*k, *args], capture_output=True, text=True)
            if proc.returncode != 0:
                raise RuntimeError(f"kubectl {' '.join(args)}: {proc.stderr.strip()}")

    flags: tuple[str, ...] = ()
    """Extra workflow-controller flags (none: its defaults)."""

    async def start(self, namespace: str, workload: Workload) -> None:
        """The controller of Argo's namespace-install, managing the workload's namespace,
        with its defaults (qps 20, burst 30, 32 workflow workers) but for `flags`, and
        leader election off."""
        self._log = Path(tempfile.mkdtemp(prefix=f"argo-{workload.key}-", dir=self.work)) / (
            "workflow-controller.log"
        )
        args = [
            str(self.binary),
            "--context",
            self.context,
            "--namespace",
            ARGO_NAMESPACE,
            "--namespaced",
            "--managed-namespace",
            namespace,
            *self.flags,
        ]
        env = {**os.environ, "LEADER_ELECTION_DISABLE": "true"}
        with self._log.open("wb") as log:
            self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"workflow-controller exited: {self.tail()}")
            if "Performing periodic GC" in self._log.read_text(errors="replace"):
                return
            await asyncio.sleep(0.1)
        raise RuntimeError(f"workflow-controller not ready in 60 s: {self.tail()}")

    def tail(self) -> str:
        text = self._log.read_text(errors="replace") if self._log else ""
        return "\n".join(text.splitlines()[-30:])

    async def submit(self, namespace: str, workload: Workload) -> None:
        path = f"/apis/argoproj.io/v1alpha1/namespaces/{namespace}/workflows"
        await bounded_gather(
            [self.kube.create(path, argo_workflow(workload, n)) for n in workload.run_names()]
        )

    def run_finished(self, obj: dict[str, Any]) -> str | None:
        phase = (obj.get("status") or {}).get("phase")
        return phase if phase in ("Succeeded", "Failed", "Error") else None

    def task_of(self, pod: dict[str, Any]) -> tuple[str, str] | None:
        meta = pod["metadata"]
        run = (meta.get("labels") or {}).get("workflows.argoproj.io/workflow")
        node = (meta.get("annotations") or {}).get("workflows.argoproj.io/node-name")
        if run and node:
            return run, node.split(".", 1)[-1]
        return None

    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    async def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.to_thread(self.proc.wait, 5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def log_path(self) -> Path | None:
        return self._log


ARGO_TUNED_FLAGS = {
    "--qps": "500",
    "--burst": "1000",
    "--workflow-workers": "128",
    "--pod-cleanup-workers": "32",
}
"""Argo's tuning for scale (docs/scaling.md and docs/running-at-massive-scale.md of the
module, v4.1.4), as far as it applies here; defaults in the comments of ArgoTuned."""


class ArgoTuned(Argo):
    """Argo Workflows tuned as its scaling docs recommend, where they apply:

    - `--qps`/`--burst` (defaults 20/30): the docs say to raise them while the log shows
      client-side throttling ("Waited for ...") and the API server can take more (their
      example: 50/75). This API server takes ~380 pod creations/s from one client
      (FINDINGS.md), so 500/1000 keeps the client's limiter out of the way; the suite
      counts the throttling messages left in its log (`log_counts`).
    - `--workflow-workers` (default 32): more when many Workflows are not reconciled fast
      enough; 128, above the 100 Workflows of the concurrent workload.
    - `--pod-cleanup-workers` (default 4): the docs tie it to PodGC, but its queue also
      labels every completed pod `workflows.argoproj.io/completed` (one patch per pod,
      `workflow/controller/pod/cleanup.go`), which these workloads do: 32.

    Left at their defaults, and why: `--workflow-ttl-workers` and `--cron-workflow-workers`
    (no TTLStrategy, no CronWorkflows here); the configmap's `resourceRateLimit` (unset
    means unlimited pod creation; the docs offer it to slow creation down) and
    `parallelism`/`namespaceParallelism` (limits, unset means none); `DEFAULT_REQUEUE_TIME`
    (the docs' only advice is to raise it to 1m to spare an overwhelmed API server, which
    would slow every step); Pod GC and workflow GC (spec settings that make the
    controller delete objects; airkube runs with podGC Never, so both keep their pods);
    the Emissary executor (already the only one in v4); container resource requests (a
    local process has no limits)."""

    name = "argo-tuned"
    label = "Argo Workflows, tuned for scale"
    flags = tuple(a for kv in ARGO_TUNED_FLAGS.items() for a in kv)


THROTTLED = ("Waited before sending request", "due to client-side throttling")
"""client-go's client-side throttling message (v0.35; "Waited for 1.2s due to client-side
throttling" before), logged for waits over 1 s, at most once a second or so."""
SLOW = "Waited for K8S request"
"""Argo's own message for a request that took over 5 s on the wire (its transport wrapper,
util/logs/log-k8s-requests.go: after the rate limiter, so the API server's slowness)."""


def log_counts(log: Path) -> dict[str, int]:
    """From a workflow-controller log: `throttled_waits`, how often client-go logged a
    wait of a second or more for the client's rate limiter (0: its QPS/burst never held
    a request back that long), and `slow_requests`, requests the API server took over
    5 s to answer."""
    throttled = slow = 0
    with log.open(errors="replace") as f:
        for line in f:
            throttled += any(t in line for t in THROTTLED)
            slow += SLOW in line
    return {"throttled_waits": throttled, "slow_requests": slow}


async def bounded_gather(coros: list[Any], limit: int = 32) -> None:
    slots = asyncio.Semaphore(limit)

    async def one(c: Any) -> None:
        async with slots:
            await c

    await asyncio.gather(*(one(c) for c in coros))
