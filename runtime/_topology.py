"""Declare steps, written once: each is one AMQP method whose ``*Ok`` starts the next.

A connection's reply side and every consumer set up their channel the same way: a list of
steps run in order by ``run`` on one channel, then ``on_done``. Flags follow Nameko exactly
(``docs/wire.md`` §8): a declare that differs from an existing queue's or exchange's flags is
refused by RabbitMQ with PRECONDITION_FAILED, which closes the channel.

Neutral: a "channel" is anything with pika's channel methods of the same names; the in-memory
transport runs the declare steps against its broker (``_memory.consumer.Declarer``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

__all__ = [
    "Step",
    "bind",
    "confirms",
    "consume",
    "declare_steps",
    "exchange",
    "qos",
    "queue",
    "run",
]

Channel = Any
"""A pika channel, or the in-memory ``Declarer``: whatever carries the declare methods."""
Step = Callable[[Channel, Callable[[Any], None]], None]
"""``step(channel, next)``: send one method; ``next(frame)`` runs when the broker answers."""


def run(channel: Channel, steps: Sequence[Step], on_done: Callable[[], None]) -> None:
    """Run ``steps`` on ``channel`` one after another, then ``on_done()``."""

    def advance(index: int) -> None:
        if index == len(steps):
            on_done()
        else:
            steps[index](channel, lambda _frame: advance(index + 1))

    advance(0)


def exchange(name: str, kind: str = "topic") -> Step:
    """A durable exchange, declared with Nameko's flags."""

    def step(channel: Any, then: Callable[[Any], None]) -> None:
        channel.exchange_declare(
            name, exchange_type=kind, durable=True, auto_delete=False, internal=False, callback=then
        )

    return step


def queue(
    name: str,
    *,
    durable: bool = True,
    exclusive: bool = False,
    auto_delete: bool = False,
    arguments: dict[str, object] | None = None,
) -> Step:
    """A queue (durable, shared and kept by default, as Nameko declares service queues)."""

    def step(channel: Any, then: Callable[[Any], None]) -> None:
        channel.queue_declare(
            name,
            durable=durable,
            exclusive=exclusive,
            auto_delete=auto_delete,
            arguments=arguments,
            callback=then,
        )

    return step


def bind(queue_name: str, exchange_name: str, routing_key: str) -> Step:
    def step(channel: Any, then: Callable[[Any], None]) -> None:
        channel.queue_bind(queue_name, exchange_name, routing_key=routing_key, callback=then)

    return step


def confirms(on_confirm: Callable[[Any], None]) -> Step:
    """Publisher confirms on this channel; ``on_confirm(frame)`` gets every ack and nack."""

    def step(channel: Any, then: Callable[[Any], None]) -> None:
        channel.confirm_delivery(on_confirm, callback=then)

    return step


def qos(prefetch: int) -> Step:
    def step(channel: Any, then: Callable[[Any], None]) -> None:
        channel.basic_qos(prefetch_count=prefetch, callback=then)

    return step


def consume(
    queue_name: str,
    on_message: Callable[[Any, Any, Any, bytes], None],
    on_tag: Callable[[str], None] | None = None,
) -> Step:
    """Consume with manual acks; ``on_tag`` gets the consumer tag at once (to cancel later)."""

    def step(channel: Any, then: Callable[[Any], None]) -> None:
        tag = channel.basic_consume(queue_name, on_message, auto_ack=False, callback=then)
        if on_tag is not None:
            on_tag(tag)

    return step


def declare_steps(
    queue_name: str,
    exchange_name: str,
    binding_key: str,
    arguments: dict[str, object] | None = None,
    setup: Sequence[Step] | None = None,
) -> list[Step]:
    """A consumed queue's declare steps: ``setup`` if given, else the queue (durable, with
    ``arguments``) bound with ``binding_key`` on ``exchange_name``."""
    if setup is not None:
        return list(setup)
    return [queue(queue_name, arguments=arguments), bind(queue_name, exchange_name, binding_key)]
