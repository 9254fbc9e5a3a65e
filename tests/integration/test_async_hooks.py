"""Async ``@rt.on_start`` / ``@rt.on_stop`` hooks: awaited on the loop the async handlers run on,
so an async client and a loop-bound resource made there serve the handlers; a hook that cannot
run as written is refused before anything is consumed. On both transports."""

from __future__ import annotations

import asyncio
import gc
import warnings
from typing import Any

import pytest
import rpcgen.runtime as rt

from tests.integration.conftest import Peek
from tests.integration.impls import Itest
from tests.integration.stubs import ItestAsyncClient, RelayClient, RelayServer


class AsyncHooked(rt.Server):
    """``relay`` served by an async handler through what its async start hook opened."""

    service_name = "relay"
    methods = dict(RelayServer.methods)  # noqa: RUF012

    def __init__(self) -> None:
        self.events: list[str] = []

    @rt.on_start
    async def open_clients(self, connection: rt.Transport) -> None:
        self.loop = asyncio.get_running_loop()
        self.itest = ItestAsyncClient(connection, timeout=10)
        assert await self.itest.hello("hook") == "hello, hook"  # usable in the hook itself
        self.pool: asyncio.Queue[str] = asyncio.Queue()  # a loop-bound resource
        self.pool.put_nowait("conn-1")
        self.events.append("start")

    @rt.on_stop
    async def close_clients(self) -> None:
        self.events.append(f"stop {await self.itest.compute(20, b=2)}")
        self.pool.get_nowait()

    async def relay(self) -> dict[str, str]:
        assert asyncio.get_running_loop() is self.loop  # the hook's loop
        conn = await self.pool.get()
        try:
            self.events.append(f"relay {await self.itest.hello(conn)}")
        finally:
            self.pool.put_nowait(conn)
        return {"conn": conn}


def test_async_hooks_open_and_close_what_async_handlers_use(rpc_uri: str) -> None:
    hooked = AsyncHooked()
    with (
        rt.run_in_background(Itest(), rpc_uri),
        RelayClient.connect(rpc_uri, timeout=10) as client,
    ):
        with rt.run_in_background(hooked, rpc_uri):
            assert hooked.events == ["start"]
            assert client.relay() == {"conn": "conn-1"}
        assert hooked.events == ["start", "relay hello, conn-1", "stop 40"]
        assert hooked.pool.empty()


class SyncWithAsyncStop(RelayServer):
    """A sync server with an async stop hook: the runner makes a loop for it."""

    def __init__(self) -> None:
        self.stopped = False

    @rt.on_stop
    async def close(self) -> None:
        await asyncio.sleep(0)
        self.stopped = True

    def relay(self) -> dict[str, str]:
        return {}


def test_an_async_hook_on_a_sync_server_is_awaited(rpc_uri: str) -> None:
    server = SyncWithAsyncStop()
    with rt.run_in_background(server, rpc_uri), RelayClient.connect(rpc_uri, timeout=10) as c:
        assert c.relay() == {}
    assert server.stopped


def test_a_failing_async_start_hook_fails_start_and_consumes_nothing(
    rpc_uri: str, peek: Peek
) -> None:
    class Broken(AsyncHooked):
        @rt.on_start
        async def open_clients(self, connection: rt.Transport) -> None:
            await asyncio.sleep(0)
            raise RuntimeError("no database")

    runner = rt.ServiceRunner(Broken(), rpc_uri)
    with pytest.raises(RuntimeError, match="no database"):
        runner.start()
    assert not peek.has_queue("rpc-relay")


class GeneratorHook(RelayServer):
    @rt.on_start
    async def open(self, connection: rt.Transport) -> Any:  # an async generator: never runs
        yield connection

    def relay(self) -> dict[str, str]:
        return {}


class WrongParameters(RelayServer):
    @rt.on_stop  # type: ignore[arg-type]
    async def close(self, connection: rt.Transport) -> None:
        pass

    def relay(self) -> dict[str, str]:
        return {}


class ReturnsCoroutine(RelayServer):
    """A plain ``def`` hook that returns a coroutine, on a server without async handlers."""

    @rt.on_start
    def open(self, connection: rt.Transport) -> Any:
        return asyncio.sleep(0)

    def relay(self) -> dict[str, str]:
        return {}


def test_hooks_that_cannot_run_as_written_are_refused(rpc_uri: str, peek: Peek) -> None:
    with pytest.raises(TypeError, match=r"GeneratorHook\.open is a generator.*without `yield`"):
        rt.ServiceRunner(GeneratorHook(), rpc_uri)
    with pytest.raises(TypeError, match=r"WrongParameters\.close takes .*async def hook\(self\)"):
        rt.ServiceRunner(WrongParameters(), rpc_uri)
    runner = rt.ServiceRunner(ReturnsCoroutine(), rpc_uri)
    with warnings.catch_warnings(record=True) as warned:
        warnings.simplefilter("always")
        with pytest.raises(TypeError, match=r"open returned an awaitable.*declare it `async def`"):
            runner.start()
        gc.collect()
    assert not [w for w in warned if "never awaited" in str(w.message)]  # closed, not dropped
    assert not peek.has_queue("rpc-relay")
