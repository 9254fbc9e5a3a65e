"""Async handlers: one event loop thread per server runs every coroutine its handlers return.

A worker thread that gets an awaitable from a handler hands it to the loop and waits for it, so
at most ``max_workers`` handlers run at once (sync and async alike), and stopping a server
drains async handlers exactly as it drains sync ones. The coroutine runs inside the request's
call context (``context.enter``), so the calls it makes with async clients carry the context,
the call-id stack and the deadline on, as a sync handler's do.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import Awaitable, Iterable
from typing import Any, TypeVar

from rpcgen.runtime import context

__all__ = ["HandlerLoop", "any_async", "awaited"]

T = TypeVar("T")


def any_async(functions: Iterable[object]) -> bool:
    """Whether any of ``functions`` is a coroutine function (the server needs a loop)."""
    return any(inspect.iscoroutinefunction(f) for f in functions)


class HandlerLoop:
    """An asyncio loop in a thread of its own, for the awaitables handlers return."""

    def __init__(self, name: str) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_forever()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def wait(self, awaitable: Awaitable[T], ctx: context.CallContext | None) -> T:
        """Run ``awaitable`` on the loop (inside ``ctx``) and wait for its outcome here."""
        return asyncio.run_coroutine_threadsafe(_within(awaitable, ctx), self._loop).result()

    def close(self) -> None:
        """Stop the loop once the handlers are done (after the workers have stopped)."""
        if self._loop.is_closed():
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.run_until_complete(self._loop.shutdown_asyncgens())
        self._loop.close()


async def _within(awaitable: Awaitable[T], ctx: context.CallContext | None) -> T:
    token = None if ctx is None else context.enter(ctx)
    try:
        return await awaitable
    finally:
        if token is not None:
            context.leave(token)


def awaited(result: Any, loop: HandlerLoop | None, ctx: context.CallContext | None) -> Any:
    """``result`` itself, or, if a handler returned an awaitable, what it resolves to."""
    if loop is not None and inspect.isawaitable(result):
        return loop.wait(result, ctx)
    return result
