"""diamond: extract, then transform-a and transform-b in parallel, then load. The Python
twin of diamond.yaml. extract's output is {"rows": 42}.
"""

from datetime import timedelta

from airkube.sdk import DAG, Task

with DAG(
    "diamond",
    description="extract -> (transform-a, transform-b) -> load",
    default_args={
        "image": "busybox:1.36",
        "retries": 1,
        "retry_delay": timedelta(seconds=2),
    },
):
    extract = Task(
        "extract",
        command=[
            "sh",
            "-c",
            r'echo "extracting"; printf %s "{\"rows\": 42}" > /dev/termination-log',
        ],
    )
    transform_a = Task("transform-a", command=["sh", "-c", "echo transforming a"])
    transform_b = Task("transform-b", command=["sh", "-c", "echo transforming b"])
    load = Task("load", command=["sh", "-c", "echo loading"])

    extract >> [transform_a, transform_b] >> load
