"""The chaos test: runs of large DAGs while the operator is SIGKILLed and its status writes
are refused, then the history checked against what really happened.

``make chaos`` runs it (``python -m e2e.chaos`` with ``tests`` on the path; ``--help``
lists the knobs); tests/e2e/test_chaos.py runs a short version among the e2e tests.

What it does, against the local cluster (pods on the simulated node), with the operator
run as a process (``airkube run``) on a SQLite file:

1. Builds ``--runs`` DAGs of ``--tasks`` tasks in layers, from a seeded RNG: tasks that
   succeed, fail (exit 1), skip (exit 99), fail their first try or two and then succeed
   (retries with retryDelay 0s and 1s, by the ``sim.airkube.io/fail-tries`` annotation
   of hack/kwok/stages.yaml) or fail every try; mixed trigger rules. Every outcome is
   scripted, so the final states do not depend on timing (an all_success task never has
   both a skipped and a failed upstream task: which one settles it first is a race, in
   Airflow too).
2. Runs each DAG once calmly: its final task states are the expected ones (and must be
   the ones the script implies).
3. Runs each DAG again, the runs started a few kills apart, while SIGKILLing the operator
   at random moments (seeded; restarted at once) until every run has finished or
   ``--max-kills`` is reached, and for a while in the middle has the API server refuse
   the runs' status writes (tests/e2e/refusal.py). The calm and the chaotic runs have a
   namespace, an operator process and a SQLite file each.
4. Checks every run, calm and chaotic, and prints the figures:

   - pods per try: a watch of the namespace's pods sees exactly one pod (one uid) for
     each try the status counts (1..tryNumber of every task), and no other;
   - tries recorded: the metadata DB has a row for each of those tries, each ended
     (end time set; the current try in the task's final state, an earlier one
     UpForRetry or Failed); no try-0 row beside real tries (a task that never ran may
     have one, in its final state);
   - DB = status: for each task, the DB's row of its current try has the status's
     state, exit code and reason, and there is no row of a later try; the run's row has
     the run's state;
   - no stuck run: every run finishes within ``--timeout``;
   - final states (state, try number, exit code of each task; the run's state) of each
     chaotic run equal its calm run's.

   The database follows the status, so it gets ``--settle`` seconds after the runs end
   (with the operator running calmly) to catch up before it is compared.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import secrets
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubernetes import client, watch
from kubernetes.client.rest import ApiException

from airkube.api.dag import TriggerRule
from airkube.api.states import TaskState
from airkube.core.rules.trigger import Decision, UpstreamCounts, evaluate
from airkube.store.repository import Store

from .cluster import ROOT, Cluster, bring_up, tear_down
from .operator_process import OperatorProcess
from .refusal import PROBE_PREFIX, REFUSAL_MESSAGE, refusing_status_writes
from .resources import SIMULATED, TERMINAL, apply_dag, create_run, get_run, sim, state, when
from .waiting import wait_for_default_service_account

TRIGGER_RULES = [
    ("all_success", 30),
    ("all_done", 12),
    ("one_success", 10),
    ("none_failed", 12),
    ("none_failed_min_one_success", 8),
    ("all_failed", 5),
    ("one_failed", 6),
    ("one_done", 5),
    ("none_skipped", 5),
    ("all_skipped", 2),
    ("always", 5),
]
"""Airflow's trigger rules (api/dag.py) and how often a downstream task gets each."""

KINDS: list[tuple[str, int, dict[str, Any], dict[str, str], tuple[str, int]]] = [
    # name, weight, task fields, sim annotations, (final state, tries) when it runs
    ("ok", 50, {}, {}, ("Succeeded", 1)),
    ("fail", 7, {}, {"exit_code": "1"}, ("Failed", 1)),
    ("skip", 7, {}, {"exit_code": "99"}, ("Skipped", 1)),
    ("flaky", 12, {"retries": 1, "retryDelay": "0s"}, {"fail_tries": "1"}, ("Succeeded", 2)),
    ("flaky2", 7, {"retries": 2, "retryDelay": "0s"}, {"fail_tries": "1,2"}, ("Succeeded", 3)),
    ("flaky-delay", 10, {"retries": 2, "retryDelay": "1s"}, {"fail_tries": "1"}, ("Succeeded", 2)),
    ("doomed", 7, {"retries": 1, "retryDelay": "0s"}, {"exit_code": "3"}, ("Failed", 2)),
]
"""What a task does: its outcome by try, scripted through the kwok annotations."""

