"""Nameko handlers of the orders service's ``order_created``, one of each handler type
(``nameko run event_handlers``); ``received()`` tells what each got, with its call-id stack."""

from nameko.events import BROADCAST, SERVICE_POOL, SINGLETON, event_handler
from nameko.extensions import DependencyProvider
from nameko.rpc import rpc

RECEIVED = []


class WorkerContext(DependencyProvider):
    def get_dependency(self, worker_ctx):
        return worker_ctx


class NProducts:
    name = "nproducts"

    ctx = WorkerContext()

    def _record(self, kind, payload):
        RECEIVED.append({"kind": kind, "payload": payload, "stack": self.ctx.call_id_stack})

    @event_handler("orders", "order_created", handler_type=SERVICE_POOL)
    def pool(self, payload):
        self._record("service_pool", payload)

    @event_handler("orders", "order_created", handler_type=SINGLETON)
    def single(self, payload):
        self._record("singleton", payload)

    @event_handler("orders", "order_created", handler_type=BROADCAST, reliable_delivery=False)
    def every(self, payload):
        self._record("broadcast", payload)

    @rpc
    def received(self):
        return RECEIVED
