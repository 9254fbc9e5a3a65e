"""Connecting, declaring, reconnecting and closing: the actions of the connection's state machine.

A ``Link`` owns the pika connection of a ``Connection`` and moves it through the states of
``state.State``, each phase bounded in time. It tries every URI of a round in turn (from the
current one: the first at start, the lost one later); on a reconnect it first checks with a
passive declare, on a channel of its own, that the reply queue survived; then it declares the
owner's topology on the main channel and is READY. Losing a live connection waits ``Backoff``
rounds; only a ``Backoff`` that runs out (or ``reconnect=None``), or a first connect that fails,
makes the loss final. What the owner must do at each step is the ``LinkOwner`` interface.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from pika import exceptions as pika_errors
from rpcgen.runtime import _topology as topology
from rpcgen.runtime._amqp import frames
from rpcgen.runtime._amqp.ioloop import DriverLoop
from rpcgen.runtime._amqp.pikatypes import Pika
from rpcgen.runtime._amqp.state import Phase, State
from rpcgen.runtime._amqp.uris import Backoff, describe_error, mask_uri
from rpcgen.runtime.errors import RpcConnectionError

__all__ = ["Link", "LinkOwner"]

log = logging.getLogger(__name__)


class LinkOwner(Protocol):
    """What a ``Link`` asks of the connection it serves (under the I/O lock)."""

    def topology(self) -> list[topology.Step]:
        """The steps to declare on the main channel before the connection is ready."""

    def wants_probe(self) -> bool:
        """Whether a reconnect must check that the reply queue survived."""

    def probe_queue(self) -> str: ...

    def on_return(self, ch: Pika, method: Pika, props: Pika, body: bytes) -> None: ...

    def reply_queue_gone(self, why: str) -> None: ...

    def link_attempt(self, conn: frames.BatchingConnection) -> None:
        """A new pika connection is being opened (its frames go out through ``conn.outbox``)."""

    def link_ready(self, channel: Pika, reconnected: bool) -> None: ...

    def link_down(self, error: RpcConnectionError) -> str:
        """The live connection was lost; a reconnect follows.

        Returns what the loss leaves behind (calls pending, ...) for the one log line the link
        writes about it, or "".
        """

    def link_over(self, error: RpcConnectionError) -> None:
        """The connection is over for good (a failed first connect, or given up)."""

    def link_closing(self) -> None:
        """``close()`` began."""

    def link_finished(self) -> None:
        """Nothing more will happen: the I/O thread may stop."""


class Link:
    """The pika connection of one ``Connection`` through connects, losses and the close."""

    def __init__(
        self,
        owner: LinkOwner,
        loop: DriverLoop,
        uris: list[str],
        params: list[Any],
        *,
        timeout: float,
        reconnect: Backoff | None,
    ) -> None:
        self._owner = owner
        self._loop = loop
        self._uris = uris
        self._params = params
        self.timeout = timeout  # the bound of every phase but READY and WAITING
        self._reconnect = reconnect
        self.phase = Phase(loop)
        self.pika: frames.BatchingConnection | None = None
        self.channel: Pika = None
        self.current = 0  # index of the URI in use (or being tried)
        self._round: list[int] = []  # URIs still to try in this round
        self._attempt = 0  # reconnect rounds since the last loss
        self._errors: list[str] = []  # why each URI of this round failed
        self.opens = 0  # times the connection became ready
        self._why: RpcConnectionError | None = None  # why a live connection is being dropped
        self._refused: RpcConnectionError | None = None  # the first connect's refused declare

    @property
    def uri(self) -> str:
        return mask_uri(self._uris[self.current])

    # -- connecting -------------------------------------------------------------------------------

    def start_round(self) -> None:
        """Try every URI once, from the current one."""
        count = len(self._params)
        self._round = [(self.current + k) % count for k in range(count)]
        self._errors = []
        self._try_next()

    def _try_next(self) -> None:
        if not self._round:
            tried = "; ".join(self._errors)
            self._round_failed(RpcConnectionError(f"cannot connect to RabbitMQ: {tried}"))
            return
        self.current = self._round.pop(0)
        # pika bounds the handshake by connect_timeout; the phase's limit is a second guard.
        self.phase.enter(State.CONNECTING, 2 * self.timeout + 1, self._stalled)
        self.pika = None  # callbacks of the previous connection are stale from here on
        try:
            self.pika = frames.BatchingConnection(
                self._params[self.current],
                on_open_callback=self._on_open,
                on_open_error_callback=self._on_open_error,
                on_close_callback=self._on_closed,
                custom_ioloop=self._loop,
            )
        except Exception as exc:  # whatever an attempt raises is a failed attempt
            self._attempt_failed(exc)
            return
        self._owner.link_attempt(self.pika)

    def _on_open_error(self, conn: Pika, error: BaseException) -> None:
        if conn is not self.pika:
            return
        self._attempt_failed(error)

    def _attempt_failed(self, error: BaseException) -> None:
        self.channel = None
        if isinstance(error, RpcConnectionError):  # ours: it names the URI already
            self._errors.append(str(error))
        else:
            self._errors.append(describe_error(self._uris[self.current], error))
        if self.phase.ending:
            self._finish()
        else:
            self._try_next()

    def _round_failed(self, error: RpcConnectionError) -> None:
        if self.opens == 0:  # the first connect fails at once, with every reason
            self._over(error)
        else:
            self._wait(error)

    def _wait(self, error: RpcConnectionError, detail: str = "") -> None:
        """Wait for the next round, or give up when the ``Backoff`` says so.

        The one WARNING of each loss and each failed round is written here.
        """
        self._attempt += 1
        backoff = self._reconnect
        if backoff is None or (backoff.attempts is not None and self._attempt > backoff.attempts):
            if backoff is not None:
                error = RpcConnectionError(f"{error} (gave up after {self._attempt - 1} rounds)")
            self._over(error)
            return
        delay = backoff.delay(self._attempt)
        log.warning("%s; reconnecting in %.1f s%s", error, delay, detail)
        self.phase.enter(State.WAITING, delay, self.start_round)

    def _on_open(self, conn: Pika) -> None:
        if self.pika is None or conn is not self.pika:
            return
        self.phase.enter(State.DECLARING, self.timeout, self._stalled)
        frames.install(conn)  # a send without a poll round, reads without a retry
        if self.opens and self._owner.wants_probe():
            conn.channel(on_open_callback=self._on_probe_open)  # did the reply queue survive?
        else:
            conn.channel(on_open_callback=self._on_channel_open)

    def _on_probe_open(self, channel: Pika) -> None:
        # A passive declare on a channel of its own: a 404 closes the channel it happens on.
        channel.add_on_close_callback(self._on_probe_closed)
        channel.queue_declare(
            self._owner.probe_queue(), passive=True, callback=lambda _f: self._probed(channel, None)
        )

    def _on_probe_closed(self, channel: Pika, reason: BaseException) -> None:
        if isinstance(reason, pika_errors.ChannelClosedByBroker) and reason.reply_code == 404:
            self._probed(channel, reason.reply_text)

    def _probed(self, channel: Pika, missing: str | None) -> None:
        if channel.is_open:
            channel.close()
        if missing is not None:
            self._owner.reply_queue_gone(missing)
        if self.pika is not None and self.pika.is_open and self.phase.state is State.DECLARING:
            self.pika.channel(on_open_callback=self._on_channel_open)

    def _on_channel_open(self, channel: Pika) -> None:
        if self.phase.state is not State.DECLARING:
            return
        self.channel = channel
        channel.add_on_close_callback(self._on_channel_closed)
        channel.add_on_return_callback(self._owner.on_return)
        topology.run(channel, self._owner.topology(), lambda: self._declared(channel))

    def _declared(self, channel: Pika) -> None:
        if channel is not self.channel or self.phase.state is not State.DECLARING:
            return
        reconnected = self.opens > 0
        self.phase.enter(State.READY)
        self.opens += 1
        self._attempt = 0
        self._why = None
        self._owner.link_ready(channel, reconnected)

    def _stalled(self) -> None:
        """A phase outlived its limit: drop the socket (pika reports it as closed)."""
        state = self.phase.state.value
        error = RpcConnectionError(f"{self.uri}: no answer within {self.timeout:g} s while {state}")
        log.debug("%s", error)
        self._why = self._why or error
        if self.pika is None or self.pika.is_closed:
            self._on_closed(self.pika, error)
        else:
            self.pika.abort(error)

    # -- losing and closing -----------------------------------------------------------------------

    def drop(self, error: RpcConnectionError) -> None:
        """Close a connection that is no longer usable; a reconnect follows (bounded)."""
        if self.phase.state is State.DECLARING:
            self._why = self._why or error
            self._stalled()
        elif self.phase.state is State.READY:
            self._why = error
            self.phase.enter(State.DROPPING, self.timeout, self._stalled)
            if self.pika is not None and self.pika.is_open:
                self.pika.close()

    def close(self) -> None:
        """Begin closing (bounded by ``timeout``); ``link_finished`` once done."""
        if self.phase.ending:
            return
        opening = self.phase.state in (State.CONNECTING, State.DECLARING)
        self.phase.enter(State.CLOSING, self.timeout, self._stalled)
        self._owner.link_closing()
        conn = self.pika
        if conn is not None and conn.is_open and not opening:
            conn.close()  # _on_closed finishes
        elif conn is not None and not conn.is_closed:
            conn.abort(RpcConnectionError("closed while connecting"))
        else:  # between attempts: nothing to wait for
            self._finish()

    def _on_channel_closed(self, channel: Pika, reason: BaseException) -> None:
        if self.phase.ending or channel is not self.channel:
            return
        self.channel = None
        if not isinstance(reason, pika_errors.ChannelClosedByBroker):
            return  # the connection itself is going (a TCP loss, a close): _on_closed follows
        error = RpcConnectionError(f"RabbitMQ closed the channel on {self.uri}: {reason}")
        if self.opens == 0 and self.phase.state is State.DECLARING:
            self._refused = error  # a refused topology at the first connect is final
        self.drop(error)

    def _on_closed(self, conn: Pika, reason: BaseException) -> None:
        if conn is not self.pika:
            return
        state = self.phase.state
        if state in (State.CLOSING, State.CLOSED):
            self._finish()
        elif self._refused is not None:
            self._over(self._refused)
        elif state in (State.CONNECTING, State.DECLARING):
            self._attempt_failed(self._why or reason)
            self._why = None
        else:  # READY or DROPPING
            error = self._why or RpcConnectionError(f"lost the connection to {self.uri}: {reason}")
            self._why = None
            self.channel = None
            self._wait(error, self._owner.link_down(error))

    def _over(self, error: RpcConnectionError) -> None:
        self._owner.link_over(error)
        self._finish()

    def _finish(self) -> None:
        if not self.phase.closed:
            self.phase.enter(State.CLOSED)
        self._owner.link_finished()

    def fault(self, exc: Exception) -> None:
        """pika raised ``exc`` out of its I/O loop: never final, whatever the phase.

        During an attempt (connecting, handshaking, declaring) it is a failed attempt, like a
        refused connection: the next URI, or the backoff, follows. While connected it is a loss:
        the link drops the connection and reconnects. pika's connection is in an unknown state
        after it raised, so it is abandoned (its callbacks are stale from here on) and its
        socket closed as far as pika still can. Seen in the wild: an endpoint that accepts the
        TCP connection and resets it at once makes pika's connector raise ``ValueError``
        ("Expected connected socket, but getpeername() failed").
        """
        state = self.phase.state
        conn, self.pika, self.channel = self.pika, None, None
        error = RpcConnectionError(f"{self.uri}: {type(exc).__name__}: {exc}")
        log.debug("pika raised while %s on %s", state.value, self.uri, exc_info=exc)
        if conn is not None and not conn.is_closed:
            try:
                conn.abort(error)  # closes its socket (now or in a later cycle)
            except Exception:
                log.debug("abandoning the connection raised too", exc_info=True)
        if state in (State.CLOSING, State.CLOSED):
            if not self.phase.closed:
                self._finish()
        elif self._refused is not None:
            self._over(self._refused)
        elif state in (State.CONNECTING, State.DECLARING):
            why, self._why = self._why, None
            self._attempt_failed(why or error)
        elif state in (State.READY, State.DROPPING):
            why, self._why = self._why, None
            error = why or RpcConnectionError(f"lost the connection to {error}")
            self._wait(error, self._owner.link_down(error))
        # WAITING: a connection already abandoned raised; the next round is scheduled already

    def crash(self, error: RpcConnectionError) -> None:
        """The I/O thread died (a bug): end everything now."""
        conn, self.pika, self.channel = self.pika, None, None
        if conn is not None and not conn.is_closed:
            try:
                conn.abort(error)  # its socket closes in the loop's last round
            except Exception:
                log.debug("abandoning the connection raised too", exc_info=True)
        self._over(error)