MAX_ACTIVE_TASKS = 48
DURATIONS = ["150ms", "300ms", "500ms", "800ms", "1200ms"]
FINISHED_TRY_STATES = {"Succeeded", "Failed", "Skipped", "UpstreamFailed"}
DECIDED = {Decision.SKIP: ("Skipped", 0), Decision.UPSTREAM_FAILED: ("UpstreamFailed", 0)}


@dataclass
class Config:
    runs: int = 3
    tasks: int = 200
    layers: int = 8
    min_kills: int = 30
    max_kills: int = 40
    """No more kills past this many: the runs then end in peace (it bounds the wall time)."""
    refuse_seconds: float = 10.0
    seed: int = 14
    uptime: tuple[float, float] = (0.3, 5.0)
    """How long the operator lives between a start (ready) and its next kill, seconds."""
    timeout: float = 480.0
    """Bound of each phase (the calm runs; the chaotic runs): a run still going is stuck."""
    settle: float = 30.0
    """How long the database may take to catch up with the status once the runs ended."""


def final_state(rule: str, upstream: list[str]) -> tuple[str, int] | None:
    """Whether a task with these upstream final states runs (None) or how it ends without
    running. Raises ValueError when the answer depends on the order the upstream tasks end
    in: all_success settles at the first upstream that did not succeed, Skipped for a skip,
    UpstreamFailed for a failure, so a skip and a failure upstream make a race."""
    up = UpstreamCounts.of(TaskState(s) for s in upstream)
    if rule == "all_success" and up.skipped and (up.failed or up.upstream_failed):
        raise ValueError("order-dependent")
    decision = evaluate(TriggerRule(rule), up)
    assert decision is not Decision.WAIT, (rule, upstream)
    return DECIDED.get(decision)


