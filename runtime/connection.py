"""The I/O core under every client and server: one pika ``SelectConnection`` on one thread.

Threading. pika is not thread-safe, so every pika call happens on the connection's own I/O
thread. Other threads hand work over with ``_post``: operations go into a deque and only the
first one queued since the I/O thread last drained it pays for a wake-up (a pipe write), so a
burst of calls from many threads costs a few wake-ups. Completion callbacks run on the I/O
thread and must be quick: the shells store the raw reply and wake their waiter; decoding
happens in the caller's thread.

A call. Its request is published on a confirm channel with ``mandatory=True``. Confirms are
tracked by delivery tag (honouring ``multiple``) and never waited for: RabbitMQ sends
``basic.return`` before the ``basic.ack`` of an unroutable mandatory publish, so the return
alone fails exactly that call with ``UnknownService`` (found through the correlation id in the
returned properties). Replies arrive on the connection's one reply queue and are matched by
correlation id; unknown ids (late replies, duplicates) are acked and dropped. Deadlines sit in
one heap served by one pika timer armed at the earliest of them.

A served request (``Consumer``). Each service queue is consumed on its own confirm channel with
a prefetch limit; a reply is published on that channel and the request is acked only when the
reply's confirm arrives, as Nameko does.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import math
import threading
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from functools import partial
from types import TracebackType
from typing import Any, Generic, TypeVar

import pika
from pika.adapters.select_connection import IOLoop, SelectConnection
from pika.spec import Basic
from rpcgen.runtime import context, wire
from rpcgen.runtime.errors import RpcConnectionError, RpcTimeout, UnknownService
from rpcgen.runtime.spec import Method
from rpcgen.runtime.uris import describe_error, mask_uri, pika_parameters, resolve_uris

__all__ = ["DEFAULT_TIMEOUT", "Connection", "Consumer", "Delivery", "PendingCall"]

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 30.0
"""Seconds a call may take in total unless its client says otherwise."""

Completion = Callable[[bytes, BaseException | None], None]
T = TypeVar("T")
_Pika = Any  # pika ships no type hints


class PendingCall:
    """One call between its request and its reply; owned by the I/O thread once submitted."""

    __slots__ = (
        "body", "correlation_id", "deadline", "done", "method", "on_done", "properties", "timeout",
    )  # fmt: skip

    def __init__(
        self, method: Method[object], correlation_id: str, body: bytes, properties: _Pika,
        timeout: float | None, on_done: Completion,
    ) -> None:  # fmt: skip
        self.method = method
        self.correlation_id = correlation_id
        self.body = body
        self.properties = properties
        self.timeout = timeout
        self.deadline = None if timeout is None else time.monotonic() + timeout
        self.on_done = on_done
        self.done = False

    def finish(self, body: bytes, error: BaseException | None) -> None:
        """Complete the call once; later completions (duplicates, late timers) are ignored."""
        if self.done:
            return
        self.done = True
        try:
            self.on_done(body, error)
        except Exception:  # a broken waiter must not take the I/O thread down
            log.exception("completion of %s failed", self.method.routing_key)


class _Confirms(Generic[T]):
    """Publisher-confirm bookkeeping for one channel: delivery tag -> what was published."""

    __slots__ = ("_last_tag", "_waiting")

    def __init__(self) -> None:
        self._last_tag = 0
        self._waiting: OrderedDict[int, T] = OrderedDict()

    def add(self, item: T) -> None:
        """Record the channel's next publish (tags count publishes from 1)."""
        self._last_tag += 1
        self._waiting[self._last_tag] = item

    def settle(self, tag: int, multiple: bool) -> list[T]:
        """The items confirmed by an ack or nack of ``tag``."""
        if not multiple:
            item = self._waiting.pop(tag, None)
            return [] if item is None else [item]
        settled = []
        while self._waiting and next(iter(self._waiting)) <= tag:
            settled.append(self._waiting.popitem(last=False)[1])
        return settled

    def __len__(self) -> int:
        return len(self._waiting)


