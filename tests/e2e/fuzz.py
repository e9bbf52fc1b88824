"""The e2e fuzz test (issue 15): malformed and hostile DAGs and DAGRuns applied to the
local cluster beside a good DAG, with the operator running; every object the API server
accepts must get a verdict from the operator, the operator must log no traceback, and
the good DAG's runs must keep succeeding in time.

``make fuzz`` runs it (``python -m e2e.fuzz`` with ``tests`` on the path; ``--help`` lists
the knobs); tests/e2e/test_fuzz.py runs a bounded version among the e2e tests.

What it does, against the local cluster (pods on the simulated node), with the operator
run as a process (``airkube run --namespace``) on a SQLite file in a work directory:

1. In a fresh namespace, creates two good DAGs: ``fz-good`` (manual, two short tasks),
   whose runs are triggered every ``--good-every`` seconds for the whole test, each of
   which must succeed within ``--good-bound`` seconds of its creation; and ``fz-sched``
   (``@daily``), a good scheduled DAG that fuzzed runs aim at.
2. Makes ``--dags`` DAG specs and ``--runs`` DAGRun specs with the hypothesis strategies
   of tests/spec_fuzz.py (deterministic for a ``--seed``), plus issue 15's catalogue
   (``spec_fuzz.CATALOGUE``). A fuzzed run aims at a fuzzed DAG (accepted or not), at
   ``fz-sched`` or at a DAG that does not exist. Each object is created through the raw
   API, some with ``fieldValidation=Strict``, the others with the server's default
   (Warn); the API server's refusals (400, 422) are counted with their messages.
3. Watches the namespace's DAGs and DAGRuns: an accepted object's verdict is, for a DAG,
   its Ready condition (True or False) for its generation; for a run, ``status.state``,
   or a condition with a reason and a message (Waiting). An object without a verdict
   ``--verdict-timeout`` seconds after its creation is *silent*.
4. Stops the operator and reads its log: each ``Traceback`` (with the objects its log
   record names), the event loop's largest stall (the operator's ``event loop: largest
   stall`` line at stop, else the largest ``event loop stalled`` warning).
5. Prints the figures; fails on a silent object, a traceback, a good run that failed or
   was late, an event of the operator's that the API server found invalid (it never
   reaches people: "a bad DAG gets Ready=False and an event"), or an operator that died.
   Every object tried, with its spec and outcome, is written to ``objects.jsonl`` in the
   work directory. A silent object's verdict, if it came later, is reported with it.
"""

from __future__ import annotations

import argparse
import calendar
import json
import random
import re
import secrets
import statistics
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from kubernetes import client, watch
from kubernetes.client.rest import ApiException

from spec_fuzz import CATALOGUE, aimed, hostile_dags, hostile_runs

from .chaos import chaos_namespace, ensure_crds
from .cluster import ROOT, Cluster, bring_up, tear_down
from .operator_process import OperatorProcess
from .resources import sim
from .waiting import GROUP, VERSION

GOOD, SCHEDULED = "fz-good", "fz-sched"
RUN_STATES = ("Running", "Succeeded", "Failed", "Cancelled")
LOG_RECORD = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d[,.]\d+ ")
NAMES = re.compile(r"\b(fz-(?:dag|run)-\d+|cat-[a-z0-9-]+[a-z0-9])\b")
LARGEST_STALL = re.compile(r"event loop: largest stall ([0-9.]+) s")
INDEX = re.compile(r"\[\d+\]")
WARNING = re.compile(r"^\S+ \S+ (WARNING|ERROR)\s+(\S+): (.*)")
REFUSED_EVENT = re.compile(r"could not post event (\S+) on (\S+): (.* is invalid: .*)")
STALLED = re.compile(r"event loop stalled ([0-9.]+) s")


@dataclass
class Config:
    dags: int = 200
    runs: int = 60
    seed: int = 15
    catalogue: bool = True
    strict_share: float = 0.5
    """The share of objects created with fieldValidation=Strict."""
    verdict_timeout: float = 30.0
    good_every: float = 2.0
    good_bound: float = 20.0