def chaos_dag(
    rng: random.Random, n_tasks: int, layers: int
) -> tuple[dict[str, Any], dict[str, tuple[str, int]]]:
    """A DAG spec of ``n_tasks`` tasks in ``layers`` layers whose outcomes are scripted and
    independent of timing, and the (state, try number) each task must end with."""
    names = [f"t{i:03d}" for i in range(n_tasks)]
    per_layer = max(1, n_tasks // layers)
    kinds, kind_weights = [k[0] for k in KINDS], [k[1] for k in KINDS]
    rules, rule_weights = [r[0] for r in TRIGGER_RULES], [r[1] for r in TRIGGER_RULES]
    by_kind = {k[0]: k for k in KINDS}
    tasks: list[dict[str, Any]] = []
    expected: dict[str, tuple[str, int]] = {}
    for i, name in enumerate(names):
        layer = min(i // per_layer, layers - 1)
        kind = rng.choices(kinds, kind_weights)[0]
        _, _, fields, annotations, outcome = by_kind[kind]
        t: dict[str, Any] = {"name": name, "command": ["sh", "-c", f"echo {name} {kind}"]}
        t.update(fields)
        t["podTemplate"] = sim(duration=rng.choice(DURATIONS), **annotations)
        ends: tuple[str, int] | None = None
        if layer > 0:
            below = names[max(0, (layer - 2) * per_layer) : layer * per_layer]
            t["dependsOn"] = sorted(rng.sample(below, k=min(len(below), rng.randint(1, 3))))
            upstream = [expected[u][0] for u in t["dependsOn"]]
            while True:
                t["triggerRule"] = rng.choices(rules, rule_weights)[0]
                try:
                    ends = final_state(t["triggerRule"], upstream)
                    break
                except ValueError:
                    continue
        expected[name] = ends or outcome
        tasks.append(t)
    return {"defaults": {"podTemplate": sim()}, "tasks": tasks}, expected


PodsPerTry = dict[tuple[str, str, int], list[str]]
"""(run, task, try) -> the uids of its pods."""


# Watching the pods ---------------------------------------------------------------------------


class PodWatch:
    """Every pod of the namespace's runs ever created, by uid, from a watch in a thread
    (pods are deleted once their run ends, so a list at the end would miss them)."""

    def __init__(self, core: client.CoreV1Api, namespace: str) -> None:
        self.core = core
        self.namespace = namespace
        self.pods: dict[str, tuple[str, str, int, str]] = {}
        """uid -> (run, task, try, pod name)."""
        self.relists = 0
        self.from_events = 0
        """Pods seen in kube-scheduler's events only."""
        self.unknown: set[str] = set()
        """Pods of names the watch never saw: of which try, nobody can tell."""
        self._lock = threading.Lock()
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="pod-watch", daemon=True)

    def __enter__(self) -> PodWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=15)
        if self._thread.is_alive():
            self.error = TimeoutError("the pod watch did not stop")

    def _see(self, pod: client.V1Pod) -> None:
        labels = pod.metadata.labels or {}
        if "airkube.io/run" in labels:
            key = (
                labels["airkube.io/run"],
                labels.get("airkube.io/task", "?"),
                int(labels.get("airkube.io/try", "-1")),
                pod.metadata.name,
            )
            with self._lock:
                self.pods.setdefault(pod.metadata.uid, key)

    def _loop(self) -> None:
        try:
            while not self._stop.is_set():
                listed = self.core.list_namespaced_pod(
                    self.namespace, label_selector="airkube.io/run"
                )
                for pod in listed.items:
                    self._see(pod)
                version = listed.metadata.resource_version
                while not self._stop.is_set():
                    try:
                        for event in watch.Watch().stream(
                            self.core.list_namespaced_pod,
                            self.namespace,
                            label_selector="airkube.io/run",
                            resource_version=version,
                            allow_watch_bookmarks=True,
                            timeout_seconds=2,
                        ):
                            obj = event["object"]
                            version = obj.metadata.resource_version
                            if event["type"] in ("ADDED", "MODIFIED", "DELETED"):
                                self._see(obj)
                    except ApiException as e:
                        if e.status != 410:
                            raise
                        self.relists += 1
                        break
        except BaseException as e:  # surfaced by the checks
            self.error = e

    def add_scheduled_events(self) -> None:
        """Add the pods kube-scheduler bound (its Scheduled events name each pod and its
        uid), in case the watch missed one: a second pod of a try's name (another uid)
        counts for that try, a pod of an unknown name for no try."""
        events = self.core.list_namespaced_event(
            self.namespace, field_selector="reason=Scheduled,involvedObject.kind=Pod"
        ).items
        with self._lock:
            by_name = {key[3]: key for key in self.pods.values()}
            for e in events:
                uid, name = e.involved_object.uid, e.involved_object.name
                if uid and uid not in self.pods:
                    self.from_events += 1
                    if name in by_name:
                        self.pods[uid] = by_name[name]
                    else:
                        self.unknown.add(name)

    def per_try(self) -> PodsPerTry:
        """(run, task, try) -> the uids of its pods."""
        out: dict[tuple[str, str, int], list[str]] = defaultdict(list)
        with self._lock:
            pods = list(self.pods.items())
        for uid, (run, task, try_number, _) in pods:
            out[run, task, try_number].append(uid)
        return out


# The checks ----------------------------------------------------------------------------------


@dataclass
class RunCheck:
    """What the checks found for one run; each list holds one line per discrepancy."""

    name: str
    kind: str
    """calm or chaos"""
    state: str | None = None
    tasks: int = 0
    pods: int = 0
    tries: int = 0
    rows: int = 0
    try0_rows: int = 0
    seconds: int = 0
    """From the run's start to its end, by its status."""
    pods_per_try: list[str] = field(default_factory=list)
    unrecorded: list[str] = field(default_factory=list)
    unended: list[str] = field(default_factory=list)
    placeholders: list[str] = field(default_factory=list)
    db_status: list[str] = field(default_factory=list)
    vs_calm: list[str] = field(default_factory=list)
    vs_model: list[str] = field(default_factory=list)
    stuck: list[str] = field(default_factory=list)

    def problems(self) -> list[str]:
        return (
            self.stuck
            + self.pods_per_try
            + self.unrecorded
            + self.unended
            + self.placeholders
            + self.db_status
            + self.vs_calm
            + self.vs_model
        )


