"""The client side of a connection: requests out, confirms and returns, replies in, deadlines.

A request is published on the connection's confirm channel with ``mandatory=True``. Confirms
are tracked by delivery tag (honouring ``multiple``) and never waited for: RabbitMQ sends
``basic.return`` before the ``basic.ack`` of an unroutable mandatory publish, so the return
alone fails exactly that call with ``UnknownService`` (found through the correlation id in the
returned properties). Replies arrive on the connection's one reply queue and are matched by
correlation id; unknown ids (late replies, duplicates) are acked and dropped. Deadlines sit in
one heap (``_calls.CallTable``) served by one loop timer armed at the earliest of them.

Across a reconnect: a call whose request was confirmed keeps waiting (its reply lands in the
durable reply queue); one whose request was not confirmed is published again with the same
correlation id (at-least-once: the caller sees one reply, later ones are dropped); one made
while disconnected waits, within its timeout. If the reply queue vanished meanwhile, the calls
waiting on it fail and a new one is used (``reply_queue_gone``). Everything here runs under the
connection's I/O lock.
"""

from __future__ import annotations

import logging
import math
import time
import uuid
from collections.abc import Callable
from typing import Any

from pika import exceptions as pika_errors
from pika.spec import Basic
from rpcgen.runtime import _topology as topology
from rpcgen.runtime._amqp import frames
from rpcgen.runtime._amqp.confirms import Confirms
from rpcgen.runtime._amqp.ioloop import DriverLoop
from rpcgen.runtime._amqp.pikatypes import Pika
from rpcgen.runtime._calls import CallTable
from rpcgen.runtime._codec import wire
from rpcgen.runtime._transport import PendingCall
from rpcgen.runtime.errors import ReplyQueueExpired, RpcConnectionError, UnknownService

__all__ = ["MAX_NACKS", "ClientSide"]

log = logging.getLogger(__name__)

MAX_NACKS = 3
"""Publishes of one request RabbitMQ may refuse before the call fails."""
_PUBLISH_LOST = (pika_errors.ChannelWrongStateError, pika_errors.ConnectionWrongStateError)


