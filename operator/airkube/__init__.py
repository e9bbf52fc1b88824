"""airkube: Apache Airflow's DAGs, schedules and run semantics as a Kubernetes operator.

Layers, lowest first (enforced by import-linter, see pyproject.toml):
``api`` <- ``core`` <- ``store``, ``kube`` <- ``controller`` <- ``cli``; ``sdk`` uses ``api`` only.
"""

__version__ = "0.1.0.dev0"