def check_run(
    name: str,
    kind: str,
    run: dict[str, Any],
    pods: PodsPerTry,
    store: Store,
    namespace: str,
) -> RunCheck:
    """Pods per try, tries recorded and ended, DB = status, for one finished run."""
    c = RunCheck(name, kind)
    status = run.get("status") or {}
    c.state = status.get("state")
    if status.get("startTime") and status.get("endTime"):
        c.seconds = round((when(status["endTime"]) - when(status["startTime"])).total_seconds())
    if status.get("tasksOmitted"):
        c.db_status.append(f"{name}: status omits {status['tasksOmitted']} tasks; cannot compare")
    tasks: dict[str, dict[str, Any]] = status.get("tasks") or {}
    c.tasks = len(tasks)
    expected = {(name, t, n) for t, s in tasks.items() for n in range(1, s.get("tryNumber", 0) + 1)}
    ours = {k: v for k, v in pods.items() if k[0] == name}
    c.pods = sum(len(v) for v in ours.values())
    c.tries = len(expected)
    for key in sorted(expected | set(ours)):
        count = len(ours.get(key, []))
        if count != 1 or key not in expected:
            where = "a try of the status" if key in expected else "no try of the status"
            c.pods_per_try.append(f"{key[0]} {key[1]} try {key[2]}: {count} pods ({where})")

    rows = store.task_tries(namespace, name)
    c.rows = len(rows)
    by_task: dict[str, dict[int, Any]] = defaultdict(dict)
    for row in rows:
        by_task[row.task_name][row.try_number] = row
    for task, s in sorted(tasks.items()):
        current = s.get("tryNumber", 0)
        recorded = by_task.get(task, {})
        if 0 in recorded:
            c.try0_rows += 1
            if current > 0 or recorded[0].state not in FINISHED_TRY_STATES:
                c.placeholders.append(
                    f"{name} {task}: try-0 row ({recorded[0].state}) beside tries"
                )
        for n in range(1, current + 1):
            row = recorded.get(n)
            if row is None:
                c.unrecorded.append(f"{name} {task} try {n}: no row")
                continue
            final = (
                row.state == s["state"] if n == current else row.state in ("UpForRetry", "Failed")
            )
            if row.end_time is None or not final:
                c.unended.append(
                    f"{name} {task} try {n}: {row.state}, end {row.end_time} (task {s['state']})"
                )
        extra = sorted(n for n in recorded if n > current)
        if extra:
            c.db_status.append(f"{name} {task}: rows of tries {extra} past the status's {current}")
        row = recorded.get(current)
        want = (s["state"], s.get("exitCode"), s.get("reason"))
        got = None if row is None else (row.state, row.exit_code, row.reason)
        if got != want:
            c.db_status.append(f"{name} {task} try {current}: status {want}, DB {got}")
    stored_run = store.get_run(namespace, name)
    if stored_run is None or stored_run.state != c.state:
        got_state = None if stored_run is None else stored_run.state
        c.db_status.append(f"{name}: run {c.state} in the status, {got_state} in the DB")
    return c


def final_states(run: dict[str, Any]) -> dict[str, tuple[Any, ...]]:
    status = run.get("status") or {}
    out: dict[str, tuple[Any, ...]] = {
        t: (s.get("state"), s.get("tryNumber"), s.get("exitCode"))
        for t, s in (status.get("tasks") or {}).items()
    }
    out[""] = (status.get("state"),)
    return out


def compare_to_model(
    check: RunCheck, run: dict[str, Any], model: dict[str, tuple[str, int]]
) -> None:
    tasks = (run.get("status") or {}).get("tasks") or {}
    for task in sorted(set(model) | set(tasks)):
        s = tasks.get(task) or {}
        got = (s.get("state"), s.get("tryNumber"))
        if got != model.get(task):
            check.vs_model.append(f"{check.name} {task}: {got}, scripted {model.get(task)}")


def compare_to_calm(check: RunCheck, run: dict[str, Any], calm: dict[str, Any]) -> None:
    got, want = final_states(run), final_states(calm)
    for task in sorted(set(got) | set(want)):
        if got.get(task) != want.get(task):
            what = task or "(the run)"
            check.vs_calm.append(f"{check.name} {what}: {got.get(task)}, calm {want.get(task)}")


