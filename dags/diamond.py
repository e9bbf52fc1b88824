"""diamond: extract, then transform-a and transform-b in parallel, then load. The Python
twin of diamond.yaml.

On the local kwok cluster, the sim.airkube.io/* pod annotations script what each task's
pod does (see hack/kwok/stages.yaml); on a real cluster they do nothing.
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
        "annotations": {"sim.airkube.io/duration": "1s"},
    },
):
    extract = Task(
        "extract",
        command=["sh", "-c", r'echo "{\"rows\": 42}" > /dev/termination-log'],
        annotations={"sim.airkube.io/output": '{"rows": 42}'},
    )
    transform_a = Task("transform-a", command=["sh", "-c", "echo transforming a"])
    transform_b = Task("transform-b", command=["sh", "-c", "echo transforming b"])
    load = Task("load", command=["sh", "-c", "echo loading"])

    extract >> [transform_a, transform_b] >> load
