"""A Nameko ``users`` service that dispatches the dotted event type ``user.created``, and
``naudit``, whose handlers of it share queues: a ``service_pool`` handler and two ``singleton``
handlers of the same event in one class (``nameko run event_users``)."""

from nameko.events import SERVICE_POOL, SINGLETON, EventDispatcher, event_handler
from nameko.extensions import DependencyProvider
from nameko.rpc import rpc

RECEIVED = []


class WorkerContext(DependencyProvider):
    def get_dependency(self, worker_ctx):
        return worker_ctx


class Users:
    name = "users"

    dispatch = EventDispatcher()

    @rpc
    def create(self, name):
        self.dispatch("user.created", {"name": name})
        return name

    @rpc
    def ping(self):
        return "pong"


class NAudit:
    name = "naudit"

    ctx = WorkerContext()

    def _record(self, kind, payload):
        RECEIVED.append({"kind": kind, "payload": payload, "stack": self.ctx.call_id_stack})

    @event_handler("users", "user.created", handler_type=SERVICE_POOL)
    def pool(self, payload):
        self._record("pool", payload)

    @event_handler("users", "user.created", handler_type=SINGLETON)
    def single_a(self, payload):
        self._record("single_a", payload)

    @event_handler("users", "user.created", handler_type=SINGLETON)
    def single_b(self, payload):
        self._record("single_b", payload)

    @rpc
    def received(self):
        return RECEIVED
