"""``@event`` in the IDL: each problem with its exact message, the event-name rule (the runtime's,
copied), and a service that declares only events (the events of a Nameko service it does not
implement)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from cgtools import CATALOG_IDL, REPO, tool
from hypothesis import given
from hypothesis import strategies as st
from rpcgen.codegen import services
from rpcgen.codegen.build import build
from rpcgen.codegen.load import LoadResult
from rpcgen.codegen.write import write
from rpcgen.runtime._codec.wire import is_event_type

Problems = Callable[..., list[str]]
Loaded = Callable[..., LoadResult]

# Line 12 is the first line of each case's service body, 13 the def under one decorator.
PRELUDE = """\
from __future__ import annotations

import dataclasses
from typing import Protocol

from rpcgen import event, raises, service

class Oops(Exception): ...

@service("svc")
class Svc(Protocol):
"""
ONE_PAYLOAD = (
    "an event declares exactly one payload parameter after self, e.g. "
    "def order_created(self, payload: OrderCreated) -> None"
)
NOT_A_WORD = (
    "is not a routing key a handler can bind to exactly; it must be 1 to 255 bytes (UTF-8) "
    "without '*' or '#' (wildcards in a binding)"
)

CASES: dict[str, tuple[str, str]] = {
    "two events with one name": (
        '    @event("made")\n    def a(self, payload: int) -> None: ...\n'
        '    @event("made")\n    def b(self, payload: int) -> None: ...\n',
        "idl/m.py:15: Svc.b: event 'made' is already declared at idl/m.py:13; give each event "
        "of a service its own name",
    ),
    "payload without annotation": (
        '    @event("made")\n    def made(self, payload) -> None: ...\n',
        "idl/m.py:13: Svc.made: the payload parameter 'payload' has no type annotation; annotate "
        "it, e.g. payload: OrderCreated",
    ),
    "two payloads": (
        '    @event("made")\n    def made(self, a: int, b: int) -> None: ...\n',
        f"idl/m.py:13: Svc.made: {ONE_PAYLOAD}",
    ),
    "no payload": (
        '    @event("made")\n    def made(self) -> None: ...\n',
        f"idl/m.py:13: Svc.made: {ONE_PAYLOAD}",
    ),
    "payloads as *args": (
        '    @event("made")\n    def made(self, *payload: int) -> None: ...\n',
        f"idl/m.py:13: Svc.made: {ONE_PAYLOAD}",
    ),
    "a wildcard in the name": (
        '    @event("order*")\n    def made(self, payload: int) -> None: ...\n',
        f"idl/m.py:13: Svc.made: event name 'order*' {NOT_A_WORD}",
    ),
    "a topic wildcard in the name": (
        '    @event("order.#")\n    def made(self, payload: int) -> None: ...\n',
        f"idl/m.py:13: Svc.made: event name 'order.#' {NOT_A_WORD}",
    ),
    "a name over 255 bytes": (
        f'    @event("{"é" * 128}")\n    def made(self, payload: int) -> None: ...\n',
        f"idl/m.py:13: Svc.made: event name '{'é' * 128}' {NOT_A_WORD}",
    ),
    "an empty name": (
        '    @event("")\n    def made(self, payload: int) -> None: ...\n',
        f"idl/m.py:13: Svc.made: event name '' {NOT_A_WORD}",
    ),
    "a name that is not a string": (
        "    @event(1)\n    def made(self, payload: int) -> None: ...\n",
        f"idl/m.py:13: Svc.made: event name 1 {NOT_A_WORD}",
    ),
    "returns something": (
        '    @event("made")\n    def made(self, payload: int) -> int: ...\n',
        "idl/m.py:13: Svc.made: an event returns nothing; annotate it -> None",
    ),
    "no return annotation": (
        '    @event("made")\n    def made(self, payload: int): ...\n',
        "idl/m.py:13: Svc.made: an event returns nothing; annotate it -> None",
    ),
    "declares errors": (
        '    @raises(Oops)\n    @event("made")\n    def made(self, payload: int) -> None: ...\n',
        "idl/m.py:14: Svc.made: an event cannot declare errors: nobody answers it; remove @raises",
    ),
    "a method name Python mangles": (
        '    @event("made")\n    def __made(self, payload: int) -> None: ...\n',
        "idl/m.py:13: Svc._Svc__made: event method name '__made' starts with '__', which Python "
        "mangles inside a class; rename the method",
    ),
    "payload of an unsupported type": (
        '    @event("made")\n    def made(self, payload: set[int]) -> None: ...\n',
        "idl/m.py:13: Svc.made: payload 'payload': set[int] is not supported (JSON has no sets); "
        "use a list instead",
    ),
}


@pytest.mark.parametrize("body,expected", CASES.values(), ids=list(CASES))
def test_each_problem_has_its_message(problems: Problems, body: str, expected: str) -> None:
    assert problems(m=PRELUDE + body) == [expected]


@pytest.mark.parametrize(
    "name",
    [
        "order-created",
        "order:created",
        "créé",
        "OrderCreated",
        "x",
        "user.created",
        "spam.ham.eggs",
        "a..b",
        ".",
        "order created",
        "é" * 127,
    ],
)
def test_any_routing_key_names_an_event(loaded: Loaded, name: str) -> None:
    """Nameko's event types are any routing key: the IDL accepts every one a handler can bind."""
    body = f"    @event({name!r})\n    def made(self, payload: int) -> None: ...\n"
    (svc,) = loaded(m=PRELUDE + body).modules[0].services
    assert [(e.name, e.wire_name) for e in svc.events] == [("made", name)]


