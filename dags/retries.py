"""retries: a task that keeps failing, its retries, and trigger rules deciding what still
runs — Airflow's semantics, state for state. The Python twin of retries.yaml, whose
comment tells what happens to each task and why. The run ends Failed, on purpose.
"""

from datetime import timedelta

from airkube.sdk import DAG, Task, TriggerRule

with DAG(
    "retries",
    description=(
        "Fetch rates from a failing primary and a working mirror; trigger rules pick what runs."
    ),
    default_args={
        "image": "busybox:1.36",
        "retries": 1,
        "retry_delay": timedelta(seconds=1),
    },
):
    fetch_primary = Task(
        "fetch-primary",
        retries=2,  # at most 3 tries
        retry_delay=timedelta(seconds=1),  # retry_exponential_backoff=True would double it
        # Stands for an API call that answers 503 today.
        command=[
            "sh",
            "-c",
            'echo "GET https://rates.example.com/{{ ds }}"\n'
            'echo "HTTP/1.1 503 Service Unavailable" | tee /dev/termination-log >&2\n'
            "exit 1\n",
        ],
    )
    fetch_mirror = Task(
        "fetch-mirror", command=["sh", "-c", 'echo "rates of {{ ds }} from the mirror"']
    )
    merge_rates = Task(
        "merge-rates",
        trigger_rule=TriggerRule.ONE_SUCCESS,
        command=["sh", "-c", 'echo "merging whatever rates arrived"'],
    )
    load = Task("load", command=["sh", "-c", 'echo "loading the rates"'])
    # Exit code 99 means Skipped (skip_on_exit_code), as AirflowSkipException would.
    fill_gaps = Task(
        "fill-gaps",
        command=["sh", "-c", 'echo "no currency is missing: nothing to fill"; exit 99'],
    )
    publish = Task(
        "publish", trigger_rule="none_failed", command=["sh", "-c", 'echo "publishing the rates"']
    )
    cleanup = Task(
        "cleanup",
        trigger_rule="all_done",
        command=["sh", "-c", 'echo "removing the staging files"'],
    )
    alert = Task(
        "alert",
        trigger_rule="one_failed",
        command=["sh", "-c", 'echo "paging on-call: the primary rates API failed"'],
    )
    compare_sources = Task(
        "compare-sources",
        command=["sh", "-c", 'echo "checking that the primary and the mirror agree"'],
    )

    [fetch_primary, fetch_mirror] >> merge_rates >> [load, fill_gaps] >> publish >> cleanup
    fetch_primary >> alert
    [fetch_primary, fetch_mirror] >> compare_sources
