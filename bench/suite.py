"""`make bench`: airkube beside the ceiling and Argo Workflows, on a KWOK cluster of its own.

Argo Workflows runs twice: at its defaults, and tuned for scale as its docs recommend
(systems.ArgoTuned).

Workloads (bench/workloads.py), each run by each system in turn, in a fresh namespace
with a fresh controller process:

1. chain100      a chain of 100 tasks: step latency, upstream pod seen Succeeded (phase,
                 or every container exited 0: systems.pod_outcome) -> downstream pod
                 seen ADDED
2. fanout1000,   1,000 / 5,000 independent tasks in one run: pods created per second,
   fanout5000    wall time
3. concurrent    100 runs of a 10-task DAG (start -> 8 -> end) at once: runs finished
                 per minute
4. big10000      one run of 10,000 tasks: it completes; the run object's size; the
                 controller's peak RSS and CPU seconds
5. real-chain    the chain of 100 tasks, and 1,000 independent tasks in one run, on the
   real-fanout1000
                 cluster's real node, where busybox really starts and exits: step latency,
                 pods created and completed per second, wall time (ceiling and airkube)

Workloads 1-4 run on KWOK's simulated node (their namespaces carry SIMULATED, see
bench/workloads.py); 5 on the real node (hack/node.sh), whose namespaces do not.

Every time is this process's monotonic clock when a watch event arrives (pods, runs):
the same clock and the same watch delay for every system. Controller RSS and CPU come
from /proc of its pid. Results: bench/results/<date>.json, and the report
bench/results/<date>.md with its plots (bench/report.py), which bench/REPORT.md points to.

The cluster is named airkube-bench-<n>, n chosen so that neither the name nor its real
node's addresses (hack/node-env.sh) are another local cluster's; it is deleted at the end,
on an error, Ctrl-C or SIGTERM too (unless --keep-cluster).

Usage: .venv/bin/python bench/suite.py [--quick] [--workloads chain100,...]
       [--systems ceiling,airkube,argo,argo-tuned] [--keep-cluster] [--no-profile]
Only the real node's workloads:
       .venv/bin/python bench/suite.py --workloads real-chain,real-fanout1000
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from akube import ApiError, AsyncKube  # noqa: E402
from systems import (  # noqa: E402
    ARGO_TUNED_FLAGS,
    Airkube,
    Argo,
    ArgoTuned,
    Ceiling,
    System,
    log_counts,
    pod_outcome,
    proc_stats,
)
from tests.e2e.cluster import hack_var, node_var  # noqa: E402
from workloads import Workload, chain, diamond, fan_out  # noqa: E402

CLUSTER_PREFIX = "airkube-bench"

# Limits: airkube and the ceiling get room to finish everything. Argo's controller, at its
# defaults, wakes a workflow at most every 10 s (DEFAULT_REQUEUE_TIME) and writes at 20 QPS:
# a 100-step chain would take over 16 minutes and 5,000 or 10,000 pods many minutes each,
# so it gets shorter limits there; its partial figures are reported as such. Tuned, it
# still waits 10 s a step (the same limit on the chain), but writes as fast as the API
# server takes it: minutes for the big fan-outs, not hours.
# fmt: off
WORKLOADS = [
    Workload("chain100", "chain of 100 tasks", chain(100), 1, limit_s=300, argo_limit_s=120,
             argo_tuned_limit_s=120),
    Workload("fanout1000", "fan-out of 1,000 tasks", fan_out(1000), 1, limit_s=400),
    Workload("fanout5000", "fan-out of 5,000 tasks", fan_out(5000), 1, 900, argo_limit_s=60,
             argo_tuned_limit_s=240),
    Workload("concurrent", "100 concurrent runs of a 10-task DAG", diamond(8), 100, 400),
    Workload("big10000", "one run of 10,000 tasks", fan_out(10000), 1, 1500, argo_limit_s=60,
             argo_tuned_limit_s=420),
    # On the real node a task takes about 1 s from its pod's creation to its container's
    # end (sandbox, network, container start, the kubelet's 1 s relist), 2 s to the pod's
    # Succeeded phase: the 100-task chain takes about 2 minutes per system (99 steps, as
    # on KWOK). The node starts and ends 1-2 pods/s on 2 shared cores, with at most 250
    # at a time (maxPods; Succeeded pods do not count), so the fan-out takes 10-20 min each.
    Workload("real-chain", "chain of 100 tasks, real node", chain(100), 1, 900, real=True),
    Workload("real-fanout1000", "fan-out of 1,000 tasks, real node", fan_out(1000), 1, 3000,
             real=True),
]
# fmt: on
REAL_ONLY = ("ceiling", "airkube")
"""The systems that run the real-node workloads (Argo runs on the simulated node only)."""
SYSTEMS = ("ceiling", "airkube", "argo", "argo-tuned")


QUICK_SIZES = {
    "chain100": 10,
    "fanout1000": 50,
    "fanout5000": 100,
    "big10000": 250,
    "real-chain": 10,
    "real-fanout1000": 50,
}


def quick(w: Workload) -> Workload:
    """A small version of a workload, to try the harness."""
    n = QUICK_SIZES.get(w.key)
    shape = (chain(n) if w.is_chain else fan_out(n)) if n else w.shape
    limit = 300 if w.real else 120
    runs = min(w.runs, 5)
    what = f"{n:,} tasks" if n else f"{runs} runs"
    return replace(
        w,
        title=f"{w.title} (quick: {what})",
        shape=shape,
        runs=runs,
        limit_s=limit,
        argo_limit_s=60,
        argo_tuned_limit_s=60,
    )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def curve(times: list[float], points: int = 300) -> list[list[float]]:
    """(seconds, count) of a cumulative count, at most `points` points."""
    times = sorted(times)
    step = max(1, len(times) // points)
    out = [[round(t, 4), i + 1] for i, t in enumerate(times) if i % step == 0]
    if times and out[-1][1] != len(times):
        out.append([round(times[-1], 4), len(times)])
    return out


class Cluster:
    def __init__(self, name: str) -> None:
        self.name = name
        self.context = f"kwok-{name}"

    def sh(self, *args: str) -> None:
        env = {**os.environ, "AIRKUBE_CLUSTER_NAME": self.name}
        subprocess.run([str(ROOT / "hack/cluster.sh"), *args], check=True, env=env)


def clusters_dir() -> Path:
    """Where kwokctl keeps the local clusters (hack/cluster.sh's KWOK_WORKDIR)."""
    return Path(hack_var("AIRKUBE_CACHE")) / "kwok" / "clusters"


def node_index(name: str) -> int:
    """The index hack/node-env.sh derives a cluster's real-node addresses from."""
    return int(node_var(name, "NODE_IDX"))


def free_cluster_name(prefix: str = CLUSTER_PREFIX) -> str:
    """`prefix`-<n>: a cluster name no local cluster has, nor the real-node addresses
    (10.213.<index>.0/30, its veth pair, 10.214.<index>.0/24) of any of them."""
    existing = {d.name for d in clusters_dir().glob("*") if d.is_dir()}
    taken = {node_index(n) for n in existing}
    for n in itertools.count(os.getpid() % 1000):
        name = f"{prefix}-{n}"
        if name not in existing and node_index(name) not in taken:
            return name
    raise AssertionError("unreachable")


async def wait_namespace(kube: AsyncKube, ns: str) -> None:
    """Set-up: the namespace's default ServiceAccount exists (pods need it)."""
    deadline = time.monotonic() + 60
    while not await kube.exists(f"/api/v1/namespaces/{ns}/serviceaccounts/default"):
        if time.monotonic() > deadline:
            raise RuntimeError(f"namespace {ns} got no default ServiceAccount in 60 s")
        await asyncio.sleep(0.1)


async def delete_namespace(kube: AsyncKube, ns: str, timeout: float = 600) -> float:
    t0 = time.monotonic()
    # Pods first, at once (grace period 0): the namespace controller deletes them gracefully,
    # each through KWOK, which takes minutes for thousands of pods.
    await kube.request(
        "DELETE",
        f"/api/v1/namespaces/{ns}/pods",
        {"apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0},
    )
    await kube.delete(f"/api/v1/namespaces/{ns}")
    while await kube.exists(f"/api/v1/namespaces/{ns}"):
        if time.monotonic() - t0 > timeout:
            break
        await asyncio.sleep(0.5)
    return time.monotonic() - t0


REAL_NODE = "real-node-0"


async def settle_real_node(kube: AsyncKube, cluster: str, timeout: float = 600) -> float:
    """Set-up of a real-node workload: the real node is there (not so with
    AIRKUBE_REAL_NODE=0), and has no pods and its containerd no containers left by the
    previous workload (the kubelet removes a deleted pod's containers within about a
    minute), so that cleaning up after one system does not slow the next. Returns the
    seconds waited."""
    t0 = time.monotonic()
    try:
        node = await kube.get(f"/api/v1/nodes/{REAL_NODE}")
    except ApiError as e:
        raise RuntimeError(f"the cluster has no real node {REAL_NODE} ({e.status})") from e
    conditions = (node.get("status") or {}).get("conditions") or []
    if not any(c["type"] == "Ready" and c["status"] == "True" for c in conditions):
        raise RuntimeError(f"the real node {REAL_NODE} is not Ready")
    sock = Path(node_var(cluster, "NODE_STATE")) / "containerd/containerd.sock"
    ctr = shutil.which("ctr")
    selector = {"fieldSelector": f"spec.nodeName={REAL_NODE}", "limit": "1"}
    while time.monotonic() - t0 < timeout:
        pods, _ = await kube.request("GET", "/api/v1/pods", params=selector)
        containers = 0
        if ctr and sock.exists():
            proc = await asyncio.create_subprocess_exec(
                ctr, "--address", str(sock), "--namespace", "k8s.io", "containers", "list",
                "--quiet", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
            )  # fmt: skip
            out, _ = await proc.communicate()
            containers = len(out.split())
        if not pods["items"] and not containers:
            break
        await asyncio.sleep(1)
    return time.monotonic() - t0


async def run_one(
    kube: AsyncKube, system: System, w: Workload, cluster: str | None = None
) -> dict[str, Any]:
    """One system runs one workload in a namespace of its own; returns what was measured.
    A real-node workload first waits for the node to be clean (`cluster`: its name)."""
    limit = w.limit_for(system.name)
    ns = f"{system.name}-{w.key}"
    settle = await settle_real_node(kube, cluster) if w.real and cluster else None
    meta: dict[str, Any] = {"name": ns}
    if w.namespace_annotations:  # the simulated node; none: the real node
        meta["annotations"] = w.namespace_annotations
    await kube.create(
        "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": meta}
    )
    await wait_namespace(kube, ns)
    try:
        await system.start(ns, w)
        await system.prepare(ns, w)
        result = await measure(kube, system, w, ns, limit)
    finally:
        log = system.log_path()
        await system.stop()
        if log is not None and log.exists():
            keep = ROOT / "bench/results/logs"
            keep.mkdir(parents=True, exist_ok=True)
            shutil.copy(log, keep / f"{system.name}-{w.key}.log")
        cleanup = await delete_namespace(kube, ns)
    result["cleanup_s"] = round(cleanup, 1)
    if isinstance(system, Argo) and log is not None and log.exists():
        result.update(log_counts(log))
    if settle is not None:
        result["settle_s"] = round(settle, 1)
    return result


async def measure(
    kube: AsyncKube, system: System, w: Workload, ns: str, limit: float
) -> dict[str, Any]:
    """Submit the workload's runs and watch them until they finish or the limit is up."""
    added: dict[tuple[str, str], float] = {}
    scheduled: dict[tuple[str, str], float] = {}
    succeeded: dict[tuple[str, str], float] = {}
    failed: set[tuple[str, str]] = set()
    finished: dict[str, tuple[float, str]] = {}
    progress: list[tuple[float, int]] = []
    """(time, tasks done) as the run's own status says ("k/N"), for one-run workloads."""
    all_done = asyncio.Event()
    samples: list[list[float]] = []

    def finish(run: str, t: float, state: str) -> None:
        if run not in finished:
            finished[run] = (t, state)
            if len(finished) == w.runs:
                all_done.set()

    if isinstance(system, Ceiling):
        system.finished_cb = lambda run, t: finish(run, t, "Succeeded")

    async def pods(opened: asyncio.Event) -> None:
        listed = await kube.get(f"/api/v1/namespaces/{ns}/pods")
        async for event in kube.watch(
            f"/api/v1/namespaces/{ns}/pods", listed["metadata"]["resourceVersion"], opened
        ):
            t, kind, pod = event
            key = system.task_of(pod)
            if key is not None and kind != "DELETED":
                added.setdefault(key, t)
                if (pod.get("spec") or {}).get("nodeName"):
                    scheduled.setdefault(key, t)
                outcome = pod_outcome(pod)
                if outcome == "Succeeded":
                    succeeded.setdefault(key, t)
                elif outcome == "Failed":
                    failed.add(key)
            system.on_pod(event)

    async def runs(opened: asyncio.Event) -> None:
        group = "airkube.io" if system.name == "airkube" else "argoproj.io"
        path = f"/apis/{group}/v1alpha1/namespaces/{ns}/{system.runs_resource}"
        listed = await kube.get(path)
        async for t, kind, obj in kube.watch(path, listed["metadata"]["resourceVersion"], opened):
            state = system.run_finished(obj) if kind != "DELETED" else None
            done = str((obj.get("status") or {}).get("progress") or "").partition("/")[0]
            if w.runs == 1 and done.isdigit() and (not progress or progress[-1][1] != int(done)):
                progress.append((t, int(done)))
            if state:
                finish(obj["metadata"]["name"], t, state)

    pid = system.pid()

    async def sample(t0: float) -> None:
        while pid:
            try:
                cpu, rss, _ = proc_stats(pid)
            except OSError:  # the process is gone
                return
            samples.append([round(time.monotonic() - t0, 3), round(rss, 1), round(cpu, 2)])
            await asyncio.sleep(0.5)

    watchers: list[asyncio.Future[None]] = []
    sampler: asyncio.Future[None] | None = None
    try:
        for watcher in (pods, runs) if system.runs_resource else (pods,):
            opened = asyncio.Event()
            watchers.append(asyncio.ensure_future(watcher(opened)))
            await asyncio.wait_for(opened.wait(), 30)

        cpu0 = proc_stats(pid)[0] if pid else 0.0
        t0 = time.monotonic()
        sampler = asyncio.ensure_future(sample(t0))
        await system.submit(ns, w)
        submitted = time.monotonic() - t0
        timed_out = False
        try:
            await asyncio.wait_for(all_done.wait(), limit)
        except TimeoutError:
            timed_out = True
        elapsed = time.monotonic() - t0
        process: dict[str, Any] | None = None
        if pid:
            cpu1, _, hwm = proc_stats(pid)
            process = {
                "cpu_s": round(cpu1 - cpu0, 2),
                "rss_peak_mib": round(hwm, 1),
                "busy_pct": round(100 * (cpu1 - cpu0) / elapsed, 1),
            }
        sizes: list[int] = []
        if system.runs_resource:
            group = "airkube.io" if system.name == "airkube" else "argoproj.io"
            for run in w.run_names():
                try:
                    _, size = await kube.get_size(
                        f"/apis/{group}/v1alpha1/namespaces/{ns}/{system.runs_resource}/{run}"
                    )
                    sizes.append(size)
                except ApiError:
                    pass
    finally:
        for task in [*watchers, *([sampler] if sampler else [])]:
            task.cancel()

    rel_added = [t - t0 for t in added.values()]
    rel_succeeded = [t - t0 for t in succeeded.values()]
    lives = [succeeded[k] - added[k] for k in succeeded if k in added]
    ends = [t - t0 for t, _ in finished.values()]
    result: dict[str, Any] = {
        "limit_s": limit,
        "timed_out": timed_out,
        "completed": not timed_out
        and all(state == "Succeeded" for _, state in finished.values())
        and len(finished) == w.runs,
        "runs": w.runs,
        "runs_finished": len(finished),
        "run_states": dict(Counter(state for _, state in finished.values())),
        "pods_expected": w.pods,
        "pods_created": len(added),
        "pods_succeeded": len(succeeded),
        "pods_failed": len(failed),
        "submit_s": round(submitted, 3),
        "elapsed_s": round(elapsed, 3),
        "wall_s": round(max(ends), 3) if len(ends) == w.runs else None,
        "first_pod_s": round(min(rel_added), 3) if rel_added else None,
        "last_pod_s": round(max(rel_added), 3) if rel_added else None,
        "pods_per_s": round(len(added) / max(rel_added), 1) if rel_added else None,
        "last_succeeded_s": round(max(rel_succeeded), 3) if rel_succeeded else None,
        "succeeded_per_s": (
            round(len(rel_succeeded) / max(rel_succeeded), 2) if rel_succeeded else None
        ),
        "pod_life_p50_s": round(percentile(lives, 0.5), 3) if lives else None,
        "pod_life_p99_s": round(percentile(lives, 0.99), 3) if lives else None,
        "runs_per_min": round(len(ends) / max(ends) * 60, 1) if ends else None,
        "run_object_bytes_max": max(sizes) if sizes else None,
        "process": process,
        "rss_series": samples,
        "pods_curve": curve(rel_added),
        "scheduled_curve": curve([t - t0 for t in scheduled.values()]),
        "succeeded_curve": curve([t - t0 for t in succeeded.values()]),
        "progress_curve": [[round(t - t0, 3), k] for t, k in progress][
            :: max(1, len(progress) // 300)
        ],
        "runs_curve": curve(ends, 100),
        "errors": getattr(system, "errors", [])[:5],
    }
    if w.is_chain:
        names = [name for name, _ in w.shape]
        run = w.run_names()[0]
        steps = [
            (added[(run, b)] - succeeded[(run, a)]) * 1000
            for a, b in itertools.pairwise(names)
            if (run, a) in succeeded and (run, b) in added
        ]
        result["step_ms"] = [round(s, 2) for s in steps]
        if steps:
            result["step_p50_ms"] = round(percentile(steps, 0.5), 1)
            result["step_p99_ms"] = round(percentile(steps, 0.99), 1)
            result["step_max_ms"] = round(max(steps), 1)
    return result


async def profile(kube: AsyncKube, system: Airkube, w: Workload, out: Path) -> dict[str, Any]:
    """Run the workload again with py-spy sampling the operator (not a measured run)."""
    spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or "py-spy"
    started = {}

    orig_start = system.start

    async def start_with_spy(ns: str, wl: Workload) -> None:
        await orig_start(ns, wl)
        pid = system.pid()
        cmd = [spy, "record", "--pid", str(pid), "--rate", "100", "--nonblocking"]
        cmd += ["--format", "raw", "--output", str(out)]
        started["proc"] = subprocess.Popen(
            cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
        )

    system.start = start_with_spy  # type: ignore[method-assign]
    orig_stop = system.stop

    async def stop_spy() -> None:
        proc = started.get("proc")
        if proc and proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                await asyncio.to_thread(proc.wait, 30)
            except subprocess.TimeoutExpired:
                proc.kill()
        await orig_stop()

    system.stop = stop_spy  # type: ignore[method-assign]
    try:
        result = await run_one(kube, system, w)
    finally:
        system.start = orig_start  # type: ignore[method-assign]
        system.stop = orig_stop  # type: ignore[method-assign]
    proc = started.get("proc")
    err = proc.stderr.read().decode(errors="replace")[-500:] if proc and proc.stderr else ""
    return {"result": result, "raw": str(out), "spy_stderr": err}


def machine_facts() -> dict[str, Any]:
    mem = ""
    with open("/proc/meminfo") as f:
        mem = f.readline().split()[1]
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "-C", str(ROOT), "status", "--porcelain", "operator"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    return {
        "cpus": os.cpu_count(),
        "mem_gib": round(int(mem) / 1024 / 1024, 1),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "airkube_commit": commit + ("+dirty operator/" if dirty else ""),
        "kube_version": hack_var("KUBE_VERSION"),
        "kwok_version": hack_var("KWOK_VERSION"),
        "argo_version": hack_var("ARGO_VERSION"),
    }


def workload_facts(workloads: list[Workload]) -> dict[str, dict[str, Any]]:
    return {
        w.key: {
            "title": w.title,
            "tasks": w.tasks,
            "runs": w.runs,
            "pods": w.pods,
            "node": "real" if w.real else "simulated",
        }
        for w in workloads
    }


async def main_async(args: argparse.Namespace, cluster: Cluster) -> Path:
    from report import missed_goals, summarize_profile

    started = time.monotonic()
    workloads = [w for w in WORKLOADS if not args.workloads or w.key in args.workloads]
    if args.quick:
        workloads = [quick(w) for w in workloads]
    work = Path(tempfile.mkdtemp(prefix="airkube-bench-"))
    kube = AsyncKube(cluster.context)
    all_systems: list[System] = [
        Ceiling(kube, cluster.context, work),
        Airkube(kube, cluster.context, work),
        Argo(kube, cluster.context, work),
        ArgoTuned(kube, cluster.context, work),
    ]
    systems = [s for s in all_systems if s.name in args.systems]
    load_before = os.getloadavg()
    results: dict[str, dict[str, Any]] = {}
    profiles: dict[str, Any] = {}
    try:
        for s in systems:
            await s.prepare_cluster()
        for w in workloads:
            results[w.key] = {}
            for s in systems:
                if w.real and s.name not in REAL_ONLY:
                    continue
                print(f"bench: {w.key} on {s.name} ...", flush=True)
                try:
                    r = await run_one(kube, s, w, cluster.name)
                except Exception as e:  # recorded, and the benchmark goes on
                    r = {"error": f"{type(e).__name__}: {e}"}
                results[w.key][s.name] = r
                print(f"bench:   {summary_line(r)}", flush=True)
        airkube = next((s for s in systems if isinstance(s, Airkube)), None)
        if airkube and not args.no_profile:
            # One profile per kind of shortfall (report.Goal.profile says which workload).
            so_far = {"results": results, "workloads": workload_facts(workloads)}
            for key in missed_goals(so_far):
                w = next((w for w in workloads if w.key == key), None)
                if w is None:
                    continue
                print(f"bench: profiling airkube on {key} (py-spy) ...", flush=True)
                out = ROOT / "bench/results/logs" / f"profile-{key}.txt"
                out.parent.mkdir(parents=True, exist_ok=True)
                try:
                    profiles[key] = await profile(kube, airkube, w, out)
                except Exception as e:
                    profiles[key] = {"error": f"{type(e).__name__}: {e}"}
    finally:
        await kube.close()
        shutil.rmtree(work, ignore_errors=True)
    date = datetime.now(UTC).strftime("%Y-%m-%d")
    out_dir = ROOT / "bench/results"
    out_dir.mkdir(parents=True, exist_ok=True)

    doc = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": args.quick,
        "machine": machine_facts(),
        "load_avg_before": [round(x, 2) for x in load_before],
        "load_avg_after": [round(x, 2) for x in os.getloadavg()],
        "cluster": cluster.name,
        "argo_tuned_flags": ARGO_TUNED_FLAGS,
        "workloads": workload_facts(workloads),
        "results": results,
        "profiles": {
            key: {
                **{k: v for k, v in p.items() if k not in ("raw", "result")},
                "wall_s": (p.get("result") or {}).get("wall_s"),
                "pods_per_s": (p.get("result") or {}).get("pods_per_s"),
                "summary": summarize_profile(Path(p["raw"])) if p.get("raw") else None,
            }
            for key, p in profiles.items()
        },
        "duration_s": round(time.monotonic() - started, 1),
    }
    path = out_dir / f"{date}{'-quick' if args.quick else ''}.json"
    path.write_text(json.dumps(doc, indent=1) + "\n")
    return path


def summary_line(r: dict[str, Any]) -> str:
    if "error" in r:
        return f"ERROR {r['error']}"
    parts = [
        f"completed={r['completed']}",
        f"runs {r['runs_finished']}/{r['runs']}",
        f"pods {r['pods_created']}/{r['pods_expected']}",
        f"wall {r['wall_s']}s",
        f"{r['pods_per_s']} pods/s",
        f"{r['succeeded_per_s']} completed/s",
    ]
    if r.get("step_p50_ms") is not None:
        parts.append(f"step p50 {r['step_p50_ms']} ms p99 {r['step_p99_ms']} ms")
    if r.get("process"):
        parts.append(f"rss {r['process']['rss_peak_mib']} MiB cpu {r['process']['cpu_s']} s")
    return ", ".join(parts)


def interrupted(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small workloads: try the harness")
    parser.add_argument(
        "--workloads",
        type=lambda s: s.split(","),
        default=[],
        help=f"comma-separated, of {','.join(w.key for w in WORKLOADS)} (default: all)",
    )
    parser.add_argument(
        "--systems",
        type=lambda s: s.split(","),
        default=list(SYSTEMS),
        help=f"comma-separated, of {','.join(SYSTEMS)} (default: all)",
    )
    parser.add_argument(
        "--cluster",
        help=f"kwok cluster name (default: a new {CLUSTER_PREFIX}-<n> no other cluster has)",
    )
    parser.add_argument(
        "--reuse-cluster", action="store_true", help="use the running --cluster as it is"
    )
    parser.add_argument("--keep-cluster", action="store_true", help="do not delete it after")
    parser.add_argument("--no-profile", action="store_true", help="no py-spy pass")
    args = parser.parse_args()
    unknown = sorted(set(args.systems) - set(SYSTEMS))
    if unknown:
        parser.error(f"unknown system(s) {', '.join(unknown)}; known: {', '.join(SYSTEMS)}")
    keys = {w.key for w in WORKLOADS}
    if set(args.workloads) - keys:
        bad = ", ".join(sorted(set(args.workloads) - keys))
        parser.error(f"unknown workload(s) {bad}; known: {', '.join(w.key for w in WORKLOADS)}")
    if args.reuse_cluster and not args.cluster:
        parser.error("--reuse-cluster needs --cluster NAME (the running cluster to use)")
    exists = bool(args.cluster) and (clusters_dir() / args.cluster).is_dir()
    if args.cluster and not args.reuse_cluster and exists:
        parser.error(f"a cluster {args.cluster} exists; --reuse-cluster to use it, or another name")
    cluster = Cluster(args.cluster or free_cluster_name())
    # SIGTERM as Ctrl-C (whose handler a background job may not have: its SIGINT can be
    # ignored): asyncio.run then cancels the run's tasks, whose cleanups run (controller
    # processes stopped, namespaces deleted), and the cluster is deleted below.
    signal.signal(signal.SIGTERM, interrupted)
    owned = not args.reuse_cluster
    try:
        try:
            if owned:
                print(f"bench: cluster {cluster.name}", flush=True)
                cluster.sh("up", "--fresh", "--no-switch")
            path = asyncio.run(main_async(args, cluster))
        finally:
            if owned and not args.keep_cluster:
                cluster.sh("down")
    except KeyboardInterrupt as e:
        sys.exit(f"bench: interrupted ({e or 'SIGINT'}); no results written")
    from report import write_report

    report = write_report(path)
    print(f"bench: results {path.relative_to(ROOT)}, report {report.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
