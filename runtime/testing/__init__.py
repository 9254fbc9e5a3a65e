"""Throwaway RabbitMQ brokers for tests and benchmarks, and the ``rpcgen`` pytest plugin.

Nothing here is used by the runtime itself, and nothing here imports pytest except ``plugin``
(loaded through the ``pytest11`` entry point), so benchmarks and scripts can start a node too.

- ``node``: ``RabbitNode``, an ephemeral node from Debian's package on free ports with its own
  data folder (optionally TLS, see ``tls``); ``ExternalBroker`` for a broker someone else runs.
- ``cluster``: ``RabbitCluster``, three such nodes joined one at a time.
- ``management``: the HTTP management API (queues, bindings, consumers, vhosts).
- ``vhost``: ``Vhost``, a vhost per test with inspection helpers and message ``Spy``.
- ``memory``: ``MemoryBroker`` (``memory://NAME``: a broker in this process, no RabbitMQ), and
  ``worker_factory`` / ``entrypoint`` to call one handler alone, as a request would.
- ``redis``: ``RedisServer``, a throwaway ``redis-server`` (Debian's package) on a free loopback
  port with no persistence, for ``rpcgen.redisstore``'s tests and benchmark.
- ``plugin``: the fixtures (``rabbit_node``, ``rabbit_vhost``, ``amqp_uri``, ``memory_broker``,
  ``rpc_transport``, ``rpc_uri``, ``redis_url``, ...).

See ``docs/wire.md`` ("Throwaway brokers") for what the nodes rely on.
"""

from rpcgen.runtime.testing.cluster import RabbitCluster
from rpcgen.runtime.testing.management import Binding, BrokerError, QueueConsumer, QueueInfo
from rpcgen.runtime.testing.memory import TRANSPORTS, MemoryBroker, entrypoint, worker_factory
from rpcgen.runtime.testing.node import Broker, ExternalBroker, RabbitNode
from rpcgen.runtime.testing.redis import RedisServer, RedisServerError
from rpcgen.runtime.testing.tls import TlsFiles
from rpcgen.runtime.testing.vhost import SpiedMessage, Spy, Vhost

__all__ = [
    "TRANSPORTS",
    "Binding",
    "Broker",
    "BrokerError",
    "ExternalBroker",
    "MemoryBroker",
    "QueueConsumer",
    "QueueInfo",
    "RabbitCluster",
    "RabbitNode",
    "RedisServer",
    "RedisServerError",
    "SpiedMessage",
    "Spy",
    "TlsFiles",
    "Vhost",
    "entrypoint",
    "worker_factory",
]
