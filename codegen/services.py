"""Specs for the ``@service`` Protocols of an IDL module: names, methods, parameters, errors."""

from __future__ import annotations

import inspect
import re
import typing
from collections.abc import Callable
from types import FunctionType

from rpcgen.codegen.markers import EVENT_ATTR, RAISES_ATTR, SERVICE_ATTR
from rpcgen.codegen.model import EventSpec, MethodSpec, ParameterSpec, ServiceSpec, TypeRef
from rpcgen.codegen.source import Source
from rpcgen.codegen.types import TypeProblem, describe, render_default, render_type

__all__ = ["RESERVED_NAMES", "build_service", "python_name"]

# A routing key is "<service>.<method>" on a topic exchange: each part must be one topic word.
_TOPIC_WORD = re.compile(r"[A-Za-z0-9_-]+")
_SELF_KINDS = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
# The generated classes' own attributes: those of rt.Client, rt.AsyncClient and rt.Server, their
# bases and instances (a test keeps this equal to the runtime's). A method or event of one of
# these names is generated with a trailing "_" (docs/design.md, "Any method name").
RESERVED_NAMES = frozenset(
    {
        "connect",
        "close",
        "with_timeout",
        "dispatch_async",
        "service_name",
        "methods",
        "middleware",
        "_abc_impl",
        "_call",
        "_connection",
        "_dispatch_only",
        "_invoke",
        "_invoke_async",
        "_is_protocol",
        "_owning",
        "_owns_connection",
        "_publish",
        "_publish_async",
        "_timeout",
        "_traced",
    }
)
# Names of the generated module's own aliases (codegen/unshadow.py): an IDL may not use them.
_ALIAS_PREFIX = "_rpcgen_"


def python_name(member: str) -> str:
    """The Python name of an IDL method or event in generated code: the IDL's, with a trailing
    ``_`` when it is one of the generated classes' own (``close`` -> ``close_``)."""
    return f"{member}_" if member in RESERVED_NAMES else member


# An event type is the routing key on "<service>.events". The rule is the runtime's
# (rpcgen.runtime._codec.wire.is_event_type), copied: importing the runtime would import pika.
# It is looser than the service-name rule above on purpose: an IDL must be able to name any
# event type a Nameko service dispatches (any routing key, dots included), except the binding
# wildcards '*' and '#'.
_MAX_SHORTSTR = 255
_KIND_PROBLEMS = {
    inspect.Parameter.VAR_POSITIONAL: "*{name} is not supported; declare each parameter by name",
    inspect.Parameter.VAR_KEYWORD: "**{name} is not supported; declare each keyword by name",
    inspect.Parameter.POSITIONAL_ONLY: (
        "parameter '{name}' is positional-only; remove the '/' (Nameko callers may pass any "
        "argument by keyword)"
    ),
}


def build_service(cls: type, src: Source) -> ServiceSpec | None:
    """The spec of one ``@service`` class, or None after reporting its problems to ``src``."""
    name = cls.__name__
    before = len(src.problems)
    wire = cls.__dict__[SERVICE_ATTR]
    if not getattr(cls, "_is_protocol", False) or set(cls.__bases__) != {typing.Protocol}:
        src.problem(name, "", "a service must be a class whose only base is typing.Protocol")
    if not isinstance(wire, str) or not _TOPIC_WORD.fullmatch(wire):
        src.problem(
            name,
            "",
            f"service name {wire!r} is not a single AMQP topic word; use only letters, digits, "
            "'_' and '-' (no '.', '*', '#' or spaces)",
        )
    members = _methods(cls, src)
    _check_python_names(cls, [(m, src.function_line(name, m, f)) for m, f in members], src)
    events = _build_events(cls, wire, [(m, f) for m, f in members if hasattr(f, EVENT_ATTR)], src)
    rpc = [(m, f) for m, f in members if not hasattr(f, EVENT_ATTR)]
    methods = [spec for m, f in rpc if (spec := _build_method(cls, m, f, src))]
    if len(src.problems) == before and not methods and not events:
        src.problem(
            name,
            "",
            "the service declares no methods or events; add at least one (a service that only "
            "handles events needs no IDL: subclass rpcgen.runtime.Server, see docs/events.md)",
        )
    if len(src.problems) > before:
        return None
    return ServiceSpec(
        name=name,
        wire_name=wire,
        doc=src.doc(name),
        methods=tuple(methods),
        line=src.line(name),
        client=f"{name}Client",
        async_client=f"{name}AsyncClient",
        server=f"{name}Server",
        events=tuple(events),
    )