@given(st.text(max_size=300) | st.sampled_from(["a.b", "#", "a\x00", "é" * 128, "é" * 127]))
def test_the_event_name_rule_is_the_runtimes(name: str) -> None:
    assert services._is_event_type(name) == is_event_type(name)


# A module of the user's that handles the events of another generated module.
HANDLER = """\
from __future__ import annotations

import rpcgen.runtime as rt

from generated.catalog import CatalogEvent, CatalogEvents, Notice


class Shelves(rt.Server):
    service_name = "shelves"

    @CatalogEvent.item_changed.handler("singleton")
    def restock(self, payload: Notice) -> None:
        print(payload.sku, payload.count)

    @CatalogEvent.counts.handler("broadcast", reliable_delivery=False)
    async def recount(self, payload: dict[str, int]) -> None:
        print(sum(payload.values()))


def announce(events: CatalogEvents) -> None:
    events.item_changed(Notice("sku-1", 2))
    events.counts({"sku-1": 2})
"""


def test_a_service_of_only_events_gets_only_the_event_classes(
    write_idl: Callable[..., Path],
) -> None:
    """Without methods there is nothing to call or serve: no client, no server skeleton."""
    built = build(write_idl(catalog=CATALOG_IDL))
    assert built.errors == ()
    text = built.files["catalog.py"]
    assert (
        "__all__ = [\n"
        + "".join(
            f'    "{name}",\n'
            for name in ["CatalogAsyncEvents", "CatalogEvent", "CatalogEvents", "Notice"]
        )
        + "]\n"
        in text
    )
    for absent in ("CatalogClient", "CatalogServer", "import abc", "Mapping", "rt.Method"):
        assert absent not in text
    assert (
        '_Catalog_event_item_changed: rt.Event[Notice] = rt.Event("catalog", "item:changed", '
        in text
    )
    assert text.endswith(
        "CatalogEvent.item_changed = _Catalog_event_item_changed\n"
        "CatalogEvent.counts = _Catalog_event_counts\n"
    )


def test_events_only_output_and_a_handler_in_another_module_pass_mypy_strict_and_ruff(
    write_idl: Callable[..., Path], tmp_path: Path
) -> None:
    built = build(write_idl(catalog=CATALOG_IDL))
    write(built.files, tmp_path / "generated")
    (tmp_path / "shelves.py").write_text(HANDLER, "utf-8")
    for command in (
        [tool("mypy"), "--strict", "--no-incremental", "-p", "generated", "-m", "shelves"],
        [tool("ruff"), "check", "--config", str(REPO / "pyproject.toml"), "generated"],
        [tool("ruff"), "format", "--check", "--config", str(REPO / "pyproject.toml"), "generated"],
    ):
        done = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path)
        assert done.returncode == 0, done.stdout + done.stderr
