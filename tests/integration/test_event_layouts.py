"""Events, the rest of the way: dotted event types, handler-only services, handlers sharing a
queue, no borrowed deadlines, dispatchers without a reply queue, per-instance broadcast
identifiers (docs/events.md). Tests taking ``rpc_uri`` run on both transports; what only the
management API can show is checked on RabbitMQ."""

from __future__ import annotations

import math
import os
import queue
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pika
import pytest
import rpcgen.runtime as rt
from rpcgen.runtime.testing import Vhost

from generated.shop import OrderCreated, OrdersAsyncEvents, OrdersEvent, OrdersEvents
from tests.waiting import wait_until


@dataclass
class UserCreated:
    name: str


user_created: rt.Event[UserCreated] = rt.Event("users", "user.created", UserCreated)
user_deleted: rt.Event[UserCreated] = rt.Event("users", "user.deleted", UserCreated)


class UsersEvents(rt.Client):
    service_name = "users"
    _dispatch_only = True

    def user_created(self, payload: UserCreated) -> None:
        self._publish(user_created, payload)

    def user_deleted(self, payload: UserCreated) -> None:
        self._publish(user_deleted, payload)


class Audit(rt.Server):
    """Handler-only: no ``methods``."""

    service_name = "audit"

    def __init__(self) -> None:
        self.got: queue.Queue[tuple[str, str]] = queue.Queue()

    @user_created.handler()
    def created(self, payload: UserCreated) -> None:
        self.got.put(("created", payload.name))

    @user_deleted.handler()
    def deleted(self, payload: UserCreated) -> None:
        self.got.put(("deleted", payload.name))


def _take(q: queue.Queue[object], n: int, timeout: float = 15.0) -> list[object]:
    return [q.get(timeout=timeout) for _ in range(n)]


def test_a_dotted_event_type_is_routed_exactly(rpc_uri: str) -> None:
    """``user.created`` reaches its handler and not ``user.deleted``'s: the dot is literal."""
    audit = Audit()
    with rt.run_in_background(audit, rpc_uri), UsersEvents.connect(rpc_uri) as events:
        events.user_created(UserCreated("ann"))
        events.user_deleted(UserCreated("bob"))
        assert sorted(_take(audit.got, 2)) == [("created", "ann"), ("deleted", "bob")]  # type: ignore[type-var]
        with pytest.raises(queue.Empty):
            audit.got.get(timeout=0.5)  # nothing handled twice


def test_a_handler_only_service_declares_no_rpc_queue(rabbit_vhost: Vhost) -> None:
    with rt.run_in_background(Audit(), rabbit_vhost.uri) as runner:
        names = {q.name for q in rabbit_vhost.queues()}
        assert "rpc-audit" not in names
        assert "evt-users-user.created--audit.created" in names
        assert runner.error is None
        assert runner.readiness() is None  # ready without an RPC queue to consume


HANDLER_ONLY_APP = """
from pathlib import Path

import rpcgen.runtime as rt
from generated.shop import OrderCreated, OrdersEvent


class Audit(rt.Server):
    service_name = "audit"

    @OrdersEvent.order_created.handler()
    def seen(self, payload: OrderCreated) -> None:
        Path("seen.txt").write_text(f"{payload.order_id} {payload.product_id}")
"""


