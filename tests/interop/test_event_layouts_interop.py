"""Events with real Nameko, the rest of the way: a dotted event type both ways, a handler-only
rpcgen service, Nameko's own handlers sharing a queue, and a deadline Nameko copies into the
events it dispatches (which an rpcgen handler must not adopt)."""

from __future__ import annotations

import importlib
import queue
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest
import rpcgen.runtime as rt
from rpcgen.runtime.testing import Vhost

from tests.interop.harness import NamekoClient, NamekoServices
from tests.waiting import wait_until

StartNameko = Callable[..., NamekoServices]
UUID4 = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"


@pytest.fixture
def users(interop_api: ModuleType) -> ModuleType:
    """The generated module of tests/interop/idl/users.py (``UsersEvents``, ``UsersEvent``)."""
    return importlib.import_module("interop_generated.users")


def _audit_class(users: ModuleType) -> type[rt.Server]:
    class RAudit(rt.Server):
        """Handler-only: no RPC methods, so no ``rpc-raudit`` queue."""

        service_name = "raudit"

        def __init__(self, uri: str) -> None:
            self.uri = uri
            self.got: queue.Queue[tuple[str, rt.CallContext | None, object]] = queue.Queue()
            self.wait_until: float | None = None  # wall-clock time to wait for before calling

        @users.UsersEvent.user_created.handler()
        def created(self, payload: Any) -> None:
            ctx = rt.current_context()
            if self.wait_until is not None:  # let the dispatching call's deadline pass
                pause = threading.Event()
                while time.time() < self.wait_until:
                    pause.wait(0.05)
            try:
                with rt.RawClient.connect(self.uri, timeout=10) as client:
                    outcome: object = client.call("users", "ping")
            except Exception as exc:  # recorded for the test to show
                outcome = exc
            self.got.put((payload.name, ctx, outcome))

    return RAudit


def test_nameko_dispatches_a_dotted_event_to_a_handler_only_rpcgen_service(
    start_nameko: StartNameko,
    nameko_client: NamekoClient,
    rabbit_vhost: Vhost,
    users: ModuleType,
) -> None:
    start_nameko(module="event_users", services=("users", "naudit"))
    audit = _audit_class(users)(rabbit_vhost.uri)
    with rt.run_in_background(audit, rabbit_vhost.uri):
        assert nameko_client.call("users", "create", "ann").value == "ann"
        name, ctx, outcome = audit.got.get(timeout=30)
        names = {q.name for q in rabbit_vhost.queues()}
    assert (name, outcome) == ("ann", "pong")
    assert isinstance(ctx, rt.CallContext)
    assert re.fullmatch(rf"users\.create\.{UUID4}", ctx.call_id_stack[1])
    assert "evt-users-user.created--raudit.created" in names
    assert "rpc-raudit" not in names  # a handler-only service declares no RPC queue


def test_rpcgen_dispatches_a_dotted_event_to_nameko_handlers_sharing_a_queue(
    start_nameko: StartNameko,
    nameko_client: NamekoClient,
    rabbit_vhost: Vhost,
    users: ModuleType,
) -> None:
    """Nameko's two singleton handlers of one event in one class share ``evt-users-user.created``:
    each event is handled once by one of them, and the queue ends empty. rpcgen does the same
    (tests/integration/test_event_layouts.py)."""
    start_nameko(module="event_users", services=("users", "naudit"))
    rabbit_vhost.wait_for_consumers("evt-users-user.created", count=2)
    rabbit_vhost.wait_for_consumers("evt-users-user.created--naudit.pool")
    count = 20
    with users.UsersEvents.connect(rabbit_vhost.uri) as events:
        for i in range(count):
            events.user_created(users.UserCreated(f"u{i}"))

    def all_received() -> list[dict[str, Any]] | None:
        received: list[dict[str, Any]] = nameko_client.call("naudit", "received").value
        return received if len(received) >= 2 * count else None

    received = wait_until(all_received, 30, what="Nameko's handlers receiving every event")
    kinds = Counter(r["kind"] for r in received)
    print("Nameko's handlers took:", dict(kinds))
    assert kinds["pool"] == count
    assert kinds["single_a"] + kinds["single_b"] == count
    singles = sorted(r["payload"]["name"] for r in received if r["kind"] != "pool")
    assert singles == sorted(f"u{i}" for i in range(count))  # each once
    wait_until(
        lambda: _settled(rabbit_vhost, "evt-users-user.created"),
        30,
        what="the shared queue settled",
        describe=lambda: rabbit_vhost.queue("evt-users-user.created"),
    )


