"""The log store's options, shared by ``airkube run`` (where captured logs go) and the
commands that read them back (``logs``, ``tries``): each also has its environment
variable, which the Helm chart sets. S3 credentials are boto3's own (AWS_ACCESS_KEY_ID
and AWS_SECRET_ACCESS_KEY, from a Secret in the chart; or a role)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from airkube.core.logs import DEFAULT_LOG_CAP, MIN_LOG_CAP, parse_size
from airkube.logstore import LogStoreKind, LogStoreSettings, S3Settings

F = TypeVar("F", bound=Callable[..., Any])


def _size(ctx: click.Context, param: click.Parameter, value: Any) -> int:
    """A size option's bytes, from 10485760 or 10Mi."""
    if isinstance(value, int):
        return value
    try:
        size = parse_size(str(value))
    except ValueError as e:
        raise click.BadParameter(str(e)) from None
    if size < MIN_LOG_CAP:
        raise click.BadParameter(f"{value!r} is below the smallest cap, {MIN_LOG_CAP} bytes")
    return size


_S3_OPTIONS = (
    click.option(
        "--log-s3-bucket",
        envvar="AIRKUBE_LOG_S3_BUCKET",
        metavar="BUCKET",
        help="The S3-compatible log store's bucket.",
    ),
    click.option(
        "--log-s3-prefix",
        envvar="AIRKUBE_LOG_S3_PREFIX",
        default="",
        metavar="PREFIX",
        help="Prefix of the objects' keys (e.g. airkube/); keys are "
        "PREFIX<namespace>/<dag>/<run>/<task>/<try>.",
    ),
    click.option(
        "--log-s3-endpoint",
        envvar="AIRKUBE_LOG_S3_ENDPOINT",
        metavar="URL",
        help="URL of an S3-compatible server (MinIO, SeaweedFS, versitygw, Ceph…); "
        "default: AWS S3.",
    ),
    click.option(
        "--log-s3-region", envvar="AIRKUBE_LOG_S3_REGION", metavar="REGION", help="S3 region."
    ),
)


def s3_options(fn: F) -> F:
    for option in reversed(_S3_OPTIONS):
        fn = option(fn)
    return fn


def log_store_options(fn: F) -> F:
    """``airkube run``'s: the store, the cap, the captures' concurrency and S3's settings."""
    fn = s3_options(fn)
    fn = click.option(
        "--log-capture-concurrency",
        envvar="AIRKUBE_LOG_CAPTURE_CONCURRENCY",
        default=4,
        show_default=True,
        type=click.IntRange(1, 64),
        help="Task logs captured at once.",
    )(fn)
    fn = click.option(
        "--log-cap",
        envvar="AIRKUBE_LOG_CAP",
        default=str(DEFAULT_LOG_CAP),
        show_default="10Mi",
        metavar="SIZE",
        callback=_size,
        help="Bytes of one try's log kept (10Mi, 512Ki…): past it, its head and tail are "
        "kept with a line saying how much was cut.",
    )(fn)
    fn = click.option(
        "--log-store",
        envvar="AIRKUBE_LOG_STORE",
        default=LogStoreKind.DATABASE.value,
        show_default=True,
        type=click.Choice([k.value for k in LogStoreKind]),
        help="Where the logs of ended tries are kept before pod GC deletes their pods: the "
        "metadata database, an S3-compatible bucket (--log-s3-*), or none (not kept).",
    )(fn)
    return fn


def s3_settings(
    bucket: str | None, prefix: str, endpoint: str | None, region: str | None
) -> S3Settings | None:
    if not bucket:
        return None
    return S3Settings(bucket=bucket, prefix=prefix, endpoint=endpoint or None, region=region)


def log_store_settings(
    kind: str,
    cap: int,
    concurrency: int,
    bucket: str | None,
    prefix: str,
    endpoint: str | None,
    region: str | None,
) -> LogStoreSettings:
    return LogStoreSettings(
        kind=LogStoreKind(kind),
        cap=cap,
        concurrency=concurrency,
        s3=s3_settings(bucket, prefix, endpoint, region),
    )
