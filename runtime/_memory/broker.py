"""An in-process broker for tests: exchanges, queues, bindings and consumers as RabbitMQ has them.

``MemoryBroker`` routes what rpcgen publishes the way RabbitMQ routes it: topic exchanges match
``*`` (one word) and ``#`` (zero or more words), the default exchange ``""`` goes to the queue
of that name, a ``mandatory`` publish that reaches no queue is reported unroutable (the
``basic.return`` that makes ``UnknownService``). Queues keep their messages while nobody
consumes (a durable service queue outlives its server), hand them round-robin to consumers
within each consumer's prefetch, drop a message whose ``expiration`` passed before it was
delivered, and take unacked messages back when a consumer is cancelled or its connection
closed. A declare that differs from the existing queue or exchange is refused
(PRECONDITION_FAILED), as is another connection's use of an exclusive queue (RESOURCE_LOCKED).

Brokers are named: ``MemoryBroker("orders")`` is what ``memory://orders`` reaches until it is
closed; ``broker_named`` finds one or makes it on first use. Nothing is made on import.

Every method runs under the broker's one re-entrant lock, and so do the consumers' callbacks:
a callback must hand work off (as the server's queue of work does) rather than block.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from rpcgen.runtime._transport import Properties
from rpcgen.runtime.errors import RpcConnectionError

__all__ = [
    "SCHEME",
    "MemoryBroker",
    "Message",
    "Subscription",
    "broker_named",
    "topic_matches",
]

SCHEME = "memory://"

_registry: dict[str, MemoryBroker] = {}
_registry_lock = threading.RLock()


def broker_named(name: str) -> MemoryBroker:
    """The open broker called ``name``, made now if there is none (``memory://name``)."""
    with _registry_lock:
        broker = _registry.get(name)
        return broker if broker is not None else MemoryBroker(name)


def topic_matches(pattern: str, routing_key: str) -> bool:
    """Whether a topic binding ``pattern`` matches ``routing_key``, as RabbitMQ decides it."""
    return _match(pattern.split("."), 0, routing_key.split("."), 0)


def _match(pat: list[str], i: int, key: list[str], j: int) -> bool:
    while i < len(pat):
        word = pat[i]
        if word == "#":
            if i == len(pat) - 1:
                return True
            return any(_match(pat, i + 1, key, k) for k in range(j, len(key) + 1))
        if j >= len(key) or (word != "*" and word != key[j]):
            return False
        i, j = i + 1, j + 1
    return j == len(key)


class Message:
    """One message in a queue (or on its way to a consumer)."""

    __slots__ = ("body", "exchange", "expires", "properties", "routing_key")

    def __init__(
        self, exchange: str, routing_key: str, properties: Properties, body: bytes
    ) -> None:
        self.exchange = exchange
        self.routing_key = routing_key
        self.properties = properties
        self.body = body
        ttl = getattr(properties, "expiration", None)
        self.expires = None if ttl is None else time.monotonic() + int(ttl) / 1000


@dataclass(eq=False)
class Subscription:
    """A consumer of one queue: at most ``prefetch`` unacked messages (0: no limit)."""

    queue: _Queue
    prefetch: int
    on_message: Callable[[int, Message], None]
    auto_ack: bool
    owner: object
    unacked: dict[int, Message] = field(default_factory=dict)
    active: bool = True
    _tags: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def has_room(self) -> bool:
        return self.active and (self.prefetch == 0 or len(self.unacked) < self.prefetch)

    def take(self, message: Message) -> None:
        if self.auto_ack:
            self.on_message(0, message)
            return
        tag = next(self._tags)
        self.unacked[tag] = message
        self.on_message(tag, message)


@dataclass(eq=False)
class _Queue:
    name: str
    durable: bool
    exclusive: bool
    auto_delete: bool
    arguments: dict[str, object]
    owner: object
    messages: deque[Message] = field(default_factory=deque)
    consumers: list[Subscription] = field(default_factory=list)
    turn: int = 0  # round-robin position among the consumers

    def flags(self) -> tuple[bool, bool, bool, dict[str, object]]:
        return self.durable, self.exclusive, self.auto_delete, self.arguments


class MemoryBroker:
    """A broker in this process, reached by ``memory://<name>`` URIs while it is open.

    Usable as a context manager; ``close()`` fails every connection on it and frees the name.

    By default every request is served by the server's worker threads, as on a real broker.
    ``caller_runs=True`` is a faster mode: a sync call (``client.method(...)``, not
    ``call_async`` or asyncio) whose service has no other request in hand is served in the
    caller's own thread, as a borrowed worker of that service, inside a context of its own (the
    same ``Dispatcher``, reply and ack, without two thread hand-offs). Its one visible
    difference: a handler slower than the call's timeout makes the call raise ``RpcTimeout``
    when the handler returns, not when the timeout passes.
    The inspection methods (``queue_names``, ``message_count``, ``consumer_count``, ``get``)
    are for tests, like the management API of a real broker.
    """

    def __init__(self, name: str | None = None, *, caller_runs: bool = False) -> None:
        self.name = name or f"broker-{next(_names)}"
        self.caller_runs = caller_runs
        self.lock = threading.RLock()
        self._exchanges: dict[str, str] = {"": "direct"}
        self._queues: dict[str, _Queue] = {}
        self._bindings: dict[str, set[tuple[str, str]]] = {}  # exchange -> {(key, queue)}
        self._routes: dict[tuple[str, str], list[_Queue]] = {}  # cache, cleared on changes
        self._connections: set[Closable] = set()
        self._subscriptions: set[Subscription] = set()  # until their connection closes
        self.closed = False
        with _registry_lock:
            if self.name in _registry:
                raise ValueError(f"a memory broker named {self.name!r} is open already")
            _registry[self.name] = self

    @property
    def uri(self) -> str:
        """The URI that reaches this broker: ``memory://<name>``."""
        return SCHEME + self.name

    def __repr__(self) -> str:
        return f"<MemoryBroker {self.uri}>"

    def __enter__(self) -> MemoryBroker:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Fail every connection on this broker (as a lost broker would) and free its name."""
        with _registry_lock:
            if _registry.get(self.name) is self:
                del _registry[self.name]
        with self.lock:
            self.closed = True
            connections = list(self._connections)
        for connection in connections:
            connection.lose(RpcConnectionError(f"the memory broker {self.uri} was closed"))

    # -- connections ------------------------------------------------------------------------------

    def attach(self, connection: Closable) -> None:
        with self.lock:
            if self.closed:
                raise RpcConnectionError(f"the memory broker {self.uri} is closed")
            self._connections.add(connection)

    def detach(self, connection: Closable) -> None:
        """``connection`` closed: its consumers go, its exclusive queues are deleted."""
        with self.lock:
            self._connections.discard(connection)
            # Cancelled ones too: what they hold unacked goes back to its queue (RabbitMQ
            # requeues a channel's unacked deliveries when it closes).
            for sub in [s for s in self._subscriptions if s.owner is connection]:
                self._subscriptions.discard(sub)
                self.cancel(sub)
            for queue in list(self._queues.values()):
                if queue.exclusive and queue.owner is connection:
                    self.delete_queue(queue.name)

    # -- topology ---------------------------------------------------------------------------------

    def declare_exchange(self, name: str, kind: str = "topic") -> None:
        with self.lock:
            have = self._exchanges.setdefault(name, kind)
            if have != kind:
                raise _refused(f"exchange {name!r} is of type {have!r}, not {kind!r}")

    def declare_queue(
        self,
        name: str,
        *,
        durable: bool = True,
        exclusive: bool = False,
        auto_delete: bool = False,
        arguments: dict[str, object] | None = None,
        owner: object = None,
    ) -> None:
        """Declare a queue, or check that the existing one has the same flags."""
        with self.lock:
            args = dict(arguments or {})
            queue = self._queues.get(name)
            if queue is None:
                self._queues[name] = _Queue(name, durable, exclusive, auto_delete, args, owner)
                return
            if queue.exclusive and queue.owner is not owner:
                raise RpcConnectionError(
                    f"RESOURCE_LOCKED - cannot obtain exclusive access to locked queue {name!r}"
                )
            if queue.flags() != (durable, exclusive, auto_delete, args):
                raise _refused(f"queue {name!r} exists with other flags or arguments")

    def bind(self, queue: str, exchange: str, routing_key: str) -> None:
        with self.lock:
            if exchange not in self._exchanges:
                raise _not_found(f"no exchange {exchange!r}")
            if queue not in self._queues:
                raise _not_found(f"no queue {queue!r}")
            self._bindings.setdefault(exchange, set()).add((routing_key, queue))
            self._routes.clear()

    def delete_queue(self, name: str) -> None:
        with self.lock:
            queue = self._queues.pop(name, None)
            if queue is None:
                return
            for sub in list(queue.consumers):
                sub.active = False
            for bound in self._bindings.values():
                bound.difference_update({b for b in bound if b[1] == name})
            self._routes.clear()

    # -- messages ---------------------------------------------------------------------------------

    def publish(
        self,
        exchange: str,
        routing_key: str,
        properties: Properties,
        body: bytes,
        *,
        mandatory: bool = False,
    ) -> bool:
        """Route one message; False if no queue took it (a ``mandatory`` one would be returned)."""
        with self.lock:
            queues = self._routes.get((exchange, routing_key))
            if queues is None:
                queues = self._route(exchange, routing_key)
            for queue in queues:
                queue.messages.append(Message(exchange, routing_key, properties, body))
                self._pump(queue)
            return bool(queues)

    def subscribe(
        self,
        queue: str,
        prefetch: int,
        on_message: Callable[[int, Message], None],
        *,
        owner: object,
        auto_ack: bool = False,
    ) -> Subscription:
        """Consume ``queue``: ``on_message(tag, message)`` per delivery (tag 0 if ``auto_ack``)."""
        with self.lock:
            found = self._queues.get(queue)
            if found is None:
                raise _not_found(f"no queue {queue!r}")
            if found.exclusive and found.owner is not owner:
                raise RpcConnectionError(f"RESOURCE_LOCKED - queue {queue!r} is exclusive")
            sub = Subscription(found, prefetch, on_message, auto_ack, owner)
            found.consumers.append(sub)
            self._subscriptions.add(sub)
            self._pump(found)
            return sub

    def settle(self, sub: Subscription, tag: int, *, requeue: bool = False) -> bool:
        """Ack (or requeue) delivery ``tag``; False if it is no longer unacked (requeued)."""
        with self.lock:
            message = sub.unacked.pop(tag, None)
            if message is None:
                return False
            if requeue:
                sub.queue.messages.appendleft(message)
            self._pump(sub.queue)
            return True

    def cancel(self, sub: Subscription, *, requeue_unacked: bool = True) -> None:
        """Stop ``sub``; with ``requeue_unacked``, its unacked messages go back to the queue."""
        with self.lock:
            sub.active = False
            queue = sub.queue
            if sub in queue.consumers:
                queue.consumers.remove(sub)
            if requeue_unacked and sub.unacked:
                for tag in sorted(sub.unacked, reverse=True):
                    queue.messages.appendleft(sub.unacked.pop(tag))
            if self._queues.get(queue.name) is not queue:
                return  # deleted meanwhile: what was requeued went with it
            if queue.auto_delete and not queue.consumers:
                self.delete_queue(queue.name)
            else:
                self._pump(queue)

    # -- inspection (tests) -----------------------------------------------------------------------

    def queue_names(self) -> list[str]:
        with self.lock:
            return sorted(self._queues)

    def message_count(self, queue: str) -> int:
        """Messages ready in ``queue`` (not counting those delivered and unacked)."""
        with self.lock:
            return len(self._queues[queue].messages)

    def consumer_count(self, queue: str) -> int:
        with self.lock:
            return len(self._queues[queue].consumers)

    def get(self, queue: str) -> Message | None:
        """Take the next ready message off ``queue`` (``basic.get`` with auto-ack), or None."""
        with self.lock:
            messages = self._queues[queue].messages
            return messages.popleft() if messages else None

    # -- internals --------------------------------------------------------------------------------

    def _route(self, exchange: str, routing_key: str) -> list[_Queue]:
        kind = self._exchanges.get(exchange)
        if kind is None:
            raise _not_found(f"no exchange {exchange!r}")
        if exchange == "":
            queue = self._queues.get(routing_key)
            return [] if queue is None else [queue]
        names = set()
        for key, name in self._bindings.get(exchange, ()):
            topic = kind == "topic" and topic_matches(key, routing_key)
            if kind == "fanout" or key == routing_key or topic:
                names.add(name)
        queues = [self._queues[name] for name in sorted(names)]
        self._routes[(exchange, routing_key)] = queues
        return queues

    def _pump(self, queue: _Queue) -> None:
        """Hand ready messages to consumers with room, round-robin."""
        messages, consumers = queue.messages, queue.consumers
        while messages and consumers:
            count = len(consumers)
            for step in range(count):
                sub = consumers[(queue.turn + step) % count]
                if sub.has_room:
                    queue.turn = (queue.turn + step + 1) % count
                    break
            else:
                return
            message = messages.popleft()
            if message.expires is not None and message.expires <= time.monotonic():
                continue  # RabbitMQ drops a message whose TTL passed before its delivery
            sub.take(message)


class Closable:
    """What the broker asks of a connection on it (``MemoryConnection``)."""

    def lose(self, error: RpcConnectionError) -> None:
        """The broker is closed: the connection is over, as if the real one were lost."""
        raise NotImplementedError


_names = itertools.count(1)


def _refused(what: str) -> RpcConnectionError:
    return RpcConnectionError(f"PRECONDITION_FAILED - {what}")


def _not_found(what: str) -> RpcConnectionError:
    return RpcConnectionError(f"NOT_FOUND - {what}")