def test_an_rpcgen_handler_ignores_the_deadline_nameko_copies_into_its_events(
    start_nameko: StartNameko, rabbit_vhost: Vhost, users: ModuleType
) -> None:
    """An rpcgen caller's deadline travels into Nameko's ``users.create``, and Nameko copies its
    context into the ``user.created`` it dispatches. The rpcgen handler calls on after that
    deadline has passed: its call gets its own timeout and succeeds."""
    start_nameko(module="event_users", services=("users", "naudit"))
    spy = rabbit_vhost.spy("users.events", "user.created")
    audit = _audit_class(users)(rabbit_vhost.uri)
    timeout = 2.0
    audit.wait_until = time.time() + timeout + 1.0
    with rt.run_in_background(audit, rabbit_vhost.uri):
        with rt.RawClient.connect(rabbit_vhost.uri, timeout=timeout) as client:
            assert client.call("users", "create", ["bob"]) == "bob"
        name, ctx, outcome = audit.got.get(timeout=30)
    (sent,) = spy.get(1)
    carried = sent.properties["headers"]["nameko.rpcgen_deadline_ms"]
    assert isinstance(carried, int) and carried / 1000 < audit.wait_until  # Nameko copied it
    assert (name, outcome) == ("bob", "pong")  # not RpcTimeout(... no reply within 0 s)
    assert ctx is not None and ctx.deadline is None
    assert "rpcgen_deadline_ms" not in ctx.data
    assert re.fullmatch(rf"users\.create\.{UUID4}", ctx.call_id_stack[1])


def test_rpcgen_and_nameko_singletons_share_one_queue(
    start_nameko: StartNameko,
    nameko_client: NamekoClient,
    rabbit_vhost: Vhost,
    users: ModuleType,
) -> None:
    """Singletons of one event in two services (rpcgen's two, Nameko's two) consume one queue:
    every event is handled once in the whole cluster, and the queue ends empty."""

    class RSingles(rt.Server):
        service_name = "rsingles"

        def __init__(self) -> None:
            self.got: queue.Queue[str] = queue.Queue()

        @users.UsersEvent.user_created.handler("singleton")
        def one(self, payload: Any) -> None:
            self.got.put(payload.name)

        @users.UsersEvent.user_created.handler("singleton")
        def two(self, payload: Any) -> None:
            self.got.put(payload.name)

    start_nameko(module="event_users", services=("users", "naudit"))
    mine = RSingles()
    count = 40
    with rt.run_in_background(mine, rabbit_vhost.uri) as runner:
        rabbit_vhost.wait_for_consumers("evt-users-user.created", count=4)
        with users.UsersEvents.connect(rabbit_vhost.uri) as events:
            for i in range(count):
                events.user_created(users.UserCreated(f"u{i}"))

        def theirs_when_all_taken() -> list[str] | None:
            received: list[dict[str, Any]] = nameko_client.call("naudit", "received").value
            theirs = [r["payload"]["name"] for r in received if r["kind"] != "pool"]
            return theirs if len(theirs) + mine.got.qsize() >= count else None

        theirs = wait_until(theirs_when_all_taken, 30, what="every event taken by one side")
        ours = [mine.got.get_nowait() for _ in range(mine.got.qsize())]
        assert runner.error is None
    print(f"rpcgen took {len(ours)}, Nameko {len(theirs)}")
    assert sorted(ours + theirs) == sorted(f"u{i}" for i in range(count))  # each exactly once
    row = rabbit_vhost.queue("evt-users-user.created")
    assert row is not None and (row.messages_ready, row.messages_unacknowledged) == (0, 0)


def _settled(vhost: Vhost, queue: str) -> bool:
    """Nothing ready and nothing unacknowledged in ``queue``."""
    row = vhost.queue(queue)
    assert row is not None
    return (row.messages_ready, row.messages_unacknowledged) == (0, 0)