def _methods(cls: type, src: Source) -> list[tuple[str, FunctionType]]:
    """The plain functions of the class body; anything else a user declared is reported."""
    found: list[tuple[str, FunctionType]] = []
    for member, value in cls.__dict__.items():
        if member.startswith("__") and member.endswith("__"):
            continue
        if isinstance(value, (staticmethod, classmethod, property)):
            kind = type(value).__name__
            src.problem(
                cls.__name__, member, f"a {kind} cannot be an RPC method; make it a plain method"
            )
        elif isinstance(value, FunctionType):
            found.append((member, value))
        elif not member.startswith("_"):  # "_is_protocol" and friends belong to typing
            src.problem(cls.__name__, member, _NOT_A_METHOD)
    for member in inspect.get_annotations(cls):
        if member not in cls.__dict__:
            src.problem(cls.__name__, member, _NOT_A_METHOD)
    return found


_NOT_A_METHOD = "a service declares only methods; turn this attribute into a method or remove it"


def _build_method(cls: type, member: str, func: FunctionType, src: Source) -> MethodSpec | None:
    service = cls.__name__
    line = src.function_line(service, member, func)
    before = len(src.problems)

    def report(message: str) -> None:
        src.problem(service, member, message, line)

    _check_method_name(cls, member, func, report)
    try:
        sig = inspect.signature(func, eval_str=True)
        hints = typing.get_type_hints(func, include_extras=True)
    except Exception as exc:  # any evaluation error is the user's to fix
        report(
            f"cannot evaluate the annotations: {type(exc).__name__}: {exc}; "
            "define or import every name they use"
        )
        return None
    params = list(sig.parameters.values())
    if not params or params[0].name != "self" or params[0].kind not in _SELF_KINDS:
        report("the first parameter must be self; declare a plain instance method")
        return None
    specs = [_build_param(p, hints, src, report) for p in params[1:]]
    result = _build_result(sig, hints, src, report)
    errors = _declared_errors(func, src, report)
    if len(src.problems) > before or result is None:
        return None
    return MethodSpec(
        name=python_name(member),
        wire_name=member,
        params=tuple(spec for spec in specs if spec is not None),
        result=result,
        errors=errors,
        doc=src.doc(service, member),
        line=line,
        const=f"_{service}_{member}",
        raises=tuple((name, _summary(src.doc(name))) for name in errors),
    )


def _check_method_name(
    cls: type, member: str, func: FunctionType, report: Callable[[str], None]
) -> None:
    if not _TOPIC_WORD.fullmatch(member):
        report(
            f"method name {member!r} is not a single AMQP topic word; use only ASCII letters, "
            "digits and '_'"
        )
    _check_python_name(cls, member, "method", report)
    if inspect.iscoroutinefunction(func):
        report(
            "async def is not supported; declare a plain def (rpcgen generates the async client)"
        )


def _check_python_name(cls: type, member: str, kind: str, report: Callable[[str], None]) -> None:
    """Refuse the names Python itself changes or that the generated module uses."""
    if member.startswith(f"_{cls.__name__.lstrip('_')}__"):  # how Python stores ``__name``
        report(
            f"{kind} name {'__' + member.split('__', 1)[1]!r} starts with '__', which Python "
            "mangles inside a class; rename the method"
        )
    elif member.startswith(_ALIAS_PREFIX):
        report(
            f"{kind} name {member!r} starts with {_ALIAS_PREFIX!r}, which rpcgen's generated "
            "modules use for their own names; rename the method"
        )


def _check_python_names(cls: type, members: list[tuple[str, int]], src: Source) -> None:
    """Two members whose generated Python names are the same (``close`` and ``close_``)."""
    seen = {member: line for member, line in members}
    for member, line in members:
        renamed = python_name(member)
        if renamed != member and renamed in seen:
            src.problem(
                cls.__name__,
                member,
                f"{member!r} is generated as {renamed!r} (its own name belongs to the generated "
                f"classes), but {renamed!r} is declared too, at {src.file}:{seen[renamed]}; "
                "rename one of them",
                line,
            )


def _build_param(
    param: inspect.Parameter, hints: dict[str, object], src: Source, report: Callable[[str], None]
) -> ParameterSpec | None:
    name = param.name
    if param.kind in _KIND_PROBLEMS:
        report(_KIND_PROBLEMS[param.kind].format(name=name))
        return None
    if name.startswith("_"):
        report(f"parameter {name!r} starts with '_', which rpcgen reserves; rename it")
    if param.annotation is param.empty:
        report(f"parameter {name!r} has no type annotation; annotate it, e.g. {name}: str")
        return None
    try:
        ref = render_type(hints[name], src.scope)
    except TypeProblem as problem:
        report(f"parameter {name!r}: {problem}")
        return None
    default = None
    if param.default is not param.empty:
        try:
            default = render_default(param.default, src.scope)
        except TypeProblem as problem:
            report(f"parameter {name!r}: {problem}")
    return ParameterSpec(name, ref, param.kind is param.KEYWORD_ONLY, default)


