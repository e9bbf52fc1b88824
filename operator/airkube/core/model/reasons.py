"""The reasons a plan writes in task statuses, run statuses and events (the ``reason``
fields people filter on)."""


class Reason:
    """The reasons a plan writes in task statuses, run statuses and events."""

    # Why a try ended.
    ERROR = "Error"
    TIMEOUT = "Timeout"
    POD_LOST = "PodLost"
    """The pod went away with its node (deleted by the pod GC or the taint manager, the
    node lost), or was never seen, or never finished terminating."""
    EVICTED = "Evicted"
    """Evicted: through the Eviction API (a drain), by the kubelet (node pressure, node
    shutdown) or preempted by the scheduler."""
    DELETED = "Deleted"
    """Someone other than airkube deleted the pod before its task ended."""
    OOM_KILLED = "OOMKilled"
    PENDING_TIMEOUT = "PendingTimeout"
    SKIP_EXIT_CODE = "SkipExitCode"
    TEMPLATE_ERROR = "TemplateError"
    MARKED_SUCCESS = "MarkedSuccess"
    MARKED_FAILED = "MarkedFailed"
    """Set Succeeded or Failed by hand (spec.mark): a task, or the run as a whole."""
    # Why a task did not run.
    TRIGGER_RULE = "TriggerRule"
    UPSTREAM_FAILED = "UpstreamFailed"
    RUN_CANCELLED = "RunCancelled"
    RUN_TIMEOUT = "RunTimeout"
    RUN_MARKED_FAILED = "RunMarkedFailed"
    # Why a pod is deleted.
    CLEARED = "Cleared"
    SUPERSEDED = "Superseded"
    TRY_ENDED = "TryEnded"
    UNKNOWN_TASK = "UnknownTask"
    RUN_FINISHED = "RunFinished"
    # Why a run ended, and event reasons.
    TASKS_SUCCEEDED = "TasksSucceeded"
    TASK_FAILED = "TaskFailed"
    TASK_RETRYING = "TaskRetrying"
    CANCELLED = "Cancelled"
    RUN_SUCCEEDED = "RunSucceeded"
    RUN_FAILED = "RunFailed"
    CLEAR_REFUSED = "ClearRefused"
    MARKED = "Marked"
    MARK_REFUSED = "MarkRefused"
    POD_PENDING = "PodPending"
