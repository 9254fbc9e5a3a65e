"""Event handlers of a server: their queues (named and flagged as Nameko's), and one event in.

A server method registered with ``Event.handler(...)`` (see ``spec``) becomes an
``EventEntrypoint``: a queue bound to ``<source>.events`` with the event type as routing key,
declared exactly as Nameko declares it (``docs/wire.md`` §7.3), and consumed on a channel of its
own, like the RPC queue, by the server's worker pool.

One event in (``EventEntrypoint.handle``), never raising:
- a body over the connection's ``max_message_bytes`` (never decoded), headers pika could not or
  must not decode (``wire.UndecodedHeaders``), a body that is not JSON, a content type other
  than JSON, or a payload that does not match the event's payload type never reaches the
  handler: it is published to the service's dead-letter
  queue ``rpcgen-dlq-<service>`` (durable, declared by rpcgen; the handler queue itself keeps
  Nameko's exact flags and no arguments, so Nameko peers can still declare it) with headers
  saying why and where it came from, and acked once the dead letter is confirmed;
- the handler runs with the event's context (``current_context()``): its ``nameko.*`` headers
  and a call-id stack grown by the handler's own call id, which the calls and events it makes
  carry on; never a deadline (a Nameko dispatcher copies the one of the call it served into its
  events' headers): an event runs on its own time, and the handler's calls get their own
  timeouts;
- the event is acked when the handler returns or raises (Nameko's policy), or requeued if it
  raised and the handler has ``requeue_on_error``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from rpcgen.runtime import _metrics, _tracing, context
from rpcgen.runtime import _topology as topology
from rpcgen.runtime._asyncrun import HandlerLoop, awaited, is_async
from rpcgen.runtime._codec import wire
from rpcgen.runtime._transport import DEFAULT_MAX_MESSAGE_BYTES, Delivery, Properties
from rpcgen.runtime.errors import MalformedRequest, PayloadTooLarge
from rpcgen.runtime.middleware import HandlerCall, Middleware, finish, run_async, run_sync
from rpcgen.runtime.once import identity
from rpcgen.runtime.spec import EventHandler

__all__ = ["EventEntrypoint", "Outcome", "dead_letter_queue", "event_entrypoints"]

log = logging.getLogger(__name__)

Outcome = tuple[Literal["ack", "requeue", "dead"], str]
"""What to do with an event: ack it, requeue it, or dead-letter it (with the reason)."""


def dead_letter_queue(service: str) -> str:
    """The durable queue where ``service``'s handlers put the events they cannot decode."""
    return f"rpcgen-dlq-{service}"


