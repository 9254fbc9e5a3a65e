"""Serving a queue: deliveries handed to workers, replies confirmed before requests are acked.

A ``Consumer`` consumes one service queue on its own confirm channel of a ``Connection``, with a
prefetch limit. Each reply is published on that channel and the request it answers is acked
only when the reply's publisher confirm arrives, as Nameko does: a request whose reply was not
confirmed goes back to the queue if the connection is lost. Replies are published by the worker
thread itself under the connection's I/O lock (see ``connection``), so answering costs no
hand-over to another thread.

When the connection is lost, the broker requeues every request not yet acked, and delivery
tags die with their channel: replies to requests of a lost channel are dropped, never acked on
a new channel (the redelivered request is answered instead: at-least-once, as Nameko). Once
reconnected, the consumer declares, binds and consumes again on a new channel; a channel the
broker closes while connected is reopened the same way after a second.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from pika import exceptions as pika_errors
from pika.spec import Basic
from rpcgen.runtime import _topology as topology
from rpcgen.runtime._amqp import frames
from rpcgen.runtime._amqp.confirms import Confirms
from rpcgen.runtime._amqp.contract import ChannelHost
from rpcgen.runtime._amqp.pikatypes import Pika
from rpcgen.runtime._transport import Delivery, Properties, Reply
from rpcgen.runtime.errors import RpcConnectionError

__all__ = ["Consumer"]

log = logging.getLogger(__name__)


class Consumer:
    """A service queue consumed on its own confirm channel; replies go out on the same channel.

    ``reply``, ``ack`` and ``stop`` may be called from any thread. ``drained`` is set once the
    consumer is stopped and every request it received has been settled (acked after its
    reply's confirm, or acked without a reply), or once the connection is lost (the broker then
    redelivers whatever was not acked).
    """

    def __init__(
        self,
        host: ChannelHost,
        queue: str,
        declare: Sequence[topology.Step],
        prefetch: int,
        on_delivery: Callable[[Delivery], None],
        on_lost: Callable[[RpcConnectionError], None] | None = None,
    ) -> None:
        self._host = host
        self._declare = list(declare)  # the queue and its bindings (``topology.declare_steps``)
        self._setup_timer: Any = None  # bounds the set-up of each new channel
        self._on_lost = on_lost
        self.queue = queue
        self._prefetch = prefetch
        self._on_delivery = on_delivery
        self._channel: Pika = None
        self._tag: str | None = None
        self._confirms: Confirms[int] = Confirms()
        self._unsettled = 0
        self._epoch = 0  # counts the channels opened: a delivery's tag is valid on its own only
        self._stopped = False
        self._opening = False  # a channel was asked for and has not opened yet
        self.error: RpcConnectionError | None = None
        self.ready = threading.Event()
        self.drained = threading.Event()

    def reply(
        self,
        delivery_tag: int,
        routing_key: str,
        properties: Properties,
        body: bytes,
        epoch: int | None = None,
        exchange: str | None = None,
    ) -> None:
        """Publish a reply and ack request ``delivery_tag`` once the reply is confirmed.

        ``epoch`` is the request's ``Delivery.epoch`` (None: the current channel's);
        ``exchange`` defaults to the connection's (a dead letter goes to ``""``).
        """
        post = partial(
            self._publish_reply, delivery_tag, epoch, routing_key, properties, body, exchange
        )
        self._host.post(post)

    def reply_all(self, replies: Sequence[Reply]) -> None:
        """Several ``reply`` (or ``ack``, for a None body) at once: one hand-over to the I/O
        lock, one write for all of them (the async runner's replies of one loop iteration)."""
        self._host.post(partial(self._reply_all, replies))

    def _reply_all(self, replies: Sequence[Reply]) -> None:
        for tag, epoch, routing_key, properties, body in replies:
            if body is None or properties is None:
                self._ack(tag, epoch)
            else:
                self._publish_reply(tag, epoch, routing_key, properties, body, None)

    def ack(self, delivery_tag: int, epoch: int | None = None) -> None:
        """Ack a request that gets no reply."""
        self._host.post(partial(self._ack, delivery_tag, epoch))

    def requeue(self, delivery_tag: int, epoch: int | None = None) -> None:
        """Give a delivery back to its queue (an event handler's ``requeue_on_error``)."""
        self._host.post(partial(self._requeue, delivery_tag, epoch))

    @property
    def consuming(self) -> bool:
        """Whether deliveries can arrive now: the broker confirmed the consumer on the current
        channel (false while reconnecting, once stopped, or after a final failure)."""
        return self._tag is not None and not self._stopped and self.error is None

    def stop(self) -> None:
        """Stop taking requests; those already received are still settled."""
        self._host.post(self._cancel)

    # -- ChannelUser: what the connection asks (under the I/O lock, contract.py) ------------------

    def attach(self) -> None:
        """Start (again) on a new channel, once connected and unless stopped."""
        if self._channel is None and not self._opening and not self._stopped and not self.error:
            self._opening = self._host.open_channel(self._on_channel_open)
            if self._opening:
                self._arm_setup_deadline()

    def detach(self) -> None:
        """The connection is gone: whatever this channel delivered is requeued by the broker."""
        self._disarm_setup_deadline()
        self._channel = None
        self._opening = False
        self._tag = None
        self._confirms = Confirms()
        self._unsettled = 0
        if self._host.closing:  # closed on purpose: nothing went wrong, nothing left to wait for
            self.ready.set()
            self.drained.set()
        self._check_drained()

    def fail(self, error: RpcConnectionError) -> None:
        """The connection is over for good."""
        self._disarm_setup_deadline()
        if self.error is None:
            self.error = error
            if self._on_lost is not None:
                self._on_lost(error)
        self.ready.set()
        self.drained.set()

    # -- setting up, under the I/O lock -----------------------------------------------------------

    def _arm_setup_deadline(self) -> None:
        self._disarm_setup_deadline()
        self._setup_timer = self._host.call_later(self._host.setup_timeout, self._setup_stalled)

    def _disarm_setup_deadline(self) -> None:
        if self._setup_timer is not None:
            self._host.cancel(self._setup_timer)
            self._setup_timer = None

    def _setup_stalled(self) -> None:
        """The broker did not finish our set-up in time: the connection is dropped and retried."""
        self._setup_timer = None
        limit = self._host.setup_timeout
        self._host.drop(RpcConnectionError(f"no answer within {limit:g} s setting up {self.queue}"))

    def _on_channel_open(self, channel: Pika) -> None:
        self._opening = False
        if self._stopped or self.error is not None or self._channel is not None:
            self._disarm_setup_deadline()
            channel.close()  # not wanted any more, or one is open already
            return
        self._channel = channel
        self._epoch += 1
        channel.add_on_close_callback(self._on_channel_closed)
        steps = [
            *self._declare,
            topology.confirms(self._on_confirm),
            topology.qos(self._prefetch),
            topology.consume(self.queue, self._on_message, self._set_tag),
        ]
        topology.run(channel, steps, lambda: self._consuming(channel))

    def _set_tag(self, tag: str) -> None:
        self._tag = tag

    def _consuming(self, channel: Pika) -> None:
        if channel is self._channel:
            self._disarm_setup_deadline()
            self.ready.set()

    def _on_message(self, _ch: Pika, deliver: Pika, props: Pika, body: bytes) -> None:
        self._unsettled += 1
        delivery = Delivery(deliver.delivery_tag, deliver.routing_key, props, body, self._epoch)
        self._on_delivery(delivery)

    def _current(self, epoch: int | None) -> bool:
        """Whether a request of channel ``epoch`` can still be settled (its channel is open)."""
        if self._channel is None or not self._channel.is_open:
            return False
        return epoch is None or epoch == self._epoch

    def _publish_reply(
        self,
        tag: int,
        epoch: int | None,
        routing_key: str,
        props: Properties,
        body: bytes,
        exchange: str | None,
    ) -> None:
        if not self._current(epoch):
            log.info("dropped a reply to a request of a lost channel: it is redelivered")
            return
        # Not mandatory: a reply nobody waits for any more is dropped, as Nameko does.
        target = self._host.exchange if exchange is None else exchange
        frames.publish(self._channel, target, routing_key, body, props)
        self._confirms.add(tag)

    def _on_confirm(self, frame: Pika) -> None:
        method = frame.method
        ok = not isinstance(method, Basic.Nack)
        for tag in self._confirms.take(method.delivery_tag, method.multiple):
            if not ok:
                log.error("RabbitMQ refused a reply (nack); requeueing its request")
            self._settle(tag, ok)

    def _ack(self, tag: int, epoch: int | None) -> None:
        if self._current(epoch):
            self._settle(tag, True)

    def _requeue(self, tag: int, epoch: int | None) -> None:
        if self._current(epoch):
            self._settle(tag, False)

    def _settle(self, tag: int, ok: bool) -> None:
        if self._channel is None or not self._channel.is_open:
            return
        if ok:
            self._channel.basic_ack(tag)
        else:
            self._channel.basic_nack(tag, requeue=True)
        self._unsettled -= 1
        self._check_drained()

    def _cancel(self) -> None:
        self._stopped = True
        if self._tag is None or self._channel is None or not self._channel.is_open:
            self._tag = None
            self._check_drained()
            return
        tag, self._tag = self._tag, None
        self._channel.basic_cancel(tag, callback=lambda _f: self._check_drained())

    def _check_drained(self) -> None:
        if self._stopped and self._tag is None and self._unsettled == 0:
            self.drained.set()

    def _on_channel_closed(self, channel: Pika, reason: BaseException) -> None:
        if channel is not self._channel:
            return
        self.detach()
        if self._host.closing or not isinstance(reason, pika_errors.ChannelClosedByBroker):
            # Closed on purpose, or the connection itself went (a TCP loss is a StreamLostError,
            # not a ConnectionClosed): the connection reconnects and attaches us again.
            return
        error = RpcConnectionError(f"RabbitMQ closed the {self.queue} channel: {reason}")
        if not self.ready.is_set():  # refused at start (e.g. queue arguments differ): final
            self.fail(error)
            return
        log.warning("%s; reopening it in 1 s", error)
        self._host.call_later(1.0, self.attach)
