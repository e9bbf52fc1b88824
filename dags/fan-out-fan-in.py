"""fan-out-fan-in: one task fans out to four tasks that run in parallel, and one task joins
them — Airflow's `start >> [a, b, c, d] >> join`. The Python twin of fan-out-fan-in.yaml.

maxActiveTasks caps how many of a run's tasks have a pod at the same time (Airflow's
max_active_tasks): with 3, one process-* task waits as Scheduled until a slot frees up.
"""

from datetime import timedelta

from airkube.sdk import DAG, Task, chain

REGIONS = ("eu", "us", "apac", "latam")

with DAG(
    "fan-out-fan-in",
    description="Process four regions in parallel, then merge them.",
    max_active_tasks=3,
    default_args={
        "image": "busybox:1.36",
        "retries": 1,
        "retry_delay": timedelta(seconds=10),
        # Requests keep parallel tasks from crowding one node on a real cluster.
        "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}},
    },
):
    partitions = Task("list-partitions", command=["sh", "-c", 'echo "eu us apac latam"'])
    # The four branches run the same script on their own region ("$1").
    branches = [
        Task(
            f"process-{region}",
            command=["sh", "-c", 'echo "{{ task }}: region $1, day {{ ds }}"', "process", region],
        )
        for region in REGIONS
    ]
    merge = Task("merge", command=["sh", "-c", 'echo "merging 4 regions"'])
    publish = Task("publish", command=["sh", "-c", 'echo "publishing the merged table"'])

    chain(partitions, branches, merge, publish)
