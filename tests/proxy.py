"""
A real TCP proxy between the app and Redis, for fault tests: it can cut every
connection (and refuse new ones), hold traffic (a hang: clients time out), or
delay it; and restore. Redis itself keeps its data throughout.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
import time


class RedisProxy:
    def __init__(
        self,
        *,
        host: str | None = None,
        port: int | None = None,
        unix: str | None = None,
    ):
        self.target = (host, port, unix)
        self.mode = "pass"  # pass | cut | hang
        self.delay = 0.0
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(128)
        self.port = self.listener.getsockname()[1]
        self._running = True
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def _upstream(self) -> socket.socket:
        host, port, unix = self.target
        if unix:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.connect(unix)
        else:
            sock = socket.create_connection((host, port))
        return sock

    def _accept(self) -> None:
        while self._running:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.mode == "cut":
                client.close()
                continue
            try:
                upstream = self._upstream()
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns += [client, upstream]
            threading.Thread(
                target=self._pump, args=(client, upstream), daemon=True
            ).start()

    def _pump(self, a: socket.socket, b: socket.socket) -> None:
        peers = {a: b, b: a}
        try:
            while self._running:
                readable, _, _ = select.select(list(peers), [], [], 0.1)
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    while self.mode == "hang" and self._running:
                        time.sleep(0.01)
                    if self.mode == "cut":
                        return
                    if self.delay:
                        time.sleep(self.delay)
                    peers[sock].sendall(data)
        except (OSError, ValueError):  # ValueError: select() on a socket cut() closed
            return
        finally:
            for sock in (a, b):
                with contextlib.suppress(OSError):
                    sock.close()

    def cut(self) -> None:
        """Drop every connection and refuse new ones (a network cut)."""
        self.mode = "cut"
        with self._lock:
            conns, self._conns = self._conns, []
        for sock in conns:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
                sock.close()

    def hang(self) -> None:
        """Accept and hold traffic without answering (clients time out)."""
        self.mode = "hang"

    def restore(self) -> None:
        self.mode = "pass"
        self.delay = 0.0

    def close(self) -> None:
        self._running = False
        self.cut()
        self.listener.close()