# Driving -------------------------------------------------------------------------------------


def finished(custom: client.CustomObjectsApi, namespace: str, names: list[str]) -> dict[str, Any]:
    """The runs of ``names`` that have finished, by name."""
    out = {}
    for name in names:
        run = get_run(custom, namespace, name)
        if (run.get("status") or {}).get("state") in TERMINAL:
            out[name] = run
    return out


def progress(runs: list[dict[str, Any]], tasks: int) -> float:
    """The share of ``tasks`` finished in these runs, by their status.progress ("7/10")."""
    done = 0
    for run in runs:
        text = (run.get("status") or {}).get("progress") or "0/0"
        done += int(text.split("/")[0])
    return done / tasks if tasks else 1.0


def wait_finished(
    custom: client.CustomObjectsApi, namespace: str, names: list[str], timeout: float
) -> tuple[dict[str, Any], list[str]]:
    """Poll until every run finished or ``timeout``: (finished runs, stuck run names)."""
    deadline = time.monotonic() + timeout
    while True:
        done = finished(custom, namespace, names)
        if len(done) == len(names) or time.monotonic() > deadline:
            return done, [n for n in names if n not in done]
        time.sleep(0.5)


@dataclass
class Figures:
    kills: int = 0
    refused_seconds: float = 0.0
    refused_writes: int = 0
    wall_seconds: float = 0.0
    checks: list[RunCheck] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def failures(self, config: Config) -> list[str]:
        out = list(self.notes)
        if self.kills < config.min_kills:
            out.append(f"only {self.kills} kills during the runs (wanted {config.min_kills})")
        if config.refuse_seconds and self.refused_seconds < config.refuse_seconds:
            out.append(f"status writes refused for {self.refused_seconds:.1f} s only")
        for c in self.checks:
            out += c.problems()
        return out

    def table(self, config: Config) -> str:
        rows: list[tuple[str, str, str]] = []

        def total(kind: str, fn: Callable[[RunCheck], int]) -> str:
            return str(sum(fn(c) for c in self.checks if c.kind == kind))

        def longest(kind: str) -> str:
            return str(max((c.seconds for c in self.checks if c.kind == kind), default=0))

        def add(label: str, fn: Callable[[RunCheck], int]) -> None:
            rows.append((label, total("calm", fn), total("chaos", fn)))

        add("runs", lambda c: 1)
        add("tasks", lambda c: c.tasks)
        add("pods (uids seen)", lambda c: c.pods)
        add("tries (status)", lambda c: c.tries)
        add("tries without exactly one pod", lambda c: len(c.pods_per_try))
        add("DB rows", lambda c: c.rows)
        add("tries without a DB row", lambda c: len(c.unrecorded))
        add("tries not ended in the DB", lambda c: len(c.unended))
        add("try-0 rows (tasks that never ran)", lambda c: c.try0_rows - len(c.placeholders))
        add("try-0 rows beside tries", lambda c: len(c.placeholders))
        add("DB != status (tasks, runs)", lambda c: len(c.db_status))
        add("final state != scripted (tasks)", lambda c: len(c.vs_model))
        add("final state != calm (tasks)", lambda c: len(c.vs_calm))
        add("stuck runs", lambda c: len(c.stuck))
        rows.append(("longest run (s)", longest("calm"), longest("chaos")))
        lines = [f"{'chaos figures':<40}{'calm':>8}{'chaos':>8}"]
        lines += [f"  {label:<38}{a:>8}{b:>8}" for label, a, b in rows]
        lines.append(f"  {'operator kills (SIGKILL)':<38}{'':>8}{self.kills:>8}")
        lines.append(f"  {'status writes refused for (s)':<38}{'':>8}{self.refused_seconds:>8.1f}")
        lines.append(f"  {'refusals the operator met':<38}{'':>8}{self.refused_writes:>8}")
        lines.append(f"  {'wall time (s)':<38}{self.wall_seconds:>16.0f}")
        lines.append(f"  seed {config.seed}, {config.tasks} tasks in {config.layers} layers")
        return "\n".join(lines)


