"""Pure logic: graph checks, schedules, trigger rules, states, the run planner, templating and pod building.

No I/O here: no kopf, no Kubernetes client, no SQLAlchemy; the clock is always passed in.
"""
