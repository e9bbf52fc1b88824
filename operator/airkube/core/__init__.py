"""Pure logic: graph checks, schedules, trigger rules, states, the run planner, templating
and pod building.

No I/O here: no kopf, no Kubernetes client, no SQLAlchemy; the clock is always passed in.

Packages of the reconcile kernel (every decision about a run, as pure functions that
return actions; import-linter keeps ``model`` <- ``rules`` <- ``plan``):

- ``model``: the run, its facts for a pass, observed pods, actions, steps, verdicts,
  reasons, and the result of a pass.
- ``rules``: one rule per concern: trigger rules, retries, timeouts, slots, admission
  (maxActiveRuns), pinning, retention (pod GC, history limits).
- ``plan``: the planner: observe, clear, schedule, finish (and abort), the per-run index
  that makes a pass cost what changed, and the composed pass; ``plan.why``: why a task is
  not running, asked of the same rules.

Modules:

- ``graph``: the task graph (upstream/downstream, topological order, leaves, cycles).
- ``graph_view``: the graph as the UI draws it: wide fan-outs collapsed, a layered layout.
- ``validation``: ``check_dag``/``validate_dag``: every problem of a DAG spec, one message each.
- ``conditions``: the DAG's Ready condition; replacing a condition in a status.
- ``states``: the task and run state machines and Airflow's rule for a run's final state.
- ``merge``: merging DAG defaults with a task (keyed lists, deep pod templates).
- ``resolve``: a task with the DAG defaults applied (what templating and pod building take).
- ``pods``: pod names, labels and manifests.
- ``status``: task counts, progress and the bounded run status (kept incrementally).
- ``patch``: JSON merge patches between two versions of a status.
- ``spec_hash``: the version of a DAG spec that a run pins.
- ``cron``: cron in a time zone (DST as Airflow), wall-clock and UTC times.
- ``timetables``: the cron, interval, trigger and @once timetables, and ``next_runs``:
  which scheduled runs to create now.
- ``run_names``: deterministic DAGRun names (``<dag>-scheduled-<logical date>``), and the
  manifest of a new DAGRun.
- ``backfill``: the runs a backfill of a date range creates.
- ``params``: param declarations, a run's param values, their checks and conversions.
- ``templates``: Jinja2 (sandboxed, StrictUndefined) rendering of command, args and env.
- ``peering``: which of several operator replicas is the active one (kopf peering's
  keep-alives and priorities), and which requests a standby may send.
- ``timestamps``: reading the API server's timestamps.
- ``memo``: remembering what was computed from a pinned spec, by identity.
"""
