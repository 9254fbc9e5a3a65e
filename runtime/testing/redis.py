"""A throwaway Redis server for tests and benchmarks (stdlib only, no redis-py).

``RedisServer`` runs Debian's ``redis-server`` on a free loopback port with a folder of its own
and no persistence (no RDB snapshots, no append-only file), so parallel sessions never meet and
nothing outlives ``close()``.
"""

from __future__ import annotations

import atexit
import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from rpcgen.runtime.testing.broker import free_port

__all__ = ["REDIS_SERVER", "RedisServer", "RedisServerError"]

#: Where Debian's ``redis-server`` package puts the server.
REDIS_SERVER = Path("/usr/bin/redis-server")


class RedisServerError(RuntimeError):
    """The server is missing, or did not answer PING in time."""


class RedisServer:
    """One ephemeral ``redis-server`` on 127.0.0.1; ``url`` is ``redis://127.0.0.1:PORT/0``.

    Use it as a context manager, or call ``close()``: the server is stopped and its folder
    removed.
    """

    def __init__(self, *, boot_timeout: float = 20.0, executable: Path = REDIS_SERVER) -> None:
        if not executable.exists():
            raise RedisServerError(f"{executable} not found: install Debian's redis-server package")
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.dir = Path(tempfile.mkdtemp(prefix="rpcgen-redis-"))
        self._closed = False
        args = [
            str(executable),
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", str(self.dir),
            "--save", "",
            "--appendonly", "no",
            "--daemonize", "no",
            "--logfile", str(self.log_path),
        ]  # fmt: skip
        try:
            self._proc = subprocess.Popen(
                args,
                cwd=self.dir,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        except BaseException:
            shutil.rmtree(self.dir, ignore_errors=True)
            raise
        atexit.register(self.close)
        try:
            self._wait_ping(boot_timeout)
        except BaseException:
            self.close()
            raise

    @property
    def log_path(self) -> Path:
        return self.dir / "redis.log"

    @property
    def running(self) -> bool:
        return self._proc.poll() is None

    def ping(self) -> bool:
        """Whether the server answers ``PING`` with ``+PONG`` now."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def _wait_ping(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not self.ping():
            if not self.running:
                raise RedisServerError(f"redis-server exited at start:\n{self._log_tail()}")
            if time.monotonic() >= deadline:
                raise RedisServerError(f"redis-server did not answer PING within {timeout}s")
            time.sleep(0.01)

    def _log_tail(self) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-20:])
        return "(no log)"

    def close(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 10 s) and remove its folder."""
        if self._closed:
            return
        self._closed = True
        atexit.unregister(self.close)
        if self.running:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> RedisServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