class _Deadlines:
    """Call deadlines in one heap, served by a single pika timer armed at the earliest."""

    def __init__(self, ioloop: _Pika, on_expired: Callable[[PendingCall], None]) -> None:
        self._ioloop = ioloop
        self._on_expired = on_expired
        self._heap: list[tuple[float, int, PendingCall]] = []
        self._seq = itertools.count()
        self._timer: _Pika = None
        self._armed_at = math.inf

    def add(self, call: PendingCall, deadline: float, live: int) -> None:
        """Track ``call``; ``live`` (calls still pending) decides when to purge finished ones."""
        heapq.heappush(self._heap, (deadline, next(self._seq), call))
        if deadline < self._armed_at:
            self._arm(deadline)
        if len(self._heap) > 2 * live + 256:  # finished calls are dropped lazily, in bulk
            self._heap = [entry for entry in self._heap if not entry[2].done]
            heapq.heapify(self._heap)

    def clear(self) -> None:
        self._heap.clear()
        if self._timer is not None:
            self._ioloop.remove_timeout(self._timer)
        self._timer, self._armed_at = None, math.inf

    def _arm(self, deadline: float) -> None:
        if self._timer is not None:
            self._ioloop.remove_timeout(self._timer)
        self._armed_at = deadline
        self._timer = self._ioloop.call_later(max(0.0, deadline - time.monotonic()), self._fire)

    def _fire(self) -> None:
        self._timer, self._armed_at = None, math.inf
        heap, now = self._heap, time.monotonic()
        while heap and (heap[0][0] <= now or heap[0][2].done):
            call = heapq.heappop(heap)[2]
            if not call.done:
                self._on_expired(call)
        if heap:
            self._arm(heap[0][0])


