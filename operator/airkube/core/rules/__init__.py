"""The rules of the reconcile kernel, one per concern, each a pure function that answers
"what now, and if not, why": trigger rules, retries, timeouts, slots (maxActiveTasks),
admission (maxActiveRuns), pinning (the DAG version a run follows) and retention (pod GC,
history limits). They read the model (``core.model``) and never the planner."""
