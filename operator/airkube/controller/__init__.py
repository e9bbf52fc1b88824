"""kopf handlers: thin glue from Kubernetes events to core, kube and store."""
