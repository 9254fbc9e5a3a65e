"""Async handlers and hooks: one event loop thread per server, where they run as tasks.

A server whose RPC methods or event handlers are ``async def`` gets a ``HandlerLoop``. Each
request to an async handler is handed from the consumer (the connection's I/O thread, or the
publishing thread in memory) straight to the loop with one ``call_soon_threadsafe``, and runs
there as a task: decoding, middleware, the handler, encoding, and handing the reply to the
consumer all happen in that task, so no thread is held while a handler awaits. At most
``max_concurrency`` such tasks run at once (a job taken while every slot is busy waits in a
queue, not as a task, until one ends); sync handlers still run on the runner's ``max_workers``
threads. Async ``@on_start``/``@on_stop``
hooks are awaited on the same loop (``HandlerLoop.run``), so the clients and pools they make
belong to the loop the handlers run on.

``HandlerLoop.wait`` (a thread waits for a coroutine on the loop) remains for the callers that
are threads: ``entrypoint`` in tests, and a memory-broker caller serving its own request.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import inspect
import logging
import threading
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from typing import Any, TypeVar

from rpcgen.runtime import context

__all__ = ["HandlerLoop", "any_async", "awaited", "is_async"]

log = logging.getLogger("rpcgen.runtime.server")

T = TypeVar("T")


def is_async(function: object) -> bool:
    """Whether ``function`` is a coroutine function (runs as a task on the handler loop)."""
    return inspect.iscoroutinefunction(function)


def any_async(functions: Iterable[object]) -> bool:
    """Whether any of ``functions`` is a coroutine function (the server needs a loop)."""
    return any(is_async(f) for f in functions)


class HandlerLoop:
    """An asyncio loop in a thread of its own: async handlers run there as tasks."""

    def __init__(self, name: str, max_concurrency: int = 1) -> None:
        self._loop = asyncio.new_event_loop()
        self._tasks: set[asyncio.Task[None]] = set()
        self._pending: collections.deque[Callable[[], Coroutine[Any, Any, None]]] = (
            collections.deque()
        )
        self._woken = False
        self._free = max_concurrency  # slots not taken by a running task (on the loop)
        self._waiting: collections.deque[Callable[[], Coroutine[Any, Any, None]]] = (
            collections.deque()
        )  # jobs taken while every slot was busy: each starts when a task ends (on the loop)
        self._open = False  # open_gate(): jobs no longer wait for a slot
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()
        self._ident = self._thread.ident

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_forever()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def spawn(self, job: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Run ``job()`` as a task on the loop, once a concurrency slot is free; from any thread.

        ``job`` must not raise (the runner's jobs settle their delivery whatever happens); if it
        does, the error is logged. Jobs spawned while the loop has not yet taken the previous
        ones ride on the same wake-up (one ``call_soon_threadsafe`` for a burst of deliveries);
        a job spawned on the loop's own thread (its task published a reply and read the next
        requests in the same I/O cycle) wakes nothing: ``call_soon``.
        """
        self._pending.append(job)
        if not self._woken:  # GIL-ordered: see _take
            self._woken = True
            if threading.get_ident() == self._ident:
                self._loop.call_soon(self._take)
                return
            try:
                self._loop.call_soon_threadsafe(self._take)
            except RuntimeError:  # closed (a stop that timed out): the broker redelivers it
                self._pending.clear()
                log.info("dropped a delivery that arrived after the handler loop closed")

    def _take(self) -> None:
        self._woken = False  # before popping: a job appended from now on wakes the loop again
        pending = self._pending
        while pending:
            job = pending.popleft()
            if self._free > 0 or self._open:
                self._start(job)
            else:
                self._waiting.append(job)

    def _start(self, job: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Run ``job`` in a task holding a slot; a slot freed starts the next waiting job."""
        self._free -= 1
        task = self._loop.create_task(_guarded(job))
        self._tasks.add(task)
        task.add_done_callback(self._ended)

    def _ended(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._free += 1
        if self._waiting:
            self._start(self._waiting.popleft())

    def open_gate(self) -> None:
        """Let every job waiting for a concurrency slot, and every later one, start at once;
        from any thread. For a drain: the runner's jobs then hand their deliveries back to the
        broker without running a handler, instead of waiting for the running ones to end."""
        with contextlib.suppress(RuntimeError):  # closed: nothing waits
            self._loop.call_soon_threadsafe(self._open_gate)

    def _open_gate(self) -> None:
        self._open = True
        while self._waiting:
            self._start(self._waiting.popleft())

    def run(self, awaitable: Awaitable[T]) -> T:
        """Await ``awaitable`` on the loop from another thread (hooks); its outcome here."""
        return self.wait(awaitable, None)

    def wait(self, awaitable: Awaitable[T], ctx: context.CallContext | None) -> T:
        """Run ``awaitable`` on the loop (inside ``ctx``) and wait for its outcome here."""
        if threading.current_thread() is self._thread:
            raise RuntimeError("cannot wait for the handler loop from the handler loop itself")
        return asyncio.run_coroutine_threadsafe(_within(awaitable, ctx), self._loop).result()

    def close(self) -> None:
        """Stop the loop; tasks still running are cancelled (their requests are redelivered)."""
        if self._loop.is_closed():
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._waiting.clear()  # never started: their deliveries go back to the broker unacked
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            gather = asyncio.gather(*self._tasks, return_exceptions=True)
            self._loop.run_until_complete(gather)
        self._loop.run_until_complete(self._loop.shutdown_asyncgens())
        self._loop.close()


async def _guarded(job: Callable[[], Coroutine[Any, Any, None]]) -> None:
    try:
        await job()
    except asyncio.CancelledError:
        raise
    except BaseException:  # a job settles its own delivery; this is a bug if reached
        log.exception("an async handler task failed")


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
