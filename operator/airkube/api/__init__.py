"""Resource API: pydantic models of the DAG and DAGRun spec and status, and CRD generation."""
