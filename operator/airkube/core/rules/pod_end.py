"""Why a try's pod ended without success: one reason and a one-line message, from what the
controller saw of the pod (its phase, its status reason, its DisruptionTarget condition,
the task container's end, and whether it was deleted).

What removed a pod comes first, then what the pod says of itself, then its container:

- a DisruptionTarget condition (Kubernetes sets it before it removes a pod):
  ``DeletionByPodGC`` (the node no longer exists) and ``DeletionByTaintManager`` (a
  NoExecute taint, such as an unreachable node's) give PodLost; ``EvictionByEvictionAPI``
  (a drain), ``TerminationByKubelet`` (node pressure, node shutdown) and
  ``PreemptionByScheduler`` give Evicted;
- the pod's ``status.reason``: ``Evicted`` (the kubelet, under node pressure) gives
  Evicted, ``NodeLost`` gives PodLost, any other is kept with its message;
- a pod deleted with none of these (a watch DELETED event, or a deletionTimestamp) was
  deleted by someone other than airkube, which deletes a try's pod only once the try has
  ended: Deleted;
- the task container: ``OOMKilled`` gives OOMKilled, any other non-zero exit its reason
  (Error when none) with the termination message, or a message naming the exit code.

``DeadlineExceeded`` (activeDeadlineSeconds) is the planner's Timeout, decided where the
task's executionTimeout is known (core/plan/observe.py).
"""

from dataclasses import dataclass

from airkube.core.model.observed import ObservedPod
from airkube.core.model.reasons import Reason
from airkube.core.model.text import last_line
from airkube.core.pods import CONTAINER_NAME

_DETAIL_MAX_CHARS = 500
"""A kubelet's eviction message names the resource, the threshold and the usage."""


@dataclass(frozen=True)
class PodEnd:
    """Why the pod ended: the try's ``reason`` and ``message``; ``removed`` when something
    outside the task ended it (an eviction, its node, a deletion), not its own exit."""

    reason: str
    message: str
    removed: bool = False


def pod_end(pod: ObservedPod) -> PodEnd:
    """Why ``pod`` (failed, or gone before it succeeded) ended."""
    where = _where(pod)
    disruption = pod.disruption_reason
    if disruption is not None:
        detail = _detail(pod.disruption_message)
        if disruption == "DeletionByPodGC":
            node = f"node {pod.node_name}" if pod.node_name else "its node"
            return PodEnd(
                Reason.POD_LOST,
                f"pod {pod.name} was lost with {node}, which no longer exists{detail}",
                removed=True,
            )
        if disruption == "DeletionByTaintManager":
            return PodEnd(
                Reason.POD_LOST,
                f"{where} was deleted for a NoExecute taint of its node (unreachable or "
                f"not ready?){detail}",
                removed=True,
            )
        if disruption == "TerminationByKubelet":
            # The kubelet's own words (node pressure: "The node was low on resource…")
            # are in the pod's status message.
            detail = _detail(pod.message or pod.disruption_message)
            return PodEnd(
                Reason.EVICTED, f"{where} was evicted by its kubelet{detail}", removed=True
            )
        if disruption == "PreemptionByScheduler":
            return PodEnd(
                Reason.EVICTED,
                f"{where} was preempted by the scheduler for a pod of higher priority{detail}",
                removed=True,
            )
        if disruption == "EvictionByEvictionAPI":
            return PodEnd(
                Reason.EVICTED, f"{where} was evicted (Eviction API){detail}", removed=True
            )
        return PodEnd(Reason.EVICTED, f"{where} was disrupted ({disruption}){detail}", removed=True)
    if pod.reason == "Evicted":
        return PodEnd(Reason.EVICTED, f"{where} was evicted{_detail(pod.message)}", removed=True)
    if pod.reason == "NodeLost":
        node = f"node {pod.node_name}" if pod.node_name else "its node"
        return PodEnd(
            Reason.POD_LOST,
            f"pod {pod.name} was lost with {node}{_detail(pod.message)}",
            removed=True,
        )
    if pod.reason:
        # Another reason of the pod's own (UnexpectedAdmissionError, OutOfcpu, NodeAffinity,
        # the controller's PodRejected…), kept as it is.
        return PodEnd(pod.reason, pod.message or f"{where} failed ({pod.reason})", pod.deleted)
    if pod.deleted:
        exited = f" (its task exited with code {pod.exit_code})" if pod.exit_code else ""
        return PodEnd(
            Reason.DELETED,
            f"{where} was deleted before its task ended, not by airkube{exited}",
            removed=True,
        )
    return _container_end(pod, where)


def _container_end(pod: ObservedPod, where: str) -> PodEnd:
    container = f"container {CONTAINER_NAME} of {where}"
    code = pod.exit_code
    if pod.container_reason == Reason.OOM_KILLED:
        exited = f", exit code {code}" if code is not None else ""
        log = f": {last_line(pod.termination_message)}" if pod.termination_message else ""
        return PodEnd(Reason.OOM_KILLED, f"{container} ran out of memory (OOMKilled{exited}){log}")
    reason = pod.container_reason or Reason.ERROR
    if pod.termination_message:
        return PodEnd(reason, pod.termination_message)
    if code is None:
        return PodEnd(reason, f"{where} failed" + (f" ({reason})" if pod.container_reason else ""))
    if code == 0:  # the pod failed for another of its containers
        return PodEnd(
            Reason.ERROR, f"{where} failed, though its container {CONTAINER_NAME} exited with 0"
        )
    also = f" ({reason})" if reason != Reason.ERROR else ""
    return PodEnd(reason, f"{container} exited with code {code}{also}")


def _where(pod: ObservedPod) -> str:
    return f"pod {pod.name}" + (f" on node {pod.node_name}" if pod.node_name else "")


def _detail(message: str | None) -> str:
    return f": {last_line(message, _DETAIL_MAX_CHARS)}" if message and message.strip() else ""
