"""A ledger of accounts and transfers: uses every type rpcgen supports."""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import Literal, Optional, Protocol, TypedDict
from uuid import UUID

from rpcgen import raises, service


class Currency(str, enum.Enum):
    """ISO 4217 currency codes the ledger keeps."""

    EUR = "EUR"
    USD = "USD"
    GBP = "GBP"


class Priority(enum.IntEnum):
    LOW = 1
    NORMAL = 5
    HIGH = 9


@dataclass(frozen=True)
class Money:
    """An exact amount in one currency."""

    amount: Decimal
    currency: Currency = Currency.EUR


@dataclass
class Owner:
    name: str
    email: Optional[str] = None  # noqa: UP045 - shows that Optional is supported too
    born: date | None = None


@dataclass
class Account:
    """One account and its current balance."""

    id: UUID
    owner: Owner
    balance: Money
    opened_at: datetime
    tags: list[str] = dataclasses.field(default_factory=list)
    limits: dict[str, Money] = dataclasses.field(default_factory=dict)
    status: Literal["open", "frozen", "closed"] = "open"
    cutoff: time | None = None
    parent: Account | None = None


@dataclass
class Transfer:
    id: UUID
    source: UUID
    target: UUID
    amount: Money
    at: datetime
    memo: bytes | None = None
    priority: Priority = Priority.NORMAL


class Statement(TypedDict):
    """A page of transfers for one account and period."""

    account: Account
    period: tuple[date, date]
    transfers: list[Transfer]
    totals: dict[str, Decimal]


class Filters(TypedDict, total=False):
    min_amount: Decimal
    currencies: list[Currency]
    memo_contains: str


class LedgerError(Exception):
    """Base of the ledger's declared errors."""


class InsufficientFunds(LedgerError):
    """The source account cannot cover the amount."""


class AccountNotFound(LedgerError):
    """No account has that id."""


@service("ledger")
class Ledger(Protocol):
    """Accounts, balances and transfers."""

    def open_account(
        self, owner: Owner, currency: Currency, *, tags: list[str] | None = None
    ) -> Account:
        """Open an empty account for ``owner``."""
        ...

    @raises(AccountNotFound)
    def get_account(self, account_id: UUID) -> Account:
        """The account with id ``account_id``."""
        ...

    def find_accounts(
        self,
        owner_name: str,
        *,
        limit: int = 10,
        include_closed: bool = False,
        order: Literal["newest", "oldest"] = "newest",
    ) -> list[Account]:
        """Accounts whose owner's name contains ``owner_name``, newest first."""
        ...

    @raises(InsufficientFunds, AccountNotFound)
    def transfer(
        self,
        source: UUID,
        target: UUID,
        amount: Money,
        *,
        memo: bytes | None = None,
        priority: Priority = Priority.NORMAL,
        reference: str | None = None,
    ) -> Transfer:
        """Move ``amount`` from ``source`` to ``target``, atomically."""
        ...

    @raises(AccountNotFound)
    def statement(
        self, account_id: UUID, start: date, end: date, filters: Filters | None = None
    ) -> Statement:
        """The transfers of one account between ``start`` and ``end``, inclusive."""
        ...

    def balances(self, account_ids: list[UUID]) -> dict[str, Money]:
        """Current balances, keyed by account id (as a string)."""
        ...

    def rates(self, base: Currency, at: datetime | None = None) -> dict[str, tuple[Decimal, float]]:
        """Exchange rates from ``base``: currency -> (rate, spread)."""
        ...

    def cutoff(self, day: date) -> time:
        """The time of day after which transfers book on the next day."""
        ...

    def tag_counts(self, tags: tuple[str, ...]) -> dict[str, int]:
        """How many accounts carry each tag."""
        ...

    def ping(self) -> None:
        """Check that the ledger answers."""
        ...