@dataclass
class Tried:
    """One object applied, and what became of it."""

    kind: str
    """DAG or DAGRun."""
    name: str
    label: str
    """The catalogue's label, or "fuzz"."""
    spec: Any
    strict: bool
    created: float = 0.0
    """time.monotonic() once the API server answered the create."""
    created_at: float = 0.0
    """time.time() then (to find the objects created just before a stall the log shows)."""
    rejected: tuple[int, str] | None = None
    """The API server's refusal: (HTTP status, message)."""
    client_error: str | None = None
    """The Kubernetes client would not send it (e.g. a NaN it cannot write as JSON)."""
    verdict: str | None = None
    verdict_after: float | None = None
    late_verdict: tuple[str, float] | None = None
    """A verdict that came after the deadline: (verdict, seconds after creation)."""
    last_verdict: str | None = None
    """The verdict its status gave when the test ended (a run goes on after its first)."""
    last_status: Any = None

    @property
    def accepted(self) -> bool:
        return self.rejected is None and self.client_error is None

    def short_spec(self, limit: int = 600) -> str:
        text = json.dumps(self.spec, ensure_ascii=False, default=str)
        return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} chars)"


@dataclass
class GoodRun:
    name: str
    created: float
    ended: float | None = None
    state: str | None = None

    @property
    def latency(self) -> float | None:
        return None if self.ended is None else self.ended - self.created


@dataclass
class Traceback:
    """One log record with a traceback: its message, its last line, the objects named."""

    record: str
    error: str
    text: str
    objects: list[str]


