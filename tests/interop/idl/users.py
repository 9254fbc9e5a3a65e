"""The events of ../nameko_side/event_users.py's ``users`` service: a dotted event type.

Nameko dispatches ``user.created`` as any routing key; the IDL names it as is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from rpcgen import event, service


@dataclass
class UserCreated:
    name: str


@service("users")
class Users(Protocol):
    @event("user.created")
    def user_created(self, payload: UserCreated) -> None:
        """A user was created."""
