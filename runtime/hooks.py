"""Set-up and tear-down of a server: methods marked ``@on_start`` and ``@on_stop``.

``ServiceRunner.start()`` runs every ``@on_start`` method, in name order, after connecting and
before consuming: before the first request or event can arrive. Each gets the server's own
connection (a ``Transport``: a ``Connection``, or a ``memory://`` one), which then has a reply
queue, so the hook can build clients for the services the handlers call (their calls carry the
handler's context and deadline, as every call made inside a handler does).
``ServiceRunner.stop()`` runs every ``@on_stop`` method after the last request was answered and
before disconnecting. A start hook that raises stops ``start()`` with its error (nothing is
consumed); a stop hook that raises is logged and the others still run.

A hook may be ``async def``: it is awaited on the runner's handler loop (the one its async
handlers run on), so the async clients and pools it makes are usable by those handlers. A
coroutine is never dropped: a plain ``def`` hook that returns an awaitable has it awaited on that
loop too, and a hook that cannot run as written (a generator, the wrong parameters) is refused
by ``ServiceRunner`` with a ``TypeError`` that says what to write instead.

Any method name works: the marks, not the names, make the hooks, so a service may still have an
RPC method called ``start`` or ``setup``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, Literal, TypeVar

if TYPE_CHECKING:
    from rpcgen.runtime._asyncrun import HandlerLoop
    from rpcgen.runtime._transport import Transport

__all__ = ["hooks_of", "on_start", "on_stop", "run_hook"]

_S = TypeVar("_S")
_T = TypeVar("_T", bound="Transport")
_R = TypeVar("_R", None, Coroutine[Any, Any, None])
_Kind = Literal["start", "stop"]
_MARK = "__rpcgen_hook__"


def on_start(method: Callable[[_S, _T], _R]) -> Callable[[_S, _T], _R]:
    """Run ``method(self, connection)`` when the server starts, before its first request.

    ``connection`` is the server's own: an ``rt.Connection``, or on a ``memory://`` broker its
    in-memory twin; annotate it ``rt.Transport`` for a server that runs on both. An ``async def``
    hook is awaited on the loop that runs the server's async handlers.
    """
    setattr(method, _MARK, "start")
    return method


def on_stop(method: Callable[[_S], _R]) -> Callable[[_S], _R]:
    """Run ``method(self)`` when the server stops, after its last request (``async def``:
    awaited on the handlers' loop)."""
    setattr(method, _MARK, "stop")
    return method


def hooks_of(server: object, kind: _Kind) -> list[Callable[..., Any]]:
    """The bound hooks of ``kind`` on ``server``'s class, in name order; refuses a hook that
    cannot run as written."""
    cls = type(server)
    names = sorted(n for n in dir(cls) if getattr(getattr(cls, n, None), _MARK, None) == kind)
    hooks = [getattr(server, name) for name in names]
    for hook in hooks:
        _check(cls, hook, kind)
    return hooks


def _check(cls: type, hook: Callable[..., Any], kind: _Kind) -> None:
    where = f"{cls.__name__}.{getattr(hook, '__name__', hook)}"
    shape = "async def hook(self, connection)" if kind == "start" else "async def hook(self)"
    if inspect.isasyncgenfunction(hook) or inspect.isgeneratorfunction(hook):
        raise TypeError(
            f"the @on_{kind} hook {where} is a generator, which would never run: write it as "
            f"`def` or `{shape}` without `yield`"
        )
    try:
        signature = inspect.signature(hook)
    except (TypeError, ValueError):  # a builtin or C callable: nothing to check
        return
    try:
        if kind == "start":
            signature.bind(None)
        else:
            signature.bind()
    except TypeError:
        raise TypeError(
            f"the @on_{kind} hook {where} takes {signature}: it must be `{shape}` "
            "(or the same with plain `def`)"
        ) from None


def run_hook(hook: Callable[..., Any], loop: HandlerLoop | None, *args: object) -> None:
    """Run one hook; await what it returns, if it is awaitable, on ``loop``."""
    result = hook(*args)
    if inspect.isawaitable(result):
        if loop is None:  # cannot happen for an async def hook: the runner makes a loop for it
            if inspect.iscoroutine(result):
                result.close()
            name = getattr(hook, "__name__", hook)
            raise TypeError(
                f"the hook {name} returned an awaitable from a plain `def`: declare it "
                "`async def` so the runner awaits it on the loop of its async handlers"
            )
        loop.run(result)
