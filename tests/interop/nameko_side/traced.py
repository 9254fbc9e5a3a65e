"""A Nameko 3 service traced by ``opentelemetry-instrumentation-nameko``, for tests/otel.

Run with ``nameko run traced`` from this folder in ``.venv-nameko-otel``, with
``TRACED_SPANS_FILE`` set (see ``otel_setup``). ``traced.hop`` calls ``<TRACED_HOP_TARGET>.whoami``
(an rpcgen service in the test) and returns what it answered, with the trace context this worker
received; ``traced.announce`` dispatches the event ``traced.announced``; ``traced.on_order``
handles rpcgen's ``orders.order_created``.
"""

import os

from nameko.events import EventDispatcher, event_handler
from nameko.extensions import DependencyProvider
from nameko.rpc import ServiceRpc, rpc
from otel_setup import setup

setup()


class WorkerContext(DependencyProvider):
    def get_dependency(self, worker_ctx):
        return worker_ctx


class Traced:
    name = "traced"

    ctx = WorkerContext()
    target = ServiceRpc(os.environ.get("TRACED_HOP_TARGET", "rtail"))
    dispatch = EventDispatcher()

    @rpc
    def hop(self):
        received = self.ctx.context_data.get("traceparent")
        return {"received": received, "behind": self.target.whoami()}

    @rpc
    def whoami(self):
        return {"traceparent": self.ctx.context_data.get("traceparent")}

    @rpc
    def announce(self, n):
        self.dispatch("announced", {"n": n})

    @event_handler("orders", "order_created")
    def on_order(self, payload):
        pass