class Connection:
    """A connection to RabbitMQ shared by any number of clients, threads and servers.

    ``uri`` is an ``amqp://`` or ``amqps://`` URI, a list of them tried in order (failover), or
    None for ``$RPCGEN_AMQP_URI`` or ``amqp://guest:guest@localhost:5672/``. It connects at
    once and raises ``RpcConnectionError`` when it cannot. Every peer of a service must use
    the same ``exchange``. ``client_name`` names the reply queue
    (``rpc.reply-<client_name>-<uuid>``) and the call ids of calls made outside handlers.
    """

    def __init__(
        self,
        uri: str | Sequence[str] | None = None,
        *,
        exchange: str = wire.DEFAULT_EXCHANGE,
        client_name: str = "rpcgen_client",
        heartbeat: int = 60,
        connect_timeout: float = 10.0,
        reply_queue: bool = True,
    ) -> None:
        self._uris = resolve_uris(uri)
        self._params = [
            pika_parameters(u, heartbeat=heartbeat, connect_timeout=connect_timeout,
                            name=f"rpcgen {client_name}")
            for u in self._uris
        ]  # fmt: skip
        self.exchange = exchange
        self.client_name = client_name
        self.reply_to = str(uuid.uuid4())
        self.reply_queue = wire.reply_queue_name(client_name, self.reply_to)
        self._wants_reply_queue = reply_queue
        self._ops: deque[Callable[[], None]] = deque()
        self._wake_pending = False
        self._stopped = False
        self._ioloop = IOLoop()
        self._pika: _Pika = None
        self._channel: _Pika = None
        self._uri_index = 0
        self._open_errors: list[str] = []
        self._ready = False
        self._closing = False
        self._failure: RpcConnectionError | None = None
        self._pending: dict[str, PendingCall] = {}
        self._confirms: _Confirms[PendingCall] = _Confirms()
        self._deadlines = _Deadlines(self._ioloop, self._expire)
        self._reply_ack_tag = 0
        self._consumers: list[Consumer] = []
        self._opened = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rpcgen-io", daemon=True)
        self._thread.start()
        self._opened.wait()
        if self._failure is not None:
            self._thread.join()
            raise self._failure

    @property
    def uri(self) -> str:
        """The URI connected to, password masked."""
        return mask_uri(self._uris[max(0, self._uri_index - 1)])

    def __repr__(self) -> str:
        return f"<Connection {self.uri} exchange={self.exchange!r}>"

    def __enter__(self) -> Connection:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:  # fmt: skip
        self.close()

    @property
    def is_open(self) -> bool:
        """False once closed or lost; calls then fail with ``RpcConnectionError``."""
        return self._failure is None

    def close(self) -> None:
        """Close the connection; calls still pending fail with ``RpcConnectionError``."""
        self._post(self._begin_close)
        if threading.current_thread() is not self._thread:
            self._thread.join()

    # -- hand-over from other threads ---------------------------------------------------------

    def _post(self, op: Callable[[], None]) -> None:
        """Run ``op`` on the I/O thread soon; one wake-up serves every op queued meanwhile."""
        self._ops.append(op)
        if self._stopped:  # the loop is gone: run the op here, it only fails what it carries
            self._drain()
        elif not self._wake_pending:
            self._wake_pending = True
            self._ioloop.add_callback_threadsafe(self._drain)

    def _drain(self) -> None:
        self._wake_pending = False
        ops = self._ops
        while ops:
            try:
                ops.popleft()()
            except IndexError:  # another thread drained it first (only after stop)
                return
            except Exception:
                log.exception("rpcgen I/O operation failed")

    # -- calls (any thread) -------------------------------------------------------------------

    def call(
        self, method: Method[object], body: bytes, timeout: float | None, on_done: Completion
    ) -> PendingCall:
        """Send one request; ``on_done(reply_body, error)`` runs once, on the I/O thread."""
        if self._failure is not None:
            raise self._failure
        if not self._wants_reply_queue:
            raise RpcConnectionError("this connection was opened with reply_queue=False")
        cid = str(uuid.uuid4())
        props = pika.BasicProperties(
            content_type=wire.CONTENT_TYPE,
            content_encoding=wire.CONTENT_ENCODING,
            delivery_mode=wire.PERSISTENT,
            priority=0,
            correlation_id=cid,
            reply_to=self.reply_to,
            headers=context.outgoing_headers(f"{self.client_name}.call.{cid}"),
            expiration=None if timeout is None else str(math.ceil(timeout * 1000)),
        )
        pending = PendingCall(method, cid, body, props, timeout, on_done)
        self._post(partial(self._publish_call, pending))
        return pending

    def forget(self, call: PendingCall) -> None:
        """Stop waiting for ``call`` (its waiter gave up); a reply that comes later is dropped."""
        call.done = True
        self._post(partial(self._drop, call))

    # -- I/O thread: connecting -----------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._connect_next()
            self._ioloop.start()
        except Exception as exc:  # pika bug or our own: never leave a caller waiting
            log.exception("rpcgen I/O thread crashed")
            self._lost(RpcConnectionError(f"I/O thread of {self.uri} crashed: {exc!r}"))
        finally:
            self._stopped = True
            self._drain()
            self._ioloop.close()
            self._opened.set()

    def _connect_next(self) -> None:
        if self._uri_index == len(self._params):
            tried = "; ".join(self._open_errors)
            self._failure = RpcConnectionError(f"cannot connect to RabbitMQ: {tried}")
            self._ioloop.stop()
            return
        params = self._params[self._uri_index]
        self._uri_index += 1
        SelectConnection(
            params,
            on_open_callback=self._on_open,
            on_open_error_callback=self._on_open_error,
            on_close_callback=self._on_closed,
            custom_ioloop=self._ioloop,
        )

    def _on_open_error(self, _conn: _Pika, error: BaseException) -> None:
        self._open_errors.append(describe_error(self._uris[self._uri_index - 1], error))
        self._connect_next()

    def _on_open(self, conn: _Pika) -> None:
        self._pika = conn
        conn.channel(on_open_callback=self._on_channel_open)

    def _on_channel_open(self, channel: _Pika) -> None:
        self._channel = channel
        channel.add_on_close_callback(self._on_channel_closed)
        channel.add_on_return_callback(self._on_return)
        # Nameko's exact flags, or RabbitMQ refuses the re-declare (PRECONDITION_FAILED).
        channel.exchange_declare(
            self.exchange, exchange_type="topic", durable=True, auto_delete=False,
            internal=False, callback=self._on_exchange_ok,
        )  # fmt: skip

    def _on_exchange_ok(self, _frame: _Pika) -> None:
        if not self._wants_reply_queue:
            self._become_ready()
            return
        self._channel.confirm_delivery(self._on_confirm, callback=self._on_confirm_mode)

    def _on_confirm_mode(self, _frame: _Pika) -> None:
        self._channel.queue_declare(
            self.reply_queue, durable=True, exclusive=False, auto_delete=False,
            arguments={"x-expires": wire.REPLY_QUEUE_TTL_MS}, callback=self._on_reply_queue,
        )  # fmt: skip

    def _on_reply_queue(self, _frame: _Pika) -> None:
        self._channel.queue_bind(
            self.reply_queue, self.exchange, routing_key=self.reply_to, callback=self._on_bound
        )

    def _on_bound(self, _frame: _Pika) -> None:
        self._channel.basic_consume(
            self.reply_queue, self._on_reply, auto_ack=False, callback=self._become_ready
        )

    def _become_ready(self, _frame: _Pika = None) -> None:
        self._ready = True
        log.debug("connected to %s, reply queue %s", self.uri, self.reply_queue)
        self._opened.set()

    # -- I/O thread: calls ----------------------------------------------------------------------

    def _publish_call(self, call: PendingCall) -> None:
        if self._failure is not None:
            call.finish(b"", self._failure)
            return
        self._pending[call.correlation_id] = call
        try:
            self._channel.basic_publish(
                self.exchange, call.method.routing_key, call.body, call.properties, mandatory=True
            )
        except Exception as exc:
            del self._pending[call.correlation_id]
            call.finish(b"", RpcConnectionError(f"cannot publish to {self.uri}: {exc!r}"))
            return
        self._confirms.add(call)
        if call.deadline is not None:
            self._deadlines.add(call, call.deadline, len(self._pending))

    def _drop(self, call: PendingCall) -> None:
        self._pending.pop(call.correlation_id, None)

    def _on_confirm(self, frame: _Pika) -> None:
        method = frame.method
        settled = self._confirms.settle(method.delivery_tag, method.multiple)
        if isinstance(method, Basic.Nack):
            for call in settled:
                if self._pending.pop(call.correlation_id, None) is not None:
                    err = f"RabbitMQ refused the request to {call.method.routing_key} (nack)"
                    call.finish(b"", RpcConnectionError(err))

    def _on_return(self, _ch: _Pika, _method: _Pika, props: _Pika, _body: bytes) -> None:
        # Arrives before the publish's ack: no queue is bound for this service at all.
        call = self._pending.pop(props.correlation_id, None)
        if call is not None:
            call.finish(b"", UnknownService(call.method.service))

    def _on_reply(self, _ch: _Pika, deliver: _Pika, props: _Pika, body: bytes) -> None:
        if not self._reply_ack_tag:  # ack every reply of this loop turn in one frame
            self._ioloop.call_later(0, self._ack_replies)
        self._reply_ack_tag = deliver.delivery_tag
        call = self._pending.pop(props.correlation_id, None)
        if call is None:
            log.debug("dropped a reply for unknown correlation id %r", props.correlation_id)
            return
        call.finish(body, None)

    def _ack_replies(self) -> None:
        tag, self._reply_ack_tag = self._reply_ack_tag, 0
        if tag and self._channel is not None and self._channel.is_open:
            self._channel.basic_ack(tag, multiple=True)

    def _expire(self, call: PendingCall) -> None:
        if self._pending.pop(call.correlation_id, None) is not None:
            call.finish(b"", RpcTimeout(call.method.routing_key, call.timeout or 0.0))

    # -- I/O thread: closing and failures ---------------------------------------------------------

    def _begin_close(self) -> None:
        if self._closing or self._stopped:
            return
        self._closing = True
        self._ack_replies()  # replies already handled must not be redelivered to nobody
        self._fail_all(RpcConnectionError(f"the connection to {self.uri} was closed"))
        if self._pika is not None and self._pika.is_open:
            self._pika.close()  # _on_closed stops the loop
        elif self._pika is None or self._pika.is_closed:
            self._ioloop.stop()

    def _on_channel_closed(self, _channel: _Pika, reason: BaseException) -> None:
        if not self._closing:
            self._lost(RpcConnectionError(f"RabbitMQ closed the channel on {self.uri}: {reason}"))
            if self._pika.is_open:
                self._pika.close()

    def _on_closed(self, _conn: _Pika, reason: BaseException) -> None:
        if not self._closing:
            self._lost(RpcConnectionError(f"lost the connection to {self.uri}: {reason}"))
        self._ioloop.stop()

    def _lost(self, error: RpcConnectionError) -> None:
        """The connection became unusable: fail what waits on it (reconnecting is issue 4)."""
        if self._failure is None and self._ready:
            log.error("%s", error)
        self._fail_all(error)
        for consumer in self._consumers:
            consumer._lost(error)
        self._opened.set()

    def _fail_all(self, error: RpcConnectionError) -> None:
        if self._failure is None:
            self._failure = error
        calls, self._pending = list(self._pending.values()), {}
        self._deadlines.clear()
        for call in calls:
            call.finish(b"", error)

    # -- consumers ----------------------------------------------------------------------------

    def consume(
        self, queue: str, binding_key: str, prefetch: int, on_delivery: Callable[[Delivery], None],
        on_lost: Callable[[RpcConnectionError], None] | None = None,
    ) -> Consumer:  # fmt: skip
        """Start consuming a service queue (declared durable, bound with ``binding_key``).

        ``on_delivery`` runs on the I/O thread for each request and must hand it off at once;
        the request is settled later with ``Consumer.reply`` or ``Consumer.ack``. Blocks until
        the consumer is registered with the broker. ``on_lost`` runs (on the I/O thread) if the
        consumer stops because its channel or the connection was lost.
        """
        consumer = Consumer(self, queue, binding_key, prefetch, on_delivery, on_lost)
        self._post(partial(self._start_consumer, consumer))
        consumer.ready.wait()
        if consumer.error is not None:
            raise consumer.error
        return consumer

    def _start_consumer(self, consumer: Consumer) -> None:
        if self._failure is not None:
            consumer._lost(self._failure)
            return
        self._consumers.append(consumer)
        self._pika.channel(on_open_callback=consumer._on_channel_open)


