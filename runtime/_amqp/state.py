"""The one state of a connection, its transitions, and the deadline of each phase.

A ``Connection`` is always in exactly one ``State``; ``Phase`` holds it, checks every transition
against ``TRANSITIONS`` and arms the deadline of the phase entered, so no phase can last longer
than its bound whatever the peer does (a black-holed socket, a broker that stops answering in
the middle of a declare, a close handshake that never completes):

============  =====================================================  ==========================
state          what is happening                                      bounded by
============  =====================================================  ==========================
CONNECTING     TCP, TLS and the AMQP handshake with one URI          pika's socket and stack
                                                                      timeouts (connect_timeout)
DECLARING      handshake done: reply-queue probe, exchange, confirm   connect_timeout, then the
               mode, reply queue, binding, consumer                   attempt is aborted
READY          calls and consumers run                                heartbeats
DROPPING       an unusable live connection is being closed            connect_timeout, then the
               (a refused channel, a nacked request)                  socket is dropped
WAITING        between two reconnect rounds                           the ``Backoff`` delay
CLOSING        ``close()``: pika's close handshake                    connect_timeout, then the
                                                                      socket is dropped
CLOSED         over: closed on purpose, or given up (terminal)        -
============  =====================================================  ==========================
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from typing import Any

from rpcgen.runtime._amqp.ioloop import DriverLoop

__all__ = ["TRANSITIONS", "Phase", "State"]

log = logging.getLogger(__name__)


class State(enum.Enum):
    CONNECTING = "connecting"
    DECLARING = "declaring"
    READY = "ready"
    DROPPING = "dropping"
    WAITING = "waiting to reconnect"
    CLOSING = "closing"
    CLOSED = "closed"


_S = State
TRANSITIONS: dict[State, frozenset[State]] = {
    # The next URI of a round is CONNECTING again; a failed round waits, or ends the connection.
    _S.CONNECTING: frozenset({_S.CONNECTING, _S.DECLARING, _S.WAITING, _S.CLOSING, _S.CLOSED}),
    _S.DECLARING: frozenset({_S.CONNECTING, _S.READY, _S.WAITING, _S.CLOSING, _S.CLOSED}),
    _S.READY: frozenset({_S.DROPPING, _S.WAITING, _S.CLOSING, _S.CLOSED}),
    _S.DROPPING: frozenset({_S.WAITING, _S.CLOSING, _S.CLOSED}),
    _S.WAITING: frozenset({_S.CONNECTING, _S.CLOSING, _S.CLOSED}),
    _S.CLOSING: frozenset({_S.CLOSED}),
    _S.CLOSED: frozenset(),
}
"""Every transition a connection may make; anything else is a bug and raises."""


class Phase:
    """The current ``State`` and the timer bounding it; touched only under the I/O lock."""

    __slots__ = ("_loop", "_timer", "state")

    def __init__(self, loop: DriverLoop) -> None:
        self._loop = loop
        self._timer: Any = None
        self.state = State.CONNECTING

    def enter(
        self, state: State, limit: float | None = None, on_expiry: Callable[[], None] | None = None
    ) -> None:
        """Move to ``state``; ``on_expiry`` runs if it still holds after ``limit`` seconds."""
        if state not in TRANSITIONS[self.state]:
            raise RuntimeError(f"connection state {self.state.name} -> {state.name} is not allowed")
        log.debug("connection %s -> %s", self.state.name, state.name)
        self._disarm()
        self.state = state
        if limit is not None and on_expiry is not None:
            self._timer = self._loop.call_later(limit, lambda: self._expired(state, on_expiry))

    def _expired(self, state: State, on_expiry: Callable[[], None]) -> None:
        self._timer = None
        if self.state is state:  # a timer of an earlier phase is never acted on
            on_expiry()

    def _disarm(self) -> None:
        if self._timer is not None:
            self._loop.remove_timeout(self._timer)
            self._timer = None

    @property
    def ready(self) -> bool:
        return self.state is State.READY

    @property
    def closed(self) -> bool:
        return self.state is State.CLOSED

    @property
    def ending(self) -> bool:
        """Closing on purpose, or closed: nothing is reconnected any more."""
        return self.state is State.CLOSING or self.state is State.CLOSED
