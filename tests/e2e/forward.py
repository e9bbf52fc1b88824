"""A TCP forwarder the tests start so that pods on the real node reach a server of the
host that listens on loopback only (the tests' PostgreSQL): it listens on the address
the node reaches the host at, and relays each connection to the loopback one."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator


def _pipe(src: socket.socket, dst: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := src.recv(65536):
            dst.sendall(data)
    with contextlib.suppress(OSError):
        dst.shutdown(socket.SHUT_WR)


@contextlib.contextmanager
def forwarder(listen_host: str, target: tuple[str, int]) -> Iterator[int]:
    """Relay ``listen_host:<port>`` to ``target``; yields the port, closes on exit."""
    server = socket.create_server((listen_host, 0))
    server.settimeout(0.2)
    stop = threading.Event()
    open_sockets: list[socket.socket] = []

    def serve() -> None:
        while not stop.is_set():
            try:
                client, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            upstream = socket.create_connection(target)
            open_sockets.extend((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pipe, args=(a, b), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join(timeout=5)
        server.close()
        for s in open_sockets:
            s.close()
