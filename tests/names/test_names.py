"""Any method name: a service whose methods, events and fields are named after everything the
generated code names (idl/shadows.py) builds, passes mypy --strict, is typed for its callers, and
answers every call on a real broker, from sync and async skeletons alike."""

from __future__ import annotations

import asyncio
import datetime as dt
import decimal
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import rpcgen.runtime as rt
from rpcgen.codegen.build import build
from rpcgen.runtime.testing import Vhost

from tests.names.impl import AsyncShadows, Shadows
from tests.names.out.shadows import (
    Closed,
    Entry,
    Kind,
    ShadowsAsyncClient,
    ShadowsAsyncEvents,
    ShadowsClient,
    ShadowsEvents,
    ShadowsServer,
)
from tests.typing.test_typing_markers import markers, mypy, reported

HERE = Path(__file__).resolve().parent
DAY = dt.date(2020, 1, 2)


def test_out_is_the_build_of_the_idl() -> None:
    result = build(HERE / "idl")
    assert not result.errors
    on_disk = {p.name: p.read_text("utf-8") for p in (HERE / "out").iterdir() if p.is_file()}
    assert {Path(rel).name: text for rel, text in result.files.items()} == on_disk, (
        "tests/names/out is stale: rebuild it from tests/names/idl"
    )


def test_the_generated_module_and_its_implementations_pass_mypy_strict(tmp_path: Path) -> None:
    done = mypy(HERE / "impl.py", tmp_path)  # follows the import into out/shadows.py
    assert done.returncode == 0, done.stdout + done.stderr


def test_wrong_calls_of_renamed_and_shadowing_methods_are_mypy_errors(tmp_path: Path) -> None:
    path = HERE / "bad_usage.py"
    expected = markers(path)
    assert len(expected) >= 15
    done = mypy(path, tmp_path)
    got = reported(done.stdout)
    assert (sorted((expected - got).elements()), sorted((got - expected).elements())) == (
        [],
        [],
    ), done.stdout


def test_reserved_names_get_a_trailing_underscore_and_keep_their_wire_name() -> None:
    assert ShadowsServer.methods["close_"].name == "close"
    assert ShadowsServer.methods["close_"].routing_key == "shadows.close"
    assert ShadowsServer.methods["list"].routing_key == "shadows.list"
    # The client's own API is still its own.
    assert ShadowsClient.close is rt.Client.close
    assert ShadowsClient.service_name == "shadows"


def expected_answers() -> list[tuple[str, tuple[object, ...], dict[str, object], object]]:
    """(python name, args, kwargs, result) for every method."""
    entry = Entry(DAY, ["a"], "s", Kind.SPECIAL)
    return [
        ("list", (), {}, ["list"]),
        ("dict", ({"a": 1},), {}, {"a": 2}),
        ("str", ("x",), {}, "str:x"),
        ("int", (41,), {}, 42),
        ("float", (3.0,), {}, 1.5),
        ("bool", (False,), {}, True),
        ("bytes", (b"ab",), {}, b"ba"),
        ("tuple", ((1, "a"),), {}, (2, "A")),
        ("object", (), {}, ["object"]),
        ("staticmethod", (5,), {}, -5),
        ("ClassVar", (), {}, "ClassVar"),
        ("Mapping", (), {}, {"Mapping": [1, 2]}),
        ("Literal", ("a",), {}, "b"),
        ("TypedDict", (), {}, {"int": 1, "float": 2.5, "dict": {"a": 1}}),
        ("abc", (), {}, "abc"),
        ("dataclasses", (), {}, entry),
        ("rt", (), {}, "rt"),
        ("datetime", (dt.datetime(2020, 1, 2, 3),), {}, dt.datetime(2020, 1, 3, 3)),
        ("date", (DAY,), {}, dt.date(2020, 1, 3)),
        ("time", (dt.time(3, 4),), {}, dt.time(4, 4)),
        ("Decimal", (decimal.Decimal("1.25"),), {}, decimal.Decimal("2.50")),
        ("UUID", (uuid.UUID(int=1),), {}, uuid.UUID(int=2)),
        ("Entry", (entry,), {}, Entry(DAY, ["a", "more"], "S", Kind.SPECIAL)),
        ("Kind", (), {}, Kind.SPECIAL),
        (
            "Totals",
            ({"int": 2, "float": 1.0, "dict": {}},),
            {},
            {"int": 4, "float": 1.0, "dict": {}},
        ),
        ("id", (7,), {}, "id-7"),
        ("type", ("x",), {}, "str"),
        ("filter", ([1, 5, 9],), {"above": 4}, [5, 9]),
        ("close_", (7,), {}, "closed 7"),
        ("connect_", ("broker", 5672), {}, "broker:5672"),
        ("with_timeout_", (0.5,), {}, 5.0),
        ("service_name_", (), {}, "service_name"),
        ("methods_", (), {}, ["ClassVar", "Decimal", "Entry"]),
        ("_call_", (), {}, "_call"),
        ("_invoke_", (2,), {}, 6),
        ("after_all", ([1, 2], {"x": 1.0}, entry, Kind.PLAIN), {}, ("3:['x']:s:plain", True)),
    ]


