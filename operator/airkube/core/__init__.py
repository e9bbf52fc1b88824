"""Pure logic: graph checks, schedules, trigger rules, states, the run planner, templating
and pod building.

No I/O here: no kopf, no Kubernetes client, no SQLAlchemy; the clock is always passed in.

Modules:

- ``graph``: the task graph (upstream/downstream, topological order, leaves, cycles).
- ``validation``: ``check_dag``/``validate_dag``: every problem of a DAG spec, one message each.
- ``conditions``: the DAG's Ready condition; replacing a condition in a status.
- ``states``: the task and run state machines and Airflow's rule for a run's final state.
- ``trigger_rules``: Airflow's eleven trigger rules.
- ``retries``: the delay before the next try.
- ``merge``: merging DAG defaults with a task (keyed lists, deep pod templates).
- ``resolve``: a task with the DAG defaults applied (what templating and pod building take).
- ``pods``: pod names, labels and manifests.
- ``observed``: the summary of a pod the planner reads.
- ``run``: the identity and spec of the run being planned.
- ``actions``: what a plan asks the controller to do, and the events to post.
- ``plan``: the run planner.
- ``status``: task counts, progress and the bounded run status.
- ``patch``: JSON merge patches between two versions of a status.
- ``spec_hash``: the version of a DAG spec that a run pins.
- ``timetables``: cron schedules in a timezone (DST as Airflow), the interval, trigger and
  @once timetables, and ``next_runs``: which scheduled runs to create now.
- ``run_names``: deterministic DAGRun names (``<dag>-scheduled-<logical date>``).
- ``backfill``: the runs a backfill of a date range creates.
- ``params``: param declarations, a run's param values, their checks and conversions.
- ``templates``: Jinja2 (sandboxed, StrictUndefined) rendering of command, args and env.
- ``peering``: which of several operator replicas is the active one (kopf peering's
  keep-alives and priorities), and which requests a standby may send.
- ``clear``: which tasks a clear request (Airflow's clear) selects, and their new state.
- ``timestamps``: reading the API server's timestamps.
"""