def test_rpcgen_serve_runs_a_handler_only_service(rabbit_vhost: Vhost, tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(HANDLER_ONLY_APP)
    repo = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(repo)}
    command = [sys.executable, "-m", "rpcgen", "serve", "app:Audit", "--amqp-uri", rabbit_vhost.uri]
    proc = subprocess.Popen(
        command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        rabbit_vhost.wait_for_consumers("evt-orders-order_created--audit.seen", timeout=30)
        with OrdersEvents.connect(rabbit_vhost.uri) as events:
            events.order_created(OrderCreated(4, "sku-4", 1))
        seen = tmp_path / "seen.txt"

        def handled() -> bool:
            assert proc.poll() is None, "rpcgen serve exited early"
            return seen.exists() and bool(seen.read_text())

        wait_until(handled, 15, what="the handler running")
        assert seen.read_text() == "4 sku-4"
        assert "rpc-audit" not in {q.name for q in rabbit_vhost.queues()}
    finally:
        proc.terminate()
        output, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0, output


class TwoSingletons(rt.Server):
    """Two singleton handlers of one event: both consume ``evt-orders-order_created``."""

    service_name = "stock"

    def __init__(self) -> None:
        self.got: queue.Queue[tuple[str, int]] = queue.Queue()

    @OrdersEvent.order_created.handler("singleton")
    def first(self, payload: OrderCreated) -> None:
        self.got.put(("first", payload.order_id))

    @OrdersEvent.order_created.handler("singleton")
    def second(self, payload: OrderCreated) -> None:
        self.got.put(("second", payload.order_id))


def test_two_singletons_of_one_event_share_its_queue_as_nameko_s_do(rpc_uri: str) -> None:
    """Each event is handled once, by one of the two (the broker alternates, as for Nameko's
    two consumers of one queue); every one is acked on the channel it came on."""
    server = TwoSingletons()
    count = 40
    with rt.run_in_background(server, rpc_uri) as runner:
        with OrdersEvents.connect(rpc_uri) as events:
            for i in range(count):
                events.order_created(OrderCreated(i, "sku", 1))
        got = _take(server.got, count)  # type: ignore[arg-type]
        with pytest.raises(queue.Empty):
            server.got.get(timeout=0.5)
        assert runner.error is None  # no channel closed on an unknown delivery tag
    assert sorted(i for _, i in got) == list(range(count))  # type: ignore[misc]
    assert {who for who, _ in got} == {"first", "second"}  # type: ignore[misc]


def test_shared_queue_is_left_empty_and_fully_acked(rabbit_vhost: Vhost) -> None:
    server = TwoSingletons()
    with rt.run_in_background(server, rabbit_vhost.uri) as runner:
        rabbit_vhost.wait_for_consumers("evt-orders-order_created", count=2)
        with OrdersEvents.connect(rabbit_vhost.uri) as events:
            for i in range(40):
                events.order_created(OrderCreated(i, "sku", 1))
        _take(server.got, 40)  # type: ignore[arg-type]
        wait_until(
            lambda: _settled(rabbit_vhost, "evt-orders-order_created"),
            15,
            what="the shared queue settled",
            describe=lambda: rabbit_vhost.queue("evt-orders-order_created"),
        )
        assert runner.error is None


class Caller(rt.Server):
    """Handles ``order_created`` by calling ``pricing.price``; records its own context."""

    service_name = "caller"

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self.got: queue.Queue[tuple[rt.CallContext | None, object]] = queue.Queue()

    @OrdersEvent.order_created.handler()
    def on_order(self, payload: OrderCreated) -> None:
        ctx = rt.current_context()
        try:
            with rt.RawClient.connect(self.uri, timeout=10) as client:
                outcome: object = client.call("pricing", "price", [payload.product_id])
        except Exception as exc:  # recorded for the test to show
            outcome = exc
        self.got.put((ctx, outcome))


class Pricing(rt.Server):
    service_name = "pricing"
    methods = {"price": rt.Method("pricing", "price", params=(rt.Param("sku", str),), result=int)}  # noqa: RUF012

    def price(self, sku: str) -> int:
        return len(sku)


def test_an_event_handler_never_adopts_a_deadline_from_its_headers(rabbit_vhost: Vhost) -> None:
    """A Nameko dispatcher copies its call's context, deadline included, into its events: a
    handler ignores the deadline (long past here) but keeps the data and the call-id stack."""
    caller = Caller(rabbit_vhost.uri)
    past = math.floor((time.time() - 60) * 1000)
    with (
        rt.run_in_background(Pricing(), rabbit_vhost.uri),
        rt.run_in_background(caller, rabbit_vhost.uri),
    ):
        params = pika.URLParameters(rabbit_vhost.uri)
        with pika.BlockingConnection(params) as conn:
            channel = conn.channel()
            channel.basic_publish(
                "orders.events",
                "order_created",
                b'{"order_id": 1, "product_id": "sku-12", "quantity": 1}',
                pika.BasicProperties(
                    content_type="application/json",
                    delivery_mode=2,
                    headers={
                        "nameko.call_id_stack": ["gateway.create.1", "orders.create.2"],
                        "nameko.rpcgen_deadline_ms": past,
                        "nameko.user_id": "u-7",
                    },
                ),
            )
        ctx, outcome = caller.got.get(timeout=30)
    assert outcome == 6  # the call got its own timeout, not a deadline 60 s in the past
    assert ctx is not None and ctx.deadline is None
    assert ctx.data.get("user_id") == "u-7"
    assert "rpcgen_deadline_ms" not in ctx.data
    assert ctx.call_id_stack[:2] == ("gateway.create.1", "orders.create.2")
    assert ctx.call_id_stack[2].startswith("caller.on_order.")


def _reply_queues(vhost: Vhost) -> list[str]:
    return [q.name for q in vhost.queues() if q.name.startswith("rpc.reply-")]


def test_a_dispatcher_only_connection_declares_no_reply_queue(rabbit_vhost: Vhost) -> None:
    spy = rabbit_vhost.spy("orders.events", "order_created")
    with OrdersEvents.connect(rabbit_vhost.uri) as events:
        events.order_created(OrderCreated(1, "a", 1))
        assert _reply_queues(rabbit_vhost) == []

    async def dispatch() -> None:
        async with OrdersAsyncEvents.connect(rabbit_vhost.uri) as events:
            await events.order_created(OrderCreated(2, "b", 1))
            assert _reply_queues(rabbit_vhost) == []

    import asyncio

    asyncio.run(dispatch())
    assert [m.body for m in spy.get(2)] == [
        b'{"order_id": 1, "product_id": "a", "quantity": 1}',
        b'{"order_id": 2, "product_id": "b", "quantity": 1}',
    ]
    # A client that calls still has one.
    with rt.RawClient.connect(rabbit_vhost.uri):
        assert len(_reply_queues(rabbit_vhost)) == 1


class Host(rt.Server):
    """A broadcast handler whose identifier is this instance's host id (a stable name)."""

    service_name = "cache"

    def __init__(self, host_id: str) -> None:
        self.host_id = host_id
        self.got: queue.Queue[int] = queue.Queue()

    @OrdersEvent.order_created.handler(
        "broadcast", broadcast_identifier=lambda self: self.host_id, reliable_delivery=True
    )
    def invalidate(self, payload: OrderCreated) -> None:
        self.got.put(payload.order_id)


def test_a_per_instance_broadcast_identifier_gets_missed_broadcasts(rabbit_vhost: Vhost) -> None:
    """Reliable broadcast: each instance its own durable queue, named after its host id; one
    that restarts gets the broadcasts it missed while down."""
    a, b = Host("host-a"), Host("host-b")
    queue_a = "evt-orders-order_created--cache.invalidate-host-a"
    with rt.run_in_background(a, rabbit_vhost.uri), rt.run_in_background(b, rabbit_vhost.uri):
        with OrdersEvents.connect(rabbit_vhost.uri) as events:
            events.order_created(OrderCreated(1, "x", 1))
        assert (a.got.get(timeout=15), b.got.get(timeout=15)) == (1, 1)
        row = rabbit_vhost.queue(queue_a)
        assert row is not None and (row.durable, row.auto_delete, row.exclusive) == (
            True,
            False,
            False,
        )
    with OrdersEvents.connect(rabbit_vhost.uri) as events:  # both down: kept for them
        events.order_created(OrderCreated(2, "x", 1))
    restarted = Host("host-a")
    with rt.run_in_background(restarted, rabbit_vhost.uri):
        assert restarted.got.get(timeout=15) == 2


def test_a_broadcast_identifier_function_must_return_a_string(rpc_uri: str) -> None:
    with pytest.raises(ValueError, match="broadcast_identifier returned ''"):
        rt.ServiceRunner(Host(""), rpc_uri)


class Counting(rt.Server):
    service_name = "counting"

    def __init__(self) -> None:
        self.got: queue.Queue[int] = queue.Queue()

    @OrdersEvent.order_created.handler()
    def on_order(self, payload: OrderCreated) -> None:
        self.got.put(payload.order_id)


def test_dispatch_async_pipelines_and_resolves_once_the_broker_has_each_event(
    rpc_uri: str,
) -> None:
    server = Counting()
    with rt.run_in_background(server, rpc_uri), OrdersEvents.connect(rpc_uri) as events:
        futures = [
            events.dispatch_async(OrdersEvent.order_created, OrderCreated(i, "sku", 1))
            for i in range(50)
        ]
        assert [f.result(timeout=15) for f in futures] == [None] * 50
        assert sorted(_take(server.got, 50)) == list(range(50))  # type: ignore[type-var]


def test_dispatch_async_fails_its_future_when_the_broker_refuses(rabbit_vhost: Vhost) -> None:
    """The exchange was declared with other flags: the broker refuses, the future says so."""
    params = pika.URLParameters(rabbit_vhost.uri)
    with pika.BlockingConnection(params) as conn:
        conn.channel().exchange_declare("orders.events", "direct")
    with OrdersEvents.connect(rabbit_vhost.uri) as events:
        future = events.dispatch_async(OrdersEvent.order_created, OrderCreated(1, "a", 1))
        with pytest.raises(rt.RpcError):
            future.result(timeout=15)


def _settled(vhost: Vhost, queue: str) -> bool:
    """Nothing ready and nothing unacknowledged in ``queue``."""
    row = vhost.queue(queue)
    assert row is not None
    return (row.messages_ready, row.messages_unacknowledged) == (0, 0)
