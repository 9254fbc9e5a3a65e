"""diff's verdicts, measured: for every change kind of ``test_diff_pairs``, the code generated
from OLD and from NEW runs against each other on a real broker, and what happened must be what
``rpcgen diff`` says.

- **breaks callers** happened when callers (and event handlers) generated from OLD failed against
  a server (and dispatcher) generated from NEW;
- **breaks servers** happened when callers and handlers generated from NEW failed against a
  server and dispatcher generated from OLD.

A caller calls every method it knows with sample arguments that cover each enum member, Literal
value and union option of every parameter, four ways: with its generated client, every argument
positionally, every argument by name, and only the required ones; and as a Nameko caller may,
every argument by name in ``kwargs`` and records without the fields that have defaults. The
server answers each call with each sample of its result type in turn, and raises each error it
declares; a caller fails when a call raises, or when an error comes back as anything but the
caller's declared class with the ``exc_path`` it was sent under (Nameko callers rebuild errors
by ``exc_path``). An error a server newly declares counts against old callers only (one a method
stops declaring is something new callers chose not to handle). A dispatcher sends each sample of
its payload type; a handler fails when one does not arrive.

What NEW callers reach only through something new (a method, an event, a parameter with a
default) is not used against OLD servers: servers are deployed before their callers (diff's rule).
"""

from __future__ import annotations

import dataclasses
import enum
import importlib
import itertools
import json
import queue
import sys
import types
import typing
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import rpcgen.runtime as rt
from rpcgen.cli import app
from rpcgen.codegen.build import build
from rpcgen.codegen.write import write
from rpcgen.runtime._codec.codec import to_wire
from test_diff_pairs import BASE, PAIRS, _edit
from typer.testing import CliRunner

_serial = itertools.count()
EVENT_WAIT = 5.0  # seconds a handler waits for an event that never comes


def samples(tp: Any) -> list[Any]:
    """Values of ``tp`` that between them use each enum member, Literal value, union option."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is None or tp is type(None):
        return [None]
    if origin is typing.Literal:
        return list(args)
    if origin is typing.Union or origin is types.UnionType:
        return [v for arg in args for v in samples(arg)]
    if origin is list:
        return [[v] for v in samples(args[0])]
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return [(v,) for v in samples(args[0])]
        return _spread([samples(a) for a in args], tuple)
    if origin is dict:
        return [{"k": v} for v in samples(args[1])]
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return list(tp)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        hints = typing.get_type_hints(tp)
        names = [f.name for f in dataclasses.fields(tp)]
        return _spread([samples(hints[n]) for n in names], lambda vs: tp(*vs))
    if typing.is_typeddict(tp):
        hints = typing.get_type_hints(tp)
        return _spread(
            [samples(h) for h in hints.values()], lambda vs: dict(zip(hints, vs, strict=True))
        )
    scalars: dict[Any, Any] = {bool: True, int: 3, float: 2.5, str: "s", bytes: b"b"}
    return [scalars[tp]]


def _spread(choices: list[list[Any]], make: Callable[[Any], Any]) -> list[Any]:
    """One value per variant: the i-th variant takes each part's i-th sample (wrapping)."""
    count = max((len(c) for c in choices), default=1)
    return [make(tuple(c[i % len(c)] for c in choices)) for i in range(count)]


@dataclasses.dataclass
class Version:
    """One side's generated module, and its classes by role."""

    module: types.ModuleType

    def cls(self, suffix: str) -> Any:
        found = [
            getattr(self.module, name)
            for name in self.module.__all__
            if name.endswith(suffix) and name[: -len(suffix)] in ("Shop", "Store")
        ]
        return found[0] if found else None


def generate(root: Path, source: str) -> Version:
    idl = root / "idl"
    idl.mkdir(parents=True)
    (idl / "shop.py").write_text(source, "utf-8")
    built = build(idl)
    assert [str(e) for e in built.errors] == []
    package = f"measured_{next(_serial)}"
    write(built.files, root / package)
    sys.path.insert(0, str(root))
    try:
        return Version(importlib.import_module(f"{package}.shop"))
    finally:
        sys.path.remove(str(root))


class Behaviour:
    """What the test server does next: return the ``index``-th sample, or raise ``error``."""

    index = 0
    error: type[Exception] | None = None


def server_of(version: Version, behaviour: Behaviour) -> rt.Server:
    base = version.cls("Server")
    body: dict[str, Any] = {}
    for name, method in base.methods.items():

        def answer(self: Any, *args: Any, _m: rt.Method[Any] = method, **kwargs: Any) -> Any:
            if behaviour.error is not None:
                raise behaviour.error("raised on purpose")
            values = samples(_m.result)
            return values[behaviour.index % len(values)]

        body[name] = answer
    return typing.cast(rt.Server, type("Measured", (base,), body)())


