"""The I/O lock's hand-over rule: an operation left to the lock's holder is never stranded."""

from __future__ import annotations

from collections.abc import Callable

from rpcgen.runtime._amqp.driving import Driver
from rpcgen.runtime._amqp.ioloop import DriverLoop


class _Loop(DriverLoop):
    """A ``DriverLoop`` whose ``next_timeout`` lets a test act while the lock is held."""

    def __init__(self) -> None:
        super().__init__()
        self.while_locked: list[Callable[[], None]] = []
        self.waits: list[float | None] = []

    def next_timeout(self) -> float | None:
        for act in self.while_locked:
            act()
        self.while_locked.clear()
        return super().next_timeout()

    def wait(self, timeout: float | None) -> None:
        self.waits.append(timeout)
        super().wait(timeout)


def test_an_operation_posted_while_the_background_thread_looks_at_timers_runs_without_a_wait() -> (
    None
):
    loop = _Loop()
    driver = Driver(loop, needs_background=lambda: True, on_fault=lambda exc: None)
    ran: list[str] = []
    # A worker posts its reply while the background thread holds the lock to read its next
    # timeout: the lock is taken, so the operation is left to the holder.
    loop.while_locked.append(lambda: driver.post(lambda: ran.append("reply")))
    try:
        driver._serve_once()
    finally:
        loop.close()
    assert ran == ["reply"]
    assert loop.waits == [0.0]  # not the idle recheck: the reply went out at once