@dataclass
class EventEntrypoint:
    """One handler method of one server: its queue and how to run it."""

    service: str
    attr: str
    spec: EventHandler
    handler: Callable[[Any], object]
    queue: str
    server: object = None
    running: dict[object, str] = field(default_factory=dict)
    """The call id of each event it handles now, by worker thread id or asyncio task (the
    runner logs it when a drain cuts the handler off)."""

    @property
    def exclusive(self) -> bool:
        return self.spec.handler_type == "broadcast" and not self.spec.reliable_delivery

    def setup(self) -> list[topology.Step]:
        """Declare the source's exchange, the handler queue with Nameko's flags, the binding,
        and the service's dead-letter queue."""
        event = self.spec.event
        return [
            topology.exchange(event.exchange),
            topology.queue(
                self.queue, auto_delete=not self.spec.reliable_delivery, exclusive=self.exclusive
            ),
            topology.bind(self.queue, event.exchange, event.name),
            topology.queue(dead_letter_queue(self.service)),
        ]

    def handle(
        self,
        delivery: Delivery,
        loop: HandlerLoop | None = None,
        middleware: tuple[Middleware, ...] = (),
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    ) -> Outcome:
        """Run the handler on one event in this thread (an async one on ``loop``); never raises."""
        call = self._prepare(delivery, max_message_bytes)
        if not isinstance(call, HandlerCall):
            return self._counted(call)
        key = threading.get_ident()
        self.running[key] = call.context.call_id
        chain = _tracing.outermost + middleware  # an installed tracer's span: outermost
        try:
            outcome = self._run(call, loop, chain)
        except BaseException:
            if chain:  # cut off (KeyboardInterrupt): no outcome
                finish(chain, call, None, None)
            raise
        finally:
            del self.running[key]
        if chain:
            finish(chain, call, outcome[0], None)
        return self._counted(outcome)

    async def handle_async(
        self,
        delivery: Delivery,
        middleware: tuple[Middleware, ...] = (),
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    ) -> Outcome:
        """Run an async handler on one event in this task; never raises."""
        call = self._prepare(delivery, max_message_bytes)
        if not isinstance(call, HandlerCall):
            return self._counted(call)
        key = asyncio.current_task()
        self.running[key] = call.context.call_id
        chain = _tracing.outermost + middleware
        try:
            outcome = await self._run_async(call, chain)
        except BaseException:
            if chain:  # cut off (a cancelled task): no outcome
                finish(chain, call, None, None)
            raise
        finally:
            del self.running[key]
        if chain:
            finish(chain, call, outcome[0], None)
        return self._counted(outcome)

    def _counted(self, outcome: Outcome) -> Outcome:
        """``outcome``, counted by the installed meter (``_metrics``) if any."""
        if _metrics.meter is not None:
            kind, reason = outcome
            label = "dead_lettered" if kind == "dead" else "error" if reason else "ok"
            _metrics.meter.event_handled(self.service, self.attr, label)
        return outcome

    def _prepare(self, delivery: Delivery, max_message_bytes: int) -> HandlerCall | Outcome:
        event = self.spec.event
        props = delivery.properties
        size = len(delivery.body)
        if size > max_message_bytes:
            too_large = PayloadTooLarge.exceeded(f"event {event.label}", size, max_message_bytes)
            return "dead", str(too_large)
        undecodable = wire.undecoded(props.headers)
        if undecodable is not None:
            return "dead", f"headers not decoded: {undecodable}"
        try:
            if props.content_type not in (None, wire.CONTENT_TYPE):
                raise MalformedRequest(f"unsupported content type {props.content_type!r}")
            payload = event.codec.decode(delivery.body)
        except Exception as exc:
            return "dead", str(exc)
        call_id = wire.new_call_id(self.service, self.attr)
        ctx = context.incoming(props.headers, call_id, adopt_deadline=False)
        return HandlerCall(  # positional: keywords would cost a dict (~0.2 µs) per event
            self.service, self.attr, "event", self.spec.handler_type, self.server, (payload,),
            {}, ctx, is_async(self.handler), event.name, identity(self.queue, delivery, False),
            {}, event.service, self.queue,
        )  # fmt: skip

    def _run(
        self, call: HandlerCall, loop: HandlerLoop | None, chain: tuple[Middleware, ...]
    ) -> Outcome:
        token = context.enter(call.context)
        try:
            if call.is_async:
                runs = run_async(chain, call, self.handler)  # type: ignore[arg-type]
                awaited(runs, loop, call.context)
            else:
                run_sync(chain, call, self.handler)
        except Exception:
            return self._failed(call)
        finally:
            context.leave(token)
        return "ack", ""

    async def _run_async(self, call: HandlerCall, chain: tuple[Middleware, ...]) -> Outcome:
        token = context.enter(call.context)
        try:
            await run_async(chain, call, self.handler)  # type: ignore[arg-type]
        except Exception:
            return self._failed(call)
        finally:
            context.leave(token)
        return "ack", ""

    def _failed(self, call: HandlerCall) -> Outcome:
        label = self.spec.event.label
        log.error("%s failed handling %s", call.context.call_id, label, exc_info=True)
        return ("requeue" if self.spec.requeue_on_error else "ack"), "handler raised"

    def dead_letter(self, delivery: Delivery, reason: str) -> tuple[str, Properties]:
        """The routing key (on the default exchange) and properties of a dead letter."""
        props = delivery.properties
        log.error(
            "%s: an event that cannot be handled went to %s: %s (body %r)",
            self.queue,
            dead_letter_queue(self.service),
            reason,
            delivery.body[:200],
        )
        headers = dict(props.headers or {})
        headers.update(
            {
                "x-rpcgen-reason": reason[:1000],
                "x-rpcgen-queue": self.queue,
                "x-rpcgen-routing-key": delivery.routing_key,
            }
        )
        dead = Properties(
            content_type=props.content_type,
            content_encoding=props.content_encoding,
            delivery_mode=wire.PERSISTENT,
            headers=headers,
        )
        return dead_letter_queue(self.service), dead


def event_entrypoints(server: object, service: str) -> list[EventEntrypoint]:
    """The event handlers declared on ``server``'s class, in name order."""
    found = []
    cls = type(server)
    for attr in sorted(dir(cls)):
        spec = getattr(getattr(cls, attr, None), "__rpcgen_event_handler__", None)
        if not isinstance(spec, EventHandler):
            continue
        event = spec.event
        ident = spec.broadcast_identifier
        if spec.handler_type != "broadcast":
            ident = None
        elif ident is None:
            ident = uuid.uuid4().hex  # Nameko's default: a new queue per instance
        elif callable(ident):  # per instance, like Nameko's overridable property
            ident = ident(server)
            if not isinstance(ident, str) or not ident:
                raise ValueError(
                    f"{type(server).__name__}.{attr}: broadcast_identifier returned {ident!r};"
                    " it must return a non-empty string"
                )
        queue = wire.event_queue(event.service, event.name, spec.handler_type, service, attr, ident)
        found.append(EventEntrypoint(service, attr, spec, getattr(server, attr), queue, server))
    return found
