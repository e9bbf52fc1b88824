"""The log store: where the logs of task tries are kept once their pods are gone.

A :class:`LogStore` keeps bytes by key (``namespace/dag/run/task/try``, see
:class:`airkube.core.logs.LogKey`): ``put``, ``get``, ``exists``. Both backends keep
logs gzip-compressed and give them back as they were put:

- :class:`DatabaseLogStore`: the metadata database (the default: nothing to set up),
  table ``log_contents``;
- :class:`S3LogStore`: an S3-compatible bucket (any server boto3 can reach through its
  endpoint), under a prefix.

The metadata database records, per try, whether and where its log was stored
(:meth:`airkube.store.Store.record_task_log`); the operator's capture
(:mod:`airkube.controller.logs`) and the CLI use :func:`open_log_store` with the same
:class:`LogStoreSettings`.

Calls are synchronous (blocking I/O): call them from asyncio through a thread.
"""

from __future__ import annotations

import gzip
import os
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from airkube.core.logs import DEFAULT_LOG_CAP, LogKey
from airkube.store.errors import StoreError
from airkube.store.repository import Store


class LogStoreError(Exception):
    """A log could not be put or read; the message is one line naming the store."""


class LogStoreKind(StrEnum):
    DATABASE = "database"
    S3 = "s3"
    NONE = "none"
    """Logs are not captured (pods keep theirs until pod GC deletes them)."""


@dataclass(frozen=True)
class S3Settings:
    bucket: str
    prefix: str = ""
    endpoint: str | None = None
    """The server's URL (e.g. http://minio.storage:9000); None: AWS S3 itself."""
    region: str | None = None
    access_key: str | None = None
    """None: boto3 finds credentials as usual (AWS_ACCESS_KEY_ID…, a role)."""
    secret_key: str | None = None

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> S3Settings | None:
        """S3 settings from AIRKUBE_LOG_S3_* (None without a bucket)."""
        env = dict(os.environ) if env is None else env
        bucket = env.get("AIRKUBE_LOG_S3_BUCKET")
        if not bucket:
            return None
        return cls(
            bucket=bucket,
            prefix=env.get("AIRKUBE_LOG_S3_PREFIX", ""),
            endpoint=env.get("AIRKUBE_LOG_S3_ENDPOINT") or None,
            region=env.get("AIRKUBE_LOG_S3_REGION") or None,
        )


@dataclass(frozen=True)
class LogStoreSettings:
    kind: LogStoreKind = LogStoreKind.DATABASE
    cap: int = DEFAULT_LOG_CAP
    """Bytes of one try's log kept (head and tail)."""
    concurrency: int = 4
    """Captures in flight at once."""
    s3: S3Settings | None = None


class LogStore(Protocol):
    name: str
    """``database`` or ``s3``: what the metadata database records as the log's store."""
    uses_database: bool
    """Its calls go to the metadata database (the operator serialises them with its other
    database writes)."""

    def location(self, key: LogKey) -> str:
        """Where the log of ``key`` is (what the metadata database records)."""
        ...

    def put(self, key: LogKey, data: bytes) -> None: ...

    def get(self, key: LogKey) -> bytes | None:
        """The log as it was put, or None when there is none."""
        ...

    def exists(self, key: LogKey) -> bool: ...


def compress(data: bytes) -> bytes:
    # mtime=0: the same log compresses to the same bytes.
    return gzip.compress(data, compresslevel=6, mtime=0)


def decompress(data: bytes) -> bytes:
    if data[:2] != b"\x1f\x8b":
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError) as e:
        raise LogStoreError(f"a stored log is not valid gzip: {e}") from None


class DatabaseLogStore:
    """Logs in the metadata database (table ``log_contents``), gzip-compressed."""

    name = "database"
    uses_database = True

    def __init__(self, store: Store) -> None:
        self.store = store

    def location(self, key: LogKey) -> str:
        return key.path

    def put(self, key: LogKey, data: bytes) -> None:
        try:
            self.store.put_log_content(key.path, compress(data), len(data))
        except StoreError as e:
            raise LogStoreError(str(e)) from None

    def get(self, key: LogKey) -> bytes | None:
        try:
            content = self.store.get_log_content(key.path)
        except StoreError as e:
            raise LogStoreError(str(e)) from None
        return None if content is None else decompress(content)

    def exists(self, key: LogKey) -> bool:
        try:
            return self.store.log_content_exists(key.path)
        except StoreError as e:
            raise LogStoreError(str(e)) from None