@dataclass
class Figures:
    tried: list[Tried] = field(default_factory=list)
    good: list[GoodRun] = field(default_factory=list)
    tracebacks: list[Traceback] = field(default_factory=list)
    traceback_lines: int = 0
    largest_stall: float | None = None
    stall_warnings: int = 0
    stalls: list[tuple[float, float]] = field(default_factory=list)
    """(time.time() of the warning, seconds) of each stall over 0.5 s."""
    warnings: Counter[str] = field(default_factory=Counter)
    """The operator's other WARNING and ERROR lines, by kind."""
    refused_events: list[tuple[str, str, str]] = field(default_factory=list)
    """Events the operator made that the API server found invalid: (reason, object, why)."""
    baseline: list[GoodRun] = field(default_factory=list)
    """Good runs made one at a time before any fuzzed object."""
    wall_seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def silent(self) -> list[Tried]:
        return [t for t in self.tried if t.accepted and t.verdict is None]

    def late_good(self, config: Config) -> list[GoodRun]:
        return [
            g
            for g in self.baseline + self.good
            if g.state != "Succeeded" or g.latency is None or g.latency > config.good_bound
        ]

    def failures(self, config: Config) -> list[str]:
        by_name = {t.name: t for t in self.tried}
        out = list(self.notes)
        for t in self.silent():
            late = (
                f"{t.late_verdict[0]} came after {t.late_verdict[1]:.0f} s"
                if t.late_verdict
                else "none by the end"
            )
            out.append(
                f"silent {t.kind} {t.name} ({t.label}, strict={t.strict}, "
                f"{len(json.dumps(t.spec, default=str)) // 1000} kB): no verdict in "
                f"{config.verdict_timeout:.0f} s ({late}); status "
                f"{json.dumps(t.last_status)[:200]}; spec {t.short_spec(300)}"
            )
        for tb in self.tracebacks:
            inputs = "; ".join(
                f"{n}: {by_name[n].short_spec(300)}" for n in tb.objects[:2] if n in by_name
            )
            out.append(f"traceback: {tb.error} after {tb.record!r}; inputs {inputs or '?'}")
        seen: set[str] = set()
        for reason, name, why in self.refused_events:
            if reason in seen:
                continue  # one line per kind of event
            seen.add(reason)
            spec = by_name[name].short_spec(300) if name in by_name else "?"
            n = sum(1 for e in self.refused_events if e[0] == reason)
            out.append(
                f"{n} {reason} events refused by the API server as invalid, e.g. on {name}: "
                f"{why[:200]}; input {spec}"
            )
        for g in self.late_good(config):
            late = "never ended" if g.latency is None else f"{g.latency:.1f} s"
            out.append(f"good run {g.name}: {g.state}, {late} (bound {config.good_bound:.0f} s)")
        if not self.good:
            out.append("no good run was made")
        return out

    def table(self, config: Config) -> str:
        def count(kind: str, pred: Callable[[Tried], bool]) -> int:
            return sum(1 for t in self.tried if t.kind == kind and pred(t))

        lines = [f"{'fuzz figures':<46}{'DAGs':>8}{'runs':>8}"]

        def row(label: str, pred: Callable[[Tried], bool]) -> None:
            lines.append(f"  {label:<44}{count('DAG', pred):>8}{count('DAGRun', pred):>8}")

        row("objects tried", lambda t: True)
        row("  of the catalogue", lambda t: t.label != "fuzz")
        row("  created with fieldValidation=Strict", lambda t: t.strict)
        row("refused by the client (not sent)", lambda t: t.client_error is not None)
        row("rejected by the API server", lambda t: t.rejected is not None)
        row("  of them 422 Invalid", lambda t: t.rejected is not None and t.rejected[0] == 422)
        row("  of them 400 BadRequest", lambda t: t.rejected is not None and t.rejected[0] == 400)
        row("accepted", lambda t: t.accepted)
        row("verdicts by the operator", lambda t: t.verdict is not None)
        verdicts = Counter(
            (t.kind, _verdict_class(t.verdict)) for t in self.tried if t.verdict is not None
        )
        for (kind, what), n in sorted(verdicts.items()):
            lines.append(f"    {kind + ' ' + what:<42}{n:>8}")
        row("silent (no verdict in time)", lambda t: t.accepted and t.verdict is None)
        row("  of them with a verdict later", lambda t: t.late_verdict is not None)
        after = sorted(t.verdict_after for t in self.tried if t.verdict_after is not None)
        if after:
            lines.append(
                f"  {'verdict after creation, p50 / max (s)':<44}"
                f"{statistics.median(after):>8.2f}{after[-1]:>8.2f}"
            )
        lines.append(f"  {'tracebacks in the operator log':<44}{self.traceback_lines:>16}")
        lines.append(f"  {'events refused as invalid':<44}{len(self.refused_events):>16}")
        stall = "?" if self.largest_stall is None else f"{self.largest_stall:.3f}"
        lines.append(f"  {'largest event-loop stall (s)':<44}{stall:>16}")
        lines.append(f"  {'event-loop stall warnings (> 0.5 s)':<44}{self.stall_warnings:>16}")
        calm = sorted(g.latency for g in self.baseline if g.latency is not None)
        if calm:
            lines.append(
                f"  {'good run latency before the fuzz p50 / max (s)':<44}"
                f"{statistics.median(calm):>8.2f}{calm[-1]:>8.2f}"
            )
        latencies = sorted(g.latency for g in self.good if g.latency is not None)
        succeeded = sum(1 for g in self.good if g.state == "Succeeded")
        lines.append(f"  {'good runs made / succeeded':<44}{len(self.good):>8}{succeeded:>8}")
        if latencies:
            lines.append(
                f"  {'good run latency p50 / max (s)':<44}"
                f"{statistics.median(latencies):>8.2f}{latencies[-1]:>8.2f}"
            )
        lines.append(f"  {'wall time (s)':<44}{self.wall_seconds:>16.0f}")
        lines.append(
            f"  seed {config.seed}, --dags {config.dags} --runs {config.runs}, catalogue "
            f"{'on' if config.catalogue else 'off'}"
        )
        return "\n".join(lines)

    def rejections(self, top: int = 12) -> str:
        """The commonest reasons the API server gave, by the field it named."""
        reasons = Counter(_rejection_class(t.rejected[1]) for t in self.tried if t.rejected)
        lines = ["API server refusals, commonest first:"]
        lines += [f"  {n:>5}  {what}" for what, n in reasons.most_common(top)]
        return "\n".join(lines)

    def log_summary(self, top: int = 12) -> str:
        lines = ["the operator's other warnings and errors, commonest first:"]
        lines += [f"  {n:>5}  {what}" for what, n in self.warnings.most_common(top)]
        return "\n".join(lines)

    def stall_suspects(self, window: float = 5.0, top: int = 10) -> str:
        """For the largest stalls, the biggest specs created in the ``window`` seconds
        before each (the operator handles an object's event soon after its creation)."""
        lines = ["largest stalls and the biggest objects created just before each:"]
        for at, seconds in sorted(self.stalls, key=lambda s: -s[1])[:top]:
            near = [t for t in self.tried if t.accepted and at - window <= t.created_at <= at]
            near.sort(key=lambda t: -len(json.dumps(t.spec, default=str)))
            names = ", ".join(
                f"{t.name} ({len(json.dumps(t.spec, default=str)) // 1000} kB)" for t in near[:3]
            )
            lines.append(
                f"  {seconds:5.2f} s at {time.strftime('%H:%M:%S', time.gmtime(at))}: {names}"
            )
        return "\n".join(lines)

    def catalogue_outcomes(self) -> str:
        lines = ["catalogue (issue 15's examples):"]
        for t in self.tried:
            if t.label == "fuzz":
                continue
            if t.rejected is not None:
                what = f"rejected {t.rejected[0]}: {t.rejected[1][:160]}"
            elif t.client_error is not None:
                what = f"not sent: {t.client_error[:160]}"
            else:
                what = t.verdict or "SILENT"
                if t.last_verdict and t.last_verdict != t.verdict:
                    what += f" -> {t.last_verdict}"
            lines.append(f"  {t.kind:<7}{t.label:<34}{what}")
        return "\n".join(lines)


