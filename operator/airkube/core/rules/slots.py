"""Slots: how many new tries a pass may start (the DAG's maxActiveTasks, and a limit the
controller shares between runs)."""

from airkube.api.dag import DAGSpec
from airkube.core.model.result import PlannerOptions


def free_slots(dag: DAGSpec, active: int, options: PlannerOptions) -> int:
    """New pods this pass may create, ``active`` tries having a pod already."""
    slots = dag.max_active_tasks - active
    if options.max_new_pods is not None:
        slots = min(slots, options.max_new_pods)
    return slots
