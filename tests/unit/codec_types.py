"""Types the codec tests use, written as an IDL author would (string annotations included)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from typing import Literal, TypedDict
from uuid import UUID


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


class Mood(str, enum.Enum):
    HAPPY = "happy"
    SAD = "sad"


@dataclass
class Owner:
    name: str
    tags: list[str]
    email: str | None = None


@dataclass(frozen=True)
class Money:
    amount: Decimal
    currency: Literal["EUR", "USD"] = "EUR"


@dataclass
class Account:
    id: int
    owner: Owner
    color: Color
    balance: Money
    opened: datetime
    ids: tuple[UUID, ...] = ()
    history: list[Account] = field(default_factory=list)  # recursive
    limits: dict[str, float] = field(default_factory=dict)


class Address(TypedDict):
    street: str
    zip: int


class Contact(TypedDict, total=False):
    phone: str
    address: Address


@dataclass
class Everything:
    s: str
    i: int
    f: float
    b: bool
    n: None
    d: date
    t: time
    raw: bytes
    level: Level
    mood: Mood
    pair: tuple[int, str]
    empty: tuple[()]
    maybe: int | None
    either: int | str
    contact: Contact


@dataclass
class Positive:
    value: int

    def __post_init__(self) -> None:
        if self.value <= 0:
            raise ValueError("value must be positive")