def _verdict_class(verdict: str | None) -> str:
    return (verdict or "").split(":")[0]


def _rejection_class(message: str) -> str:
    fields = re.findall(r"(spec(?:\.[A-Za-z\[\]0-9]+)*): ([A-Z][a-z]+(?: [a-z]+)*)", message)
    if fields:
        path, why = fields[0]
        more = " …" if len(fields) > 1 else ""
        return f"{INDEX.sub('[]', path)}: {why}{more}"
    return message[:100]


# Verdicts ------------------------------------------------------------------------------------


def dag_verdict(obj: dict[str, Any]) -> str | None:
    """The DAG's Ready condition for its current generation, if the operator wrote it."""
    generation = obj["metadata"].get("generation")
    status = obj.get("status") or {}
    for c in status.get("conditions") or []:
        if c.get("type") != "Ready" or c.get("status") not in ("True", "False"):
            continue
        observed = c.get("observedGeneration", status.get("observedGeneration"))
        if observed == generation:
            return f"Ready={c['status']}" + (
                f":{c.get('reason')}" if c["status"] == "False" else ""
            )
    return None


def run_verdict(obj: dict[str, Any]) -> str | None:
    """The run's state past Queued, else a condition saying why it waits, else Queued."""
    status = obj.get("status") or {}
    state = status.get("state")
    if state in RUN_STATES:
        return f"state={state}" + (f":{status['reason']}" if status.get("reason") else "")
    for c in status.get("conditions") or []:
        if c.get("status") == "True" and c.get("reason") and c.get("message"):
            return f"{c['type']}={c['reason']}"
    if state:
        return f"state={state}"
    return None


# Watching the namespace ----------------------------------------------------------------------


