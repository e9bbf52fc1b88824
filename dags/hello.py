"""hello: the smallest DAG there is — one task, no schedule. The Python twin of hello.yaml.

In Airflow this would be a DAG file with a single BashOperator. `airkube apply dags/hello.py`
renders it to the DAG resource and applies it; `airkube render dags/hello.py` shows the
YAML. Start a run by hand with `airkube trigger hello`.
"""

from airkube.sdk import DAG, Task

# No `schedule`: runs are only started by hand (Airflow's schedule=None).
with DAG("hello", description="One task that says hello."):
    Task(
        "say-hello",
        image="busybox:1.36",
        command=["sh", "-c", 'echo "Hello from airkube, task $AIRKUBE_TASK of run $AIRKUBE_RUN"'],
    )
