"""How threads share one pika connection: an I/O lock, queued operations, and who reads.

pika is not thread-safe, so every pika call happens under one lock per connection, on a
``DriverLoop`` that never blocks while holding it. Work is queued as operations and run by
whichever thread gets the lock: a caller runs (and flushes) its own publish at once; a thread
waiting for a reply reads the socket itself (``drive``), so a sequential call involves no
thread hand-over; a background thread serves whatever nobody else waits for (asyncio clients,
futures, servers, heartbeats) and parks while a caller drives. A thread that finds the lock
taken leaves its operation queued: the holder runs it before releasing, and re-checks after.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Protocol

from rpcgen.runtime._amqp.ioloop import DriverLoop

__all__ = ["Driver", "Output", "in_cycle"]

log = logging.getLogger(__name__)

_cycles = threading.local()


def in_cycle() -> bool:
    """Whether this thread is running a ``Driver`` cycle (pika code on an rpcgen connection)."""
    return bool(getattr(_cycles, "active", False))


_IDLE_RECHECK = 1.0  # seconds the background thread waits at most between looks


class Output(Protocol):
    """Frames queued during a cycle, handed to the transport in one piece by ``flush_outbox``."""

    outbox: list[bytes]

    def flush_outbox(self) -> None: ...


class Driver:
    """Runs one ``DriverLoop`` on behalf of every thread that uses a connection.

    ``needs_background()`` (read when a driving caller leaves) says whether anything is left that
    only the background thread would notice: pending calls, consumers. ``on_fault(exc)`` gets
    any exception pika raises out of its I/O (reading, writing, timers, callbacks), in whichever
    thread ran the cycle: it is the link's to handle (a failed attempt, or a loss), never a reason
    to stop the I/O thread. Only an exception of rpcgen's own (``setup``, ``on_fault``) ends it.
    """

    def __init__(
        self,
        loop: DriverLoop,
        needs_background: Callable[[], bool],
        on_fault: Callable[[Exception], None],
    ) -> None:
        self.loop = loop
        self._on_fault = on_fault  # pika raised out of the loop (under the lock; see the class)
        self.output: Output | None = None
        self._needs_background = needs_background
        self.lock = threading.Lock()
        self._ops: deque[Callable[[], None]] = deque()
        self._token = threading.Lock()  # held by the one caller driving while it waits
        self._park = threading.Condition()
        self._driving = False
        self._driver_ident = 0
        self._parked = False
        self.finished = False  # set by finish(): the background thread may exit
        self.stopped = False  # the loop is closed: operations only fail what they carry
        self._thread: threading.Thread | None = None
        self._on_crash: Callable[[Exception], None] | None = None  # set by start()
        self._crashed = False  # the socket's abort needs one more round of the loop

    # -- operations -----------------------------------------------------------------------------

    def post(self, op: Callable[[], None], *, wake_background: bool = True) -> None:
        """Run ``op`` under the lock: now if it is free, else before its holder releases it.

        ``wake_background=False`` is for a caller that will ``drive`` next: it reads what
        follows itself, so a parked background thread is left alone.
        """
        self._ops.append(op)
        self.run_queued(wake_background=wake_background)

    def run_queued(self, *, wake_background: bool = True) -> None:
        """Run queued operations if the lock is free."""
        lock = self.lock
        while self._ops and lock.acquire(False):
            try:
                self.cycle()
            finally:
                lock.release()
        if wake_background and self._parked and not self._driving:  # work for the parked thread
            self._unpark()

    def cycle(self) -> None:
        """One I/O cycle, lock held: queued operations, the outbox flushed, then whatever the
        socket and timers have ready (a non-blocking poll)."""
        _cycles.active = True
        ops, loop, output = self._ops, self.loop, self.output
        try:
            for _ in range(4):  # operations write, writes get flushed, reads may queue more
                while ops:
                    try:
                        ops.popleft()()
                    except Exception:
                        log.exception("rpcgen I/O operation failed")
                if self.stopped:
                    return
                output = self.output
                try:
                    if output is not None:
                        output.flush_outbox()
                    loop.run_once()
                except Exception as exc:  # pika raised out of its I/O: the link decides
                    self._fault(exc)
                    output = self.output
                    continue
                if not ops and not loop.writing and not (output is not None and output.outbox):
                    break
            if output is not None:  # what the last pass queued must at least reach the
                try:  # transport, whose write interest then wakes a waiter
                    output.flush_outbox()
                except Exception as exc:
                    self._fault(exc)
            loop.snapshot()
            if self._driving and threading.get_ident() != self._driver_ident:
                loop.wake()  # this cycle may have completed the driver's call: look again
        finally:
            _cycles.active = False

    def _fault(self, exc: Exception) -> None:
        try:
            self._on_fault(exc)
        except Exception as bug:  # handling the fault failed: a bug, the connection is over
            log.exception("rpcgen I/O thread crashed")
            self._crashed = True
            if self._on_crash is not None:
                self._on_crash(bug)

    def finish(self) -> None:
        """Let the background thread (and any driver) stop; called under the lock."""
        self.finished = True
        self.loop.wake()
        if self._parked:
            self._unpark()

    def _unpark(self) -> None:
        with self._park:
            self._park.notify()

    # -- a caller waiting for its reply -----------------------------------------------------------

    def drive(self, is_done: Callable[[], bool], deadline: float | None) -> None:
        """Do the I/O in this thread until ``is_done()``, ``deadline``, or another thread drives.

        Reading the reply in the thread that waits for it saves the hand-over from the
        background thread. One thread drives at a time; the others return at once and wait
        for their reply to be delivered to them.
        """
        if not self._token.acquire(False):
            return
        try:
            with self._park:
                self._driving = True
                self._driver_ident = threading.get_ident()
            while not is_done() and not self.stopped:
                with self.lock:
                    self.cycle()
                    wait = self.loop.next_timeout()
                self.run_queued(wake_background=False)
                if is_done():
                    return
                if deadline is not None:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return
                    wait = left if wait is None else min(wait, left)
                self.loop.wait(wait)
        finally:
            with self._park:
                self._driving = False
                if self._parked and (self.finished or self._needs_background()):
                    self._park.notify()
            self._token.release()

    # -- the background thread ----------------------------------------------------------------

    def start(self, setup: Callable[[], None], on_crash: Callable[[Exception], None]) -> None:
        """Start the background thread: ``setup()`` under the lock, then serve until finished."""
        self._on_crash = on_crash
        self._thread = threading.Thread(
            target=self._run, args=(setup, on_crash), name="rpcgen-io", daemon=True
        )
        self._thread.start()

    def join(self) -> None:
        """Wait for the background thread to end (not from that thread itself)."""
        if self._thread is not None and threading.current_thread() is not self._thread:
            self._thread.join()

    def _run(self, setup: Callable[[], None], on_crash: Callable[[Exception], None]) -> None:
        try:
            with self.lock:
                setup()
                self.cycle()
            while not self.finished:
                self._serve_once()
        except Exception as exc:  # a bug: never leave a caller waiting
            log.exception("rpcgen I/O thread crashed")
            self._crashed = True
            with self.lock:
                on_crash(exc)
        finally:
            with self.lock:
                self.stopped = True
                if self._crashed:  # let the aborted socket close (a callback of the loop)
                    with contextlib.suppress(Exception):
                        self.loop.run_once()
                self.loop.close()
                self.cycle()  # late operations only fail what they carry

    def _serve_once(self) -> None:
        with self.lock:
            wait = self.loop.next_timeout()
        if self.finished:
            return
        if self._ops:  # posted while we held the lock just now: left to us, run them at once
            wait = 0.0
        # A driver's cycle may drain the wake-up meant for us (finish() from its cycle): look
        # again at least once a second rather than sleep on a wake-up already consumed.
        wait = _IDLE_RECHECK if wait is None else min(wait, _IDLE_RECHECK)
        with self._park:
            parked = self._driving and not self.finished
            if parked:  # the driver reads the socket meanwhile; it wakes us when it leaves
                self._parked = True
                self._park.wait(wait)
                self._parked = False
        if not parked:
            self.loop.wait(wait)
            if self._driving and not self.finished:
                return  # a driver started meanwhile and was woken by the same event: leave it
        with self.lock:
            self.cycle()
        self.run_queued()