class Watcher:
    """The verdicts of the namespace's DAGs and DAGRuns, from one watch per kind in a
    thread (list, then watch from its resourceVersion; list again when it expires)."""

    def __init__(self, cluster: Cluster, namespace: str) -> None:
        self.cluster = cluster
        self.namespace = namespace
        self.first_verdict: dict[tuple[str, str], tuple[str, float]] = {}
        self.status: dict[tuple[str, str], Any] = {}
        self.ended: dict[str, tuple[str, float]] = {}
        """Runs seen in a final state: name -> (state, when)."""
        self.errors: list[BaseException] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._loop, args=(p,), name=f"watch-{p}", daemon=True)
            for p in ("dags", "dagruns")
        ]

    def __enter__(self) -> Watcher:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=15)

    def verdict(self, kind: str, name: str) -> tuple[str, float] | None:
        with self._lock:
            return self.first_verdict.get((kind, name))

    def _see(self, plural: str, obj: dict[str, Any]) -> None:
        now = time.monotonic()
        kind = "DAG" if plural == "dags" else "DAGRun"
        name = obj["metadata"]["name"]
        verdict = dag_verdict(obj) if kind == "DAG" else run_verdict(obj)
        with self._lock:
            self.status[kind, name] = obj.get("status")
            if verdict is not None:
                self.first_verdict.setdefault((kind, name), (verdict, now))
            state = (obj.get("status") or {}).get("state")
            if kind == "DAGRun" and state in RUN_STATES[1:]:
                self.ended.setdefault(name, (state, now))

    def _loop(self, plural: str) -> None:
        try:
            with self.cluster.api_client() as api:
                custom = client.CustomObjectsApi(api)
                args = (GROUP, VERSION, self.namespace, plural)
                while not self._stop.is_set():
                    listed = custom.list_namespaced_custom_object(*args)
                    for obj in listed["items"]:
                        self._see(plural, obj)
                    version = listed["metadata"]["resourceVersion"]
                    try:
                        while not self._stop.is_set():
                            for event in watch.Watch().stream(
                                custom.list_namespaced_custom_object,
                                *args,
                                resource_version=version,
                                allow_watch_bookmarks=True,
                                timeout_seconds=2,
                            ):
                                obj = event["object"]
                                version = obj["metadata"]["resourceVersion"]
                                if event["type"] in ("ADDED", "MODIFIED"):
                                    self._see(plural, obj)
                    except ApiException as e:
                        if e.status != 410:
                            raise
        except BaseException as e:  # reported by the figures
            self.errors.append(e)


# Making the objects --------------------------------------------------------------------------


def collect(strategy: st.SearchStrategy[Any], n: int, seed_: int) -> list[Any]:
    """``n`` examples of ``strategy``, the same ones for the same seed."""
    found: list[Any] = []
    if n <= 0:
        return found

    @seed(seed_)
    @settings(
        max_examples=n,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def gather(example: Any) -> None:
        found.append(example)

    gather()
    return found[:n]


def plan(config: Config) -> tuple[list[Tried], list[Tried]]:
    """The DAGs and the runs to try, in the order they are created."""
    rng = random.Random(config.seed)
    dags: list[Tried] = []
    runs: list[Tried] = []
    catalogue_names = {e.label: f"cat-{e.label}" for e in CATALOGUE}

    def strict() -> bool:
        return rng.random() < config.strict_share

    if config.catalogue:
        for e in CATALOGUE:
            if e.kind == "DAG":
                dags.append(Tried("DAG", catalogue_names[e.label], e.label, e.spec, e.strict))
            else:
                target = {"scheduled": SCHEDULED, "missing": "cat-no-such-dag"}.get(
                    e.target, catalogue_names.get(e.target, e.target)
                )
                spec = aimed(e.spec, target)
                runs.append(Tried("DAGRun", catalogue_names[e.label], e.label, spec, e.strict))
    dag_names = [f"fz-dag-{i:04d}" for i in range(config.dags)]
    for name, spec in zip(dag_names, collect(hostile_dags, config.dags, config.seed), strict=False):
        dags.append(Tried("DAG", name, "fuzz", spec, strict()))
    for i, spec in enumerate(collect(hostile_runs, config.runs, config.seed + 1)):
        roll = rng.random()
        if roll < 0.4 and dag_names:
            target = rng.choice(dag_names)
        elif roll < 0.7:
            target = SCHEDULED
        else:
            target = f"fz-missing-{i:04d}"
        runs.append(Tried("DAGRun", f"fz-run-{i:04d}", "fuzz", aimed(spec, target), strict()))
    return dags, runs


def create(custom: client.CustomObjectsApi, namespace: str, t: Tried) -> None:
    plural = "dags" if t.kind == "DAG" else "dagruns"
    body = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": t.kind,
        "metadata": {"name": t.name},
        "spec": t.spec,
    }
    extra = {"field_validation": "Strict"} if t.strict else {}
    try:
        custom.create_namespaced_custom_object(GROUP, VERSION, namespace, plural, body, **extra)
    except ApiException as e:
        if e.status not in (400, 422):
            raise
        try:
            message = json.loads(e.body or "{}").get("message") or str(e.body)
        except ValueError:
            message = str(e.body)
        t.rejected = (e.status, message)
    except (ValueError, TypeError, OverflowError) as e:
        t.client_error = f"{type(e).__name__}: {e}"
    t.created, t.created_at = time.monotonic(), time.time()