def _build_result(
    sig: inspect.Signature, hints: dict[str, object], src: Source, report: Callable[[str], None]
) -> TypeRef | None:
    if sig.return_annotation is sig.empty:
        report("the return type is not annotated; annotate it, e.g. -> None")
        return None
    try:
        return render_type(hints["return"], src.scope)
    except TypeProblem as problem:
        report(f"return type: {problem}")
        return None


def _declared_errors(
    func: FunctionType, src: Source, report: Callable[[str], None]
) -> tuple[str, ...]:
    """The generated error classes a client may raise: each declared one and its subclasses."""
    declared = getattr(func, RAISES_ATTR, ())
    for error in declared:
        if not (isinstance(error, type) and error in src.scope.errors):
            report(
                f"@raises({describe(error)}): not an Exception subclass defined in {src.file}; "
                "define the error class there"
            )
    # A client matches a reply's exc_type by class name, so subclasses must be listed too: those
    # of this module and of the declared error's own module (a shared error's module).
    valid = [e for e in declared if isinstance(e, type)]
    homes = {src.scope.imports[e].module for e in valid if e in src.scope.imports}
    matched = {
        c
        for c in src.scope.errors
        if any(issubclass(c, e) for e in valid)
        and (c not in src.scope.imports or src.scope.imports[c].module in homes)
    }
    src.shared |= {src.scope.imports[c] for c in matched if c in src.scope.imports}
    return tuple(
        c.__name__ for c in sorted(matched, key=lambda c: (src.line(c.__name__), c.__name__))
    )


def _summary(doc: str | None) -> str:
    """The first paragraph of a docstring, on one line (a ``Raises:`` entry's description)."""
    return " ".join((doc or "").split("\n\n")[0].split())


def _build_events(
    cls: type, wire: object, members: list[tuple[str, FunctionType]], src: Source
) -> list[EventSpec]:
    """The ``@event`` methods of a service: one payload each, unique single-word names."""
    found: list[EventSpec] = []
    seen: dict[str, int] = {}
    for member, func in members:
        spec = _build_event(cls, str(wire), member, func, src)
        if spec is None:
            continue
        if spec.wire_name in seen:
            src.problem(
                cls.__name__,
                member,
                f"event {spec.wire_name!r} is already declared at {src.file}:"
                f"{seen[spec.wire_name]}; give each event of a service its own name",
                spec.line,
            )
            continue
        seen[spec.wire_name] = spec.line
        found.append(spec)
    return found


def _build_event(
    cls: type, wire: str, member: str, func: FunctionType, src: Source
) -> EventSpec | None:
    service = cls.__name__
    line = src.function_line(service, member, func)
    before = len(src.problems)

    def report(message: str) -> None:
        src.problem(service, member, message, line)

    name = getattr(func, EVENT_ATTR)
    if not _is_event_type(name):
        report(
            f"event name {name!r} is not a routing key a handler can bind to exactly; it must be "
            "1 to 255 bytes (UTF-8) without '*' or '#' (wildcards in a binding)"
        )
    _check_python_name(cls, member, "event method", report)
    if getattr(func, RAISES_ATTR, ()):
        report("an event cannot declare errors: nobody answers it; remove @raises")
    try:
        sig = inspect.signature(func, eval_str=True)
        hints = typing.get_type_hints(func, include_extras=True)
    except Exception as exc:
        report(
            f"cannot evaluate the annotations: {type(exc).__name__}: {exc}; "
            "define or import every name they use"
        )
        return None
    params = list(sig.parameters.values())
    if len(params) != 2 or params[0].name != "self" or params[1].kind in _KIND_PROBLEMS:
        report(
            "an event declares exactly one payload parameter after self, e.g. "
            "def order_created(self, payload: OrderCreated) -> None"
        )
        return None
    payload = params[1]
    if payload.annotation is payload.empty:
        report(
            f"the payload parameter {payload.name!r} has no type annotation; annotate it, "
            f"e.g. {payload.name}: OrderCreated"
        )
        return None
    if sig.return_annotation is sig.empty or hints.get("return") is not type(None):
        report("an event returns nothing; annotate it -> None")
    try:
        ref = render_type(hints[payload.name], src.scope)
    except TypeProblem as problem:
        report(f"payload {payload.name!r}: {problem}")
        return None
    if len(src.problems) > before:
        return None
    return EventSpec(
        name=python_name(member),
        wire_name=str(name),
        service=wire,
        payload=ref,
        doc=src.doc(service, member),
        line=line,
        const=f"_{service}_event_{member}",
    )


def _is_event_type(name: object) -> bool:
    """The runtime's ``is_event_type`` for an ``@event`` name (a test keeps the two equal)."""
    if not isinstance(name, str) or not name:
        return False
    if len(name.encode("utf-8", "surrogatepass")) > _MAX_SHORTSTR:
        return False
    return "*" not in name and "#" not in name
