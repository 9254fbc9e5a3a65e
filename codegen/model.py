"""The generator's model: what load builds from the IDL and what the templates read.

Every name the templates print is computed here (Python names, wire names, generated identifiers,
rendered type expressions and declarations), so that templates never compute names.
"""

from __future__ import annotations

from dataclasses import dataclass

from rpcgen.codegen.pyfmt import isort_key

__all__ = [
    "DataclassSpec",
    "EnumMember",
    "EnumSpec",
    "ErrorSpec",
    "FieldSpec",
    "Import",
    "MethodSpec",
    "ModuleSpec",
    "ParamSpec",
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
class ParamSpec:
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
    """One RPC method; ``const`` and ``bound_class`` are the generated module-level names."""

    name: str
    wire_name: str
    params: tuple[ParamSpec, ...]
    result: TypeRef
    errors: tuple[str, ...]  # generated error class names a client may re-raise
    doc: str | None
    line: int
    const: str  # the module-level rt.Method object
    bound_class: str  # the rt.BoundMethod subclass behind client.<name>

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


@dataclass(frozen=True)
class FieldSpec:
    """A dataclass or TypedDict field; ``default`` is a rendered expression or None."""

    name: str
    type: TypeRef
    default: str | None = None
    kw_only: bool = False


@dataclass(frozen=True)
class DataclassSpec:
    name: str
    doc: str | None
    frozen: bool
    fields: tuple[FieldSpec, ...]
    line: int


@dataclass(frozen=True)
class EnumMember:
    name: str
    value: str  # a rendered literal


@dataclass(frozen=True)
class EnumSpec:
    name: str
    doc: str | None
    bases: str  # "enum.Enum", "enum.IntEnum" or "str, enum.Enum"
    members: tuple[EnumMember, ...]
    line: int


@dataclass(frozen=True)
class TypedDictSpec:
    name: str
    doc: str | None
    total: bool
    fields: tuple[FieldSpec, ...]
    line: int


@dataclass(frozen=True)
class ErrorSpec:
    """A declared error; ``base`` is another generated error class or ``rt.ServiceError``.

    ``exc_path`` is the path it travels under on the wire (the generated class's ``exc_path``).
    """

    name: str
    doc: str | None
    base: str
    line: int
    exc_path: str


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

    @property
    def records(self) -> tuple[EnumSpec | DataclassSpec | TypedDictSpec | ErrorSpec, ...]:
        """The copied value and error classes, in the order they are generated."""
        return (*self.enums, *self.dataclasses, *self.typeddicts, *self.errors)

    @property
    def exports(self) -> tuple[str, ...]:
        """``__all__``, sorted as ruff's RUF022 wants it."""
        names = [record.name for record in self.records]
        for svc in self.services:
            names += [svc.client, svc.async_client, svc.server]
        return tuple(sorted(names, key=isort_key))
