"""Server skeleton base and ``ServiceRunner``: queues, a pool of workers, a graceful stop.

Each request a service queue delivers is handed to a pool of ``max_workers`` threads, which
turn it into a reply body (``_dispatch.Dispatcher``), or, if its handler is ``async def``, to the
server's event loop, where it runs as a task (``_asyncrun``, at most ``max_concurrency`` at
once, no thread held while it awaits); the connection core publishes the reply on a
confirm channel and acks the request once the reply is confirmed. Nothing a request carries
can stop the server: a request without ``reply_to`` is acked and logged (Nameko crashes on it,
issue #753); a foreign or missing ``content_type``, a body that is not a request, an unknown
method or arguments of the wrong type get the matching error reply; an exception in a handler
becomes an error reply the Nameko way.

Run a server with ``serve(Impl(), uri)`` (blocking; SIGTERM/SIGINT stop it gracefully),
``rpcgen serve module:Impl`` (``serve_main``), or ``with run_in_background(Impl(), uri):``
(all in ``serving``). Event handlers (``_handling``) share the worker pool and the loop;
``@on_start`` and ``@on_stop`` methods (``hooks``, sync or async) run before the first request
and after the last; ``middleware`` wrap every handler run.
"""

from __future__ import annotations

import abc
import asyncio
import logging
import threading
import time
from collections.abc import Mapping, Sequence
from functools import partial
from queue import Empty, SimpleQueue
from types import MappingProxyType
from typing import TYPE_CHECKING, ClassVar

from rpcgen.runtime._asyncrun import HandlerLoop, any_async, is_async
from rpcgen.runtime._codec import wire
from rpcgen.runtime._dispatch import Dispatcher, reply_properties
from rpcgen.runtime._handling import EventEntrypoint, Outcome, event_entrypoints
from rpcgen.runtime._settling import Settlement, Taken, delivery_of
from rpcgen.runtime._startup import open_when_up
from rpcgen.runtime._transport import Delivery, Reply, Served, Transport
from rpcgen.runtime.errors import RpcConnectionError
from rpcgen.runtime.hooks import hooks_of, run_hook
from rpcgen.runtime.middleware import Middleware
from rpcgen.runtime.once import Claim, Done, Once, identity
from rpcgen.runtime.options import ConnectionOptions
from rpcgen.runtime.spec import Method

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["ASYNC_PREFETCH", "PREFETCH_PER_WORKER", "Server", "ServiceRunner"]

log = logging.getLogger(__name__)


class Server(abc.ABC):
    """Base of generated ``<Name>Server`` skeletons; subclass it and implement every method.

    A service that only handles events subclasses ``Server`` itself (or the skeleton of an IDL
    service without methods), sets ``service_name`` and declares its handlers: with no
    ``methods``, its runner declares and consumes no ``rpc-<service>`` queue, as Nameko does
    for a service with only ``@event_handler``s.
    """

    service_name: ClassVar[str]
    methods: ClassVar[Mapping[str, Method[object]]] = MappingProxyType({})
    middleware: Sequence[Middleware] = ()
    """Middleware around every handler of this class (after the runner's; see ``middleware``)."""


ASYNC_PREFETCH = 1000
"""The default prefetch of a server with ``async def`` handlers (and so its default
``max_concurrency``): 1,000 requests to handlers that await run at once on its loop."""

PREFETCH_PER_WORKER = 10
"""The default prefetch per worker. A request holds its prefetch slot from delivery until its
reply is confirmed, about 2 ms on a local broker: with a prefetch equal to the worker count,
workers with fast handlers wait for confirms (in one run at 100 in flight, 4.6x Nameko's
throughput; 10 per worker: 7.1x, docs/performance.md). The price is bounded: ``bench/spread.py``."""