def refused_writes(log: str) -> int:
    """How many status writes of the runs (not of refusal.py's probe runs) the operator saw
    refused, by its log."""
    return sum(
        1
        for line in log.splitlines()
        if REFUSAL_MESSAGE in line and f'dagruns.airkube.io "{PROBE_PREFIX}' not in line
    )


def ensure_crds(cluster: Cluster, source: Path) -> None:
    cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(source / "crds"))
    cluster.kubectl(
        "wait",
        "--for=condition=Established",
        "crd/dagruns.airkube.io",
        "crd/dags.airkube.io",
        "--timeout=30s",
    )


@contextlib.contextmanager
def chaos_namespace(core: client.CoreV1Api, name: str) -> Iterator[str]:
    core.create_namespace(
        client.V1Namespace(metadata=client.V1ObjectMeta(name=name, annotations=SIMULATED))
    )
    wait_for_default_service_account(core, name)
    try:
        yield name
    finally:
        core.delete_namespace(name)


def run_chaos(
    cluster: Cluster,
    config: Config,
    work: Path,
    say: Callable[[str], None] = print,
) -> Figures:
    """The whole chaos test; the caller fails it on ``figures.failures(config)``.

    The calm runs and the chaotic ones have a namespace, an operator and a database each,
    so that the chaotic operator, restarted dozens of times, never has the calm runs and
    their pods to go through again."""
    started = time.monotonic()
    rng = random.Random(config.seed)
    figures = Figures()
    dags = [f"dag{i}" for i in range(config.runs)]
    specs, models = {}, {}
    for dag in dags:
        specs[dag], models[dag] = chaos_dag(rng, config.tasks, config.layers)
    base = f"chaos-{secrets.token_hex(3)}"
    with cluster.api_client() as api:
        core, custom = client.CoreV1Api(api), client.CustomObjectsApi(api)
        with (
            chaos_namespace(core, f"{base}-calm") as calm_ns,
            chaos_namespace(core, base) as ns,
            PodWatch(core, calm_ns) as calm_pods,
            PodWatch(core, ns) as pods,
        ):
            for namespace in (calm_ns, ns):
                for dag in dags:
                    apply_dag(custom, namespace, dag, maxActiveTasks=MAX_ACTIVE_TASKS, **specs[dag])

            calm_db = f"sqlite:///{work / 'calm.db'}"
            calm_op = operator_for(cluster, calm_db, work / "calm-operator.log", calm_ns)
            try:
                calm_op.start()
                say(f"chaos: {config.runs} calm runs of {config.tasks} tasks in {calm_ns}")
                calm_names = [f"{d}-calm" for d in dags]
                for dag in dags:
                    create_run(custom, calm_ns, f"{dag}-calm", dag)
                calm, stuck = wait_finished(custom, calm_ns, calm_names, config.timeout)
                if stuck:
                    figures.notes.append(f"calm runs stuck: {stuck}")
                    return figures
                say(f"chaos: calm runs done in {time.monotonic() - started:.0f} s")

                def check_calm(store: Store, per_try: PodsPerTry) -> list[RunCheck]:
                    out = []
                    for dag, model in models.items():
                        name = f"{dag}-calm"
                        c = check_run(name, "calm", calm[name], per_try, store, calm_ns)
                        compare_to_model(c, calm[name], model)
                        out.append(c)
                    return out

                figures.checks += settled(calm_db, calm_pods, config, check_calm)
            finally:
                calm_op.stop()

            chaos_db = f"sqlite:///{work / 'chaos.db'}"
            operator = operator_for(cluster, chaos_db, work / "operator.log", ns)
            try:
                operator.start()
                say(f"chaos: chaos begins in {ns}")
                figures.kills, figures.refused_seconds, chaos, stuck = _chaos_phase(
                    api, custom, ns, dags, operator, config, rng, say
                )
                if operator.proc is None:
                    operator.start()
                say("chaos: runs ended; the database gets time to catch up")

                def check_chaos(store: Store, per_try: PodsPerTry) -> list[RunCheck]:
                    out = []
                    for dag in dags:
                        name = f"{dag}-chaos"
                        if name in stuck:
                            c = RunCheck(name, "chaos")
                            c.stuck.append(f"{name}: not finished after {config.timeout:.0f} s")
                        else:
                            c = check_run(name, "chaos", chaos[name], per_try, store, ns)
                            compare_to_calm(c, chaos[name], calm[f"{dag}-calm"])
                        out.append(c)
                    return out

                figures.checks += settled(chaos_db, pods, config, check_chaos)
            finally:
                operator.stop()
            figures.refused_writes = refused_writes(operator.log_path.read_text(errors="replace"))
            for watcher in (calm_pods, pods):
                if watcher.error is not None:
                    figures.notes.append(f"the pod watch failed: {watcher.error!r}")
                if watcher.unknown:
                    figures.notes.append(f"pods the watch missed: {sorted(watcher.unknown)}")
                if watcher.relists or watcher.from_events:
                    say(
                        f"chaos: a pod watch relisted {watcher.relists} times; "
                        f"{watcher.from_events} pods seen in kube-scheduler's events only"
                    )
    figures.wall_seconds = time.monotonic() - started
    return figures


