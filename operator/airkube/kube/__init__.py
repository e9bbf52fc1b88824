"""Kubernetes I/O: client setup, applying a plan (creating and deleting pods, patching status), events."""
