"""The one name for pika's objects in type hints: pika ships no type hints."""

from typing import Any

__all__ = ["Pika"]

Pika = Any
"""A pika object (connection, channel, frame, ``BasicProperties``): untyped."""