def operator_for(cluster: Cluster, db_url: str, log: Path, namespace: str) -> OperatorProcess:
    return OperatorProcess(cluster, db_url, log, ["--namespace", namespace])


def _chaos_phase(
    api: client.ApiClient,
    custom: client.CustomObjectsApi,
    ns: str,
    dags: list[str],
    operator: OperatorProcess,
    config: Config,
    rng: random.Random,
    say: Callable[[str], None],
) -> tuple[int, float, dict[str, Any], list[str]]:
    """Kill the operator at random moments until every chaotic run finished (or
    ``config.max_kills``), refusing status writes for ``config.refuse_seconds`` from a
    random kill on: (kills, seconds refused, finished runs, stuck runs)."""
    names = [f"{d}-chaos" for d in dags]
    # The runs start a few kills apart, so kills land early, midway and late in each.
    stagger = config.min_kills // (2 * len(dags))
    start_at = [(i * stagger, name) for i, name in enumerate(names)]
    refuse_at = start_at[-1][0] + rng.randint(1, 3) if config.refuse_seconds else -1
    # Kills at random shares of the work done, so that at least min_kills land while the
    # runs go on however fast this machine is (progress stops while the operator is down,
    # and none is past the last 15 % of the tasks); more at random times on top.
    points = sorted(rng.uniform(0.02, 0.85) for _ in range(config.min_kills))
    total_tasks = config.tasks * len(names)
    share = 0.0
    deadline = time.monotonic() + config.timeout
    kills, refused_for = 0, 0.0
    refusing = contextlib.ExitStack()
    refused_since: float | None = None
    alive_since = time.monotonic()
    next_kill = alive_since + rng.uniform(*config.uptime)
    done: dict[str, Any] = {}
    next_poll = 0.0
    with refusing:
        while time.monotonic() < deadline:
            now = time.monotonic()
            while start_at and start_at[0][0] <= kills:
                run = start_at.pop(0)[1]
                create_run(custom, ns, run, run.removesuffix("-chaos"))
            if now >= next_poll:
                started = names[: len(names) - len(start_at)]
                runs = [get_run(custom, ns, n) for n in started]
                share = progress(runs, total_tasks)
                done = {r["metadata"]["name"]: r for r in runs if state(r) in TERMINAL}
                next_poll = now + 0.5
                if len(done) == len(names) and refused_since is None:
                    break
            if kills == refuse_at and refused_since is None and not refused_for:
                refusing.enter_context(refusing_status_writes(api, ns))
                refused_since = time.monotonic()
                # One kill inside the window (killed while its writes are refused); the
                # rest of it the operator lives, and meets the refusal.
                next_kill = refused_since + rng.uniform(0.3, 0.8) * config.refuse_seconds
                say(f"chaos: status writes refused from kill {kills} on")
            if refused_since is not None and now - refused_since >= config.refuse_seconds:
                refusing.close()
                refused_for = time.monotonic() - refused_since
                refused_since = None
                say(f"chaos: status writes allowed again after {refused_for:.1f} s")
            point_due = (
                bool(points)
                and share >= points[0]
                and refused_since is None
                and now - alive_since >= config.uptime[0]
            )
            timer_due = now >= next_kill and kills + len(points) < config.max_kills
            if point_due or timer_due:
                if point_due:
                    points.pop(0)
                operator.kill()
                kills += 1
                operator.start()
                alive_since = time.monotonic()
                next_kill = alive_since + rng.uniform(*config.uptime)
                if refused_since is not None:
                    next_kill = max(next_kill, refused_since + config.refuse_seconds)
                if kills % 10 == 0:
                    say(f"chaos: {kills} kills, {len(done)}/{len(names)} runs finished")
            time.sleep(0.05)
    done, stuck = wait_finished(custom, ns, names, 0)
    return kills, refused_for, done, stuck


