"""The generator's model: what load builds from the IDL and what the templates read.

Every name and every line the templates print is computed here (Python names, wire names,
generated identifiers, type expressions, and through ``text`` the signatures, calls and
docstrings laid out as ``ruff format`` writes them), so that templates are Python with holes.
"""

from __future__ import annotations

from dataclasses import dataclass

from rpcgen.codegen import text
from rpcgen.codegen.pyfmt import docstring, isort_key
from rpcgen.codegen.recordspecs import (
    DataclassSpec,
    EnumMember,
    EnumSpec,
    ErrorSpec,
    FieldSpec,
    TypedDictSpec,
)

__all__ = [
    "DataclassSpec",
    "EnumMember",
    "EnumSpec",
    "ErrorSpec",
    "EventSpec",
    "FieldSpec",
    "Import",
    "MethodSpec",
    "ModuleSpec",
    "ParameterSpec",
    "ServiceSpec",
    "TypeRef",
    "TypedDictSpec",
]


@dataclass(frozen=True, order=True)
class Import:
    """``from module import name``, or ``import module`` when ``name`` is empty."""

    module: str
    name: str = ""


@dataclass(frozen=True)
class TypeRef:
    """A supported type as a Python expression, valid both as an annotation and at run time.

    The expression only names builtins, the imports listed, and classes generated into the same
    module (which the generated module defines before it evaluates any expression).
    """

    expr: str
    imports: frozenset[Import] = frozenset()


@dataclass(frozen=True)
class ParameterSpec:
    """One IDL parameter; its wire name (the Nameko kwarg name) is its Python name."""

    name: str
    type: TypeRef
    keyword_only: bool
    default: str | None  # a rendered literal, or None when the parameter has no default

    @property
    def decl(self) -> str:
        """The parameter as written in a ``def``: ``a: int`` or ``limit: int = 10``."""
        if self.default is None:
            return f"{self.name}: {self.type.expr}"
        return f"{self.name}: {self.type.expr} = {self.default}"


@dataclass(frozen=True)
class MethodSpec:
    """One RPC method; ``const`` names its module-level ``rt.Method`` in the generated module."""

    name: str
    wire_name: str
    params: tuple[ParameterSpec, ...]
    result: TypeRef
    errors: tuple[str, ...]  # generated error class names a client may re-raise
    doc: str | None
    line: int
    const: str  # the module-level rt.Method object
    raises: tuple[tuple[str, str], ...] = ()  # (error class, its one-line summary or "")

    @property
    def decls(self) -> tuple[str, ...]:
        """Parameter declarations after ``self``, with the ``*`` marker before keyword-only ones."""
        out: list[str] = []
        for param in self.params:
            if param.keyword_only and "*" not in out:
                out.append("*")
            out.append(param.decl)
        return tuple(out)

    @property
    def args(self) -> tuple[str, ...]:
        """Names sent positionally (Nameko's ``args``)."""
        return tuple(p.name for p in self.params if not p.keyword_only)

    @property
    def kwargs(self) -> tuple[str, ...]:
        """Names sent by keyword (Nameko's ``kwargs``)."""
        return tuple(p.name for p in self.params if p.keyword_only)

    @property
    def docstring(self) -> str | None:
        """The IDL docstring and a ``Raises:`` section naming the declared errors, if any."""
        # A docstring cannot start with "Raises:": ruff would dedent the entries under it.
        summary = self.doc or (f"Call ``{self.wire_name}``." if self.raises else None)
        return text.method_doc(summary, self.raises)

    @property
    def remote_def(self) -> str:
        """The sync client's declaration: the signature the caller writes, without ``self``."""
        return text.signature(self, f"def {self.name}", False, self.docstring is None)

    @property
    def has_defaults(self) -> bool:
        """Whether a parameter has a default: the async client then sends only what it is given."""
        return any(param.default is not None for param in self.params)

    @property
    def async_def(self) -> str:
        return text.signature(self, f"async def {self.name}", True, False)

    @property
    def async_call(self) -> str:
        return text.call("return await self._call", self, [self.const])

    @property
    def server_def(self) -> str:
        return text.signature(self, f"def {self.name}", True, self.docstring is None)

    @property
    def async_server_def(self) -> str:
        return text.signature(self, f"async def {self.name}", True, self.docstring is None)


@dataclass(frozen=True)
class EventSpec:
    """One event a service dispatches; ``const`` names its module-level ``rt.Event``."""

    name: str  # the IDL method's name: the dispatcher's method and the namespace attribute
    wire_name: str  # the event type: the routing key on ``<service>.events``
    service: str  # the service's wire name
    payload: TypeRef
    doc: str | None
    line: int
    const: str

    @property
    def docstring(self) -> str | None:
        return text.doc(self.doc, text.BODY)

    @property
    def dispatch_def(self) -> str:
        return text.event_signature(f"def {self.name}", self.payload.expr)

    @property
    def async_dispatch_def(self) -> str:
        return text.event_signature(f"async def {self.name}", self.payload.expr)

    @property
    def dispatch_call(self) -> str:
        return f"self._publish({self.const}, payload)"

    @property
    def namespace_decl(self) -> str:
        return f"{self.name}: ClassVar[rt.Event[{self.payload.expr}]]"

    @property
    def event_object(self) -> str:
        return text.event_object(self)


