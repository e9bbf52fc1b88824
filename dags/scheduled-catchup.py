"""scheduled-catchup: a cron schedule, data intervals and catchup, as in Airflow 2. The
Python twin of scheduled-catchup.yaml, which explains the runs it creates: one per day of
a closed window (1 to 3 January 2024), at 02:00 Berlin time, one after the other.
"""

from datetime import date, datetime

from airkube.sdk import DAG, Task

with DAG(
    "daily-report",
    description="A daily report, caught up over a closed window of three days.",
    schedule="0 2 * * *",
    timezone="Europe/Berlin",  # wall-clock cron time; DST handled as Airflow does
    start_date=date(2024, 1, 1),  # naive: read in the timezone (midnight, Berlin)
    end_date=datetime(2024, 1, 3, 2, 0),  # the last logical date that gets a run
    catchup=True,
    max_active_runs=1,
    default_args={
        "image": "busybox:1.36",
    },
):
    # Airflow's idiom: process exactly the run's data interval, so re-running a day
    # (clear, backfill) always reads the same data.
    extract = Task(
        "extract",
        command=["sh", "-c", 'echo "extracting events from $1 to $2"', "extract"],
        args=["{{ data_interval_start }}", "{{ data_interval_end }}"],
    )
    report = Task(
        "report",
        command=["sh", "-c", 'echo "report for $1 (logical date in Berlin: $2)"', "report"],
        args=["{{ ds }}", "{{ logical_date | in_timezone('Europe/Berlin') }}"],
    )
    extract >> report
