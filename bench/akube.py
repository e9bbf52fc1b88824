"""A small asyncio Kubernetes client (aiohttp) for the benchmark harness.

It does what the harness needs and nothing more: create, get, delete objects, and watch
a collection with the receive time of every event. The ceiling baseline creates its
pods with it too: a plain client, no framework, as fast as the API server accepts them.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from kubernetes import client, config


class ApiError(Exception):
    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"HTTP {status}: {body[:300]}")
        self.status = status
        self.body = body


class AsyncKube:
    """One HTTP connection pool to the API server of a kubeconfig context."""

    def __init__(self, context: str, connections: int = 100) -> None:
        cfg = client.Configuration()
        config.load_kube_config(context=context, client_configuration=cfg)
        self.host = cfg.host.rstrip("/")
        tls = ssl.create_default_context(cafile=cfg.ssl_ca_cert)
        if cfg.cert_file:
            tls.load_cert_chain(cfg.cert_file, cfg.key_file)
        self.headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if cfg.api_key.get("authorization"):
            self.headers["Authorization"] = cfg.api_key["authorization"]
        self._tls = tls
        self._connections = connections
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(ssl=self._tls, limit=self._connections)
            self._session = aiohttp.ClientSession(
                connector=connector, headers=self.headers, timeout=aiohttp.ClientTimeout(None)
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        params: dict[str, str] | None = None,
        content_type: str | None = None,
    ) -> tuple[dict[str, Any], int]:
        """The decoded answer and its size in bytes; raises ApiError unless 2xx."""
        headers = {"Content-Type": content_type} if content_type else None
        data = None if body is None else json.dumps(body, separators=(",", ":"))
        async with self.session.request(
            method, self.host + path, data=data, params=params, headers=headers
        ) as resp:
            raw = await resp.read()
            if resp.status >= 300:
                raise ApiError(resp.status, raw.decode(errors="replace"))
            return (json.loads(raw) if raw else {}), len(raw)

    async def create(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return (await self.request("POST", path, body))[0]

    async def get(self, path: str) -> dict[str, Any]:
        return (await self.request("GET", path))[0]

    async def get_size(self, path: str) -> tuple[dict[str, Any], int]:
        return await self.request("GET", path)

    async def delete(self, path: str) -> None:
        try:
            await self.request("DELETE", path)
        except ApiError as e:
            if e.status != 404:
                raise

    async def exists(self, path: str) -> bool:
        try:
            await self.request("GET", path)
        except ApiError as e:
            if e.status == 404:
                return False
            raise
        return True

    async def watch(
        self, path: str, resource_version: str, opened: asyncio.Event | None = None
    ) -> AsyncIterator[tuple[float, str, dict[str, Any]]]:
        """(receive time, event type, object) for every change after resource_version,
        reconnecting where it left off; `opened` is set once the API server has answered
        the first watch request (its events are then on their way)."""
        rv = resource_version
        while True:
            params = {
                "watch": "1",
                "resourceVersion": rv,
                "allowWatchBookmarks": "true",
                "timeoutSeconds": "3600",
            }
            async with self.session.get(self.host + path, params=params) as resp:
                if resp.status != 200:
                    raise ApiError(resp.status, (await resp.read()).decode(errors="replace"))
                if opened is not None:
                    opened.set()
                buffer = b""
                async for chunk in resp.content.iter_any():
                    now = time.monotonic()
                    buffer += chunk
                    *lines, buffer = buffer.split(b"\n")
                    for line in lines:
                        if not line.strip():
                            continue
                        event = json.loads(line)
                        kind, obj = event["type"], event["object"]
                        if kind == "ERROR":
                            raise ApiError(obj.get("code", 500), json.dumps(obj))
                        rv = obj["metadata"]["resourceVersion"]
                        if kind != "BOOKMARK":
                            yield now, kind, obj
