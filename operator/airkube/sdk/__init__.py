"""Python DAG authoring (``with DAG(...)``, ``a >> b``) rendered to DAG resources."""