def good_dags(custom: client.CustomObjectsApi, namespace: str) -> None:
    fast = sim(start_delay="50ms", duration="200ms")
    base: dict[str, Any] = {"image": "busybox:1.36", "podTemplate": fast}
    tasks = [
        {"name": "a", "command": ["sh", "-c", "echo a"]},
        {"name": "b", "dependsOn": ["a"], "command": ["sh", "-c", "echo b"]},
    ]
    for name, extra in (
        (GOOD, {"maxActiveRuns": 50}),
        (SCHEDULED, {"schedule": "@daily", "startDate": "2026-01-01", "maxActiveRuns": 4}),
    ):
        body = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "DAG",
            "metadata": {"name": name},
            "spec": {"defaults": base, "tasks": tasks, **extra},
        }
        custom.create_namespaced_custom_object(GROUP, VERSION, namespace, "dags", body)


class GoodRuns:
    """Triggers a run of the good DAG every ``every`` seconds, in a thread, until stopped."""

    def __init__(self, cluster: Cluster, namespace: str, every: float) -> None:
        self.cluster, self.namespace, self.every = cluster, namespace, every
        self.runs: list[GoodRun] = []
        self.errors: list[BaseException] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="good-runs", daemon=True)

    def __enter__(self) -> GoodRuns:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _loop(self) -> None:
        try:
            with self.cluster.api_client() as api:
                custom = client.CustomObjectsApi(api)
                i = 0
                while not self._stop.is_set():
                    name = f"{GOOD}-{i:04d}"
                    body = {
                        "apiVersion": f"{GROUP}/{VERSION}",
                        "kind": "DAGRun",
                        "metadata": {"name": name},
                        "spec": {"dagRef": {"name": GOOD}},
                    }
                    started = time.monotonic()
                    custom.create_namespaced_custom_object(
                        GROUP, VERSION, self.namespace, "dagruns", body
                    )
                    self.runs.append(GoodRun(name, started))
                    i += 1
                    self._stop.wait(self.every)
        except BaseException as e:  # reported by the figures
            self.errors.append(e)


# Reading the operator's log ------------------------------------------------------------------


def read_log(text: str, figures: Figures) -> None:
    """The tracebacks (each with the objects its record names) and the largest stall."""
    lines = text.splitlines()
    figures.traceback_lines = sum(
        1 for line in lines if "Traceback (most recent call last)" in line
    )
    record = ""
    i = 0
    while i < len(lines):
        line = lines[i]
        if LOG_RECORD.match(line):
            record = line
        if line.startswith("Traceback (most recent call last)"):
            j = i + 1
            while j < len(lines) and not LOG_RECORD.match(lines[j]):
                j += 1
            block = lines[i:j]
            error = next((b for b in reversed(block) if b.strip()), "?")
            named = list(dict.fromkeys(NAMES.findall(record + "\n" + "\n".join(block))))
            figures.tracebacks.append(Traceback(record, error, "\n".join(block), named))
            i = j
            continue
        i += 1
    for line in lines:
        m = WARNING.match(line)
        if m and "event loop stalled" not in line:
            figures.warnings[_warning_class(m.group(2), m.group(3))] += 1
        e = REFUSED_EVENT.search(line)
        if e:
            figures.refused_events.append((e.group(1), e.group(2), e.group(3)))
        s = STALLED.search(line)
        if s and LOG_RECORD.match(line):
            at = calendar.timegm(time.strptime(line[:19], "%Y-%m-%d %H:%M:%S"))
            figures.stalls.append((at + float(line[20:23]) / 1000, float(s.group(1))))
    stalls = [float(m.group(1)) for m in STALLED.finditer(text)]
    figures.stall_warnings = len(stalls)
    largest = [float(m.group(1)) for m in LARGEST_STALL.finditer(text)]
    if largest:
        figures.largest_stall = max(largest)
    elif stalls:
        figures.largest_stall = max(stalls)


