"""Who the user of a Kubernetes client is: what a SelfSubjectReview answers (the name the
API server authenticated), else the user name of the kubeconfig's context (an API server
older than 1.28, or one that refuses the review)."""

from __future__ import annotations

from typing import Any


def kubeconfig_user(kubeconfig: str | None, context: str | None) -> str | None:
    """The user entry named by the kubeconfig's (or ``context``'s) context, if any."""
    from kubernetes import config

    try:
        contexts, active = config.list_kube_config_contexts(config_file=kubeconfig)
    except Exception:  # no kubeconfig at all: nobody to name
        return None
    if context:
        active = next((c for c in contexts if c.get("name") == context), active)
    user = ((active or {}).get("context") or {}).get("user")
    return str(user) if user else None


def review_user(api_client: Any) -> str | None:
    """The user name the API server authenticates ``api_client``'s requests as, or None
    when it cannot say (SelfSubjectReview unavailable or refused)."""
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    try:
        review = client.AuthenticationV1Api(api_client).create_self_subject_review(
            body=client.V1SelfSubjectReview()
        )
    except (ApiException, HTTPError, ValueError):
        return None
    info = getattr(getattr(review, "status", None), "user_info", None)
    name = getattr(info, "username", None)
    return str(name) if name else None


def current_user(api_client: Any, kubeconfig: str | None, context: str | None) -> str | None:
    """Who ``api_client`` acts as: the SelfSubjectReview's answer, else the kubeconfig's user."""
    return review_user(api_client) or kubeconfig_user(kubeconfig, context)