class ClientSide:
    """Calls in flight on one connection and the reply queue they are answered on."""

    def __init__(
        self,
        loop: DriverLoop,
        *,
        exchange: str,
        client_name: str,
        max_message_bytes: int,
        reply_queue_ttl_ms: int,
        retry_nacks: bool,
        drop: Callable[[RpcConnectionError], None],
        describe: Callable[[], str],
    ) -> None:
        self._loop = loop
        self._exchange = exchange
        self._client_name = client_name
        self._ttl_ms = reply_queue_ttl_ms
        self._retry_nacks = retry_nacks
        self._drop_connection = drop
        self._uri = describe
        self.reply_to = str(uuid.uuid4())
        self.reply_queue = wire.reply_queue_name(client_name, self.reply_to)
        self.channel: Pika = None  # set while calls can be published
        self.failure: RpcConnectionError | None = None  # set once calls can never succeed
        self.down_since: float | None = None  # Unix time the channel was lost, while it is
        self.calls = CallTable(max_message_bytes)  # waiting for their reply (or confirm)
        self._unsent: list[PendingCall] = []  # to publish once (re)connected
        self._confirms: Confirms[PendingCall] = Confirms()
        self._timer: Any = None  # the loop timer at the earliest deadline
        self._armed_at = math.inf
        self._reply_ack_tag = 0
        self._replies_unacked = 0
        self._ack_timer_set = False
        self._declared: set[str] = set()  # event exchanges declared on this channel
        self._declaring: dict[str, list[PendingCall]] = {}  # events waiting for their exchange

    # -- the reply side's topology and its life ---------------------------------------------------

    def steps(self, reply_queue: bool) -> list[topology.Step]:
        """Confirm mode; the reply queue (durable, ``x-expires``), its binding and consumer."""
        steps = [topology.confirms(self._on_confirm)]
        if reply_queue:
            steps += [
                topology.queue(self.reply_queue, arguments={"x-expires": self._ttl_ms}),
                topology.bind(self.reply_queue, self._exchange, self.reply_to),
                topology.consume(self.reply_queue, self._on_reply),
            ]
        return steps

    def on_return(self, _ch: Pika, _method: Pika, props: Pika, _body: bytes) -> None:
        # Arrives before the publish's ack: no queue is bound for this service at all.
        call = self.calls.pop(props.correlation_id)
        if call is not None:
            call.finish(b"", UnknownService(call.method.service))

    def up(self, channel: Pika) -> None:
        """The channel is declared: send what waited for it."""
        self.channel = channel
        self.down_since = None
        unsent, self._unsent = self._unsent, []
        for call in unsent:
            if not call.done:
                self._send(call)

    def down(self) -> int:
        """The channel is gone: unconfirmed requests are sent again; returns how many."""
        self.channel = None
        if self.down_since is None:
            self.down_since = time.time()
        self._declared.clear()  # declared again on the next channel, before the first publish
        for waiting in self._declaring.values():
            self._unsent.extend(waiting)
        self._declaring.clear()
        self._reply_ack_tag = self._replies_unacked = 0  # delivery tags die with the channel
        # Unconfirmed requests may or may not have reached a queue: send them again.
        resend = [call for call in self._confirms.drain() if not call.done]
        self._unsent = resend + [call for call in self._unsent if not call.done]
        return len(resend)

    def reply_queue_gone(self, why: str) -> None:
        """Fail the calls whose replies went to a vanished reply queue; use a new one."""
        old = self.reply_queue
        if "down or inaccessible" in why:
            error: RpcConnectionError = RpcConnectionError(
                f"the reply queue {old} is on a RabbitMQ node that is down: its replies are lost"
            )
        else:
            error = ReplyQueueExpired(
                f"the reply queue {old} expired while disconnected: its replies are lost"
            )
        unsent = {call.correlation_id for call in self._unsent}
        pending = self.calls.pending
        waiting = [c for cid, c in pending.items() if cid not in unsent]
        for call in waiting:
            del pending[call.correlation_id]
            call.finish(b"", error)
        self.reply_to = str(uuid.uuid4())
        self.reply_queue = wire.reply_queue_name(self._client_name, self.reply_to)
        log.warning(
            "%s (%d calls failed); new reply queue %s", error, len(waiting), self.reply_queue
        )

    def fail_all(self, error: RpcConnectionError) -> None:
        """Nothing will be answered any more: fail every call."""
        if self.failure is None:
            self.failure = error
        self._unsent = []
        self._disarm()
        self.calls.fail_all(error)

    # -- calls ------------------------------------------------------------------------------------

    def submit(self, call: PendingCall) -> None:
        if self.failure is not None:
            call.finish(b"", self.failure)
            return
        if call.done:  # forgotten before it could be sent
            return
        if self.calls.add(call):  # the earliest deadline now: the timer moves to it
            self._arm(call.deadline)
        if self.channel is not None:
            self._send(call)
        else:  # reconnecting: sent once reconnected, unless its deadline passes first
            self._unsent.append(call)

    def drop(self, call: PendingCall) -> None:
        self.calls.pop(call.correlation_id)

    def _send(self, call: PendingCall) -> None:
        exchange = call.exchange
        if exchange is None:
            call.properties.reply_to = self.reply_to  # the reply queue may be new since the call
        elif exchange not in self._declared:
            self._declare_then_send(exchange, call)
            return
        if self._reply_ack_tag:
            self.ack_replies()  # rides in the same send() as the request
        try:
            frames.publish(
                self.channel,
                exchange or self._exchange,
                call.method.routing_key,
                call.body,
                call.properties,
                mandatory=exchange is None,  # an event nobody listens to is dropped, as Nameko's
            )
        except _PUBLISH_LOST:  # lost, and not told yet: the loss handler will resend it
            self._unsent.append(call)
            return
        except Exception as exc:
            del self.calls.pending[call.correlation_id]
            call.finish(b"", RpcConnectionError(f"cannot publish to {self._uri()}: {exc!r}"))
            return
        self._confirms.add(call)

    def _declare_then_send(self, exchange: str, call: PendingCall) -> None:
        """Declare an event exchange as Nameko does (once per channel), then publish to it."""
        waiting = self._declaring.get(exchange)
        if waiting is not None:
            waiting.append(call)
            return
        self._declaring[exchange] = [call]
        channel = self.channel

        def declared() -> None:
            if channel is not self.channel:
                return  # that channel is gone; down() moved the events to the unsent list
            self._declared.add(exchange)
            for event in self._declaring.pop(exchange, []):
                if not event.done:
                    self._send(event)

        topology.exchange(exchange)(channel, lambda _frame: declared())

    def _on_confirm(self, frame: Pika) -> None:
        method = frame.method
        confirmed = self._confirms.take(method.delivery_tag, method.multiple)
        pending = self.calls.pending
        if not isinstance(method, Basic.Nack):
            for call in confirmed:  # an event is done once the broker has it
                if call.exchange is not None and call.correlation_id in pending:
                    del pending[call.correlation_id]
                    call.finish(b"", None)
            return
        retry = False
        for call in confirmed:
            if call.done:
                continue
            call.nacks += 1
            if self._retry_nacks and call.nacks <= MAX_NACKS:
                self._unsent.append(call)  # a new channel often takes it (quorum leader moved)
                retry = True
            elif pending.pop(call.correlation_id, None) is not None:
                err = f"RabbitMQ refused the request to {call.method.routing_key} (nack)"
                call.finish(b"", RpcConnectionError(err))
        if retry:
            self._drop_connection(
                RpcConnectionError(f"RabbitMQ refused a request on {self._uri()}")
            )

    def _on_reply(self, _ch: Pika, deliver: Pika, props: Pika, body: bytes) -> None:
        # Replies are acked in batches (multiple=True): with the next request, after 64 of
        # them, or 50 ms later, whichever comes first. A caller never waits for an ack.
        if not self._ack_timer_set:  # one timer at a time: a timer per reply kept waking waiters
            self._ack_timer_set = True
            self._loop.call_later(0.05, self._on_ack_timer)
        self._reply_ack_tag = deliver.delivery_tag
        self._replies_unacked += 1
        if self._replies_unacked >= 64:
            self.ack_replies()
        self.calls.reply(props.correlation_id, body)

    def _on_ack_timer(self) -> None:
        self._ack_timer_set = False
        self.ack_replies()

    def ack_replies(self) -> None:
        """Ack the replies handled so far (they must not be redelivered to nobody)."""
        tag, self._reply_ack_tag, self._replies_unacked = self._reply_ack_tag, 0, 0
        if tag and self.channel is not None and self.channel.is_open:
            self.channel.basic_ack(tag, multiple=True)

    # -- the deadline timer ------------------------------------------------------------------------

    def _arm(self, deadline: float | None) -> None:
        if deadline is None or deadline >= self._armed_at:
            return
        self._disarm()
        self._armed_at = deadline
        self._timer = self._loop.call_later(max(0.0, deadline - time.monotonic()), self._fire)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._loop.remove_timeout(self._timer)
        self._timer, self._armed_at = None, math.inf

    def _fire(self) -> None:
        self._timer, self._armed_at = None, math.inf
        self.calls.expire_due(self.disconnected())
        self._arm(self.calls.deadlines.next_due())

    def disconnected(self) -> str:
        """Since when calls cannot reach the broker (empty while connected), for error messages."""
        since = self.down_since
        if since is None:
            return ""
        when = time.strftime("%H:%M:%S", time.localtime(since))
        return f"not connected to the broker since {when} (reconnecting to {self._uri()})"
