"""Waiting for what a test can observe, never for a length of time.

``wait_until(condition, ...)`` polls ``condition`` until it returns something truthy and returns
that value; past ``timeout`` it fails the test with an ``AssertionError`` naming ``what`` (and the
last value seen, when ``describe`` says how to show it). ``await wait_until_async(...)`` does the
same without blocking an event loop.

The default timeout (``DEFAULT_TIMEOUT``) is sized for a busy shared 2-core machine: a condition a
quiet machine meets in milliseconds. It bounds a failure, it never paces a pass: a pass returns as
soon as the condition holds. This module (with the allow-list in tests/sleeps-allowed.txt) is where
the suite's polling sleeps live; a test that waits calls it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from subprocess import Popen
from typing import Any, TypeVar

from rpcgen.runtime import UnknownService

T = TypeVar("T")

DEFAULT_TIMEOUT = 15.0
INTERVAL = 0.02  # polling period: short against every condition's timeout, light on the CPU


def wait_until(
    condition: Callable[[], T],
    timeout: float = DEFAULT_TIMEOUT,
    *,
    what: str = "",
    interval: float = INTERVAL,
    describe: Callable[[], object] | None = None,
) -> T:
    """``condition()``'s first truthy result; an ``AssertionError`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(_failure(condition, timeout, what, describe))
        time.sleep(interval)


async def wait_until_async(
    condition: Callable[[], T | Awaitable[T]],
    timeout: float = DEFAULT_TIMEOUT,
    *,
    what: str = "",
    interval: float = INTERVAL,
    describe: Callable[[], object] | None = None,
) -> T:
    """``wait_until`` for a coroutine: ``condition`` may be a plain or an async function."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if isinstance(value, Awaitable):
            value = await value
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(_failure(condition, timeout, what, describe))
        await asyncio.sleep(interval)


def elapsed_until(
    condition: Callable[[], object], timeout: float = DEFAULT_TIMEOUT, *, what: str = ""
) -> float:
    """Seconds until ``condition()`` held (for tests where that time is the behaviour)."""
    start = time.monotonic()
    wait_until(condition, timeout, what=what)
    return time.monotonic() - start


def _failure(
    condition: Callable[..., object],
    timeout: float,
    what: str,
    describe: Callable[[], object] | None,
) -> str:
    name = what or getattr(condition, "__qualname__", repr(condition))
    message = f"{name}: not within {timeout:g} s"
    if describe is not None:
        message += f" (last seen: {describe()!r})"
    return message


def until_served(
    call: Callable[[], T], *, process: Popen[Any] | None = None, timeout: float = 30.0
) -> T:
    """``call()``'s result once the service answers it, retried while its queue is not bound yet
    (``UnknownService``); fails at once if ``process`` (the server being started) exits."""

    def answered() -> tuple[T] | None:
        try:
            return (call(),)
        except UnknownService:
            if process is not None and process.poll() is not None:
                raise AssertionError(f"the server exited ({process.returncode})") from None
            return None

    return wait_until(answered, timeout, what="the service answering", interval=0.1)[0]
