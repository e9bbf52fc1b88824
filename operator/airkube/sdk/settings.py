"""Task settings written the Airflow way (``retry_delay=timedelta(minutes=5)``,
``env={"TABLE": "events"}``, ``annotations={...}``) turned into the fields of the
resource's models, and checked by them so a mistake is reported where it is written."""

from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ValidationError

from airkube.api.dag import TaskDefaults
from airkube.api.errors import describe_validation_error
from airkube.sdk.errors import DAGDefinitionError

DURATION_SETTINGS = frozenset(
    {"retry_delay", "max_retry_delay", "execution_timeout", "pending_timeout"}
)

TASK_SETTINGS = (
    "image",
    "image_pull_policy",
    "env",
    "env_from",
    "resources",
    "volume_mounts",
    "retries",
    "retry_delay",
    "retry_exponential_backoff",
    "max_retry_delay",
    "execution_timeout",
    "pending_timeout",
    "skip_on_exit_code",
    "pod_template",
)
"""The settings a task may take from defaults (the resource's ``spec.defaults`` fields)."""

POD_METADATA_SETTINGS = ("annotations", "labels")
"""Shorthands for ``pod_template={"metadata": {"annotations": ..., "labels": ...}}``."""

DEFAULT_ARGS = frozenset((*TASK_SETTINGS, *POD_METADATA_SETTINGS, "trigger_rule"))
"""What ``default_args`` may hold (``trigger_rule`` is applied to each task)."""


def duration(value: Any) -> Any:
    """A timedelta, a number of seconds (as Airflow takes) or a Go-style string ("30s")."""
    if isinstance(value, bool):
        return value  # refused by the model, with its message
    if isinstance(value, int | float):
        return timedelta(seconds=value)
    return value


def env_list(env: Any) -> Any:
    """``{"NAME": "value"}`` or ``{"NAME": {"secretKeyRef": ...}}`` as a list of env vars;
    a list is kept as it is."""
    if not isinstance(env, Mapping):
        return env
    entries: list[dict[str, Any]] = []
    for name, value in env.items():
        if isinstance(value, Mapping):
            entries.append({"name": name, "value_from": dict(value)})
        else:
            entries.append({"name": name, "value": value})
    return entries


def _model_dict(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(exclude_unset=True, by_alias=True)
    return value


def with_pod_metadata(
    pod_template: Any, annotations: Mapping[str, str] | None, labels: Mapping[str, str] | None
) -> Any:
    """``pod_template`` with ``annotations`` and ``labels`` added to its metadata."""
    if annotations is None and labels is None:
        return pod_template
    template = dict(_model_dict(pod_template) or {})
    if not isinstance(template.get("metadata", {}), Mapping):
        return pod_template  # the model reports it
    metadata = dict(_model_dict(template.get("metadata")) or {})
    for key, extra in (("annotations", annotations), ("labels", labels)):
        if extra is not None:
            metadata[key] = {**(metadata.get(key) or {}), **extra}
    template["metadata"] = metadata
    return template


def task_fields(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The model fields (snake_case names) of task settings, without the ones left None."""
    fields: dict[str, Any] = {}
    for key, value in settings.items():
        if value is None or key in POD_METADATA_SETTINGS:
            continue
        if key in DURATION_SETTINGS:
            value = duration(value)
        elif key == "env":
            value = env_list(value)
        elif key in ("command", "args", "skip_on_exit_code") and isinstance(value, tuple):
            value = list(value)
        fields[key] = value
    template = with_pod_metadata(
        fields.get("pod_template"), settings.get("annotations"), settings.get("labels")
    )
    if template is not None:
        fields["pod_template"] = template
    return fields


def check_keys(what: str, given: Iterable[str], allowed: Iterable[str]) -> None:
    """Refuse keys the resource has no field for, naming the ones it has."""
    allowed = sorted(allowed)
    unknown = [key for key in given if key not in allowed]
    if unknown:
        raise DAGDefinitionError(
            f"{what}: {', '.join(map(repr, unknown))} "
            f"{'is' if len(unknown) == 1 else 'are'} not supported by airkube "
            f"(supported: {', '.join(allowed)})"
        )


def validation_messages(error: ValidationError, prefix: str) -> str:
    """A pydantic error as one line per problem, each after ``prefix``."""
    return "; ".join(f"{prefix}{m}" for m in describe_validation_error(error))


def defaults_fields(default_args: Mapping[str, Any], what: str) -> dict[str, Any]:
    """``default_args`` (without trigger_rule) as checked ``TaskDefaults`` fields."""
    check_keys(what, default_args, DEFAULT_ARGS)
    fields = task_fields({k: v for k, v in default_args.items() if k != "trigger_rule"})
    try:
        TaskDefaults.model_validate(fields)
    except ValidationError as exc:
        raise DAGDefinitionError(validation_messages(exc, f"{what}: ")) from None
    return fields
