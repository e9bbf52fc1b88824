"""Pure logic: graph checks, schedules, trigger rules, states, the planner, templates, pods.

No I/O here: no kopf, no Kubernetes client, no SQLAlchemy; the clock is always passed in.
"""