def listener_of(version: Version, got: queue.Queue[tuple[str, Any]]) -> rt.Server | None:
    namespace = version.cls("Event")
    if namespace is None:
        return None
    body: dict[str, Any] = {"service_name": "listener", "methods": {}}
    for name in vars(namespace):
        event = getattr(namespace, name)
        if not isinstance(event, rt.Event):
            continue

        def handle(self: Any, payload: Any, _name: str = event.name) -> None:
            got.put((_name, payload))

        body[f"on_{name}"] = event.handler()(handle)
    return typing.cast(rt.Server, type("Listener", (rt.Server,), body)())


def call_styles(
    method: rt.Method[Any], variant: int, skip: frozenset[str] = frozenset()
) -> Iterator[tuple[list[Any], dict[str, Any]]]:
    """Positionally, by name, and only the required ones; ``skip``: parameters left out."""
    values = {p.name: samples(p.type) for p in method.params if p.name not in skip}
    chosen = {name: v[variant % len(v)] for name, v in values.items()}
    positional = [p.name for p in method.params if not p.keyword_only and p.name in chosen]
    keyword = [p.name for p in method.params if p.keyword_only and p.name in chosen]
    yield [chosen[n] for n in positional], {n: chosen[n] for n in keyword}
    yield [], dict(chosen)
    required = [p.name for p in method.params if not p.has_default]
    yield (
        [chosen[n] for n in positional if n in required],
        {n: chosen[n] for n in keyword if n in required},
    )


def callers_fail(caller: Version, server: Version, uri: str, newer: bool) -> list[str]:
    """The failures of ``caller``'s clients and handlers against ``server``'s server and
    dispatcher (what went wrong, for the assertion message). ``newer``: the caller is NEW, so
    what only it has (a method, an event, a parameter with a default) is not used: servers are
    deployed before their callers (diff's rule)."""
    failures: list[str] = []
    behaviour = Behaviour()
    got: queue.Queue[tuple[str, Any]] = queue.Queue()
    listener = listener_of(caller, got)
    with rt.run_in_background(server_of(server, behaviour), uri):
        if listener is not None:
            with rt.run_in_background(listener, uri):
                failures += _events(caller, server, uri, got, newer)
        failures += _calls(caller, server, uri, behaviour, newer)
    return failures


