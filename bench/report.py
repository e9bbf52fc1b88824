"""The benchmark report: markdown and matplotlib plots from a results file of bench/suite.py.

Usage: .venv/bin/python bench/report.py bench/results/<date>.json
Writes bench/results/<date>.md and its PNGs, and bench/REPORT.md (a copy of the latest
full run's report, with links fixed): what the README links.
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SYSTEMS = ("ceiling", "airkube", "argo", "argo-tuned")
LABELS = {"ceiling": "ceiling", "airkube": "airkube", "argo": "Argo", "argo-tuned": "Argo tuned"}
COLORS = {"ceiling": "#888888", "airkube": "#1f77b4", "argo": "#ff7f0e", "argo-tuned": "#9467bd"}
CONTROLLERS = ("airkube", "argo", "argo-tuned")
"""The systems with a controller process (CPU, RSS)."""

# ---- profiles ----------------------------------------------------------------------------

CATEGORIES = [
    ("JSON encode/decode", ("/json/", "orjson")),
    ("pydantic (models, validation)", ("/pydantic/", "pydantic_core")),
    ("SQLAlchemy / SQLite", ("/sqlalchemy/", "sqlite3", "/airkube/store/")),
    ("kopf (framework)", ("/kopf/",)),
    (
        "HTTP clients (aiohttp, urllib3, TLS)",
        (
            "/aiohttp/",
            "/yarl/",
            "/multidict/",
            "/urllib3/",
            "/ssl.py",
            "/http/client.py",
            "/socket.py",
        ),
    ),
    ("worker threads (concurrent.futures, threading)", ("/concurrent/", "/threading.py")),
    ("asyncio event loop", ("/asyncio/", "selectors.py")),
    ("logging", ("/logging/",)),
    ("kubernetes client", ("/kubernetes/",)),
    ("planner (airkube.core)", ("/airkube/core/",)),
    ("controller glue (airkube.controller)", ("/airkube/controller/",)),
    ("kube I/O layer (airkube.kube)", ("/airkube/kube/",)),
    ("api models (airkube.api)", ("/airkube/api/",)),
]

FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


def _frames(stack: str) -> list[tuple[str, str]]:
    out = []
    for part in stack.split(";"):
        m = FRAME.match(part.strip())
        if m:
            out.append((m["func"], m["file"]))
    return out


def _category(file: str) -> str:
    file = "/" + file.lstrip("/")  # py-spy names files relative to sys.path
    for name, needles in CATEGORIES:
        if any(n in file for n in needles):
            return name
    return "other"


def summarize_profile(raw: Path) -> dict[str, Any] | None:
    """CPU samples of a py-spy raw (collapsed stacks) profile, by where the innermost frame
    is (self time, by category) and by the innermost airkube function on the stack."""
    if not raw.exists():
        return None
    by_cat: Counter[str] = Counter()
    by_fn: Counter[str] = Counter()
    by_self: Counter[str] = Counter()
    total = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        frames = _frames(stack)
        if not frames:
            continue
        total += n
        by_cat[_category(frames[-1][1])] += n
        func, file = frames[-1]
        by_self[f"{func} ({_short(file)})"] += n
        ours = [f for f in frames if "/airkube/" in "/" + f[1].lstrip("/")]
        if ours:
            func, file = ours[-1]
            module = (
                ("/" + file.lstrip("/"))
                .split("/airkube/", 1)[1]
                .removesuffix(".py")
                .replace("/", ".")
            )
            name = f"airkube.{module}.{func}"
            if name == "airkube.controller.operator.run_operator":
                name += " (kopf and the event loop beneath it)"
            by_fn[name] += n
        else:
            by_fn["(no airkube frame: " + _category(frames[-1][1]) + ")"] += n
    if not total:
        return None
    return {
        "samples": total,
        "rate_hz": 100,
        "self_by_category": [[k, round(100 * v / total, 1)] for k, v in by_cat.most_common()],
        "by_airkube_function": [[k, round(100 * v / total, 1)] for k, v in by_fn.most_common(15)],
        "self_by_function": [[k, round(100 * v / total, 1)] for k, v in by_self.most_common(15)],
    }


def _short(file: str) -> str:
    """A frame's file from its package on: `kopf/_core/...py`, not the venv's path."""
    file = file.lstrip("/")
    for marker in ("site-packages/", "lib/python3", "operator/"):
        if marker in file:
            tail = file.split(marker, 1)[1]
            return tail.split("/", 1)[1] if marker == "lib/python3" and "/" in tail else tail
    return file


# ---- figures -----------------------------------------------------------------------------


def fmt(v: Any, digits: int = 1) -> str:
    if v is None:
        return "—"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:,.{digits}f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def ratio(ours: float | None, theirs: float | None) -> str:
    if not ours or not theirs:
        return "—"
    r = ours / theirs
    return f"{r:.2f}x" if r >= 0.1 else f"{r:.2g}x"


def get(results: dict[str, Any], key: str, system: str) -> dict[str, Any]:
    return (results.get(key) or {}).get(system) or {}


def is_real(doc: dict[str, Any], key: str) -> bool:
    """A workload run on the real node (the pods really ran), not on KWOK's."""
    return (doc.get("workloads") or {}).get(key, {}).get("node") == "real"


