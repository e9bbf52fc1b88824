"""The S3 log store against a real S3-compatible server (versitygw, started here): logs
go in gzip-compressed under prefix + namespace/dag/run/task/try and come back as put;
what is missing reads as missing; a wrong bucket or credentials is a one-line error."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from typing import Any

import pytest

from airkube.core.logs import LogKey
from airkube.logstore import LogStoreError, S3LogStore, S3Settings
from s3_server import S3Server, s3_server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    with s3_server(tmp_path_factory.mktemp("s3"), "S3 log store tests skipped") as s:
        client: Any = s.client()
        client.create_bucket(Bucket="logs")
        yield s


def settings(server: S3Server, **overrides: Any) -> S3Settings:
    fields: dict[str, Any] = {
        "bucket": "logs",
        "prefix": "airkube/",
        "endpoint": server.endpoint,
        "access_key": server.access_key,
        "secret_key": server.secret_key,
    }
    fields.update(overrides)
    return S3Settings(**fields)


KEY = LogKey("data", "etl", "etl-manual-1", "load", 2)


def test_a_log_round_trips_through_a_real_s3_server_compressed_under_its_key(
    server: S3Server,
) -> None:
    store = S3LogStore(settings(server))
    data = b"".join(f"row {i}\n".encode() for i in range(20000))
    assert not store.exists(KEY)
    assert store.get(KEY) is None
    store.put(KEY, data)
    assert store.exists(KEY)
    assert store.get(KEY) == data
    assert store.location(KEY) == "s3://logs/airkube/data/etl/etl-manual-1/load/2"
    client: Any = server.client()
    raw = client.get_object(Bucket="logs", Key="airkube/data/etl/etl-manual-1/load/2")
    body = raw["Body"].read()
    assert gzip.decompress(body) == data
    assert len(body) < len(data) / 3
    # The server keeps it as a file of its posix backend: a real server, not a mock.
    assert (
        server.root / "logs" / "airkube" / "data" / "etl" / "etl-manual-1" / "load" / "2"
    ).exists()


def test_another_try_or_prefix_is_another_object(server: S3Server) -> None:
    first = S3LogStore(settings(server, prefix="a/"))
    second = S3LogStore(settings(server, prefix="b/"))
    first.put(KEY, b"from a\n")
    assert second.get(KEY) is None
    assert first.get(LogKey("data", "etl", "etl-manual-1", "load", 3)) is None


def test_a_missing_bucket_or_wrong_secret_is_one_line_naming_the_store(server: S3Server) -> None:
    with pytest.raises(LogStoreError, match=r"s3://nope/.*NoSuchBucket") as e:
        S3LogStore(settings(server, bucket="nope")).put(KEY, b"x")
    assert "\n" not in str(e.value)
    with pytest.raises(LogStoreError, match=r"SignatureDoesNotMatch|AccessDenied|InvalidAccessKey"):
        S3LogStore(settings(server, secret_key="wrong")).get(KEY)
