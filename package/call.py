"""``rpcgen call SERVICE.METHOD [ARG ...]``: one call from the shell, its result as JSON.

Arguments are JSON, one per argument: positional, or ``name=JSON``. With an IDL folder the call
is checked against the IDL before anything is sent (the parameters bound and each value decoded
into its declared type, as an rpcgen server would), then sent exactly as the method's generated
client sends it: typed values encoded by the runtime (kombu markers for datetime, Decimal...),
parameters left out not sent (the server applies its defaults), keyword-only parameters in
``kwargs``. Without one, the JSON is sent as it
is. Either way the result is printed as it arrived on the wire: JSON, with kombu's
``{"__type__", "__value__"}`` markers where the server sent them (with an IDL, after checking it
against the declared result type).

Exit codes: 0 a result, 1 the service answered with an error, 2 usage or validation (nothing
was sent), 3 no answer (timeout, unknown service, connection).

The IDL is loaded with ``rpcgen.codegen.load`` and rendered into the modules ``rpcgen build``
would write; they are executed in memory (never written), so the call uses the same
``rt.Method`` descriptors, data types and error classes as the generated client.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import re
import sys
import types
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import rpcgen.runtime as rt
from rpcgen.codegen.model import EventSpec, MethodSpec, ModuleSpec, ServiceSpec
from rpcgen.runtime._codec.wire import DEFAULT_EXCHANGE

__all__ = [
    "EXIT_NO_ANSWER",
    "EXIT_OK",
    "EXIT_REMOTE",
    "EXIT_USAGE",
    "Contract",
    "IdlMethod",
    "UsageError",
    "call",
    "load_contract",
    "parse_arguments",
]

EXIT_OK, EXIT_REMOTE, EXIT_USAGE, EXIT_NO_ANSWER = 0, 1, 2, 3

_KEYWORD = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=(.*)", re.DOTALL)
_serial = itertools.count()


class UsageError(Exception):
    """A call that cannot be sent; the message says why (exit 2)."""


@dataclass(frozen=True)
class IdlMethod:
    """One method of a loaded IDL: its model (for messages) and its runtime descriptor."""

    service: ServiceSpec
    spec: MethodSpec
    method: rt.Method[Any]
    namespace: Mapping[str, object]  # the rendered module's globals (to evaluate defaults)
    source: str

    @property
    def signature(self) -> str:
        """``compute(a: int, b: int) -> int``, as the IDL declares it."""
        return f"{self.spec.wire_name}({', '.join(self.spec.decls)}) -> {self.spec.result.expr}"


@dataclass(frozen=True)
class Contract:
    """An IDL folder, loaded: every service by wire name, each method by wire name."""

    folder: Path
    services: Mapping[str, Mapping[str, IdlMethod]]
    events: Mapping[str, Mapping[str, EventSpec]] = dataclasses.field(default_factory=dict)

    def find(self, target: str) -> IdlMethod:
        service, method = split_target(target)
        methods = self.services.get(service)
        if methods is None:
            known = ", ".join(sorted(self.services)) or "none"
            raise UsageError(f"{self.folder} declares no service {service!r} (services: {known})")
        found = methods.get(method)
        if found is None:
            known = ", ".join(sorted(methods)) or "none"
            raise UsageError(f"service {service!r} has no method {method!r} (methods: {known})")
        return found

    def listing(self, target: str | None = None) -> str:
        """Services, methods and signatures (of one service or method if ``target`` says)."""
        service_name, _, method_name = (target or "").partition(".")
        if service_name and service_name not in self.services:
            self.find(f"{service_name}.x")  # raises, naming the services
        lines: list[str] = []
        for name, methods in sorted(self.services.items()):
            if service_name and name != service_name:
                continue
            first = next(iter(methods.values()), None)
            where = f"  ({first.service.name}, {first.source})" if first else ""
            lines.append(f"{name}{where}")
            for wire_name, item in sorted(methods.items()):
                if method_name and wire_name != method_name:
                    continue
                raises = ", ".join(cls for cls, _ in item.spec.raises)
                lines.append(f"  {item.signature}" + (f"  raises {raises}" if raises else ""))
                if item.spec.doc:
                    lines.append(f"      {item.spec.doc.strip().splitlines()[0]}")
            for wire_name, event in sorted(self.events.get(name, {}).items()):
                if method_name:
                    continue
                lines.append(f"  event {wire_name}(payload: {event.payload.expr})")
                if event.doc:
                    lines.append(f"      {event.doc.strip().splitlines()[0]}")
        if method_name and len(lines) == 1:
            self.find(target or "")  # raises, naming the methods
        return "\n".join(lines)


def split_target(target: str) -> tuple[str, str]:
    """``SERVICE.METHOD`` as its two topic words."""
    service, dot, method = target.partition(".")
    if not dot or not service or not method or "." in method:
        raise UsageError(f"expected SERVICE.METHOD (e.g. hello_service.compute), got {target!r}")
    for word in (service, method):
        if any(ch in "*#" or ch.isspace() for ch in word):
            raise UsageError(f"{word!r} is not a service or method name")
    return service, method


def load_contract(folder: Path) -> Contract:
    """Load and render the IDL of ``folder``; ``UsageError`` listing its problems."""
    from rpcgen.codegen.contract.sources import SourceError, load_folder
    from rpcgen.codegen.render import render

    try:
        modules = load_folder(folder)
    except SourceError as exc:
        raise UsageError(str(exc)) from None
    files = render(modules, folder.resolve().name)
    package = f"_rpcgen_call_{next(_serial)}"
    services: dict[str, dict[str, IdlMethod]] = {}
    events: dict[str, dict[str, EventSpec]] = {}
    for module in _dependencies_first(modules):
        namespace = _execute(f"{package}.{module.name}", files[module.path])
        for service in module.services:
            table = services.setdefault(service.wire_name, {})
            events.setdefault(service.wire_name, {}).update(
                (event.wire_name, event) for event in service.events
            )
            for spec in service.methods:
                method = namespace[spec.const]
                assert isinstance(method, rt.Method)
                table[spec.wire_name] = IdlMethod(service, spec, method, namespace, module.source)
    return Contract(folder, services, events)


def _dependencies_first(modules: Sequence[ModuleSpec]) -> list[ModuleSpec]:
    """The modules, each after those whose types it imports (the loader refused rings)."""
    by_name = {m.name: m for m in modules}
    done: dict[str, ModuleSpec] = {}

    def visit(module: ModuleSpec) -> None:
        if module.name in done:
            return
        for _, home in module.shared:
            if home in by_name:
                visit(by_name[home])
        done[module.name] = module

    for module in modules:
        visit(module)
    return list(done.values())


def _execute(name: str, text: str) -> dict[str, object]:
    """Run one rendered module as ``name`` (registered in ``sys.modules``: dataclasses and
    type hints look their module up there; its relative imports find the modules run before)."""
    parent = name.rpartition(".")[0]
    for depth in range(1, parent.count(".") + 2):
        package = ".".join(parent.split(".")[:depth])
        if package not in sys.modules:
            holder = types.ModuleType(package)
            holder.__path__ = []
            sys.modules[package] = holder
    module = types.ModuleType(name)
    module.__file__ = f"<rpcgen call: {name}>"
    module.__package__ = parent
    sys.modules[name] = module
    exec(compile(text, module.__file__, "exec"), module.__dict__)  # our own renderer's output
    return module.__dict__


def parse_arguments(
    words: Sequence[str], args_json: str | None = None, kwargs_json: str | None = None
) -> tuple[list[object], dict[str, object]]:
    """The JSON values of ``ARG ...`` (positional or ``name=JSON``), ``--args``, ``--kwargs``."""
    args: list[object] = []
    kwargs: dict[str, object] = {}
    if args_json is not None:
        if any(_KEYWORD.fullmatch(w) is None for w in words):
            raise UsageError("give positional arguments either as ARG ... or as --args, not both")
        value = _json(args_json, "--args")
        if not isinstance(value, list):
            raise UsageError(f"--args must be a JSON array, got {args_json!r}")
        args.extend(value)
    if kwargs_json is not None:
        value = _json(kwargs_json, "--kwargs")
        if not isinstance(value, dict):
            raise UsageError(f"--kwargs must be a JSON object, got {kwargs_json!r}")
        kwargs.update(value)
    seen_keyword = False
    for index, word in enumerate(words, 1):
        keyword = _KEYWORD.fullmatch(word)
        if keyword is None:
            if word.startswith("--") and _maybe_json(word) is _NOT_JSON:
                raise UsageError(f"no such option: {word} (see rpcgen call --help)")
            if seen_keyword:
                raise UsageError(f"positional argument {word!r} follows a name=JSON argument")
            args.append(_json(word, f"argument {index}"))
            continue
        seen_keyword = True
        name, text = keyword.groups()
        if name in kwargs:
            raise UsageError(f"argument {name!r} is given twice")
        kwargs[name] = _json(text, f"argument {name!r}")
    return args, kwargs


_NOT_JSON: Any = object()


def _maybe_json(text: str) -> object:
    try:
        return json.loads(text)
    except ValueError:
        return _NOT_JSON


def _json(text: str, what: str) -> object:
    value = _maybe_json(text)
    if value is _NOT_JSON:
        hint = ""
        if text and text[0] not in '[{"-0123456789' and text not in ("true", "false", "null"):
            hint = f"; a string is written with quotes: '{json.dumps(text)}'"
        raise UsageError(f"{what}: {text!r} is not JSON{hint}")
    return value


def bind(
    target: IdlMethod, args: list[object], kwargs: dict[str, object]
) -> tuple[list[object], dict[str, object]]:
    """The typed ``(args, kwargs)`` the generated client would send; ``UsageError`` if the
    arguments do not fit the IDL (naming the parameter and the type it expected)."""
    label = f"{target.service.wire_name}.{target.spec.wire_name}"
    try:
        typed_args, typed_kwargs = target.method.codec.decode_args(list(args), dict(kwargs))
    except rt.IncorrectSignature as exc:
        message, prefix = str(exc), f"{target.method.name}()"
        if message.startswith(prefix):
            message = message[len(prefix) :].lstrip(": ")
        raise UsageError(
            f"{label}: {message}\n  {target.service.wire_name}.{target.signature}"
        ) from None
    out_args: list[object] = []
    out_kwargs: dict[str, object] = {}
    params = zip(target.method.params, target.spec.params, strict=True)
    for index, (param, spec) in enumerate(params):
        if not param.keyword_only and index < len(typed_args):
            value = typed_args[index]
        elif param.name in typed_kwargs:
            value = typed_kwargs[param.name]
        else:
            assert spec.default is not None  # decode_args checked the required ones
            value = rt.OMITTED  # not sent, as the generated client leaves it out
        if param.keyword_only:
            out_kwargs[param.name] = value
        else:
            out_args.append(value)
    return out_args, out_kwargs


def parse_context(items: Sequence[str]) -> dict[str, object]:
    """``--context key=value`` items as context data (values are strings)."""
    data: dict[str, object] = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not eq or not key:
            raise UsageError(f"--context expects KEY=VALUE, got {item!r}")
        if key == "call_id_stack":
            raise UsageError("--context cannot set call_id_stack: rpcgen manages it")
        data[key] = value
    return data


@contextmanager
def _client(
    uris: Sequence[str] | None, timeout: float | None, exchange: str | None = None
) -> Iterator[rt.RawClient]:
    connect_timeout = 10.0 if timeout is None else min(10.0, max(timeout, 1.0))
    try:
        connection = rt.Connection(
            list(uris) if uris else None,
            exchange=exchange or os.environ.get("RPCGEN_EXCHANGE") or DEFAULT_EXCHANGE,
            client_name="rpcgen_call",
            connect_timeout=connect_timeout,
            reconnect=None,
        )
    except ValueError as exc:  # an unusable URI
        raise UsageError(str(exc)) from None
    try:
        yield rt.RawClient(connection, timeout=timeout)
    finally:
        connection.close()


def call(
    target: str,
    words: Sequence[str],
    *,
    idl: Path | None = None,
    args_json: str | None = None,
    kwargs_json: str | None = None,
    timeout: float | None = rt.DEFAULT_TIMEOUT,
    uris: Sequence[str] | None = None,
    exchange: str | None = None,
    context: Sequence[str] = (),
    out: Any = None,
    err: Any = None,
) -> int:
    """Make the call, print its result (``out``) or what went wrong (``err``); the exit code."""
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        service, method = split_target(target)
        args, kwargs = parse_arguments(words, args_json, kwargs_json)
        data = parse_context(context)
        idl_method = load_contract(idl).find(target) if idl is not None else None
        if idl_method is not None:
            args, kwargs = bind(idl_method, args, kwargs)
        with _client(uris, timeout, exchange) as client, rt.context_data(**data):
            if idl_method is not None:
                result = client.call_method(idl_method.method, args, kwargs)
            else:
                result = client.call(service, method, args, kwargs)
    except UsageError as exc:
        print(f"rpcgen: {exc}", file=err)
        return EXIT_USAGE
    except (rt.RpcTimeout, rt.UnknownService, rt.RpcConnectionError) as exc:
        print(f"rpcgen: no answer from {target}: {type(exc).__name__}: {exc}", file=err)
        return EXIT_NO_ANSWER
    except rt.RpcError as exc:
        print(f"rpcgen: {target} raised {describe_error(exc, idl is not None)}", file=err)
        return EXIT_REMOTE
    print(json.dumps(result, indent=2, ensure_ascii=False), file=out)
    return EXIT_OK


def describe_error(exc: rt.RpcError, with_idl: bool = True) -> str:
    """``DivisionByZero: b is 0`` (declared), ``ValueError: bad (builtins.ValueError, not
    declared)`` (any other remote error), ``MethodNotFound: missing`` (protocol). Without an
    IDL nothing is known to be declared or not, so only the path is given."""
    if isinstance(exc, rt.ServiceError):
        path = getattr(type(exc), "exc_path", "")
        return f"{type(exc).__name__}: {exc} (declared, exc_path {path})"
    if isinstance(exc, rt.RemoteError):
        verdict = ", not declared" if with_idl else ""
        path = f" ({exc.exc_path}{verdict})" if exc.exc_path else f" ({verdict[2:]})"
        return f"{exc.exc_type}: {exc.value}{path}".removesuffix(" ()")
    return f"{type(exc).__name__}: {exc}"
