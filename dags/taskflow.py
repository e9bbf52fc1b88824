"""taskflow: Airflow's TaskFlow API — Python functions as tasks, what they return passed
to the next ones — and a task group. Python only (no YAML twin): see the pods' commands
with `airkube render dags/taskflow.py`.

Each @task function runs in its own pod, in the image given: its source (and only its
source: it imports what it needs inside) is shipped in the pod's command, followed by a
call to it. Its arguments are what the call here passes: a template ("{{ params.table }}",
rendered when the try starts), a literal, or another task, whose output (what its
function returned, as JSON, at most 4 KiB) it receives. A parameter named ds, ts, run_id,
logical_date… that the call leaves out gets the run's value, as in Airflow.

    extract ──┬─> stats-total ────┬─> report ──> notify
              └─> stats-biggest ──┘

Expected, for a run of 2024-06-01 with the default params: every task Succeeded, with
the outputs
    extract        {"table": "orders", "day": "2024-06-01", "orders": [12, 30, 7]}
    stats-total    49
    stats-biggest  30
    report         "2024-06-01: 49 in all, the biggest 30"
and notify's args are report's output.
"""

from datetime import timedelta

from airkube.sdk import DAG, Param, Task, TaskGroup, task

PYTHON = "python:3.11-slim"


@task(image=PYTHON)
def extract(table: str, ds: str) -> dict:
    """Read the day's orders (made up here)."""
    return {"table": table, "day": ds, "orders": [12, 30, 7]}


@task(image=PYTHON)
def total(data: dict) -> int:
    return sum(data["orders"])


@task(image=PYTHON)
def biggest(data: dict) -> int:
    return max(data["orders"])


@task(image=PYTHON)
def report(total: int, biggest: int, ds: str) -> str:
    text = f"{ds}: {total} in all, the biggest {biggest}"
    print(text)
    return text


with DAG(
    "taskflow",
    description="Python functions as tasks: extract, two statistics in a group, a report.",
    params={"table": Param("orders", type="string", description="The table to read.")},
    default_args={
        "retries": 1,
        "retry_delay": timedelta(seconds=5),
    },
):
    orders = extract("{{ params.table }}")
    with TaskGroup("stats"):  # tasks named stats-total and stats-biggest
        orders_total = total(orders)
        orders_biggest = biggest(orders)
    summary = report(orders_total, orders_biggest)
    Task(
        "notify",
        image="busybox:1.36",
        command=["sh", "-c", 'echo "notifying: $1"', "notify"],
        args=[summary.output],  # report's output; makes notify depend on report
    )
