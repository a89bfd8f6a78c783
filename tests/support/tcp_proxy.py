"""A tiny threaded TCP proxy for fault tests: a database that goes away and comes back.

``TcpProxy(upstream_port=5432)`` listens on a fixed loopback port (picked once, kept across
restarts) and forwards every connection to the upstream server. ``stop()`` closes the listening
socket and cuts every open connection, as a crashed or restarted database server would: new
connections are refused at once and existing ones see the socket closed. ``start()`` listens on
the same port again. ``hang()`` keeps accepting connections but never forwards a byte, like a
server that is up but frozen (or a firewall that swallows packets), and cuts the open ones.

Nothing here touches the real server: it is the only way tests stop "the database" when that
database is shared.
"""

from __future__ import annotations

import contextlib
import socket
import threading

from tests.support.processes import free_port

_CHUNK = 65536


class TcpProxy:
    def __init__(
        self, upstream_port: int, upstream_host: str = "127.0.0.1", port: int | None = None
    ) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.port = port or free_port()
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._sockets: set[socket.socket] = set()
        self._forward = True

    # --- control ---------------------------------------------------------------------------

    def start(self) -> TcpProxy:
        """Listen (again) and forward new connections upstream."""
        with self._lock:
            was_hanging, self._forward = not self._forward, True
            if self._listener is None:
                self._listen()
        if was_hanging:
            self.cut()  # connections accepted while hanging never reached the server
        return self

    def stop(self) -> None:
        """Refuse new connections and cut every open one (both directions)."""
        with self._lock:
            listener, self._listener = self._listener, None
        if listener is not None:
            _close(listener)
        self.cut()

    def hang(self) -> None:
        """Accept connections but never answer; open connections are cut."""
        with self._lock:
            self._forward = False
            if self._listener is None:
                self._listen()
        self.cut()

    def cut(self) -> None:
        """Close every open connection through the proxy."""
        with self._lock:
            sockets, self._sockets = self._sockets, set()
        for sock in sockets:
            _close(sock)

    @property
    def connections(self) -> int:
        with self._lock:
            return len(self._sockets)

    def __enter__(self) -> TcpProxy:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    # --- machinery -------------------------------------------------------------------------

    def _listen(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # the listener was closed by stop()
            with self._lock:
                if self._listener is not listener:
                    _close(client)
                    return
                self._sockets.add(client)
                forward = self._forward
            if not forward:
                continue  # hang: hold the socket open, read nothing, send nothing
            try:
                upstream = socket.create_connection(self.upstream, timeout=5)
                upstream.settimeout(None)
            except OSError:
                self._drop(client)
                continue
            with self._lock:
                self._sockets.add(upstream)
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(_CHUNK):
                dst.sendall(data)
        except OSError:
            pass
        self._drop(src)
        self._drop(dst)

    def _drop(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.discard(sock)
        _close(sock)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()