def note(r: dict[str, Any]) -> str:
    """Why a figure is partial: an error, or a time limit reached."""
    if not r:
        return "not run"
    if "error" in r:
        return f"error: {r['error'][:120]}"
    if r.get("timed_out"):
        return (
            f"stopped at its {r['limit_s']:.0f} s limit: {r['runs_finished']}/{r['runs']} runs "
            f"finished, {r['pods_created']:,}/{r['pods_expected']:,} pods created"
        )
    if not r.get("completed"):
        states = ", ".join(f"{n} {state}" for state, n in (r.get("run_states") or {}).items())
        return f"did not succeed: runs finished {states}"
    return ""


# ---- goals (issue 13) --------------------------------------------------------------------

ONE_RUN_FANOUTS = ("fanout1000", "fanout5000", "big10000")
CPU_RATIO_MAX = 1.3
POD_RATE_MIN = 0.75
RUN_RATE_MIN = 0.6
RSS_MAX_MIB = 250
PROFILE_FOR = {"fanout1000": "fanout1000", "fanout5000": "fanout1000", "big10000": "big10000"}
"""The workload profiled when a fan-out's pod rate misses: the 1,000-task fan-out stands
for the 5,000 one (the same code paths, minutes shorter); the 10,000-task run is profiled
itself, as it is for its CPU and memory goals."""


@dataclass(frozen=True)
class Goal:
    row: str
    """The label of the table's row it is judged on."""
    text: str
    """The goal, as the table shows it."""
    value: str
    """What airkube did, in words."""
    met: bool | None
    """None: a figure it needs is missing (the workload was not run, or failed)."""
    profile: str
    """The workload to profile (py-spy) where it is missed."""


def tasks_of(doc: dict[str, Any], key: str) -> int:
    return int(((doc.get("workloads") or {}).get(key) or {}).get("tasks") or 0)


def cpu_ms_per_task(doc: dict[str, Any], key: str, system: str) -> float | None:
    cpu = (get(doc["results"], key, system).get("process") or {}).get("cpu_s")
    tasks = tasks_of(doc, key) * int((doc.get("workloads") or {}).get(key, {}).get("runs") or 1)
    return round(1000 * cpu / tasks, 2) if cpu is not None and tasks else None


def fanout_label(doc: dict[str, Any], key: str) -> str:
    n = tasks_of(doc, key)
    return f"{'one run of' if key == 'big10000' else 'fan-out'} {n:,} tasks"


def goals(doc: dict[str, Any]) -> list[Goal]:
    """Issue 13's goals for airkube, judged on a results document (bench/suite.py's)."""
    res = doc["results"]
    out: list[Goal] = []
    small, big = (
        cpu_ms_per_task(doc, "fanout1000", "airkube"),
        cpu_ms_per_task(doc, "big10000", "airkube"),
    )
    if get(res, "fanout1000", "airkube") and get(res, "big10000", "airkube"):
        done = all(get(res, k, "airkube").get("completed") for k in ("fanout1000", "big10000"))
        ratio_ = big / small if big is not None and small else None
        value = (f"{fmt(big, 2)} ms ÷ {fmt(small, 2)} ms = {ratio_:.2f}x" if ratio_ else "—") + (
            "" if done else " (a run did not complete)"
        )
        out.append(
            Goal(
                f"{fanout_label(doc, 'big10000')}: controller CPU per task",
                f"<= {CPU_RATIO_MAX}x the {tasks_of(doc, 'fanout1000'):,}-task fan-out's",
                value,
                None if ratio_ is None else done and ratio_ <= CPU_RATIO_MAX,
                "big10000",
            )
        )
    for key in ONE_RUN_FANOUTS:
        ours = get(res, key, "airkube").get("pods_per_s")
        ceil = get(res, key, "ceiling").get("pods_per_s")
        if ours is None and ceil is None:
            continue
        share = ours / ceil if ours and ceil else None
        out.append(
            Goal(
                f"{fanout_label(doc, key)}: pods created/s",
                f">= {POD_RATE_MIN:.0%} of ceiling",
                f"{fmt(ours)} pods/s{of_ceiling(share, ceil)}",
                None if share is None else share >= POD_RATE_MIN,
                PROFILE_FOR[key],
            )
        )
    ours = get(res, "concurrent", "airkube").get("runs_per_min")
    ceil = get(res, "concurrent", "ceiling").get("runs_per_min")
    if ours is not None or ceil is not None:
        share = ours / ceil if ours and ceil else None
        out.append(
            Goal(
                f"{concurrent_label(doc)}: runs finished/min",
                f">= {RUN_RATE_MIN:.0%} of ceiling",
                f"{fmt(ours)} runs/min{of_ceiling(share, ceil)}",
                None if share is None else share >= RUN_RATE_MIN,
                "concurrent",
            )
        )
    big_r = get(res, "big10000", "airkube")
    rss = (big_r.get("process") or {}).get("rss_peak_mib")
    if rss is not None:
        done = bool(big_r.get("completed"))
        out.append(
            Goal(
                f"{fanout_label(doc, 'big10000')}: controller peak RSS",
                f"<= {RSS_MAX_MIB} MiB",
                f"{fmt(rss)} MiB" + ("" if done else " (the run did not complete)"),
                done and rss <= RSS_MAX_MIB,
                "big10000",
            )
        )
    return out