class Delivery:
    """One request as it came off a service queue."""

    __slots__ = ("body", "properties", "routing_key", "tag")

    def __init__(self, tag: int, routing_key: str, properties: _Pika, body: bytes) -> None:
        self.tag = tag
        self.routing_key = routing_key
        self.properties = properties
        self.body = body


class Consumer:
    """A service queue consumed on its own confirm channel; replies go out on the same channel.

    ``reply``, ``ack`` and ``stop`` may be called from any thread. ``drained`` is set once the
    consumer is stopped and every request it received has been settled (acked after its
    reply's confirm, or acked without a reply), or once the connection is lost (the broker then
    redelivers whatever was not acked).
    """

    def __init__(
        self, connection: Connection, queue: str, binding_key: str, prefetch: int,
        on_delivery: Callable[[Delivery], None],
        on_lost: Callable[[RpcConnectionError], None] | None = None,
    ) -> None:  # fmt: skip
        self._conn = connection
        self._on_lost = on_lost
        self.queue = queue
        self._binding_key = binding_key
        self._prefetch = prefetch
        self._on_delivery = on_delivery
        self._channel: _Pika = None
        self._tag: str | None = None
        self._confirms: _Confirms[int] = _Confirms()
        self._unsettled = 0
        self.error: RpcConnectionError | None = None
        self.ready = threading.Event()
        self.drained = threading.Event()

    def reply(self, delivery_tag: int, routing_key: str, properties: _Pika, body: bytes) -> None:
        """Publish a reply and ack request ``delivery_tag`` once the reply is confirmed."""
        self._conn._post(partial(self._publish_reply, delivery_tag, routing_key, properties, body))

    def ack(self, delivery_tag: int) -> None:
        """Ack a request that gets no reply."""
        self._conn._post(partial(self._settle, delivery_tag, True))

    def stop(self) -> None:
        """Stop taking requests; those already received are still settled."""
        self._conn._post(self._cancel)

    # -- I/O thread ---------------------------------------------------------------------------

    def _on_channel_open(self, channel: _Pika) -> None:
        self._channel = channel
        channel.add_on_close_callback(self._on_channel_closed)
        channel.queue_declare(
            self.queue, durable=True, exclusive=False, auto_delete=False,
            callback=self._on_declared,
        )  # fmt: skip

    def _on_declared(self, _frame: _Pika) -> None:
        self._channel.queue_bind(
            self.queue, self._conn.exchange, routing_key=self._binding_key,
            callback=lambda _f: self._channel.confirm_delivery(
                self._on_confirm, callback=self._on_confirm_mode
            ),
        )  # fmt: skip

    def _on_confirm_mode(self, _frame: _Pika) -> None:
        self._channel.basic_qos(prefetch_count=self._prefetch, callback=self._on_qos)

    def _on_qos(self, _frame: _Pika) -> None:
        self._tag = self._channel.basic_consume(
            self.queue, self._on_message, auto_ack=False, callback=lambda _f: self.ready.set()
        )

    def _on_message(self, _ch: _Pika, deliver: _Pika, props: _Pika, body: bytes) -> None:
        self._unsettled += 1
        self._on_delivery(Delivery(deliver.delivery_tag, deliver.routing_key, props, body))

    def _publish_reply(self, tag: int, routing_key: str, props: _Pika, body: bytes) -> None:
        if self._channel is None or not self._channel.is_open:
            return  # lost: the broker redelivers the request
        # Not mandatory: a reply nobody waits for any more is dropped, as Nameko does.
        self._channel.basic_publish(self._conn.exchange, routing_key, body, props)
        self._confirms.add(tag)

    def _on_confirm(self, frame: _Pika) -> None:
        method = frame.method
        ok = not isinstance(method, Basic.Nack)
        for tag in self._confirms.settle(method.delivery_tag, method.multiple):
            if not ok:
                log.error("RabbitMQ refused a reply (nack); requeueing its request")
            self._settle(tag, ok)

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
        if self._tag is None or self._channel is None or not self._channel.is_open:
            self._tag = None
            self._check_drained()
            return
        tag, self._tag = self._tag, None
        self._channel.basic_cancel(tag, callback=lambda _f: self._check_drained())

    def _check_drained(self) -> None:
        if self._tag is None and self._unsettled == 0:
            self.drained.set()

    def _on_channel_closed(self, _channel: _Pika, reason: BaseException) -> None:
        self._channel = None
        if self._conn._closing:  # closed on purpose: nothing went wrong
            self.ready.set()
            self.drained.set()
        else:
            self._lost(RpcConnectionError(f"RabbitMQ closed the {self.queue} channel: {reason}"))

    def _lost(self, error: RpcConnectionError) -> None:
        if self.error is None:
            self.error = error
            if self._on_lost is not None:
                self._on_lost(error)
        self.ready.set()
        self.drained.set()
