"""Declare steps, written once: each is one AMQP method whose ``*Ok`` starts the next.

A connection's reply side and every consumer set up their channel the same way: a list of
steps run in order by ``run`` on one channel, then ``on_done``. Flags follow Nameko exactly
(``docs/wire.md`` §8): a declare that differs from an existing queue's or exchange's flags is
refused by RabbitMQ with PRECONDITION_FAILED, which closes the channel.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["Step", "bind", "confirms", "consume", "exchange", "qos", "queue", "run"]

_Pika = Any  # pika ships no type hints
Step = Callable[[_Pika, Callable[[_Pika], None]], None]
"""``step(channel, next)``: send one method; ``next(frame)`` runs when the broker answers."""


def run(channel: _Pika, steps: Sequence[Step], on_done: Callable[[], None]) -> None:
    """Run ``steps`` on ``channel`` one after another, then ``on_done()``."""

    def advance(index: int) -> None:
        if index == len(steps):
            on_done()
        else:
            steps[index](channel, lambda _frame: advance(index + 1))

    advance(0)


def exchange(name: str, kind: str = "topic") -> Step:
    """A durable exchange, declared with Nameko's flags."""

    def step(channel: _Pika, then: Callable[[_Pika], None]) -> None:
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

    def step(channel: _Pika, then: Callable[[_Pika], None]) -> None:
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
    def step(channel: _Pika, then: Callable[[_Pika], None]) -> None:
        channel.queue_bind(queue_name, exchange_name, routing_key=routing_key, callback=then)

    return step


def confirms(on_confirm: Callable[[_Pika], None]) -> Step:
    """Publisher confirms on this channel; ``on_confirm(frame)`` gets every ack and nack."""

    def step(channel: _Pika, then: Callable[[_Pika], None]) -> None:
        channel.confirm_delivery(on_confirm, callback=then)

    return step


def qos(prefetch: int) -> Step:
    def step(channel: _Pika, then: Callable[[_Pika], None]) -> None:
        channel.basic_qos(prefetch_count=prefetch, callback=then)

    return step


def consume(
    queue_name: str,
    on_message: Callable[[_Pika, _Pika, _Pika, bytes], None],
    on_tag: Callable[[str], None] | None = None,
) -> Step:
    """Consume with manual acks; ``on_tag`` gets the consumer tag at once (to cancel later)."""

    def step(channel: _Pika, then: Callable[[_Pika], None]) -> None:
        tag = channel.basic_consume(queue_name, on_message, auto_ack=False, callback=then)
        if on_tag is not None:
            on_tag(tag)

    return step
