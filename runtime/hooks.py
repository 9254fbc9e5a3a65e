"""Set-up and tear-down of a server: methods marked ``@on_start`` and ``@on_stop``.

``ServiceRunner.start()`` runs every ``@on_start`` method, in name order, after connecting and
before consuming: before the first request or event can arrive. Each gets the server's own
connection (a ``Transport``: a ``Connection``, or a ``memory://`` one), which then has a reply
queue, so the hook can build clients for the services the handlers call (their calls carry the
handler's context and deadline, as every call made inside a handler does).
``ServiceRunner.stop()`` runs every ``@on_stop`` method after the last request was answered and
before disconnecting. A start hook that raises stops ``start()`` with its error (nothing is
consumed); a stop hook that raises is logged and the others still run.

Any method name works: the marks, not the names, make the hooks, so a service may still have an
RPC method called ``start`` or ``setup``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Literal, TypeVar

if TYPE_CHECKING:
    from rpcgen.runtime._transport import Transport

__all__ = ["hooks_of", "on_start", "on_stop"]

_S = TypeVar("_S")
_T = TypeVar("_T", bound="Transport")
_Kind = Literal["start", "stop"]
_MARK = "__rpcgen_hook__"


def on_start(method: Callable[[_S, _T], None]) -> Callable[[_S, _T], None]:
    """Run ``method(self, connection)`` when the server starts, before its first request.

    ``connection`` is the server's own: an ``rt.Connection``, or on a ``memory://`` broker its
    in-memory twin; annotate it ``rt.Transport`` for a server that runs on both.
    """
    setattr(method, _MARK, "start")
    return method


def on_stop(method: Callable[[_S], None]) -> Callable[[_S], None]:
    """Run ``method(self)`` when the server stops, after its last request."""
    setattr(method, _MARK, "stop")
    return method


def hooks_of(server: object, kind: _Kind) -> list[Callable[..., None]]:
    """The bound hooks of ``kind`` on ``server``'s class, in name order."""
    cls = type(server)
    names = sorted(n for n in dir(cls) if getattr(getattr(cls, n, None), _MARK, None) == kind)
    return [getattr(server, name) for name in names]