def _warning_class(logger: str, message: str) -> str:
    """A WARNING or ERROR line without what changes between objects (names, numbers)."""
    message = re.sub(r'"[^"]*"', '"…"', message)
    message = NAMES.sub("<obj>", message)
    message = re.sub(r"\b[0-9a-f]{6,}\b|\d+(\.\d+)?", "N", message)
    return f"{logger}: {message[:150]}"


# The whole test ------------------------------------------------------------------------------


def run_fuzz(
    cluster: Cluster, config: Config, work: Path, say: Callable[[str], None] = print
) -> Figures:
    """The whole fuzz test; the caller fails it on ``figures.failures(config)``."""
    started = time.monotonic()
    figures = Figures()
    dags, runs = plan(config)
    figures.tried = dags + runs
    say(f"fuzz: {len(dags)} DAGs and {len(runs)} runs to try (seed {config.seed})")
    ns_name = f"fuzz-{secrets.token_hex(3)}"
    with cluster.api_client() as api:
        core, custom = client.CoreV1Api(api), client.CustomObjectsApi(api)
        with chaos_namespace(core, ns_name) as ns, Watcher(cluster, ns) as watcher:
            operator = OperatorProcess(
                cluster, f"sqlite:///{work / 'fuzz.db'}", work / "operator.log", ["-n", ns]
            )
            try:
                operator.start()  # inside: an operator that never got ready is stopped
                good_dags(custom, ns)
                wait_ready(watcher, [GOOD, SCHEDULED], 30)
                figures.baseline = baseline_runs(custom, ns, watcher, config)
                with GoodRuns(cluster, ns, config.good_every) as good:
                    for i, t in enumerate(figures.tried):
                        create(custom, ns, t)
                        if i % 200 == 199:
                            say(f"fuzz: {i + 1} objects created")
                    say("fuzz: all created; waiting for the verdicts")
                    wait_verdicts(watcher, figures.tried, config.verdict_timeout)
                    good.stop()
                    figures.good = good.runs
                    wait_good(watcher, good.runs, config.good_bound)
                    for t in figures.tried:
                        late = watcher.verdict(t.kind, t.name)
                        if t.accepted and t.verdict is None and late is not None:
                            t.late_verdict = (late[0], late[1] - t.created)
                        if t.accepted:
                            obj = {"metadata": {}, "status": watcher.status.get((t.kind, t.name))}
                            final = dag_verdict if t.kind == "DAG" else run_verdict
                            t.last_verdict = final(obj) if t.kind == "DAGRun" else t.verdict
                    figures.notes += [f"the good-run thread failed: {e!r}" for e in good.errors]
                if operator.proc is None or operator.proc.poll() is not None:
                    figures.notes.append("the operator died during the fuzz")
            finally:
                operator.stop()
            figures.notes += [f"a watch failed: {e!r}" for e in watcher.errors]
        read_log(operator.log_path.read_text(errors="replace"), figures)
    if figures.largest_stall is None:
        figures.notes.append("the operator's log says nothing of its event loop's stalls")
    figures.wall_seconds = time.monotonic() - started
    with (work / "objects.jsonl").open("w") as out:
        for t in figures.tried:
            out.write(
                json.dumps(
                    {
                        "kind": t.kind,
                        "name": t.name,
                        "label": t.label,
                        "strict": t.strict,
                        "rejected": t.rejected,
                        "clientError": t.client_error,
                        "verdict": t.verdict,
                        "verdictAfter": t.verdict_after,
                        "lastVerdict": t.last_verdict,
                        "lateVerdict": t.late_verdict,
                        "status": t.last_status if t.verdict is None else None,
                        "spec": t.spec,
                    },
                    default=str,
                )
                + "\n"
            )
    return figures