@dataclass(frozen=True)
class ServiceSpec:
    """One ``@service`` Protocol and the names of the classes generated from it."""

    name: str
    wire_name: str
    doc: str | None
    methods: tuple[MethodSpec, ...]
    line: int
    client: str
    async_client: str
    server: str
    events: tuple[EventSpec, ...] = ()

    @property
    def events_class(self) -> str:
        return f"{self.name}Events"

    @property
    def async_events_class(self) -> str:
        return f"{self.name}AsyncEvents"

    @property
    def event_namespace(self) -> str:
        return f"{self.name}Event"

    @property
    def async_server(self) -> str:
        return f"{self.name}AsyncServer"

    @property
    def async_server_docstring(self) -> str | None:
        return text.doc(
            self._doc(
                f"Asyncio server skeleton of ``{self.wire_name}``: subclass it, implement\n"
                "each method as ``async def``."
            ),
            text.MEMBER,
        )

    @property
    def generated_classes(self) -> tuple[str, ...]:
        """The public classes generated for this service, in module order."""
        rpc: tuple[str, ...] = (self.client, self.async_client, self.server, self.async_server)
        rpc = rpc if self.methods else ()
        events = (self.events_class, self.async_events_class, self.event_namespace)
        return rpc + (events if self.events else ())

    @property
    def events_docstring(self) -> str | None:
        return text.doc(
            self._doc(
                f"Dispatcher of ``{self.wire_name}``'s events: each returns once the broker "
                "has the event."
            ),
            text.MEMBER,
        )

    @property
    def async_events_docstring(self) -> str | None:
        return text.doc(
            self._doc(f"Asyncio dispatcher of ``{self.wire_name}``'s events."), text.MEMBER
        )

    @property
    def event_namespace_docstring(self) -> str | None:
        first = self.events[0].name
        return text.doc(
            f"The events of ``{self.wire_name}``, to register handlers.\n\n"
            f"``@{self.event_namespace}.{first}.handler()``\n"
            "makes a method of any server class a handler of that event.",
            text.MEMBER,
        )

    @property
    def client_doc(self) -> str:
        return self._doc(f"Sync and futures client of ``{self.wire_name}``.")

    @property
    def async_client_doc(self) -> str:
        return self._doc(f"Asyncio client of ``{self.wire_name}``.")

    @property
    def server_doc(self) -> str:
        return self._doc(
            f"Server skeleton of ``{self.wire_name}``: subclass it, implement each method."
        )

    def _doc(self, summary: str) -> str:
        return f"{summary}\n\n{self.doc}" if self.doc else summary

    @property
    def client_docstring(self) -> str | None:
        return text.doc(self.client_doc, text.MEMBER)

    @property
    def async_client_docstring(self) -> str | None:
        return text.doc(self.async_client_doc, text.MEMBER)

    @property
    def server_docstring(self) -> str | None:
        return text.doc(self.server_doc, text.MEMBER)

    @property
    def method_objects(self) -> tuple[str, ...]:
        return tuple(text.method_object(self, method) for method in self.methods)

    @property
    def method_table(self) -> str:
        return text.method_table(self)


@dataclass(frozen=True)
class ModuleSpec:
    """One IDL module, rendered into ``generated/<name>.py``."""

    name: str
    source: str  # "idl/hello.py": printed in the header, so never an absolute path
    doc: str | None
    enums: tuple[EnumSpec, ...]
    dataclasses: tuple[DataclassSpec, ...]
    typeddicts: tuple[TypedDictSpec, ...]
    errors: tuple[ErrorSpec, ...]
    services: tuple[ServiceSpec, ...]
    imports: tuple[str, ...]  # the standard-library import lines, in ruff's isort order
    # The relative import lines of the types and errors other modules of the IDL tree define
    # (``from .common import Money``), in ruff's isort order; and which (name, tree module) they
    # are, so that tools resolve a shared type to its one definition.
    local_imports: tuple[str, ...] = ()
    shared: tuple[tuple[str, str], ...] = ()

    @property
    def path(self) -> str:
        """The generated file, relative to the output folder: ``billing/invoice.py``."""
        return self.name.replace(".", "/") + ".py"

    @property
    def docstring(self) -> str:
        return docstring(self.doc or f"Typed clients and server skeletons for {self.source}.", 0)

    @property
    def early_enums(self) -> tuple[EnumSpec, ...]:
        """The enums a method's default names: Python evaluates defaults when it creates the
        class, so these come before the clients. (A default is an enum member only as
        ``Name.MEMBER``; every other literal starts with a quote, a digit, ``-`` or a keyword.)"""
        defaults = {p.default for s in self.services for m in s.methods for p in m.params}
        named = {d.split(".")[0] for d in defaults if d is not None and "." in d and d[0].isalpha()}
        return tuple(e for e in self.enums if e.name in named)

    @property
    def late_enums(self) -> tuple[EnumSpec, ...]:
        return tuple(e for e in self.enums if e not in self.early_enums)

    @property
    def records(self) -> tuple[EnumSpec | DataclassSpec | TypedDictSpec | ErrorSpec, ...]:
        """The copied value and error classes, in the order they are generated."""
        return (*self.enums, *self.dataclasses, *self.typeddicts, *self.errors)

    @property
    def exports(self) -> tuple[str, ...]:
        """``__all__``, sorted as ruff's RUF022 wants it."""
        names = [record.name for record in self.records]
        for svc in self.services:
            names += svc.generated_classes
        return tuple(sorted(names, key=isort_key))