def of_ceiling(share: float | None, ceil: float | None) -> str:
    return f" = {share:.0%} of the ceiling's {fmt(ceil)}" if share else ""


def concurrent_label(doc: dict[str, Any]) -> str:
    w = (doc.get("workloads") or {}).get("concurrent") or {}
    return f"{w.get('runs', 100)} x {w.get('tasks', 10)}-task runs"


def missed_goals(doc: dict[str, Any]) -> list[str]:
    """The workloads to profile: one per kind of missed goal, in order."""
    return list(dict.fromkeys(g.profile for g in goals(doc) if g.met is False))


def rows(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The table: one row per figure, with every system's value and the goal, if any."""
    res = doc["results"]
    out: list[dict[str, Any]] = []
    by_row = {g.row: g for g in goals(doc)}

    def add(
        label: str,
        key: str,
        field: str,
        unit: str,
        better: str,
        goal: str = "",
        met: bool | None = None,
        digits: int = 1,
        values: dict[str, Any] | None = None,
    ) -> None:
        vals = values or {s: get(res, key, s).get(field) for s in SYSTEMS}
        g = by_row.get(label)
        out.append(
            {
                "label": label,
                "key": key,
                "unit": unit,
                "better": better,
                "values": vals,
                "goal": g.text if g else goal,
                "met": g.met if g else met,
                "digits": digits,
            }
        )

    def process(key: str, field: str) -> dict[str, Any]:
        return {s: (get(res, key, s).get("process") or {}).get(field) for s in SYSTEMS}

    def cpu_per_task(key: str) -> dict[str, Any]:
        return {s: cpu_ms_per_task(doc, key, s) for s in SYSTEMS}

    if get(res, "chain100", "airkube") or get(res, "chain100", "ceiling"):
        add("step latency p50", "chain100", "step_p50_ms", "ms", "lower")
        add("step latency p99", "chain100", "step_p99_ms", "ms", "lower")
        add("chain wall time", "chain100", "wall_s", "s", "lower")
    for key in ONE_RUN_FANOUTS:
        if not (get(res, key, "airkube") or get(res, key, "ceiling")):
            continue
        what = fanout_label(doc, key)
        if key == "big10000":
            add(f"{what}: completed", key, "completed", "", "")
        add(f"{what}: pods created/s", key, "pods_per_s", "pods/s", "higher")
        add(f"{what}: wall time", key, "wall_s", "s", "lower")
        if key != "fanout5000":
            add(f"{what}: controller CPU per task", key, "", "ms", "lower", digits=2,
                values=cpu_per_task(key))  # fmt: skip
        if key == "big10000":
            add(f"{what}: run object size", key, "run_object_bytes_max", "bytes", "lower")
            add(f"{what}: controller peak RSS", key, "", "MiB", "lower",
                values=process(key, "rss_peak_mib"))  # fmt: skip
            add(f"{what}: controller CPU", key, "", "s", "lower", values=process(key, "cpu_s"))
    if get(res, "concurrent", "airkube") or get(res, "concurrent", "ceiling"):
        label = concurrent_label(doc)
        add(f"{label}: runs finished/min", "concurrent", "runs_per_min", "runs/min", "higher")
        add(f"{label}: wall time", "concurrent", "wall_s", "s", "lower")
    return out


def table(doc: dict[str, Any]) -> str:
    lines = [
        "| figure | airkube | ceiling | Argo | Argo tuned | airkube ÷ ceiling | airkube ÷ Argo "
        "| airkube ÷ Argo tuned | goal | met |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    res = doc["results"]
    for row in rows(doc):
        v = row["values"]
        cells = []
        for s in ("airkube", "ceiling", "argo", "argo-tuned"):
            text = fmt(v[s], row["digits"])
            r = get(res, row["key"], s)
            if r and note(r) and "error" not in r and v[s] is not None:
                text += "*"
            elif not r:
                text = "not run"
            elif "error" in r:
                text = "error"
            cells.append(text)
        numeric = row["unit"] not in ("",)
        both = numeric and not isinstance(v["airkube"], bool)
        ratios = [
            ratio(v["airkube"], v[s]) if both else "—" for s in ("ceiling", "argo", "argo-tuned")
        ]
        unit = f" ({row['unit']})" if row["unit"] else ""
        met = {True: "yes", False: "**no**", None: ""}[row["met"]]
        lines.append(
            f"| {row['label']}{unit} | {' | '.join(cells)} | {' | '.join(ratios)} | "
            f"{row['goal']} | {met} |"
        )
    notes = []
    for key in res:
        if is_real(doc, key):
            continue  # under the real node's table
        for s in SYSTEMS:
            why = note(get(res, key, s))
            if why and why != "not run":
                notes.append(f"- `*` {key}, {LABELS[s]}: {why}")
    return "\n".join(lines + (["", *notes] if notes else []))


REAL_SYSTEMS = ("airkube", "ceiling")


def real_rows(doc: dict[str, Any]) -> list[tuple[str, str, str, str, int]]:
    """(label, workload, field, unit, digits) of the real node's table."""
    out = []
    for key in [k for k in doc["results"] if is_real(doc, k)]:
        n = doc["workloads"][key]["tasks"]
        chain = any(get(doc["results"], key, s).get("step_ms") is not None for s in REAL_SYSTEMS)
        if chain:
            what = f"chain of {n:,}"
            out += [
                (f"{what}: step latency p50", key, "step_p50_ms", "ms", 1),
                (f"{what}: step latency p99", key, "step_p99_ms", "ms", 1),
                (f"{what}: wall time", key, "wall_s", "s", 1),
            ]
        else:
            what = f"fan-out {n:,}"
            out += [
                (f"{what}: pods created/s", key, "pods_per_s", "pods/s", 1),
                (f"{what}: pods completed/s", key, "succeeded_per_s", "pods/s", 2),
                (f"{what}: last pod created", key, "last_pod_s", "s", 1),
                (f"{what}: wall time", key, "wall_s", "s", 1),
            ]
        out.append((f"{what}: pod created → seen Succeeded, p50", key, "pod_life_p50_s", "s", 2))
    return out


def real_table(doc: dict[str, Any]) -> str:
    res = doc["results"]
    rows_ = real_rows(doc)
    if not rows_:
        return ""
    lines = [
        "| figure | airkube | ceiling | airkube ÷ ceiling |",
        "|---|---:|---:|---:|",
    ]
    for label, key, field, unit, digits in rows_:
        cells = []
        vals = {}
        for s in REAL_SYSTEMS:
            r = get(res, key, s)
            vals[s] = r.get(field)
            text = fmt(vals[s], digits)
            if not r:
                text = "not run"
            elif "error" in r:
                text = "error"
            elif note(r) and vals[s] is not None:
                text += "*"
            cells.append(text)
        lines.append(
            f"| {label} ({unit}) | {cells[0]} | {cells[1]} | "
            f"{ratio(vals['airkube'], vals['ceiling'])} |"
        )
    notes = [
        f"- `*` {key}, {LABELS[s]}: {why}"
        for key in res
        if is_real(doc, key)
        for s in REAL_SYSTEMS
        if (why := note(get(res, key, s))) and why != "not run"
    ]
    return "\n".join(lines + (["", *notes] if notes else []))


# ---- plots -------------------------------------------------------------------------------


def plots(doc: dict[str, Any], stem: Path) -> list[tuple[str, str]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    res = doc["results"]
    made: list[tuple[str, str]] = []

    def save(fig: Any, name: str, caption: str) -> None:
        path = stem.parent / f"{stem.name}-{name}.png"
        fig.tight_layout()
        fig.savefig(path, dpi=90)
        plt.close(fig)
        made.append((path.name, caption))

    if "chain100" in res:
        fig, ax = plt.subplots(figsize=(7, 3.6))
        chains = [("chain100", "-", "")]
        chains += [(k, "--", " (real node)") for k in res if is_real(doc, k)]
        for key, ls, where in chains:
            for s in SYSTEMS:
                steps = sorted(v for v in get(res, key, s).get("step_ms") or [] if v > 0)
                if steps:
                    ys = [(i + 1) / len(steps) for i in range(len(steps))]
                    ax.step(steps, ys, where="post", label=LABELS[s] + where, color=COLORS[s],
                            ls=ls)  # fmt: skip
        ax.set_xscale("log")
        ax.set_xlabel("upstream pod Succeeded → downstream pod created (ms, log scale)")
        ax.set_ylabel("fraction of steps")
        ax.axvline(100, color="green", ls=":", lw=1, label="goal p50 100 ms")
        ax.axvline(500, color="red", ls=":", lw=1, label="goal p99 500 ms")
        ax.legend(fontsize=8)
        ax.set_title("Chain of 100 tasks: step latency (CDF)")
        save(fig, "step-latency", "Step latency along the 100-task chain (and the real node's "
             "chain, dashed), as a CDF.")  # fmt: skip

    real = [k for k in res if is_real(doc, k) and doc["workloads"][k]["tasks"] > 1]
    if real:
        fig, axes = plt.subplots(1, len(real), figsize=(4.8 * len(real), 3.6), squeeze=False)
        for ax, key in zip(axes[0], real, strict=False):
            for s in REAL_SYSTEMS:
                r = get(res, key, s)
                for field, ls, what in (("pods_curve", "-", "created"),
                                        ("succeeded_curve", "--", "Succeeded")):  # fmt: skip
                    pts = r.get(field) or []
                    if pts:
                        ax.plot([p[0] for p in pts], [p[1] for p in pts], color=COLORS[s], ls=ls,
                                label=f"{LABELS[s]}: pods {what}")  # fmt: skip
            n = doc["workloads"][key]["tasks"]
            shape = "chain" if get(res, key, "airkube").get("step_ms") is not None else "fan-out"
            ax.set_title(f"{shape} of {n:,} tasks, real node", fontsize=10)
            ax.set_xlabel("seconds since the run was submitted")
            ax.set_ylabel("pods")
            ax.legend(fontsize=7)
        save(fig, "real-node", "On the real node: pods created (solid) and seen Succeeded "
             "(dashed) over time.")  # fmt: skip

    one_run = [k for k in ("fanout1000", "fanout5000", "big10000") if k in res]

    def one_run_panels(name: str, caption: str, ylabel: str, draw: Any, legend: int) -> None:
        """A panel per one-run workload; ``draw(ax, key)`` plots its curves."""
        fig, axes = plt.subplots(1, len(one_run), figsize=(4.2 * len(one_run), 3.6), squeeze=False)
        for ax, key in zip(axes[0], one_run, strict=False):
            draw(ax, key)
            ax.set_title(doc["workloads"][key]["title"], fontsize=10)
            ax.set_xlabel("seconds since the run was submitted")
            ax.set_ylabel(ylabel)
            ax.legend(fontsize=legend)
        save(fig, name, caption)

    def pods_created(ax: Any, key: str) -> None:
        for s in SYSTEMS:
            pts = get(res, key, s).get("pods_curve") or []
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], label=LABELS[s],
                        color=COLORS[s])  # fmt: skip

    def tasks_done(ax: Any, key: str) -> None:
        for s in SYSTEMS:
            r = get(res, key, s)
            pts = r.get("succeeded_curve") or []
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], color=COLORS[s],
                        label=f"{LABELS[s]}: pods Succeeded")  # fmt: skip
            pts = r.get("progress_curve") or []
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], color=COLORS[s], ls="--",
                        label=f"{LABELS[s]}: done per its run status")  # fmt: skip

    if one_run:
        one_run_panels(
            "pods-created",
            "Pods created over time in the one-run workloads.",
            "pods created",
            pods_created,
            8,
        )
        one_run_panels(
            "tasks-done",
            "Tasks done over time: pods seen Succeeded (solid) and the tasks the run's own "
            "status counts as done (dashed).",
            "tasks",
            tasks_done,
            7,
        )

    if "concurrent" in res:
        fig, ax = plt.subplots(figsize=(7, 3.6))
        for s in SYSTEMS:
            pts = get(res, "concurrent", s).get("runs_curve") or []
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], label=LABELS[s],
                        color=COLORS[s], marker=".")  # fmt: skip
        ax.set_xlabel("seconds since the 100 runs were submitted")
        ax.set_ylabel("runs finished")
        ax.set_title("100 concurrent runs of a 10-task DAG")
        ax.legend(fontsize=8)
        save(fig, "runs-finished", "Runs finished over time, 100 concurrent 10-task runs.")

    keys = [k for k in res if any(get(res, k, s).get("rss_series") for s in CONTROLLERS)]
    if keys:
        fig, axes = plt.subplots(1, len(keys), figsize=(3.4 * len(keys), 3.2), squeeze=False)
        for ax, key in zip(axes[0], keys, strict=False):
            for s in CONTROLLERS:
                pts = get(res, key, s).get("rss_series") or []
                if pts:
                    ax.plot([p[0] for p in pts], [p[1] for p in pts], label=LABELS[s],
                            color=COLORS[s])  # fmt: skip
            ax.set_title(key, fontsize=9)
            ax.set_xlabel("s")
            ax.set_ylabel("RSS (MiB)")
            ax.legend(fontsize=7)
        save(fig, "rss", "Controller resident memory during each workload (sampled every 0.5 s).")
    return made