def wait_ready(watcher: Watcher, names: Iterable[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    for name in names:
        while (found := watcher.verdict("DAG", name)) is None:
            if time.monotonic() > deadline:
                raise AssertionError(f"the good DAG {name} got no Ready condition in {timeout} s")
            time.sleep(0.2)
        if found[0] != "Ready=True":
            raise AssertionError(f"the good DAG {name} is not valid: {found[0]}")


def wait_verdicts(watcher: Watcher, tried: list[Tried], timeout: float) -> None:
    """Until every accepted object has a verdict or its ``timeout`` has passed; a verdict
    later than that does not count."""
    pending = [t for t in tried if t.accepted]
    while pending:
        now = time.monotonic()
        left = []
        for t in pending:
            found = watcher.verdict(t.kind, t.name)
            if found is not None and found[1] - t.created <= timeout:
                t.verdict, t.verdict_after = found[0], max(0.0, found[1] - t.created)
            elif now - t.created <= timeout:
                left.append(t)
            else:
                t.last_status = watcher.status.get((t.kind, t.name))
        pending = left
        time.sleep(0.5)


def baseline_runs(
    custom: client.CustomObjectsApi, namespace: str, watcher: Watcher, config: Config, n: int = 3
) -> list[GoodRun]:
    """``n`` good runs one after the other, before the fuzz: the latency to compare with."""
    out = []
    for i in range(n):
        g = GoodRun(f"{GOOD}-calm-{i}", time.monotonic())
        body = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "DAGRun",
            "metadata": {"name": g.name},
            "spec": {"dagRef": {"name": GOOD}},
        }
        custom.create_namespaced_custom_object(GROUP, VERSION, namespace, "dagruns", body)
        wait_good(watcher, [g], config.good_bound)
        out.append(g)
    return out


def wait_good(watcher: Watcher, runs: list[GoodRun], bound: float) -> None:
    """Until every good run has ended or is past its bound."""
    while True:
        now = time.monotonic()
        for g in runs:
            ended = watcher.ended.get(g.name)
            if ended is not None:
                g.state, g.ended = ended[0], ended[1]
        if all(g.ended is not None or now - g.created > bound for g in runs):
            return
        time.sleep(0.5)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make fuzz", description=__doc__.split("\n\n")[0])
    d = Config()
    parser.add_argument("--dags", type=int, default=d.dags, help="fuzzed DAGs")
    parser.add_argument("--runs", type=int, default=d.runs, help="fuzzed DAGRuns")
    parser.add_argument("--seed", type=int, default=d.seed, help="of the specs")
    parser.add_argument(
        "--no-catalogue", action="store_true", help="leave out issue 15's fixed examples"
    )
    parser.add_argument(
        "--strict-share", type=float, default=d.strict_share, help="share created Strict"
    )
    parser.add_argument(
        "--verdict-timeout",
        type=float,
        default=d.verdict_timeout,
        help="seconds an accepted object may take to get a verdict",
    )
    parser.add_argument(
        "--good-every", type=float, default=d.good_every, help="seconds between good runs"
    )
    parser.add_argument(
        "--good-bound", type=float, default=d.good_bound, help="seconds a good run may take"
    )
    parser.add_argument("--work", type=Path, help="where the DB, the log, objects.jsonl go")
    args = parser.parse_args(argv)
    if args.dags < 0 or args.runs < 0:
        parser.error("--dags and --runs must be 0 or more")
    if not 0 <= args.strict_share <= 1:
        parser.error("--strict-share must be between 0 and 1")
    if min(args.verdict_timeout, args.good_every, args.good_bound) <= 0:
        parser.error("--verdict-timeout, --good-every and --good-bound must be more than 0")
    config = Config(
        dags=args.dags,
        runs=args.runs,
        seed=args.seed,
        catalogue=not args.no_catalogue,
        strict_share=args.strict_share,
        verdict_timeout=args.verdict_timeout,
        good_every=args.good_every,
        good_bound=args.good_bound,
    )
    work = args.work or Path(f"/tmp/airkube-fuzz-{secrets.token_hex(3)}")
    work.mkdir(parents=True, exist_ok=True)
    cluster = bring_up()
    try:
        ensure_crds(cluster, ROOT)
        figures = run_fuzz(cluster, config, work)
    finally:
        tear_down(cluster)
    print(figures.table(config))
    print(figures.rejections())
    print(figures.log_summary())
    print(figures.stall_suspects())
    if config.catalogue:
        print(figures.catalogue_outcomes())
    print(f"operator log, DB and objects.jsonl: {work}")
    failures = figures.failures(config)
    if failures:
        print(f"\nfuzz: FAILED, {len(failures)} problems (at most 40 shown):")
        for line in failures[:40]:
            print(f"  {line}")
        return 1
    print("\nfuzz: passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
