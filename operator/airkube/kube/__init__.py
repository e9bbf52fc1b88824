"""Kubernetes I/O: client setup, applying a plan (create/delete pods, patch status), events."""
