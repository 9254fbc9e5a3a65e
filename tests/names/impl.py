"""Implementations of the ``shadows`` skeletons (sync and async) and a handler of its events.

A method named like a builtin shadows it in the rest of the class body for type checkers, in the
user's class as in the generated one: annotations here say ``builtins.list``, as a user's must
(mypy reports the plain name). tests/names/test_names.py runs mypy --strict on this file.
"""

from __future__ import annotations

import builtins
import datetime as dt
import decimal
import queue
import uuid
from typing import Literal

from tests.names.out import shadows as api
from tests.names.out.shadows import (
    Closed,
    Entry,
    ShadowsAsyncServer,
    ShadowsEvent,
    ShadowsServer,
    Totals,
)

Mode = Literal["a", "b"]
Seen = queue.Queue[tuple[str, object]]


class Shadows(ShadowsServer):
    """Each method answers with something that shows it was this method that ran."""

    def __init__(self) -> None:
        self.events: Seen = queue.Queue()

    def list(self) -> builtins.list[builtins.str]:
        return ["list"]

    def dict(
        self, items: builtins.dict[builtins.str, builtins.int]
    ) -> builtins.dict[builtins.str, builtins.int]:
        return {k: v * 2 for k, v in items.items()}

    def str(self, value: builtins.str) -> builtins.str:
        return f"str:{value}"

    def int(self, value: builtins.int) -> builtins.int:
        return value + 1

    def float(self, value: builtins.float) -> builtins.float:
        return value / 2

    def bool(self, value: builtins.bool) -> builtins.bool:
        return not value

    def bytes(self, value: builtins.bytes) -> builtins.bytes:
        return value[::-1]

    def tuple(
        self, pair: builtins.tuple[builtins.int, builtins.str]
    ) -> builtins.tuple[builtins.int, builtins.str]:
        return pair[0] + 1, pair[1].upper()

    def object(self) -> builtins.list[builtins.str]:
        return ["object"]

    def staticmethod(self, value: builtins.int) -> builtins.int:
        return -value

    def ClassVar(self) -> builtins.str:
        return "ClassVar"

    def Mapping(self) -> builtins.dict[builtins.str, builtins.list[builtins.int]]:
        return {"Mapping": [1, 2]}

    def Literal(self, mode: Mode) -> Mode:
        return "b" if mode == "a" else "a"

    def TypedDict(self) -> Totals:
        return {"int": 1, "float": 2.5, "dict": {"a": 1}}

    def abc(self) -> builtins.str:
        return "abc"

    def dataclasses(self) -> api.Entry:
        return Entry(dt.date(2020, 1, 2), ["a"], "s", api.Kind.SPECIAL)

    def rt(self) -> builtins.str:
        return "rt"

    def datetime(self, value: dt.datetime) -> dt.datetime:
        return value + dt.timedelta(days=1)

    def date(self, value: dt.date) -> dt.date:
        return value + dt.timedelta(days=1)

    def time(self, value: dt.time) -> dt.time:
        return value.replace(hour=(value.hour + 1) % 24)

    def Decimal(self, value: decimal.Decimal) -> decimal.Decimal:
        return value * 2

    def UUID(self, value: uuid.UUID) -> uuid.UUID:
        return uuid.UUID(int=value.int + 1)

    def Entry(self, entry: api.Entry) -> api.Entry:
        return Entry(entry.date, [*entry.list, "more"], entry.str.upper(), entry.Kind)

    def Kind(self, kind: api.Kind = api.Kind.SPECIAL) -> api.Kind:
        return kind

    def Totals(self, totals: Totals) -> Totals:
        return {"int": totals["int"] * 2, "float": totals["float"], "dict": totals["dict"]}

    def id(self, value: builtins.int) -> builtins.str:
        return f"id-{value}"

    def type(self, value: builtins.str) -> builtins.str:
        return builtins.type(value).__name__

    def filter(
        self, values: builtins.list[builtins.int], *, above: builtins.int = 0
    ) -> builtins.list[builtins.int]:
        return [v for v in values if v > above]

    def close_(self, account_id: builtins.int) -> builtins.str:
        if account_id < 0:
            raise Closed(f"account {account_id} is closed")
        return f"closed {account_id}"

    def connect_(self, host: builtins.str, port: builtins.int) -> builtins.str:
        return f"{host}:{port}"

    def with_timeout_(self, seconds: builtins.float) -> builtins.float:
        return seconds * 10

    def service_name_(self) -> builtins.str:
        return "service_name"

    def methods_(self) -> builtins.list[builtins.str]:
        return builtins.sorted(self.methods)[:3]

    def _call_(self) -> builtins.str:
        return "_call"

    def _invoke_(self, value: builtins.int) -> builtins.int:
        return value * 3

    def after_all(
        self,
        a: builtins.list[builtins.int],
        b: builtins.dict[builtins.str, builtins.float],
        c: api.Entry,
        d: api.Kind,
    ) -> builtins.tuple[builtins.str, builtins.bool]:
        return f"{builtins.sum(a)}:{builtins.sorted(b)}:{c.str}:{d.value}", True

    @ShadowsEvent.list_event.handler()
    def on_list(self, payload: builtins.list[builtins.str]) -> None:
        self.events.put(("list", payload))

    @ShadowsEvent.close_event.handler()
    def on_closed(self, payload: builtins.int) -> None:
        self.events.put(("closed", payload))

    @ShadowsEvent.with_timeout_event.handler()
    def on_with_timeout(self, payload: api.Kind) -> None:
        self.events.put(("with_timeout", payload))

    @ShadowsEvent.methods_event.handler()
    def on_connect(self, payload: api.Entry) -> None:
        self.events.put(("connect", payload))