class ServiceRunner:
    """Serves one ``Server`` instance: its queue, a pool of workers, and a graceful stop.

    ``connection`` shares an existing connection (handlers may then call other services on
    it); otherwise the runner opens one on ``uri`` (``memory://NAME``: an in-process broker,
    see ``rpcgen.runtime.testing``) and closes it when stopped. ``prefetch``, the number of
    requests held unacknowledged at once, defaults to ``PREFETCH_PER_WORKER * max_workers``
    (100): a request holds its slot until its reply is confirmed, so fast handlers need several
    requests each in hand. A server that stops answering holds at most ``prefetch`` requests;
    for slow handlers, a prefetch near ``max_workers`` keeps requests with faster peers.
    ``queue_type`` (e.g. ``"quorum"``) declares the service queue with ``x-queue-type``: every
    peer of the service must then declare it identically (see docs/reliability.md).
    ``options`` are the owned connection's settings (see ``Connection``); its default
    ``reconnect`` makes a server outlive broker restarts. ``startup_timeout`` is how long
    ``start`` keeps trying to reach a broker that is not up yet (``_startup``; 0: one attempt).

    ``async def`` handlers run as tasks on the runner's loop, at most ``max_concurrency`` at
    once (default: the prefetch, which for a server with async handlers defaults to
    ``ASYNC_PREFETCH``, unless ``PREFETCH_PER_WORKER * max_workers`` is more); ``max_workers``
    bounds only the sync ones. ``middleware`` (``rpcgen.runtime.middleware``) wrap every handler
    run, before the server class's own. ``once`` (default on, with a ``LocalStore``): a request or
    event that arrives again after it was settled is settled without running its handler (a
    request's copy gets the first reply); ``False`` turns it off, a ``Once`` sets the store.
    """

    def __init__(
        self,
        server: Server,
        uri: str | Sequence[str] | None = None,
        *,
        connection: Transport | None = None,
        max_workers: int = 10,
        prefetch: int | None = None,
        queue_type: str | None = None,
        max_concurrency: int | None = None,
        middleware: Sequence[Middleware] = (),
        once: Once | bool = True,
        startup_timeout: float = 0.0,
        **options: Unpack[ConnectionOptions],
    ) -> None:
        if max_workers < 1:
            raise ValueError("max_workers must be at least 1")
        if max_concurrency is not None and max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        self.server = server
        self._uri = uri
        self._queue_type = queue_type
        self._options = options
        self._startup_timeout = startup_timeout
        self._connection = connection
        self._owns_connection = connection is None
        self.max_workers = max_workers
        self._dispatcher = Dispatcher(server, middleware=middleware)
        self._entrypoints = event_entrypoints(server, server.service_name)
        self._start_hooks = hooks_of(server, "start")
        self._stop_hooks = hooks_of(server, "stop")
        handlers = [getattr(server, a) for a in server.methods] + [
            e.handler for e in self._entrypoints
        ]
        serves_async = any_async(handlers)
        if prefetch is None:
            prefetch = PREFETCH_PER_WORKER * max_workers
            if serves_async:
                prefetch = max(prefetch, max_concurrency or ASYNC_PREFETCH)
        self.prefetch = prefetch
        self.max_concurrency = self.prefetch if max_concurrency is None else max_concurrency
        """How many async handlers run at once (the event loop's tasks); default: the prefetch."""
        needs_loop = serves_async or any_async(self._start_hooks + self._stop_hooks)
        self._loop = (
            HandlerLoop(f"rpcgen-{server.service_name}-aio", self.max_concurrency)
            if needs_loop
            else None
        )
        self._dispatcher.loop = self._loop
        # Keyed by entrypoint, not queue: handlers whose queues coincide (two singletons of one
        # event) each consume the queue on a channel of their own, as Nameko's do, and each
        # event is acked on the channel it came on.
        self._event_consumers: dict[int, Served] = {}
        self._requests: SimpleQueue[Taken | None] = SimpleQueue()
        self._workers: list[threading.Thread] = []
        self._consumer: Served | None = None
        self._consuming = threading.Event()  # set once _consumer is assigned
        self._outbox: list[Reply] = []  # async replies of this loop iteration (on the loop)
        self.stopping = threading.Event()
        """Set when a stop is requested or the connection is lost."""
        self._now = threading.Event()  # stop_now(): end the drain at once
        # What runs now (by worker thread id or asyncio task) and who settles each delivery.
        self._settlement = Settlement()
        self.once: Once | None = Once() if once is True else once or None
        """Effectively once (``rpcgen.runtime.once``): settles a copy of a message it already
        settled without running the handler again; None when off."""
        self.duplicates = 0
        """Copies of settled messages this runner settled without running a handler."""
        self._rpc_queue = wire.service_queue(server.service_name)

    @property
    def connection(self) -> Transport:
        if self._connection is None:
            raise RuntimeError("the runner is not started")
        return self._connection

    @property
    def error(self) -> RpcConnectionError | None:
        """Why the runner stopped serving on its own, if it did."""
        for consumer in self._consumers():
            if consumer.error is not None:
                return consumer.error
        return None

    @property
    def expired_requests(self) -> int:
        """Requests not run because they arrived after their deadline (acked, no reply)."""
        return self._dispatcher.expired

    def readiness(self) -> str | None:
        """Why the runner cannot take requests now (starting, stopping, a queue not consumed
        while reconnecting), or None when every queue it serves is being consumed."""
        if self.stopping.is_set():
            return "stopping"
        if not self._consuming.is_set():
            return "starting"
        queues = [(e.queue, self._event_consumers.get(id(e))) for e in self._entrypoints]
        if self.server.methods:  # a handler-only service has no RPC queue
            queues.insert(0, (wire.service_queue(self.server.service_name), self._consumer))
        idle = sorted({queue for queue, c in queues if c is None or not c.consuming})
        if idle:
            return f"not consuming {', '.join(idle)} (the connection is down or reconnecting)"
        return None

    def liveness(self) -> str | None:
        """What is broken for good (reconnecting given up, a worker or the async handlers'
        loop thread dead), or None."""
        if self.error is not None:
            return f"the connection is lost for good: {self.error}"
        dead = [w.name for w in self._workers if not w.is_alive()]
        if dead and not self.stopping.is_set():  # stopping: workers end on purpose
            return f"worker threads died: {', '.join(dead)}"
        if self._loop is not None and not self._loop.alive and not self.stopping.is_set():
            return "the async handlers' loop thread died"
        return None

    def _consumers(self) -> list[Served]:
        rpc = [] if self._consumer is None else [self._consumer]
        return rpc + list(self._event_consumers.values())

    def start(self) -> None:
        """Connect, start the workers and start consuming; returns once requests can arrive."""
        svc = self.server.service_name
        if self._connection is None:
            options: ConnectionOptions = {"client_name": svc, **self._options}
            # A reply queue only if start hooks may build clients on this connection.
            calls_out = bool(self._start_hooks)
            self._connection = open_when_up(
                self._uri, self._startup_timeout, self.stopping, reply_queue=calls_out, **options
            )
        arguments: dict[str, object] | None = None
        if self._queue_type is not None:
            arguments = {"x-queue-type": self._queue_type}
        # The connection's size limit (``Connection(max_message_bytes=...)``) bounds requests
        # and replies alike.
        self._dispatcher.max_message_bytes = self._connection.max_message_bytes
        try:
            for hook in self._start_hooks:
                run_hook(hook, self._loop, self._connection)
        except BaseException:
            if self._owns_connection:
                self._connection.close()
            raise
        for i in range(self.max_workers):
            worker = threading.Thread(target=self._work, name=f"rpcgen-{svc}-{i}", daemon=True)
            worker.start()
            self._workers.append(worker)
        try:
            if self.server.methods:  # a handler-only service has no RPC queue, as in Nameko
                self._consumer = self._connection.consume(
                    wire.service_queue(svc),
                    wire.service_binding(svc),
                    self.prefetch,
                    self._take_request,
                    on_lost=lambda _err: self.stopping.set(),
                    arguments=arguments,
                    serve_in_caller=self._serve_request,  # in memory: see MemoryBroker.caller_runs
                )
            for entry in self._entrypoints:
                self._event_consumers[id(entry)] = self._connection.consume(
                    entry.queue,
                    entry.spec.event.name,
                    entry.spec.prefetch or self.prefetch,
                    partial(self._take_event, entry),
                    on_lost=lambda _err: self.stopping.set(),
                    setup=entry.setup(),
                )
        except BaseException:
            for consumer in self._consumers():
                consumer.stop()
            self._consuming.set()
            self._shutdown_workers(timeout=None)
            if self._owns_connection:
                self._connection.close()
            raise
        self._consuming.set()
        log.info(
            "serving %s on %s (%d workers, prefetch %d)",
            svc,
            self._connection.uri,
            self.max_workers,
            self.prefetch,
        )

    def stop(self, timeout: float | None = None) -> bool:
        """Drain: stop taking requests, hand back at once the ones received but not started,
        give the running ones until ``timeout`` seconds (None: no limit), then disconnect.

        Returns False if the drain was cut short (``timeout`` passed, or ``stop_now()``): the
        requests and events still running are then handed back to the broker (requeued, so
        another instance runs them again: at-least-once) and each is logged with its method
        and call id; their handlers' late results are dropped.
        """
        self.stopping.set()
        self._settlement.drain()
        consumers = self._consumers()
        for consumer in consumers:
            consumer.stop()
        if self._loop is not None:  # async deliveries waiting for a slot are handed back now
            self._loop.open_gate()
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            self._hand_back_unstarted()
            if all(consumer.drained.is_set() for consumer in consumers):
                settled = True
                break
            left = None if deadline is None else deadline - time.monotonic()
            if self._now.is_set() or (left is not None and left <= 0):
                settled = False
                self._hand_back_running()
                break
            self._now.wait(0.05 if left is None else min(0.05, left))
        if self._settlement.unstarted_handed_back:
            log.info(
                "handed back %d requests and events not started to the broker",
                self._settlement.unstarted_handed_back,
            )
        self._shutdown_workers(timeout=0 if not settled else None)
        stop_hooks, self._stop_hooks = self._stop_hooks, []  # once, however often stop() runs
        for hook in stop_hooks:
            try:
                run_hook(hook, self._loop)
            except Exception:
                log.exception("the stop hook %s failed", getattr(hook, "__name__", hook))
        if self._loop is not None:
            self._loop.close()  # after the stop hooks: an async one runs on it
        if self._owns_connection and self._connection is not None:
            self._connection.close()
        return settled

    def stop_now(self) -> None:
        """End a drain at once, as if its deadline had passed (a second SIGTERM or SIGINT)."""
        self.stopping.set()
        self._now.set()

    def _hand_back_unstarted(self) -> None:
        """Requeue every delivery received but not started (another instance takes it)."""
        while True:
            try:
                item = self._requests.get_nowait()
            except Empty:
                return
            if item is None:  # not ours: a worker's stop signal
                self._requests.put(None)
                return
            self._hand_back(item, None)

    def _hand_back_running(self) -> None:
        """The drain was cut short: requeue what the workers and async tasks still run, logging
        each. One that finishes later finds its delivery claimed and drops the outcome."""
        running = self._settlement.claim_running()
        if running:
            log.warning("the drain was cut short with %d still running", len(running))
        for key, item in running:
            self._hand_back(item, self._call_id_of(key) or "none (not decoded yet)")

    def _call_id_of(self, key: object) -> str | None:
        call_ids = [self._dispatcher.running.get(key)]
        call_ids += [e.running.get(key) for e in self._entrypoints]
        return next((c for c in call_ids if c is not None), None)

    def _hand_back(self, item: Taken, call_id: str | None) -> None:
        """Requeue ``item`` (claimed by the caller, or never started) and log it."""
        delivery = delivery_of(item)
        self._consuming.wait()
        consumer = (
            self._consumer if isinstance(item, Delivery) else self._event_consumers[id(item[0])]
        )
        assert consumer is not None
        consumer.requeue(delivery.tag, delivery.epoch)
        if call_id is None:  # many at once: counted, and logged one by one only at DEBUG
            self._settlement.handed_back_unstarted()
            log.debug("handed back %s (not started)", delivery.routing_key)
            return
        log.warning(
            "handed back %s (call id %s) to the broker: the drain deadline cut it off while "
            "running; another instance runs it again",
            delivery.routing_key,
            call_id,
        )

    def _claim(self, delivery: Delivery, key: object) -> bool:
        """Whether the worker (thread id) or task ``key`` that ran ``delivery`` may settle it:
        False if the drain handed it back meanwhile (its outcome is then dropped)."""
        if self._settlement.claim(delivery, key):
            return True
        log.info("dropped the late outcome of %s: it was handed back", delivery.routing_key)
        return False

    def _begin(self, key: object, item: Taken) -> bool:
        """Register ``item`` as run by ``key`` (a worker thread id or an asyncio task), unless
        a drain began: then it is handed back, not started, and False returned."""
        if self._settlement.begin(key, item):
            return True
        self._hand_back(item, None)
        return False

    def _shutdown_workers(self, timeout: float | None) -> None:
        for _ in self._workers:
            self._requests.put(None)
        for worker in self._workers:
            worker.join(timeout)
        self._workers.clear()

    def _work(self) -> None:
        requests, ident = self._requests, threading.get_ident()
        while (request := requests.get()) is not None:
            if not self._begin(ident, request):  # a drain began: handed back
                continue
            try:
                if isinstance(request, Delivery):
                    self._serve_request(request)
                else:
                    self._handle_event(*request)
            finally:
                self._settlement.end(ident, request)

    def _take_request(self, delivery: Delivery) -> None:
        """A request arrived (on the I/O thread): to the loop if its handler is async, else to
        the workers."""
        if self._loop is not None and self._dispatcher.is_async(delivery.routing_key):
            self._loop.spawn(partial(self._answer_async, delivery))
        else:
            self._requests.put(delivery)

    def _take_event(self, entry: EventEntrypoint, delivery: Delivery) -> None:
        if self._loop is not None and is_async(entry.handler):
            self._loop.spawn(partial(self._handle_event_async, entry, delivery))
        else:
            self._requests.put((entry, delivery))

    async def _answer_async(self, request: Delivery) -> None:
        """Run one request's async handler in a task on the loop; hand its reply on (unless
        a drain handed the request back first, before it started or while it ran)."""
        key = asyncio.current_task()
        if not self._begin(key, request):
            return
        try:
            once_key = self._once_key(self._rpc_queue, request, True)
            seen: Claim | None = "new"
            if once_key is not None:
                seen = await self._on.settle_or_claim_async(once_key, self.stopping)
            if seen is None:
                self._give_back(request, key)
                return
            if isinstance(seen, Done):
                self._duplicate(request)
                body = seen.body
            else:
                try:
                    body = await self._dispatcher.reply_for_async(request)
                except Exception as exc:
                    log.exception("request to %s failed outside its handler", request.routing_key)
                    body = wire.error_reply(exc)
                if once_key is not None:
                    await self._on.done_async(once_key, body)
            if not self._claim(request, key):
                return
            # Replies of one loop iteration go to the consumer together: one I/O turn, one write.
            reply_to = request.properties.reply_to
            props = None if body is None else reply_properties(request.properties)
            self._outbox.append((request.tag, request.epoch, reply_to, props, body))
            if len(self._outbox) == 1:
                asyncio.get_running_loop().call_soon(self._flush_outbox)
        finally:
            self._settlement.end(key, request)

    def _flush_outbox(self) -> None:
        replies, self._outbox = self._outbox, []
        self._consuming.wait()  # a request can arrive before consume() has returned
        assert self._consumer is not None
        self._consumer.reply_all(replies)

    async def _handle_event_async(self, entry: EventEntrypoint, delivery: Delivery) -> None:
        key = asyncio.current_task()
        if not self._begin(key, (entry, delivery)):
            return
        try:
            once_key = self._once_key(entry.queue, delivery, False)
            if once_key is not None:
                seen = await self._on.settle_or_claim_async(once_key, self.stopping)
                if seen is None:
                    self._give_back((entry, delivery), key)
                    return
                if isinstance(seen, Done):
                    self._duplicate(delivery)
                    self._settle_event(entry, delivery, ("ack", ""), key)
                    return
            limit = self._dispatcher.max_message_bytes
            outcome = await entry.handle_async(delivery, self._dispatcher.middleware, limit)
            if once_key is not None:
                await self._on.settled_async(once_key, outcome[0] == "requeue")
            self._settle_event(entry, delivery, outcome, key)
        finally:
            self._settlement.end(key, (entry, delivery))

    def _handle_event(self, entry: EventEntrypoint, delivery: Delivery) -> None:
        """Run one event's handler; ack, requeue or dead-letter it (see ``_handling``)."""
        ident = threading.get_ident()
        once_key = self._once_key(entry.queue, delivery, False)
        if once_key is not None:
            seen = self._on.settle_or_claim(once_key, self.stopping)
            if seen is None:
                self._give_back((entry, delivery), ident)
                return
            if isinstance(seen, Done):
                self._duplicate(delivery)
                self._settle_event(entry, delivery, ("ack", ""), ident)
                return
        limit = self._dispatcher.max_message_bytes
        outcome = entry.handle(delivery, self._loop, self._dispatcher.middleware, limit)
        if once_key is not None:
            self._on.settled(once_key, outcome[0] == "requeue")
        self._settle_event(entry, delivery, outcome, ident)

    def _settle_event(
        self, entry: EventEntrypoint, delivery: Delivery, result: Outcome, key: object
    ) -> None:
        outcome, reason = result
        self._consuming.wait()
        consumer = self._event_consumers[id(entry)]
        if not self._claim(delivery, key):
            return
        if outcome == "ack":
            consumer.ack(delivery.tag, delivery.epoch)
        elif outcome == "requeue":
            consumer.requeue(delivery.tag, delivery.epoch)
        else:
            queue, props = entry.dead_letter(delivery, reason)
            consumer.reply(delivery.tag, queue, props, delivery.body, delivery.epoch, exchange="")

    def _serve_request(self, request: Delivery) -> None:
        """Run one request's handler and hand its reply (or its ack) to the consumer."""
        ident = threading.get_ident()
        key = self._once_key(self._rpc_queue, request, True)
        if key is not None:
            seen = self._on.settle_or_claim(key, self.stopping)
            if seen is None:
                self._give_back(request, ident)
                return
            if isinstance(seen, Done):
                self._duplicate(request)
                self._settle_request(request, seen.body, ident)
                return
        try:
            body = self._dispatcher.reply_for(request)
        except BaseException as exc:  # even SystemExit from a handler must not kill a worker
            log.exception("request to %s failed outside its handler", request.routing_key)
            body = wire.error_reply(exc)
        if key is not None:
            self._on.done(key, body)
        self._settle_request(request, body, ident)

    def _settle_request(self, request: Delivery, body: bytes | None, key: object) -> None:
        """Hand a request's reply (or its ack) to the consumer; from any thread."""
        # A request can arrive before consume() has returned: wait for the assignment.
        self._consuming.wait()
        consumer = self._consumer
        assert consumer is not None
        props = request.properties
        if not self._claim(request, key):
            return
        if body is None:
            consumer.ack(request.tag, request.epoch)
        else:
            reply_props = reply_properties(props)
            consumer.reply(request.tag, props.reply_to, reply_props, body, request.epoch)

    # Effectively once (``once``): a store claim before a handler runs, its outcome after.

    @property
    def _on(self) -> Once:
        assert self.once is not None  # a key is made only when it is on
        return self.once

    def _once_key(self, queue: str, delivery: Delivery, request: bool) -> str | None:
        return None if self.once is None else identity(queue, delivery, request)

    def _duplicate(self, delivery: Delivery) -> None:
        with self._settlement.lock:
            self.duplicates += 1
        props = delivery.properties
        log.info(
            "settled a copy of %s (%s %s) without running it: it was handled before",
            delivery.routing_key,
            "message id" if props.message_id else "correlation id",
            props.message_id or props.correlation_id,
        )

    def _give_back(self, item: Taken, key: object) -> None:
        """Requeue a copy that waited for another run's outcome while the runner stopped."""
        if self._claim(delivery_of(item), key):
            self._hand_back(item, None)