def test_every_method_is_exercised() -> None:
    assert {name for name, *_ in expected_answers()} == set(ShadowsServer.methods)


@pytest.fixture(params=["sync", "async"])
def served(request: pytest.FixtureRequest, rabbit_vhost: Vhost) -> Iterator[Shadows]:
    """The service on a real broker, from the sync or the async skeleton; the sync impl's
    ``events`` queue records the events (both handle them through it)."""
    impl: Shadows | AsyncShadows = Shadows() if request.param == "sync" else AsyncShadows()
    with rt.run_in_background(impl, rabbit_vhost.uri):
        yield impl if isinstance(impl, Shadows) else impl.sync


def test_every_method_answers_sync_futures_and_asyncio_clients(
    served: Shadows, rabbit_vhost: Vhost
) -> None:
    cases = expected_answers()
    with ShadowsClient.connect(rabbit_vhost.uri, timeout=20) as client:
        for name, args, kwargs, result in cases:
            assert getattr(client, name)(*args, **kwargs) == result, name
        futures = [getattr(client, n).call_async(*a, **k) for n, a, k, _ in cases]
        assert [f.result() for f in futures] == [r for *_, r in cases]
        with pytest.raises(Closed, match="account -1 is closed"):
            client.close_(-1)
        assert client.with_timeout(5).int(1) == 2  # the client's own API still works

    async def via_asyncio() -> list[object]:
        async with ShadowsAsyncClient.connect(rabbit_vhost.uri, timeout=20) as aclient:
            return list(
                await asyncio.gather(*(getattr(aclient, n)(*a, **k) for n, a, k, _ in cases))
            )

    assert asyncio.run(via_asyncio()) == [r for *_, r in cases]


def test_events_with_shadowing_and_reserved_names(served: Shadows, rabbit_vhost: Vhost) -> None:
    with ShadowsEvents.connect(rabbit_vhost.uri) as events:
        events.list_event(["a", "b"])
        events.close_event(7)

    async def dispatch() -> None:
        async with ShadowsAsyncEvents.connect(rabbit_vhost.uri) as aevents:
            await aevents.with_timeout_event(Kind.SPECIAL)
            await aevents.methods_event(Entry(DAY, [], "e"))

    asyncio.run(dispatch())
    seen = dict(served.events.get(timeout=10) for _ in range(4))
    assert seen == {
        "list": ["a", "b"],
        "closed": 7,
        "with_timeout": Kind.SPECIAL,
        "connect": Entry(DAY, [], "e"),
    }


def test_codegen_reserves_every_attribute_the_generated_classes_inherit() -> None:
    """A runtime change that adds an attribute to the bases must reserve its name in codegen."""
    from rpcgen.codegen.services import RESERVED_NAMES

    inherited: set[str] = set()
    for base in (rt.Client, rt.AsyncClient, rt.Server):
        inherited |= {n for n in dir(base) if not (n.startswith("__") and n.endswith("__"))}
    client = rt.Client.__new__(rt.Client)
    rt.Client.__init__(client, None)  # type: ignore[arg-type]  # attributes set per instance
    inherited |= set(vars(client))
    assert inherited <= RESERVED_NAMES, sorted(inherited - RESERVED_NAMES)