class AsyncShadows(ShadowsAsyncServer):
    """The same answers from ``async def`` methods (run on the runner's event loop)."""

    def __init__(self) -> None:
        self.sync = Shadows()

    async def list(self) -> builtins.list[builtins.str]:
        return self.sync.list()

    async def dict(
        self, items: builtins.dict[builtins.str, builtins.int]
    ) -> builtins.dict[builtins.str, builtins.int]:
        return self.sync.dict(items)

    async def str(self, value: builtins.str) -> builtins.str:
        return self.sync.str(value)

    async def int(self, value: builtins.int) -> builtins.int:
        return self.sync.int(value)

    async def float(self, value: builtins.float) -> builtins.float:
        return self.sync.float(value)

    async def bool(self, value: builtins.bool) -> builtins.bool:
        return self.sync.bool(value)

    async def bytes(self, value: builtins.bytes) -> builtins.bytes:
        return self.sync.bytes(value)

    async def tuple(
        self, pair: builtins.tuple[builtins.int, builtins.str]
    ) -> builtins.tuple[builtins.int, builtins.str]:
        return self.sync.tuple(pair)

    async def object(self) -> builtins.list[builtins.str]:
        return self.sync.object()

    async def staticmethod(self, value: builtins.int) -> builtins.int:
        return self.sync.staticmethod(value)

    async def ClassVar(self) -> builtins.str:
        return self.sync.ClassVar()

    async def Mapping(self) -> builtins.dict[builtins.str, builtins.list[builtins.int]]:
        return self.sync.Mapping()

    async def Literal(self, mode: Mode) -> Mode:
        return self.sync.Literal(mode)

    async def TypedDict(self) -> Totals:
        return self.sync.TypedDict()

    async def abc(self) -> builtins.str:
        return self.sync.abc()

    async def dataclasses(self) -> api.Entry:
        return self.sync.dataclasses()

    async def rt(self) -> builtins.str:
        return self.sync.rt()

    async def datetime(self, value: dt.datetime) -> dt.datetime:
        return self.sync.datetime(value)

    async def date(self, value: dt.date) -> dt.date:
        return self.sync.date(value)

    async def time(self, value: dt.time) -> dt.time:
        return self.sync.time(value)

    async def Decimal(self, value: decimal.Decimal) -> decimal.Decimal:
        return self.sync.Decimal(value)

    async def UUID(self, value: uuid.UUID) -> uuid.UUID:
        return self.sync.UUID(value)

    async def Entry(self, entry: api.Entry) -> api.Entry:
        return self.sync.Entry(entry)

    async def Kind(self, kind: api.Kind = api.Kind.SPECIAL) -> api.Kind:
        return self.sync.Kind(kind)

    async def Totals(self, totals: Totals) -> Totals:
        return self.sync.Totals(totals)

    async def id(self, value: builtins.int) -> builtins.str:
        return self.sync.id(value)

    async def type(self, value: builtins.str) -> builtins.str:
        return self.sync.type(value)

    async def filter(
        self, values: builtins.list[builtins.int], *, above: builtins.int = 0
    ) -> builtins.list[builtins.int]:
        return self.sync.filter(values, above=above)

    async def close_(self, account_id: builtins.int) -> builtins.str:
        return self.sync.close_(account_id)

    async def connect_(self, host: builtins.str, port: builtins.int) -> builtins.str:
        return self.sync.connect_(host, port)

    async def with_timeout_(self, seconds: builtins.float) -> builtins.float:
        return self.sync.with_timeout_(seconds)

    async def service_name_(self) -> builtins.str:
        return self.sync.service_name_()

    async def methods_(self) -> builtins.list[builtins.str]:
        return self.sync.methods_()

    async def _call_(self) -> builtins.str:
        return self.sync._call_()

    async def _invoke_(self, value: builtins.int) -> builtins.int:
        return self.sync._invoke_(value)

    async def after_all(
        self,
        a: builtins.list[builtins.int],
        b: builtins.dict[builtins.str, builtins.float],
        c: api.Entry,
        d: api.Kind,
    ) -> builtins.tuple[builtins.str, builtins.bool]:
        return self.sync.after_all(a, b, c, d)

    @ShadowsEvent.list_event.handler()
    async def on_list(self, payload: builtins.list[builtins.str]) -> None:
        self.sync.on_list(payload)

    @ShadowsEvent.close_event.handler()
    async def on_closed(self, payload: builtins.int) -> None:
        self.sync.on_closed(payload)

    @ShadowsEvent.with_timeout_event.handler()
    async def on_with_timeout(self, payload: api.Kind) -> None:
        self.sync.on_with_timeout(payload)

    @ShadowsEvent.methods_event.handler()
    async def on_connect(self, payload: api.Entry) -> None:
        self.sync.on_connect(payload)