# ---- the report --------------------------------------------------------------------------


def details(doc: dict[str, Any]) -> str:
    res = doc["results"]
    lines = [
        "| workload | system | completed | runs | pods created | wall (s) | pods/s | runs/min "
        "| first pod (s) | controller CPU (s) | CPU busy | peak RSS (MiB) | run object (bytes) "
        "| note |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for key in res:
        for s in SYSTEMS:
            r = get(res, key, s)
            if not r and is_real(doc, key):
                continue  # Argo runs on the simulated node only
            p = r.get("process") or {}
            lines.append(
                f"| {key} | {LABELS[s]} | {fmt(r.get('completed'))} | "
                f"{fmt(r.get('runs_finished'))}/{fmt(r.get('runs'))} | "
                f"{fmt(r.get('pods_created'))}/{fmt(r.get('pods_expected'))} | "
                f"{fmt(r.get('wall_s'), 2)} | {fmt(r.get('pods_per_s'))} | "
                f"{fmt(r.get('runs_per_min'))} | {fmt(r.get('first_pod_s'), 3)} | "
                f"{fmt(p.get('cpu_s'))} | "
                f"{fmt(p.get('busy_pct'))}{'%' if p.get('busy_pct') is not None else ''} | "
                f"{fmt(p.get('rss_peak_mib'))} | "
                f"{fmt(r.get('run_object_bytes_max'))} | {details_note(r)} |"
            )
    return "\n".join(lines)


def details_note(r: dict[str, Any]) -> str:
    """The note, and for Argo how often its log shows client-side throttling."""
    parts = [note(r)] if note(r) else []
    if r.get("throttled_waits") is not None:
        parts.append(f"client-side throttling logged {r['throttled_waits']:,} times")
    if r.get("slow_requests"):
        parts.append(f"{r['slow_requests']:,} API requests took over 5 s")
    return "; ".join(parts)


def goals_text(doc: dict[str, Any]) -> str:
    """Issue 13's goals, each with airkube's figure, and where a missed one is explained."""
    profiles = doc.get("profiles") or {}
    out = []
    for g in goals(doc):
        verdict = {True: "met", False: "**missed**", None: "not evaluated"}[g.met]
        line = f"- {g.row}: {g.value}, against {g.text}: {verdict}"
        if g.met is False:
            if g.profile in profiles:
                line += f" (where the time goes: [profile of {g.profile}](#profile-{g.profile}))"
            else:
                line += f" (no profile of {g.profile} in this run)"
        out.append(line)
    return "\n".join(out) or "- (no goal could be evaluated)"


def profile_text(doc: dict[str, Any]) -> str:
    profiles = doc.get("profiles") or {}
    if not profiles:
        missed = [g for g in goals(doc) if g.met is False]
        if missed:
            return "Goals were missed, but no profile was taken (`--no-profile`)."
        return "Every goal was met, so nothing was profiled."
    parts = []
    for key, p in profiles.items():
        summary = p.get("summary")
        why = [g.row for g in goals(doc) if g.met is False and g.profile == key]
        head = [f'<a id="profile-{key}"></a>', "", f"### {key}", ""]
        if why:
            head += [f"Profiled for the missed goal{'s' if len(why) > 1 else ''}: "
                     + "; ".join(why) + ".", ""]  # fmt: skip
        if not summary:
            parts.append("\n".join(head) + f"No profile: {p.get('error') or p.get('spy_stderr')}")
            continue
        if "big10000" in key and any("RSS" in w for w in why):
            head += [
                "py-spy samples CPU, not memory: for the peak RSS see the resident-memory "
                "plot above (its growth over the run) beside where the CPU goes.",
                "",
            ]
        lines = [
            *head,
            f"py-spy sampled the operator at {summary['rate_hz']} Hz during a second run of "
            f"`{key}` (not the measured one; wall time under the profiler "
            f"{fmt(p.get('wall_s'), 2)} s, {fmt(p.get('pods_per_s'))} pods/s); "
            f"{summary['samples']:,} samples of CPU time (idle threads excluded).",
            "",
            "| where the CPU goes (innermost frame) | share |",
            "|---|---:|",
        ]
        lines += [f"| {k} | {v:.1f}% |" for k, v in summary["self_by_category"]]
        lines += [
            "",
            "| innermost airkube function on the stack | share |",
            "|---|---:|",
        ]
        lines += [f"| `{k}` | {v:.1f}% |" for k, v in summary["by_airkube_function"]]
        if summary.get("self_by_function"):
            lines += ["", "| top functions by self time | share |", "|---|---:|"]
            lines += [f"| `{k}` | {v:.1f}% |" for k, v in summary["self_by_function"]]
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


FINDINGS = ROOT / "bench/FINDINGS.md"


def write_report(results_path: Path) -> Path:
    doc = json.loads(results_path.read_text())
    stem = results_path.with_suffix("")
    images = plots(doc, stem)
    m = doc["machine"]
    text = [
        f"# airkube benchmarks — {doc['date']}",
        "",
        f"`make bench` ({'quick sizes' if doc.get('quick') else 'full sizes'}): "
        f"{doc['duration_s'] / 60:.1f} min on {m['cpus']} CPUs, {m['mem_gib']} GiB; "
        f"load average before {doc['load_avg_before']}, after {doc['load_avg_after']} "
        "(the machine is shared: other clusters and tests ran beside it). "
        f"airkube {m['airkube_commit']}, Argo Workflows {m['argo_version']}, "
        f"Kubernetes {m['kube_version']}, KWOK {m['kwok_version']}, Python {m['python']}. "
        f"Raw figures: [{results_path.name}]({results_path.name}).",
        "",
        "## Results",
        "",
        "Ratios are airkube's figure divided by the other's: for rates (per second, per "
        "minute) above 1 is better, for times and sizes below 1 is. `*` marks a figure "
        "of a workload that did not succeed in full (a run failed, or a time limit was reached: "
        "the notes under the table say which).",
        "",
        table(doc),
        "",
    ]
    real = real_table(doc)
    if real:
        text += [
            "## On the real node",
            "",
            "The chain and the 1,000-task fan-out again on the cluster's real node (kubelet and "
            "containerd, `hack/node.sh`): each pod's busybox really starts and exits, on the "
            "same two cores as the control plane and the controller. Argo is not run here.",
            "",
            real,
            "",
        ]
    text += [
        "## Goals",
        "",
        goals_text(doc),
        "",
        "## Plots",
        "",
    ]
    for name, caption in images:
        text += [f"![{caption}]({name})", "", f"*{caption}*", ""]
    text += [
        "## Details",
        "",
        details(doc),
        "",
        "## Where the time goes",
        "",
        profile_text(doc),
        "",
    ]
    if FINDINGS.exists():
        text += [FINDINGS.read_text().strip(), ""]
    text += [method_text(doc)]
    report = stem.with_suffix(".md")
    report.write_text("\n".join(text).rstrip() + "\n")
    if not doc.get("quick"):
        latest = "\n".join(text).rstrip() + "\n"
        latest = re.sub(r"\]\(([^)/]+\.(?:png|json))\)", r"](results/\1)", latest)
        (ROOT / "bench/REPORT.md").write_text(latest)
    return report


def method_text(doc: dict[str, Any]) -> str:
    """The method, with the tuned Argo's settings as this run used them."""
    flags = doc.get("argo_tuned_flags") or {}
    tuned = ", ".join(f"`{k} {v}`" for k, v in flags.items()) or "(not recorded)"
    return METHOD.replace("@TUNED_FLAGS@", tuned)


METHOD = """## Method

- **Cluster**: a local cluster of its own (`airkube-bench-<n>`, `hack/cluster.sh up --fresh`),
  local processes: kube-apiserver, etcd, kube-controller-manager, kube-scheduler, KWOK
  with this repository's Stages (`hack/kwok/stages.yaml`), and one real node (kubelet,
  containerd, runc, `hack/node.sh`; `maxPods` 250). The simulated workloads' namespaces
  send their pods to KWOK's node, which is tainted (annotations
  `scheduler.alpha.kubernetes.io/node-selector` and `.../defaultTolerations`). There every
  task's pod starts 100 ms after it is bound and ends Succeeded 100 ms later (annotations
  `sim.airkube.io/start-delay`, `sim.airkube.io/duration`), whichever system made it.
  The real-node workloads' namespaces have no such annotations: their pods go to the real
  node and run `busybox:1.36` `true` (image imported, never pulled). Before each, the
  harness waits until the real node has no pods and containerd no containers left.
- **Workloads** (`bench/workloads.py`): chain of 100 tasks; 1,000 and 5,000 independent
  tasks in one run; 100 runs at once of a 10-task DAG (start → 8 in parallel → end); one
  run of 10,000 independent tasks; on the real node, the chain of 100 tasks and 1,000
  independent tasks (ceiling and airkube). Each system runs each workload in a fresh
  namespace with a fresh controller process, one system at a time, workloads in that
  order.
- **Clock**: every time is this harness's monotonic clock on receiving a watch event
  (pods, run objects) — the same watch delay for every system. A pod is seen `Succeeded`
  at the first event with that phase or with every container terminated with exit code 0:
  a real kubelet reports the containers' ends about a second before the phase (it stops
  the sandbox first), and airkube acts on the first sign, so the ceiling and this clock do
  too (on KWOK both come in one update). Step latency: upstream
  pod seen `Succeeded` → downstream pod seen `ADDED`. Pods created per second: pods seen
  `ADDED` ÷ the time from submitting the run(s) to the last pod seen. Wall time: from
  submitting to the last run seen finished (airkube: DAGRun `status.state`; Argo:
  Workflow `status.phase`; ceiling: its last pod seen `Succeeded`). Pods completed per
  second: pods seen `Succeeded` ÷ the time to the last one. Runs finished per
  minute: runs ÷ that wall time. Run object size: bytes of the DAGRun / Workflow as a GET
  returns it at the end. Controller CPU: user+system seconds from `/proc/<pid>/stat` over
  the workload; peak RSS: `VmHWM` of `/proc/<pid>/status` (the process started fresh for
  the workload).
- **Ceiling**: this harness creating the same pods itself with a plain asyncio client
  (aiohttp, 64 requests in flight), each as soon as its upstream pods are seen
  `Succeeded`: no bookkeeping, no status writes. No controller can beat it.
- **airkube**: `airkube run` as a process (`tests/e2e/operator_process.py`) on a new
  SQLite database, watching the workload's namespace, with its default settings. The DAG
  gets `maxActiveRuns`/`maxActiveTasks` as large as the workload (Argo has no such limit
  by default) and `podGC: Never` (Argo keeps pods by default too); the DAG is created and
  seen `Ready` before the clock starts.
- **Argo Workflows**: `workflow-controller` built from `github.com/argoproj/argo-workflows/v4`
  (`hack/build-tools.sh argo`), run as a local process in namespace `argo`
  (`--namespaced --managed-namespace <workload namespace>`, `LEADER_ELECTION_DISABLE=true`),
  with its CRDs (`manifests/base/crds/full`) and its shipped, empty
  `workflow-controller-configmap`: all defaults (20 QPS, burst 30, 32 workflow workers).
  Each run is a Workflow with a `dag` template running one container template.
- **Argo Workflows tuned**: the same controller, CRDs and configmap, with the settings of
  its scaling docs (`docs/scaling.md`, `docs/running-at-massive-scale.md` of the module)
  that apply to these workloads: @TUNED_FLAGS@ (defaults: `--qps 20`, `--burst 30`,
  `--workflow-workers 32`, `--pod-cleanup-workers 4`). The docs give 50/75 as an example
  of raised QPS/burst and say to raise them while the log shows client-side throttling
  and the API server can take more; this one takes ~380 pod creations/s from one client,
  so the client's limiter is set out of the way (the details table counts the
  throttling messages left in each Argo log). 128 workflow workers exceed the
  concurrent workload's 100 Workflows; the pod-cleanup queue labels every completed pod,
  so its workers apply even without PodGC. Left at their defaults, as they do not apply
  or would only slow Argo down: `--workflow-ttl-workers`, `--cron-workflow-workers` (no
  TTLStrategy, no CronWorkflows), the configmap's `resourceRateLimit` (unlimited unless
  set), `parallelism`/`namespaceParallelism` (no limit unless set),
  `DEFAULT_REQUEUE_TIME` (the docs suggest raising it to 1m to spare the API server:
  every step would wait longer), Pod GC and workflow GC (airkube keeps its pods too).
  To reproduce: `workflow-controller --namespaced --managed-namespace <ns> <flags>`
  with `LEADER_ELECTION_DISABLE=true` (`bench/systems.py`, `ArgoTuned`).
- **How Argo's pods complete without an executor**: Argo's pods have an `init` container
  and a `wait` sidecar running `argoexec`, which reports outputs through
  `WorkflowTaskResult`s. No container runs on KWOK. The controller (v4,
  `workflow/controller/operator.go`, `taskresult.go`) marks a pod's node Succeeded from
  the pod's phase; it holds a node back only while a WorkflowTaskResult for it says
  `workflows.argoproj.io/report-outputs-completed: "false"`, or while the `wait`
  container still runs. A node's `TaskResultSynced` starts true and turns false only when
  such a result appears. Our Stages end all of a pod's containers, `wait` included, at the
  instant the pod turns Succeeded, and no task result is ever written — so the nodes
  complete, through the same Stages as every other pod (no Argo-specific Stage). This
  spares Argo work rather than adds any: a real executor would create and then update one
  WorkflowTaskResult per pod (two API writes, and two more workflow reconciliations per
  pod), none of which happens here; the tasks have no outputs for those results to carry.
- **Limits**: a system that does not finish a workload in its time limit is stopped and
  its partial figures are reported as such (`*`). Argo gets a shorter limit on the
  5,000- and 10,000-task runs (its 20 QPS alone make them take minutes each), and both
  Argos 120 s on the chain (each step waits for its 10 s `DEFAULT_REQUEUE_TIME`).
- **Goals** (issue 13), for airkube: controller CPU per task of the 10,000-task run
  within 1.3x the 1,000-task fan-out's; pods created per second in the one-run
  fan-outs at least 75% of the ceiling's; runs finished per minute of the 100
  concurrent runs at least 60% of the ceiling's; peak RSS of the 10,000-task run at
  most 250 MiB (and the run completes).
- **Profiling**: where airkube misses a goal, the workload is run once more with
  `py-spy record --nonblocking --rate 100` on the operator (the 10,000-task run for its
  CPU-per-task, RSS and pod-rate goals; the 1,000-task fan-out for the 1,000- and
  5,000-task pod rates; the concurrent runs for theirs); that run is not part of the
  figures. "Where the time goes" summarises its samples by the innermost frame's
  package, by the innermost airkube function on the stack, and by function (self
  time).
"""


if __name__ == "__main__":
    print(write_report(Path(sys.argv[1])))
