"""``worker_factory`` and ``entrypoint``: one handler called alone, as a request would call it."""

from __future__ import annotations

import asyncio
import json
import re
import time

import pytest
import rpcgen.runtime as rt
from rpcgen.runtime.testing import entrypoint, memory, worker_factory

from generated.hello import DivisionByZero
from generated.shop import OrderCreated, OrdersEvent
from tests.hello import AsyncHello
from tests.integration.impls import Itest, Relay
from tests.integration.stubs import InsufficientFunds


def test_the_docstring_example_runs() -> None:
    doc = memory.__doc__ or ""
    block = doc.split("::\n", 1)[1]
    code = "\n".join(line[4:] for line in block.splitlines())
    exec(compile(code, "rpcgen.runtime.testing.memory", "exec"), {})


def test_results_and_declared_errors_come_back_decoded() -> None:
    itest = Itest()
    assert entrypoint(itest.compute)(6, b=7) == 42
    with pytest.raises(InsufficientFunds, match="balance 100 < 1000"):
        entrypoint(itest.withdraw)(1000)
    with pytest.raises(rt.RemoteError) as info:
        entrypoint(itest.fail)("boom")
    assert (info.value.exc_type, info.value.value) == ("ValueError", "boom")


def test_arguments_are_validated_as_the_server_validates_them() -> None:
    with pytest.raises(rt.IncorrectSignature, match="name"):
        entrypoint(Itest().hello)(5)  # type: ignore[arg-type]


def test_the_handler_sees_the_given_context_stack_and_deadline() -> None:
    seen = entrypoint(
        Itest().context,
        context_data={"user": "ann"},
        call_id_stack=["web.call.1"],
        timeout=30,
    )()
    stack = json.loads(seen.pop("call_id_stack"))
    assert stack[0] == "web.call.1" and re.fullmatch(r"itest\.context\.[0-9a-f-]{36}", stack[1])
    deadline_ms = json.loads(seen.pop("rpcgen_deadline_ms"))
    assert time.time() + 29 < deadline_ms / 1000 <= time.time() + 30.01
    assert seen == {"user": '"ann"'}


def test_a_request_already_past_its_deadline_is_not_run() -> None:
    itest = Itest()
    with pytest.raises(rt.RpcTimeout):
        entrypoint(itest.sleep, timeout=-1)(0.0)
    assert not itest.started.acquire(blocking=False)


def test_context_that_could_not_travel_fails_as_on_the_wire() -> None:
    with pytest.raises(rt.RpcConnectionError, match="cannot be sent"):
        entrypoint(Itest().hello, context_data={"ratio": 0.5})("x")


class FakeItest:
    def context(self) -> dict[str, str]:
        return {"from": "fake"}


def test_worker_factory_replaces_collaborators_a_start_hook_would_make() -> None:
    relay = worker_factory(Relay, connection=None, itest=FakeItest())
    assert entrypoint(relay.relay)() == {"from": "fake"}
    with pytest.raises(TypeError, match="no attribute or parameter 'nope'"):
        worker_factory(Itest, nope=1)


class YieldingHello(AsyncHello):
    async def test(self, name: str) -> str:
        await asyncio.sleep(0)
        return f"hi {name}"


def test_async_handlers_run_on_a_loop_of_their_own() -> None:
    hello = YieldingHello()
    assert entrypoint(hello.test)("bob") == "hi bob"
    with pytest.raises(DivisionByZero, match="cannot divide 1 by zero"):
        entrypoint(hello.divide)(1, 0)


def test_only_rpc_methods_of_a_server_can_be_called() -> None:
    with pytest.raises(TypeError, match="not an RPC method"):
        entrypoint(print)


class Stock(rt.Server):
    service_name = "stock"
    methods: dict[str, rt.Method[object]] = {}  # noqa: RUF012

    def __init__(self) -> None:
        self.seen: list[tuple[OrderCreated, tuple[str, ...]]] = []

    @OrdersEvent.order_created.handler()
    def on_order_created(self, payload: OrderCreated) -> None:
        ctx = rt.current_context()
        assert ctx is not None
        if payload.quantity < 0:
            raise ValueError("negative")
        self.seen.append((payload, ctx.call_id_stack))

    @OrdersEvent.order_created.handler("broadcast", reliable_delivery=False)
    async def also(self, payload: OrderCreated) -> None:
        await asyncio.sleep(0)
        raise KeyError(payload.product_id)


def test_event_handlers_get_their_payload_as_a_queue_would_deliver_it() -> None:
    stock = Stock()
    handle = entrypoint(stock.on_order_created, call_id_stack=["orders.create_order.1"])
    handle(OrderCreated(1, "sku", 2))
    ((payload, stack),) = stock.seen
    assert payload == OrderCreated(1, "sku", 2)
    assert stack[0] == "orders.create_order.1" and stack[1].startswith("stock.on_order_created.")
    with pytest.raises(ValueError, match="negative"):
        handle(OrderCreated(2, "sku", -1))
    with pytest.raises(rt.MalformedRequest, match="dead-lettered"):
        handle({"order_id": "one"})  # type: ignore[arg-type]
    with pytest.raises(KeyError, match="sku"):
        entrypoint(stock.also)(OrderCreated(3, "sku", 1))
