"""Malformed and hostile DAG and DAGRun specs, shared by the offline fuzz test
(tests/unit/test_fuzz_specs.py, against ``check_dag`` and ``airkube validate``) and the e2e
one (tests/e2e/fuzz.py, against the API server and a running operator).

Hypothesis strategies make them by mutating good specs (wrong types, unknown fields,
values removed) and by planting hostile values the issue lists where they hurt: long
dependency cycles, huge task counts (thousands of tasks depending on a missing one), huge
and unicode strings, bad crons and zones, extreme dates, template tricks (big integers,
``replace`` amplification, recursion, sandbox escapes) and pod template mistakes (typo'd
fields, a sidecar without an image, ``runAsUser: -1``, an undeclared volumeMount,
``activeDeadlineSeconds: 0``). :data:`CATALOGUE` holds issue 15's exact examples.

The hostile values are sized so that an operator without limits would be slow or
refuse, never exhaust the machine: an amplification unguarded reaches ~100 MB, and what
asks for more asks for so much (10**12 characters) that the allocation fails at once.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

GOOD_DAG: dict[str, Any] = {
    "schedule": "@daily",
    "startDate": "2026-01-01T00:00:00Z",
    "catchup": False,
    "maxActiveRuns": 2,
    "params": {"table": {"default": "events", "type": "string"}},
    "defaults": {"image": "busybox:1.36", "retries": 1, "retryDelay": "10s"},
    "tasks": [
        {"name": "extract", "command": ["sh", "-c", "echo {{ params.table }}"]},
        {"name": "load", "dependsOn": ["extract"], "args": ["{{ ds }}"]},
        {"name": "report", "dependsOn": ["load"], "triggerRule": "all_done"},
    ],
}
GOOD_RUN: dict[str, Any] = {
    "apiVersion": "airkube.io/v1alpha1",
    "kind": "DAGRun",
    "metadata": {"name": "etl-manual-1", "namespace": "default", "uid": "u1"},
    "spec": {"dagRef": {"name": "etl"}, "logicalDate": "2026-11-24T00:00:00Z"},
}

# The hostile values, by class ----------------------------------------------------------------

EXTREME_DATES = [
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z",
    "0001-01-01T12:00:00+14:00",
    "9999-12-31T12:00:00-14:00",
    "0000-01-01",
    "0000-01-01T00:00:00Z",
    "2026-01-01T00:00:00+25:00",
    "2026-01-01T00:00:00-99:59",
    "1969-12-31T23:59:59Z",
    "1970-01-01T00:00:00Z",
    "9000-12-31T23:59:59Z",
    "9001-01-01T00:00:00Z",
    "2026-02-30T00:00:00Z",
    "2026-13-01T00:00:00Z",
    "2026-01-01T24:00:00Z",
    "2026-01-01T00:00:60Z",
    "20260101",
    "2026-W01-1",
    "tomorrow",
    "-2026-01-01T00:00:00Z",
    "+12026-01-01T00:00:00Z",
]
BAD_CRONS = [
    "@daily ",
    " @daily",
    "@fortnightly",
    "@DAILY",
    "* * * * * * *",
    "* * * *",
    "61 * * * *",
    "*/0 * * * *",
    "0 0 31 2 *",
    "0 0 30 2 *",
    "0 0 * * 8",
    "1-0 * * * *",
    "0-59/1000000 * * * *",
    "0 0 1 1 * 1970",
    "H * * * *",
    "\u0660 * * * *",
    "* * * * *\n* * * * *",
    "",
]
BAD_ZONES = [
    "Mars/Olympus",
    "UTC+25",
    "../../etc/passwd",
    "/etc/localtime",
    "Europe/Paris ",
    "europe/paris",
    "EST5EDT,M3.2.0,M11.1.0",
    "",
    "\x00",
    "Etc/GMT+25",
]
TEMPLATE_TRICKS = [
    "{{ (((2**10000)**10000)**10) }}",
    "{{ 9**9**9**9 }}",
    "{{ 2**13289 }}",
    "{{ (2**6000) * (2**6000) * (2**6000) }}",
    "{{ 'x' * 10**12 }}",
    "{{ ('x' * 1000) | replace('x', 'x' * 100) | replace('x', 'x' * 1000) }}",
    "{{ 'x' ~ ('x' * 100000) ~ ('x' * 100000) }}",
    "{{ ['x' * 100000] * 100000 }}",
    "{{ ('%0100000000d' % 1) | length }}",
    "{{ '{:>100000000}'.format(1) }}",
    "{{ ('x' * 1000) | center(10**8) }}",
    "{{ range(10**8) | join(',') }}",
    "{{ range(10**8) | list | length }}",
    "{% for i in range(10**9) %}{{ i }}{% endfor %}",
    "{% for a in range(3000) %}{% for b in range(3000) %}{% endfor %}{% endfor %}",
    "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}",
    "{% set x = [] %}{% for i in range(100) %}{% set _ = x.append(x) %}{% endfor %}{{ x }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{{ lipsum.__globals__['os'].system('id') }}",
    "{{ self.__init__.__globals__ }}",
    "{{ params.__class__.__base__.__subclasses__() }}",
    "{{ ds.__class__.__mro__ }}",
    "{{ range.__self__ }}",
    "{{ dag.__dict__ }}",
    "{{ config }}",
    "{% import 'os' as os %}",
    "{% include '/etc/passwd' %}",
    "{% extends '/etc/passwd' %}",
    "{{ ",
    "{% if %}",
    "{{ ds | nosuchfilter }}",
    "{{ nosuchname }}",
    "{{ params.nosuchparam }}",
    "{{ tasks.extract.output.x.y }}",
    "{{ ds | int / 0 }}",
    "{{ 1 / 0 }}",
    "{{ '{}'.format }}",
    "{% raw %}{{ ds }}",
    "{# unclosed comment",
]
"""Templates that are costly, recursive, try to leave the sandbox, or are simply wrong."""

HUGE_STRINGS = [
    "x" * 5000,
    "Ω" * 300,
    "\U0001f4a9" * 2000,
    "e\u0301" * 1000,
    "\u202eevil\u202c",
    "\u200b" * 100,
    "a\x00b",
    "\x1b[31mred\x1b[0m",
    "\ud7ff\ue000\ufffd",
    "x" * 70000,
    "name" * 20,
]
POD_TEMPLATE_MISTAKES: list[dict[str, Any]] = [
    {"spec": {"nodeSelecter": {"disk": "ssd"}}},
    {"spec": {"containers": [{"name": "task", "imagePullPolcy": "Always"}]}},
    {"spec": {"securityContext": {"runAsUser": "root"}}},
    {"spec": {"tolerations": "all"}},
    {"spec": {"containers": [{"name": "side", "command": ["sleep", "1"]}]}},
    {"spec": {"securityContext": {"runAsUser": -1}}},
    {
        "spec": {
            "containers": [{"name": "task", "volumeMounts": [{"name": "nope", "mountPath": "/x"}]}]
        }
    },
    {"spec": {"activeDeadlineSeconds": 0}},
    {"spec": {"activeDeadlineSeconds": -5}},
    {"spec": {"restartPolicy": "Sometimes"}},
    {"spec": {"containers": [{"name": "task", "resources": {"limits": {"cpu": "lots"}}}]}},
    {"spec": {"containers": [{"name": "task", "resources": {"requests": {"memory": "-1Gi"}}}]}},
    {"spec": {"volumes": [{"name": "v", "hostPath": {"path": "relative"}}]}},
    {"spec": {"containers": [{"name": "Bad_Name", "image": "busybox:1.36"}]}},
    {"spec": {"containers": [{"name": "task"}, {"name": "task", "image": "busybox:1.36"}]}},
    {"metadata": {"labels": {"bad label": "x" * 100}}},
    {"metadata": {"annotations": {"": ""}}},
    {"metadata": {"name": "hijack", "namespace": "kube-system"}},
    {"spec": {"nodeName": "no-such-node"}},
    {"spec": {"hostNetwork": "yes"}},
    {"spec": {"priority": 2**40}},
    {"spec": {"containers": "task"}},
    {"spec": None},
    {"kind": "Pod"},
]
"""Pod template mistakes: fields the Kubernetes client's models or the API server refuse."""

