"""Callbacks (alerts): what is called when a try fails, is retried or succeeds, when a run
ends, and when a run misses its deadline — a webhook (an HTTP POST of the callback payload)
or a notifier pod run from a template (the payload in an environment variable)."""

from enum import StrEnum
from typing import Annotated, Self
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, model_validator

from airkube.api.base import ApiModel
from airkube.api.container import ENV_NAME_PATTERN, EnvVar, PullPolicy
from airkube.api.duration import PositiveDuration

MAX_CALLBACKS = 10
"""The most callbacks one hook (onFailure, onRunSuccess…) may list."""


def _check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"url {url!r} is not an http:// or https:// URL with a host")
    return url


class SecretKeySelector(ApiModel):
    """One key of a Secret in the DAG's namespace."""

    name: str = Field(description="The Secret's name.", min_length=1, max_length=253)
    key: str = Field(description="The key whose value is used.", min_length=1, max_length=253)


class ValueFromSecret(ApiModel):
    """Where a value comes from instead of being written in the DAG."""

    secret_key_ref: SecretKeySelector = Field(description="A key of a Secret.")


class WebhookHeader(ApiModel):
    """An HTTP header sent with the webhook's POST."""

    name: str = Field(
        description="The header's name, such as Authorization.",
        min_length=1,
        max_length=256,
        pattern=r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$",
    )
    value: str | None = Field(default=None, description="The header's value.")
    value_from: ValueFromSecret | None = Field(
        default=None, description="Read the value from a Secret instead (a token, say)."
    )

    @model_validator(mode="after")
    def _one_value(self) -> Self:
        if (self.value is None) == (self.value_from is None):
            raise ValueError(f"header {self.name}: set exactly one of value and valueFrom")
        return self


class WebhookFormat(StrEnum):
    """The body a webhook receives."""

    GENERIC = "generic"
    SLACK = "slack"


class Webhook(ApiModel):
    """An HTTP POST of the callback's JSON payload, retried with backoff."""

    url: Annotated[str, AfterValidator(_check_url)] | None = Field(
        default=None, description="The http:// or https:// URL to POST to."
    )
    url_from: ValueFromSecret | None = Field(
        default=None,
        description="Read the URL from a Secret instead (a Slack incoming-webhook URL, say).",
    )
    headers: list[WebhookHeader] | None = Field(
        default=None, description="HTTP headers sent with the request.", max_length=32
    )
    format: WebhookFormat = Field(
        default=WebhookFormat.GENERIC,
        description=(
            'generic (default): the payload as JSON. slack: {"text": "..."}, a one-line '
            "summary with the link, as a Slack (or Mattermost, Rocket.Chat) incoming "
            "webhook takes it."
        ),
    )

    @model_validator(mode="after")
    def _one_url(self) -> Self:
        if (self.url is None) == (self.url_from is None):
            raise ValueError("set exactly one of url and urlFrom")
        return self


class NotifierPod(ApiModel):
    """A pod run once per callback, in the user's image, with the payload in an
    environment variable."""

    image: str = Field(description="The notifier's container image.", min_length=1)
    image_pull_policy: PullPolicy | None = Field(
        default=None, description="Always, IfNotPresent or Never, as in a Pod."
    )
    command: list[str] | None = Field(
        default=None, description="The command to run; the image's entrypoint when absent."
    )
    args: list[str] | None = Field(default=None, description="Arguments of the command.")
    env: list[EnvVar] | None = Field(
        default=None,
        description="More environment variables (value or valueFrom, as in a Pod).",
    )
    payload_env: str = Field(
        default="AIRKUBE_CALLBACK",
        description="The environment variable holding the payload JSON. Default: AIRKUBE_CALLBACK.",
        pattern=ENV_NAME_PATTERN,
        min_length=1,
        max_length=253,
    )
    service_account_name: str | None = Field(
        default=None, description="The pod's service account. Default: the namespace's default."
    )


class Callback(ApiModel):
    """One callback: a webhook or a notifier pod (exactly one of them)."""

    webhook: Webhook | None = Field(default=None, description="POST the payload to a URL.")
    pod: NotifierPod | None = Field(
        default=None, description="Run a pod with the payload in an environment variable."
    )

    @model_validator(mode="after")
    def _one_kind(self) -> Self:
        if (self.webhook is None) == (self.pod is None):
            raise ValueError("a callback sets exactly one of webhook and pod")
        return self


Callbacks = Annotated[list[Callback], Field(min_length=1, max_length=MAX_CALLBACKS)]


class DeadlineReference(StrEnum):
    """What a run deadline counts from (Airflow 3's DeadlineReference)."""

    LOGICAL_DATE = "LogicalDate"
    QUEUED = "Queued"


class RunDeadline(ApiModel):
    """A run that has not finished by ``reference + interval`` calls its callbacks, once
    (Airflow 3's Deadline Alerts). The run itself carries on."""

    reference: DeadlineReference = Field(
        description=(
            "LogicalDate: count from the run's logical date. Queued: count from when the run "
            "was queued (the DAGRun's creation)."
        )
    )
    interval: PositiveDuration = Field(
        description='How long after the reference the run must have finished, such as "2h".'
    )
    callbacks: Callbacks = Field(description="What is called when the deadline passes.")