def nameko_form(value: Any, tp: Any) -> Any:
    """``value`` as a Nameko caller's code may build it: records as dicts without the fields
    that have defaults (a TypedDict with ``total=False`` empty)."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Union or origin is types.UnionType:
        fits = [a for a in args if _fits(value, a)]
        return nameko_form(value, fits[0]) if fits else to_wire(value)
    if origin in (list, tuple) and args:
        item = args[0]
        return [nameko_form(v, item) for v in value]
    if origin is dict:
        return {k: nameko_form(v, args[1]) for k, v in value.items()}
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        hints = typing.get_type_hints(tp)
        return {
            f.name: nameko_form(getattr(value, f.name), hints[f.name])
            for f in dataclasses.fields(tp)
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        }
    if typing.is_typeddict(tp):
        hints = typing.get_type_hints(tp)
        return {k: nameko_form(value[k], hints[k]) for k in tp.__required_keys__}
    return to_wire(value)


def _fits(value: Any, tp: Any) -> bool:
    if tp is None or tp is type(None):
        return value is None
    origin = typing.get_origin(tp)
    if origin is typing.Literal:
        return value in typing.get_args(tp)
    if typing.is_typeddict(tp):
        return isinstance(value, dict)
    return isinstance(value, origin or tp)


def _calls(
    caller: Version, server: Version, uri: str, behaviour: Behaviour, newer: bool
) -> list[str]:
    failures: list[str] = []
    served = server.cls("Server").methods if server.cls("Server") else {}
    client_cls = caller.cls("Client")
    if client_cls is None:
        return failures
    with (
        client_cls.connect(uri, timeout=10) as client,
        rt.RawClient.connect(uri, timeout=10) as raw,
    ):
        for name, method in client_cls.methods.items():
            remote = getattr(client, name)
            other = next((m for m in served.values() if m.routing_key == method.routing_key), None)
            if other is None and newer:
                continue
            known = {p.name for p in other.params} if other is not None else set()
            skip = frozenset(
                p.name for p in method.params if newer and p.has_default and p.name not in known
            )
            results = len(samples(other.result)) if other is not None else 1
            variants = max([len(samples(p.type)) for p in method.params] + [results, 1])
            for variant in range(variants):
                behaviour.index, behaviour.error = variant, None
                for args, kwargs in call_styles(method, variant, skip):
                    try:
                        remote(*args, **kwargs)
                    except (rt.UnknownService, rt.RpcTimeout) as exc:
                        return [*failures, f"{name}: {exc!r}"]  # nothing serves it any more
                    except Exception as exc:
                        failures.append(f"{name}{tuple(args)}{kwargs}: {exc!r}")
                _, by_name = list(call_styles(method, variant, skip))[1]
                types_ = {p.name: p.type for p in method.params}
                lean = {k: nameko_form(v, types_[k]) for k, v in by_name.items()}
                try:
                    raw.call(method.service, method.name, [], lean)
                except Exception as exc:
                    failures.append(f"{name}(**{lean}) as Nameko: {exc!r}")
            for error in other.errors if other is not None else ():
                behaviour.error = error
                args, kwargs = next(call_styles(method, 0, skip))
                try:
                    remote(*args, **kwargs)
                except Exception as exc:
                    mine = [e for e in method.errors if e.__name__ == error.__name__]
                    if not mine and not newer:
                        failures.append(f"{name} raising {error.__name__}: got {exc!r}")
                    elif mine and not (type(exc) is mine[0] and mine[0].exc_path == error.exc_path):
                        failures.append(f"{name} raising {error.exc_path}: got {exc!r}")
            behaviour.error = None
    return failures


def _events(
    caller: Version, server: Version, uri: str, got: queue.Queue[Any], newer: bool
) -> list[str]:
    handled = caller.cls("Event")
    dispatched = server.cls("Event")
    failures: list[str] = []
    expected: dict[str, int] = {}
    with server.cls("Events").connect(uri) as dispatcher:
        for name in vars(handled):
            event = getattr(handled, name)
            if not isinstance(event, rt.Event):
                continue
            theirs = next(
                (
                    e
                    for e in vars(dispatched).values()
                    if isinstance(e, rt.Event) and e.label == event.label
                ),
                None,
            )
            if theirs is None and newer:
                continue
            if theirs is None:
                failures.append(f"event {event.name} is no longer dispatched")
                continue
            values = samples(theirs.payload)
            for value in values:
                getattr(dispatcher, _attr(dispatched, theirs))(value)
            expected[event.name] = len(values)
    arrived: dict[str, int] = dict.fromkeys(expected, 0)
    while sum(arrived.values()) < sum(expected.values()):
        try:
            name, _ = got.get(timeout=EVENT_WAIT)
        except queue.Empty:
            break
        arrived[name] += 1
    failures += [
        f"event {n}: {arrived[n]} of {c} arrived" for n, c in expected.items() if arrived[n] < c
    ]
    return failures


def _attr(namespace: Any, event: rt.Event[Any]) -> str:
    return next(k for k, v in vars(namespace).items() if v is event)


def verdicts(old: Path, new: Path) -> dict[str, str]:
    result = CliRunner().invoke(app, ["diff", str(old), str(new), "--format", "json"])
    assert result.exit_code in (0, 1), result.output
    return {
        f"{c['where']}: {c['change']}": c["verdict"] for c in json.loads(result.stdout)["changes"]
    }


@pytest.mark.parametrize("rpc_transport", ["rabbitmq"])
@pytest.mark.parametrize("case", PAIRS, ids=list(PAIRS))
def test_diff_says_what_happens_on_the_broker(case: str, tmp_path: Path, rpc_uri: str) -> None:
    edits, _ = PAIRS[case]
    old = generate(tmp_path / "old", BASE)
    new = generate(tmp_path / "new", _edit(edits))
    said = verdicts(tmp_path / "old" / "idl", tmp_path / "new" / "idl")
    breaks_callers = callers_fail(old, new, rpc_uri, newer=False)
    breaks_servers = callers_fail(new, old, rpc_uri, newer=True)
    said_callers = any("callers" in v for v in said.values())
    said_servers = any("servers" in v for v in said.values())
    assert (bool(breaks_callers), bool(breaks_servers)) == (said_callers, said_servers), (
        said,
        breaks_callers,
        breaks_servers,
    )


def test_the_docs_table_lists_every_measured_case_with_its_verdict() -> None:
    """docs/evolving.md's table is this test's cases, each with diff's (measured) verdict."""
    page = (Path(__file__).resolve().parents[2] / "docs" / "evolving.md").read_text("utf-8")
    rows = [line.split("|")[1:3] for line in page.splitlines() if line.startswith("| ")]
    table = {case.strip(): verdict.strip() for case, verdict in rows[1:]}
    expected = {}
    for case, (_, verdicts) in PAIRS.items():
        if not verdicts:
            continue
        callers = any("callers" in v for v in verdicts.values())
        servers = any("servers" in v for v in verdicts.values())
        expected[case] = (
            "breaks callers and servers"
            if callers and servers
            else "breaks callers"
            if callers
            else "breaks servers"
            if servers
            else "compatible"
        )
    assert table == expected
