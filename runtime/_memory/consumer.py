"""``MemoryConsumer``: a queue consumed on a memory broker, with the face of ``Consumer``.

Deliveries are handed to the runner (``on_delivery``) in the publishing thread, under the
broker's lock; a reply is published and its request acked in one step (a memory broker confirms
at once). ``caller`` carries, per thread, a sync caller's offer to serve its own request
(``MemoryBroker.caller_runs``). ``Declarer`` is the part of a pika channel that ``_topology``'s
declare steps call, applied to the broker.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING

from rpcgen.runtime._memory.broker import MemoryBroker, Message, Subscription
from rpcgen.runtime._transport import Delivery, Properties, Reply
from rpcgen.runtime.errors import RpcConnectionError

if TYPE_CHECKING:
    from rpcgen.runtime._memory.connection import MemoryConnection

__all__ = ["Declarer", "MemoryConsumer", "caller"]

log = logging.getLogger(__name__)


class MemoryConsumer:
    """A queue consumed on a memory broker; the same face as ``_amqp.consumer.Consumer``."""

    def __init__(
        self,
        connection: MemoryConnection,
        queue: str,
        on_delivery: Callable[[Delivery], None],
        on_lost: Callable[[RpcConnectionError], None] | None = None,
        serve_in_caller: Callable[[Delivery], None] | None = None,
    ) -> None:
        self._connection = connection
        self._broker = connection.broker
        self.queue = queue
        self._on_delivery = on_delivery
        self._on_lost = on_lost
        self._serve_in_caller = serve_in_caller
        self._sub: Subscription | None = None
        self._stopped = False
        self.error: RpcConnectionError | None = None
        self.ready = threading.Event()
        self.drained = threading.Event()

    @property
    def consuming(self) -> bool:
        """Whether deliveries can arrive now (subscribed, not stopped, not failed)."""
        return self._sub is not None and not self._stopped and self.error is None

    def subscribe(self, prefetch: int) -> None:
        sub = self._broker.subscribe(self.queue, prefetch, self._deliver, owner=self._connection)
        self._sub = sub
        self.ready.set()

    def reply(
        self,
        delivery_tag: int,
        routing_key: str,
        properties: Properties,
        body: bytes,
        epoch: int | None = None,
        exchange: str | None = None,
    ) -> None:
        """Publish a reply (not mandatory: nobody waiting drops it) and ack its request."""
        with self._broker.lock:
            sub = self._sub
            if sub is None or delivery_tag not in sub.unacked:
                log.info("dropped a reply to a request of a lost channel: it is redelivered")
                return
            target = self._connection.exchange if exchange is None else exchange
            try:
                props = self._connection.as_received(properties)
                self._broker.publish(target, routing_key, props, body)
            except Exception:
                log.exception("cannot publish a reply to %s; requeueing its request", routing_key)
                self._settle(delivery_tag, requeue=True)
                return
            self._settle(delivery_tag, requeue=False)

    def reply_all(self, replies: Sequence[Reply]) -> None:
        """Several ``reply`` (or ``ack``, for a None body) at once."""
        for tag, epoch, routing_key, properties, body in replies:
            if body is None or properties is None:
                self.ack(tag, epoch)
            else:
                self.reply(tag, routing_key, properties, body, epoch)

    def ack(self, delivery_tag: int, epoch: int | None = None) -> None:
        with self._broker.lock:
            self._settle(delivery_tag, requeue=False)

    def requeue(self, delivery_tag: int, epoch: int | None = None) -> None:
        with self._broker.lock:
            self._settle(delivery_tag, requeue=True)

    def stop(self) -> None:
        """Stop taking deliveries; those received are still settled (then ``drained``)."""
        with self._broker.lock:
            self._stopped = True
            if self._sub is not None:
                self._broker.cancel(self._sub, requeue_unacked=False)
            self._check_drained()

    def ended(self, error: RpcConnectionError | None) -> None:
        """The connection closed (``error`` None) or was lost: nothing is left to settle."""
        if error is not None and self.error is None:
            self.error = error
            if self._on_lost is not None:
                self._on_lost(error)
        self.ready.set()
        self.drained.set()

    def _deliver(self, tag: int, message: Message) -> None:
        if not self._connection.is_open:
            return
        delivery = Delivery(tag, message.routing_key, message.properties, message.body)
        sub, serve = self._sub, self._serve_in_caller
        if serve is not None and caller.waiting and sub is not None and len(sub.unacked) == 1:
            # The caller waits for this reply and the service has nothing else in hand: the
            # caller's thread serves it as a borrowed worker (see ``MemoryBroker.caller_runs``).
            caller.waiting = False
            caller.run_here = partial(serve, delivery)
            return
        self._on_delivery(delivery)

    def _settle(self, tag: int, *, requeue: bool) -> None:
        if self._sub is not None:
            self._broker.settle(self._sub, tag, requeue=requeue)
        self._check_drained()

    def _check_drained(self) -> None:
        sub = self._sub
        gone = not self._connection.is_open
        if gone or (self._stopped and (sub is None or not sub.unacked)):
            self.drained.set()


class Declarer:
    """The part of a pika channel that ``_topology`` declare steps call, applied to the broker."""

    def __init__(self, broker: MemoryBroker, owner: MemoryConnection) -> None:
        self._broker = broker
        self._owner = owner

    def exchange_declare(
        self, name: str, *, exchange_type: str, callback: Callable[[None], None], **_flags: object
    ) -> None:
        self._broker.declare_exchange(name, exchange_type)
        callback(None)

    def queue_declare(
        self,
        name: str,
        *,
        durable: bool,
        exclusive: bool,
        auto_delete: bool,
        arguments: dict[str, object] | None,
        callback: Callable[[None], None],
    ) -> None:
        self._broker.declare_queue(
            name,
            durable=durable,
            exclusive=exclusive,
            auto_delete=auto_delete,
            arguments=arguments,
            owner=self._owner,
        )
        callback(None)

    def queue_bind(
        self, queue: str, exchange: str, *, routing_key: str, callback: Callable[[None], None]
    ) -> None:
        self._broker.bind(queue, exchange, routing_key)
        callback(None)


class _Caller(threading.local):
    """Per thread: whether a sync caller publishing now will wait for the reply at once, and
    the request it is to serve itself (set by the consumer that took it)."""

    waiting = False
    run_here: Callable[[], None] | None = None


caller = _Caller()
