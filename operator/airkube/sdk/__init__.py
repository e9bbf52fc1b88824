"""Python DAG authoring (``with DAG(...)``, ``a >> b``) rendered to DAG resources.

Airflow users write DAGs in Python; so can airkube's. The file is run by ``airkube
render``, ``validate`` or ``apply`` on the user's side, and what it defines becomes ``DAG``
resources: the operator never runs the user's code. ::

    from datetime import datetime, timedelta

    from airkube.sdk import DAG, Param, Task, TaskGroup, chain, task

    with DAG(
        "etl",
        schedule="@daily",
        start_date=datetime(2024, 1, 1),
        default_args={"image": "busybox:1.36", "retries": 2, "retry_delay": timedelta(minutes=1)},
        params={"table": "events", "limit": Param(1000, type="integer", minimum=1)},
    ):
        extract = Task("extract", command=["sh", "-c", "echo {{ params.table }}"])

        @task(image="python:3.12-slim")
        def transform(rows: str, ds: str) -> dict:
            return {"rows": int(rows), "day": ds}

        with TaskGroup("load"):
            warehouse = Task("warehouse", command=["sh", "-c", "echo load"])
            lake = Task("lake", command=["sh", "-c", "echo load"], trigger_rule="all_done")

        extract >> transform(extract.output) >> [warehouse, lake]

What maps to what:

- :class:`DAG` — the resource; Airflow's argument names (``start_date``, ``catchup``,
  ``default_args``, ``dagrun_timeout``…) for its fields. :func:`dag` is the decorator form.
- :class:`Task` — a task: a container (``image``, ``command``, ``args``, ``env``…),
  ``retries`` and ``retry_delay`` (a ``timedelta``), ``trigger_rule`` (Airflow's names).
- :func:`task` — a Python function as a task: its source and a call to it run in the
  image given (see :mod:`airkube.sdk.taskflow` for the arguments and the limits).
- ``a >> b``, ``a << b``, ``[a, b] >> c``, :func:`chain`, :func:`cross_downstream`.
- :class:`TaskGroup` — a name prefix (``group-task``) and a unit for dependencies.
- :class:`Param` — a declared param; ``task.output`` — a task's output (XCom) as a template.

Mistakes (a bad field, a duplicate task, a task outside any DAG) raise
:class:`DAGDefinitionError` at the line that makes them; the DAG-wide checks (cycles,
templates, missing images) run when the DAG is validated, and are reported at the lines of
the tasks concerned.

The SDK depends on :mod:`airkube.api` only: the models it builds are the resource's, so what
it renders is what the CRD accepts.
"""

from airkube.api.dag import PodGCStrategy, Timetable, TriggerRule
from airkube.sdk.dag import DAG, current_dag, dag
from airkube.sdk.errors import DAGDefinitionError
from airkube.sdk.groups import TaskGroup
from airkube.sdk.params import Param
from airkube.sdk.taskflow import TaskFunction, task
from airkube.sdk.tasks import Task, TaskOutput, chain, cross_downstream

__all__ = [
    "DAG",
    "DAGDefinitionError",
    "Param",
    "PodGCStrategy",
    "Task",
    "TaskFunction",
    "TaskGroup",
    "TaskOutput",
    "Timetable",
    "TriggerRule",
    "chain",
    "cross_downstream",
    "current_dag",
    "dag",
    "task",
]
