"""A throwaway RabbitMQ cluster on loopback (docs/wire.md §10.3), for failover tests.

The nodes are ordinary ``RabbitNode``s that share an Erlang cookie and a private epmd: they boot
in parallel, then every node but the first joins the first, one at a time (stop_app,
join_cluster, start_app), retrying a failed join after a reset.
About 15 s and 450 MB for three nodes on two cores.
"""

from __future__ import annotations

import json
import secrets
import time
from types import TracebackType

from rpcgen.runtime.testing.broker import free_port, kill_epmd, vhost_uri
from rpcgen.runtime.testing.management import BrokerError
from rpcgen.runtime.testing.node import RabbitNode

__all__ = ["RabbitCluster"]

_JOIN_ATTEMPTS = 3


class RabbitCluster:
    """``size`` clustered nodes; ``nodes[i]`` can be stopped, killed and started on its own.

    A restarted member rejoins by itself. ``close()`` removes every node, folder and the epmd.
    """

    def __init__(self, size: int = 3, *, management: bool = False, boot_timeout: float = 120.0):
        if size < 2:
            raise ValueError("a cluster needs at least 2 nodes")
        self.epmd_port = free_port()
        cookie = secrets.token_hex(16)
        self.nodes: list[RabbitNode] = []
        try:
            for _ in range(size):
                node = RabbitNode(
                    management=management,
                    boot_timeout=boot_timeout,
                    cookie=cookie,
                    epmd_port=self.epmd_port,
                    boot=False,
                )
                self.nodes.append(node)
            for node in self.nodes:
                node.launch()
            for node in self.nodes:
                node.wait_booted()
            self._join()
            self.ctl("await_online_nodes", str(size), "--timeout", "60")
        except BaseException:
            self.close()
            raise

    @property
    def uris(self) -> list[str]:
        """One AMQP URI (vhost "/") per node, in node order."""
        return [node.uri for node in self.nodes]

    def vhost_uris(self, vhost: str) -> list[str]:
        return [vhost_uri(node.uri, vhost) for node in self.nodes]

    def ctl(self, *args: str) -> str:
        """``rabbitmqctl`` against the first running node."""
        return self._any_running().ctl(*args)

    def running_nodes(self) -> list[str]:
        """Names of the nodes the cluster sees running (``cluster_status``)."""
        status = json.loads(self.ctl("cluster_status", "--formatter", "json"))
        return sorted(status["running_nodes"])

    def add_vhost(self, name: str) -> list[str]:
        """Create ``name`` (cluster-wide), give guest full rights; return its URI on each node."""
        self.ctl("add_vhost", name)
        self.ctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
        return self.vhost_uris(name)

    def close(self) -> None:
        for node in self.nodes:
            node.close()
        kill_epmd(self.epmd_port)  # the nodes share it, so none of them owns it

    def _join(self) -> None:
        # One node at a time: joining two at once raced in Mnesia's schema copy on a CI run
        # ({aborted, {shutdown, ... sync_dump_log, schema_prepare}}); sequential costs ~1 s more.
        first = self.nodes[0].nodename
        for node in self.nodes[1:]:
            node.ctl("stop_app")
            for attempt in range(1, _JOIN_ATTEMPTS + 1):
                try:
                    node.ctl("join_cluster", first)
                    break
                except BrokerError:
                    if attempt == _JOIN_ATTEMPTS:
                        raise
                    node.ctl("reset")  # a failed join can leave a half-copied schema behind
                    time.sleep(0.5 * attempt)
            node.ctl("start_app")

    def _any_running(self) -> RabbitNode:
        for node in self.nodes:
            if node.running:
                return node
        raise BrokerError("no node of the cluster is running")

    def __enter__(self) -> RabbitCluster:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"RabbitCluster({', '.join(n.nodename for n in self.nodes)})"
