"""The run planner: from the pinned DAG spec, the run, its tasks' states, its observed pods
and the clock, the next state of every task and what to do about it.

``plan`` is pure and deterministic: the same inputs give the same plan. It decides trigger
rules, retries with their delays, execution and run timeouts, maxActiveTasks, cancelling,
lost pods, clearing, and the run's end; the controller applies the plan (creating pods
before it writes the status, so that a pass interrupted in between is recovered by adopting
the pods it finds) and calls ``plan`` again when a pod changes or ``next_wakeup`` comes.

Guarantees:

- a try has at most one pod: a pod found for a try is never asked for again, and a pod of
  a try newer than the status knows is adopted (a lost status write);
- a try whose pod disappears, is evicted, times out or is stuck terminating fails with a
  reason, and retries apply: a run never hangs waiting for a pod that will not end;
- a clear request (spec.clear, applied once per id) sends the tasks it selects back to
  None with their full retries, stopping their running pods, and reopens a finished run;
- a mark request (spec.mark, applied once per id, after a clear) sets tasks or the whole
  run Succeeded or Failed by hand, stopping their pods, as Airflow's mark success/failed;
- once every task has finished, the run ends: Failed when a leaf task is Failed or
  UpstreamFailed, else Succeeded (Airflow's rule); cancelling ends it Cancelled, its
  dagrunTimeout ends it Failed, and in both cases unfinished tasks are Skipped (Airflow's
  behaviour on dagrun_timeout).

Modules: ``observe`` (pods → the current try), ``clear``, ``mark``, ``schedule`` (trigger
rules, retry timers, starting tries), ``finish`` (the run's end, stopping), ``index`` (the
per-run index that makes a pass cost what changed), ``compose`` (the pass).
"""

from airkube.core.plan.compose import plan
from airkube.core.plan.index import RunIndex

__all__ = ["RunIndex", "plan"]
