"""The ``Broker`` surface the fixtures use, a broker someone else runs, and port and epmd helpers.

Stdlib only (no pika), like the rest of ``rpcgen.runtime.testing`` except its ``plugin``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path
from urllib.parse import quote, urlsplit

from rpcgen.runtime.testing.management import BrokerError, Management, QueueConsumer, QueueInfo

__all__ = ["Broker", "ExternalBroker", "free_port", "kill_epmd", "vhost_uri", "wait_gone"]


def free_port() -> int:
    """A port that was free on 127.0.0.1 a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_gone(pid: int, timeout: float) -> None:
    """Wait until ``pid`` has exited and released its files and ports."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            # beam is multi-threaded: its main thread turns zombie while other threads may still
            # hold the shared files and sockets, so wait until it is the last thread left.
            if state in ("Z", "X") and os.listdir(f"/proc/{pid}/task") == [str(pid)]:
                return
        except (OSError, IndexError):
            return
        time.sleep(0.01)
    raise BrokerError(f"process {pid} still alive {timeout}s after SIGKILL")


def kill_epmd(port: int) -> None:
    """Stop the private epmd on ``port`` once no node is registered with it any more."""
    # epmd refuses while it still lists a node, which it drops a moment after the node dies.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            done = subprocess.run(
                ["epmd", "-port", str(port), "-kill"],
                capture_output=True,
                text=True,
                timeout=5,
                check=False,
            )
        except (OSError, subprocess.SubprocessError):
            return
        if done.returncode == 0 or "living nodes" not in done.stdout + done.stderr:
            return  # killed, or not running at all
        time.sleep(0.05)


def vhost_uri(base_uri: str, vhost: str) -> str:
    """``base_uri`` with its path replaced by the quoted ``vhost``."""
    parts = urlsplit(base_uri)
    return f"{parts.scheme}://{parts.netloc}/{quote(vhost, safe='')}"


class Broker:
    """What the fixtures need from a broker: an AMQP URI, the management API, vhosts and users."""

    uri: str  # amqp://guest:guest@host:port/ (vhost "/")
    management: Management

    def vhost_uri(self, vhost: str) -> str:
        return vhost_uri(self.uri, vhost)

    def add_vhost(self, name: str) -> str:
        """Create ``name``, give guest full rights on it, and return its AMQP URI."""
        self.management.add_vhost(name)
        self.management.set_permissions(name, "guest")
        return self.vhost_uri(name)

    def delete_vhost(self, name: str) -> None:
        """Delete ``name`` with its queues and close its connections; a missing vhost is fine."""
        self.management.delete_vhost(name)

    def add_user(
        self,
        name: str,
        password: str,
        *,
        vhost: str | None = None,
        perms: tuple[str, str, str] = (".*", ".*", ".*"),
    ) -> None:
        """Create a user; with ``vhost``, grant it ``perms`` (configure, write, read) there."""
        self.management.add_user(name, password)
        if vhost is not None:
            self.management.set_permissions(vhost, name, *perms)

    def list_queues(self, vhost: str) -> list[QueueInfo]:
        """Queues of ``vhost`` (from management statistics; a local node answers exactly)."""
        return self.management.queues(vhost)

    def list_consumers(self, vhost: str) -> list[QueueConsumer]:
        """Consumers in ``vhost`` (from management statistics; a local node answers exactly)."""
        return self.management.consumers(vhost)


class ExternalBroker(Broker):
    """A broker somebody else runs, e.g. ``RPCGEN_TEST_AMQP_URI`` + ``RPCGEN_TEST_MGMT_URL``."""

    def __init__(self, uri: str, management_url: str) -> None:
        self.uri = vhost_uri(uri, "/")
        self.management = Management(management_url)

    def __repr__(self) -> str:
        return f"ExternalBroker({self.management.safe_url})"