class S3LogStore:
    """Logs in an S3-compatible bucket, one gzip-compressed object per try at
    ``<prefix><namespace>/<dag>/<run>/<task>/<try>``."""

    name = "s3"
    uses_database = False

    def __init__(self, settings: S3Settings, client: Any = None) -> None:
        self.settings = settings
        self.bucket = settings.bucket
        self.prefix = settings.prefix
        self.client = client if client is not None else _s3_client(settings)
        where = settings.endpoint or "AWS S3"
        self.url = f"s3://{self.bucket}/{self.prefix} ({where})"

    def location(self, key: LogKey) -> str:
        return f"s3://{self.bucket}/{self.prefix}{key.path}"

    def _object(self, key: LogKey) -> str:
        return f"{self.prefix}{key.path}"

    def put(self, key: LogKey, data: bytes) -> None:
        with self._errors(f"storing log {key.path}"):
            self.client.put_object(
                Bucket=self.bucket,
                Key=self._object(key),
                Body=compress(data),
                ContentType="text/plain; charset=utf-8",
                ContentEncoding="gzip",
                Metadata={"airkube-size": str(len(data))},
            )

    def get(self, key: LogKey) -> bytes | None:
        try:
            with self._errors(f"reading log {key.path}"):
                answer = self.client.get_object(Bucket=self.bucket, Key=self._object(key))
                body = answer["Body"].read()
        except _NotFoundError:
            return None
        return decompress(bytes(body))

    def exists(self, key: LogKey) -> bool:
        try:
            with self._errors(f"looking up log {key.path}"):
                self.client.head_object(Bucket=self.bucket, Key=self._object(key))
        except _NotFoundError:
            return False
        return True

    def _errors(self, action: str) -> _S3Errors:
        return _S3Errors(f"log store {self.url}: {action}")


class _NotFoundError(Exception):
    pass


class _S3Errors:
    """Turns boto3's errors into one-line :class:`LogStoreError`s (a missing object into
    ``_NotFoundError``)."""

    def __init__(self, action: str) -> None:
        self.action = action

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, _: Any
    ) -> None:
        if error is None:
            return
        from botocore.exceptions import BotoCoreError, ClientError

        if isinstance(error, ClientError):
            info = error.response.get("Error", {})
            code = str(info.get("Code", ""))
            if code in ("NoSuchKey", "404", "NotFound"):
                raise _NotFoundError() from None
            message = info.get("Message") or code
            raise LogStoreError(f"{self.action} failed: {code}: {message}") from None
        if isinstance(error, BotoCoreError):
            raise LogStoreError(f"{self.action} failed: {error}") from None


def _s3_client(settings: S3Settings) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(
        # Path-style (endpoint/bucket/key) reaches any S3-compatible server by its
        # endpoint alone; virtual-host style needs DNS for bucket.endpoint.
        s3={"addressing_style": "path" if settings.endpoint else "auto"},
        retries={"max_attempts": 3, "mode": "standard"},
        connect_timeout=10,
        read_timeout=60,
    )
    return boto3.session.Session().client(
        "s3",
        endpoint_url=settings.endpoint,
        region_name=settings.region or "us-east-1",
        aws_access_key_id=settings.access_key,
        aws_secret_access_key=settings.secret_key,
        config=config,
    )


def open_log_store(settings: LogStoreSettings, store: Store) -> LogStore | None:
    """The log store ``settings`` name (None for ``none``)."""
    if settings.kind is LogStoreKind.NONE:
        return None
    if settings.kind is LogStoreKind.DATABASE:
        return DatabaseLogStore(store)
    if settings.s3 is None or not settings.s3.bucket:
        raise LogStoreError(
            "the s3 log store needs a bucket: --log-s3-bucket or AIRKUBE_LOG_S3_BUCKET"
        )
    return S3LogStore(settings.s3)


def store_for(name: str | None, settings: LogStoreSettings, store: Store) -> LogStore:
    """The store a log was recorded in (``database`` or ``s3``), to read it back."""
    if name == "s3":
        if settings.s3 is None:
            raise LogStoreError(
                "this log is in the S3 log store: give its bucket (--log-s3-bucket or "
                "AIRKUBE_LOG_S3_BUCKET; --log-s3-endpoint for a server other than AWS S3)"
            )
        return S3LogStore(settings.s3)
    return DatabaseLogStore(store)


__all__ = [
    "DatabaseLogStore",
    "LogStore",
    "LogStoreError",
    "LogStoreKind",
    "LogStoreSettings",
    "S3LogStore",
    "S3Settings",
    "compress",
    "decompress",
    "open_log_store",
    "store_for",
]
