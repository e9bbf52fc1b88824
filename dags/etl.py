"""etl: extract -> transform -> load, passing results downstream and templating the
commands with the run's date and params. The Python twin of etl.yaml, which explains the
three Airflow ideas it shows:

- XCom: what a task writes to /dev/termination-log is its output; `extract.output` is the
  template {{ tasks.extract.output }} and makes the task using it depend on extract.
- Jinja templates in command, args and env ({{ ds }}, {{ run_id }}, {{ params.table }}…),
  rendered just before each try starts.
- params, with defaults here and overrides per run:
    airkube trigger etl --param table=orders --param limit=50

Preview what a task will run without starting anything:
    airkube render-task etl extract --logical-date 2024-06-01
"""

from datetime import timedelta

from airkube.sdk import DAG, Param, Task

EXTRACT = """\
echo "extract $*"
printf '{"rows": %d, "file": "raw/%s.csv"}' 1000 "$2" > /dev/termination-log
"""
TRANSFORM = """\
echo "transform $EXTRACTED for $DAY (run $RUN_ID)"
echo -n '{"rows": 998, "file": "clean/events.csv"}' > /dev/termination-log
"""
LOAD = """\
echo "load $1 into $3, partition $5"
echo -n "loaded 998 rows into $3" > /dev/termination-log
"""

with DAG(
    "etl",
    description="Extract a table for the day, clean it, load it into the warehouse.",
    params={
        "table": "events",  # a plain default: any value is accepted
        # Declared params (Airflow's Param): checked and converted.
        "limit": Param(1000, type="integer", minimum=1, description="The most rows to extract."),
        "target": Param(
            "warehouse.events", type="string", description="The warehouse table to load into."
        ),
    },
    # Airflow's default_args: every task gets these unless it sets its own.
    default_args={
        "image": "busybox:1.36",
        "retries": 2,
        "retry_delay": timedelta(seconds=30),
        # Templates work in the defaults too; every task sees its own run's values.
        "env": {"RUN_ID": "{{ run_id }}", "DAY": "{{ ds }}"},
    },
):
    # `sh -c SCRIPT NAME ARGS...`: the rendered args reach the script as "$@".
    extract = Task(
        "extract",
        command=["sh", "-c", EXTRACT, "extract"],
        args=[
            "--table",
            "{{ params.table }}",
            "--day",
            "{{ ds }}",
            "--limit",
            "{{ params.limit }}",
        ],
    )
    # extract's output, handed over in an environment variable: transform depends on extract.
    transform = Task(
        "transform",
        env={"EXTRACTED": extract.output},
        command=["sh", "-c", TRANSFORM],
    )
    load = Task(
        "load",
        command=["sh", "-c", LOAD, "load"],
        args=[transform.output, "--into", "{{ params.target }}", "--partition", "{{ ds_nodash }}"],
    )