BAD_DURATIONS = ["10", "-1s", "1y", "10 s", "1e309s", "P1D", "99999999999999h", "0x10s", "∞"]
BAD_NUMBERS: list[Any] = [-1, 0, 2**31, 2**63, 2**64, -(2**63) - 1, 1.5, "3", True, None]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(
        [
            "",
            " ",
            "@daily ",
            "yes",
            "3",
            "0001-01-01T00:00:00Z",
            "9999-12-31T23:59:59Z",
            "0000-01-01",
            "2026-01-01T00:00:00+25:00",
            "{{ (((2**10) ** 10) ** 2) }}",
            "{% for x in range(10) %}{{ x }}{% endfor %}",
            "{{ foo.__class__ }}",
            "Ω" * 300,
            "x" * 5000,
            "* * * * * * *",
            "Mars/Olympus",
            "-1",
            "1e309",
        ]
    ),
    st.sampled_from(EXTREME_DATES + BAD_CRONS + BAD_ZONES + TEMPLATE_TRICKS + BAD_DURATIONS),
    st.sampled_from(HUGE_STRINGS),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)


def paths_of(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path into ``node`` (dict keys and list indexes)."""
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += paths_of(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += paths_of(value, (*prefix, i))
    return found


@st.composite
def mutated(draw: st.DrawFn, good: dict[str, Any]) -> Any:
    """``good`` with a few of its values replaced, removed, or joined by unknown fields."""
    spec = copy.deepcopy(good)
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        paths = paths_of(spec)
        path = draw(st.sampled_from(paths))
        kind = draw(st.sampled_from(["replace", "remove", "add"]))
        if not path:
            if kind == "replace":
                spec = draw(values)
            continue
        *head, last = path
        parent = spec
        for step in head:
            parent = parent[step]
        if kind == "replace":
            parent[last] = draw(values)
        elif kind == "remove":
            del parent[last]
        elif isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=12))] = draw(values)
        else:
            parent.append(draw(values))
    return spec


# Whole hostile DAGs ------------------------------------------------------------------------


def dag_with(**fields: Any) -> dict[str, Any]:
    """:data:`GOOD_DAG` with these top-level fields (None removes one)."""
    spec = copy.deepcopy(GOOD_DAG)
    for key, value in fields.items():
        if value is None:
            spec.pop(key, None)
        else:
            spec[key] = value
    return spec


def long_cycle(n: int) -> dict[str, Any]:
    """``n`` tasks in one dependency cycle (t0 needs t1, …, the last needs t0)."""
    tasks = [{"name": f"t{i}", "dependsOn": [f"t{(i + 1) % n}"]} for i in range(n)]
    return dag_with(tasks=tasks)


def missing_upstream(n: int) -> dict[str, Any]:
    """``n`` tasks, each depending on a task that does not exist (the quadratic suggestion
    of issue 15 at 3,000)."""
    tasks = [{"name": f"task-{i}", "dependsOn": ["missing-task"]} for i in range(n)]
    return dag_with(tasks=tasks)


def duplicate_tasks(n: int) -> dict[str, Any]:
    """``n`` tasks all of the same name."""
    return dag_with(tasks=[{"name": "same"} for _ in range(n)])


def fan_in(n: int) -> dict[str, Any]:
    """A valid DAG of ``n`` tasks feeding one, paused (its pods would only add load)."""
    tasks: list[dict[str, Any]] = [{"name": f"in-{i}"} for i in range(n)]
    tasks.append({"name": "out", "dependsOn": [f"in-{i}" for i in range(n)]})
    return dag_with(tasks=tasks, paused=True)


def task_with(**fields: Any) -> dict[str, Any]:
    """:data:`GOOD_DAG` whose ``load`` task has these fields."""
    spec = copy.deepcopy(GOOD_DAG)
    spec["tasks"][1].update(fields)
    return spec


field_values: dict[str, Any] = {
    "schedule": st.sampled_from(BAD_CRONS),
    "timezone": st.sampled_from(BAD_ZONES),
    "startDate": st.sampled_from(EXTREME_DATES),
    "endDate": st.sampled_from(EXTREME_DATES),
    "maxActiveRuns": st.sampled_from(BAD_NUMBERS),
    "maxActiveTasks": st.sampled_from(BAD_NUMBERS),
    "dagrunTimeout": st.sampled_from(BAD_DURATIONS),
    "description": st.sampled_from(HUGE_STRINGS),
}
task_values: dict[str, Any] = {
    "args": st.lists(st.sampled_from(TEMPLATE_TRICKS), min_size=1, max_size=2),
    "command": st.lists(st.sampled_from(TEMPLATE_TRICKS + HUGE_STRINGS), min_size=1, max_size=2),
    "env": st.lists(
        st.fixed_dictionaries({"name": st.just("V"), "value": st.sampled_from(TEMPLATE_TRICKS)}),
        min_size=1,
        max_size=2,
    ),
    "podTemplate": st.sampled_from(POD_TEMPLATE_MISTAKES),
    "retries": st.sampled_from(BAD_NUMBERS),
    "retryDelay": st.sampled_from(BAD_DURATIONS),
    "executionTimeout": st.sampled_from(BAD_DURATIONS),
    "name": st.sampled_from([*HUGE_STRINGS, "UPPER", "under_score", "-lead", "a.b"]),
    "triggerRule": st.sampled_from(["all_sucess", "ALL_SUCCESS", "", "none"]),
    "dependsOn": st.lists(st.sampled_from(["load", "report", "nope", "extract"]), max_size=3),
}


@st.composite
def planted(draw: st.DrawFn) -> dict[str, Any]:
    """:data:`GOOD_DAG` with one to three hostile values planted where each does harm."""
    spec = copy.deepcopy(GOOD_DAG)
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        if draw(st.booleans()):
            key = draw(st.sampled_from(sorted(field_values)))
            spec[key] = draw(field_values[key])
        else:
            key = draw(st.sampled_from(sorted(task_values)))
            index = draw(st.integers(min_value=0, max_value=len(spec["tasks"]) - 1))
            spec["tasks"][index][key] = draw(task_values[key])
    return spec


structural = st.one_of(
    st.builds(long_cycle, st.integers(min_value=2, max_value=2000)),
    st.builds(missing_upstream, st.integers(min_value=1, max_value=3000)),
    st.builds(duplicate_tasks, st.integers(min_value=2, max_value=500)),
    st.builds(fan_in, st.integers(min_value=1, max_value=1000)),
)

hostile_dags = st.one_of(mutated(GOOD_DAG), planted(), structural)
"""Specs of DAGs (the ``spec`` of the resource), malformed or hostile."""

run_values: dict[str, Any] = {
    "logicalDate": st.sampled_from(EXTREME_DATES),
    "dataIntervalStart": st.sampled_from(EXTREME_DATES),
    "dataIntervalEnd": st.sampled_from(EXTREME_DATES),
    "runType": st.sampled_from(["Manual", "scheduled ", "", "backfill", "scheduled", "x" * 300]),
    "params": st.dictionaries(
        st.sampled_from(["table", "x" * 300, "", "Ω"]),
        st.sampled_from([*TEMPLATE_TRICKS[:12], *HUGE_STRINGS[:4], 2**70, None]),
        max_size=3,
    ),
    "cancel": st.sampled_from(["yes", 1, None, True]),
}


@st.composite
def planted_run(draw: st.DrawFn) -> dict[str, Any]:
    spec = copy.deepcopy(GOOD_RUN["spec"])
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        key = draw(st.sampled_from(sorted(run_values)))
        spec[key] = draw(run_values[key])
    return spec


hostile_runs = st.one_of(mutated(GOOD_RUN["spec"]), planted_run())
"""Specs of DAGRuns (``dagRef.name`` is ``etl``: :func:`aimed` points it elsewhere)."""


def aimed(spec: Any, dag: str) -> Any:
    """A DAGRun spec with its ``dagRef.name`` (when the mutation kept it) set to ``dag``."""
    ref = spec.get("dagRef") if isinstance(spec, dict) else None
    if isinstance(ref, dict) and ref.get("name") == "etl":
        spec = {**spec, "dagRef": {**ref, "name": dag}}
    return spec


# Issue 15's exact examples -------------------------------------------------------------------


@dataclass(frozen=True)
class Example:
    """One fixed hostile object: a DAG spec, or a DAGRun spec aimed at ``target``."""

    label: str
    kind: str
    """"DAG" or "DAGRun"."""
    spec: Any
    target: str = "scheduled"
    """For a DAGRun: "scheduled" (a good scheduled DAG), "missing" (no such DAG), or
    the label of a DAG of the catalogue."""
    strict: bool = False
    """Created with fieldValidation=Strict (else the API server's default, Warn)."""


def _run(label: str, target: str = "scheduled", **spec: Any) -> Example:
    return Example(label, "DAGRun", {"dagRef": {"name": "etl"}, **spec}, target)


CATALOGUE: list[Example] = [
    # Extreme dates.
    _run("run-year-1", logicalDate="0001-01-01T00:00:00Z"),
    _run("run-year-9999", logicalDate="9999-12-31T23:59:59Z"),
    _run("run-year-1-plus-14h", logicalDate="0001-01-01T12:00:00+14:00"),
    _run("run-year-0", logicalDate="0000-01-01"),
    _run("run-offset-25h", logicalDate="2026-01-01T00:00:00+25:00"),
    _run("run-interval-year-1", dataIntervalStart="0001-01-01T00:00:00Z"),
    _run(
        "run-interval-reversed",
        **{
            "dataIntervalStart": "2026-02-01T00:00:00Z",
            "dataIntervalEnd": "2026-01-01T00:00:00Z",
        },
    ),
    Example("dag-start-9999-daily", "DAG", dag_with(startDate="9999-12-31")),
    Example("dag-start-year-0", "DAG", dag_with(startDate="0000-01-01")),
    Example("dag-end-offset-25h", "DAG", dag_with(endDate="2026-01-01T00:00+25:00")),
    Example("dag-start-1970-catchup", "DAG", dag_with(startDate="1970-01-01", catchup=True)),
    # Pod bodies the client or the API server refuses.
    Example("dag-pod-typo", "DAG", task_with(podTemplate={"spec": {"nodeSelecter": {"a": "b"}}})),
    Example(
        "dag-pod-wrong-type",
        "DAG",
        task_with(podTemplate={"spec": {"securityContext": {"runAsUser": "root"}}}),
    ),
    Example("dag-pod-sidecar-no-image", "DAG", task_with(podTemplate=POD_TEMPLATE_MISTAKES[4])),
    Example("dag-pod-run-as-minus-1", "DAG", task_with(podTemplate=POD_TEMPLATE_MISTAKES[5])),
    Example("dag-pod-undeclared-mount", "DAG", task_with(podTemplate=POD_TEMPLATE_MISTAKES[6])),
    Example("dag-pod-deadline-0", "DAG", task_with(podTemplate=POD_TEMPLATE_MISTAKES[7])),
    # Quadratic checks.
    Example("dag-3000-tasks-missing-upstream", "DAG", missing_upstream(3000)),
    Example("dag-cycle-2000", "DAG", long_cycle(2000)),
    # Found by the e2e fuzz: the Cycle event's note (822 characters, 1,082 UTF-8 bytes: each
    # arrow is 3) is cut at 1,024 characters, but the API server counts bytes and refuses it.
    Example("dag-cycle-130", "DAG", long_cycle(130)),
    # Expensive templates (rendered when a run starts: runs of these DAGs follow).
    Example("dag-template-big-int", "DAG", task_with(args=[TEMPLATE_TRICKS[0]])),
    Example("dag-template-replace", "DAG", task_with(args=[TEMPLATE_TRICKS[5]])),
    Example("dag-template-format-width", "DAG", task_with(args=[TEMPLATE_TRICKS[8]])),
    Example("dag-template-escape", "DAG", task_with(args=[TEMPLATE_TRICKS[18]])),
    _run("run-of-big-int", "dag-template-big-int"),
    _run("run-of-replace", "dag-template-replace"),
    _run("run-of-format-width", "dag-template-format-width"),
    _run("run-of-escape", "dag-template-escape"),
    _run("run-params-template", "scheduled", params={"table": TEMPLATE_TRICKS[0]}),
    # validate more lenient than the CRD.
    Example("dag-catchup-yes", "DAG", dag_with(catchup="yes")),
    Example("dag-retries-string", "DAG", task_with(retries="3")),
    Example("dag-paused-1", "DAG", dag_with(paused=1)),
    Example("dag-schedule-trailing-space", "DAG", dag_with(schedule="@daily ")),
    Example("dag-unknown-field-warn", "DAG", dag_with(scheduel="@hourly")),
    Example("dag-unknown-field-strict", "DAG", dag_with(scheduel="@hourly"), strict=True),
    Example("dag-task-unknown-field-warn", "DAG", task_with(imagePullPolcy="Always")),
    # Runs of DAGs that do not exist, or are invalid.
    _run("run-missing-dag", "missing"),
    _run("run-of-cycle", "dag-cycle-2000"),
    _run("run-of-pod-deadline-0", "dag-pod-deadline-0"),
]
"""Issue 15's examples, each as the object it was (and a few of their neighbours)."""