def settled(
    db_url: str,
    pods: PodWatch,
    config: Config,
    check: Callable[[Store, PodsPerTry], list[RunCheck]],
) -> list[RunCheck]:
    """The checks once they pass (the database follows the status, so it may lag behind
    when a run ends), or as they stand after ``config.settle`` seconds."""
    deadline = time.monotonic() + config.settle
    while True:
        pods.add_scheduled_events()
        with Store.from_url(db_url, migrate=False) as store:
            checks = check(store, pods.per_try())
        if not any(c.problems() for c in checks) or time.monotonic() > deadline:
            return checks
        time.sleep(1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make chaos", description=__doc__.split("\n\n")[0])
    d = Config()
    parser.add_argument("--runs", type=int, default=d.runs, help="DAGs (runs of each: calm, chaos)")
    parser.add_argument("--tasks", type=int, default=d.tasks, help="tasks per DAG")
    parser.add_argument("--layers", type=int, default=d.layers, help="layers of tasks per DAG")
    parser.add_argument("--min-kills", type=int, default=d.min_kills, help="fail with fewer")
    parser.add_argument("--max-kills", type=int, default=d.max_kills, help="then no more kills")
    parser.add_argument(
        "--refuse", type=float, default=d.refuse_seconds, help="seconds of refused status writes"
    )
    parser.add_argument("--seed", type=int, default=d.seed, help="of the DAGs and the kills")
    parser.add_argument(
        "--timeout", type=float, default=d.timeout, help="seconds per phase: runs left are stuck"
    )
    parser.add_argument(
        "--settle", type=float, default=d.settle, help="seconds the DB may lag behind the status"
    )
    parser.add_argument(
        "--source",
        type=Path,
        default=ROOT,
        help="checkout whose operator and CRDs to test (default: this one)",
    )
    parser.add_argument("--work", type=Path, help="where the DB and the operator's log go")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.layers < 1 or args.tasks < args.layers:
        parser.error("--runs and --layers must be at least 1, --tasks at least --layers")
    if not 0 <= args.min_kills <= args.max_kills:
        parser.error("--min-kills must be between 0 and --max-kills")
    if args.refuse < 0 or args.timeout <= 0 or args.settle < 0:
        parser.error("--refuse and --settle must be 0 or more, --timeout more than 0")
    if not (args.source / "operator" / "airkube").is_dir():
        parser.error(f"--source {args.source}: not an airkube checkout (no operator/airkube)")
    config = Config(
        runs=args.runs,
        tasks=args.tasks,
        layers=args.layers,
        min_kills=args.min_kills,
        max_kills=args.max_kills,
        refuse_seconds=args.refuse,
        seed=args.seed,
        timeout=args.timeout,
        settle=args.settle,
    )
    source = args.source.resolve()
    if source != ROOT:
        # The operator process imports airkube from that checkout (the DB is read with
        # this one's store, whose schema it shares).
        paths = [str(source / "operator"), os.environ.get("PYTHONPATH", "")]
        os.environ["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
    work = args.work or Path(f"/tmp/airkube-chaos-{secrets.token_hex(3)}")
    work.mkdir(parents=True, exist_ok=True)
    cluster = bring_up()
    try:
        ensure_crds(cluster, source)
        figures = run_chaos(cluster, config, work)
    finally:
        tear_down(cluster)
    failures = figures.failures(config)
    print(figures.table(config))
    print(f"operator log and DB: {work}")
    if failures:
        print(f"\nchaos: FAILED, {len(failures)} problems (at most 40 shown):")
        for line in failures[:40]:
            print(f"  {line}")
        return 1
    print("\nchaos: passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
