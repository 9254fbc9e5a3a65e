"""The model of the classes an IDL module defines and the generated module copies: dataclasses,
enums, TypedDicts and declared errors (``rpcgen.codegen.model`` re-exports them)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from rpcgen.codegen import text
from rpcgen.codegen.pyfmt import py_str

if TYPE_CHECKING:
    from rpcgen.codegen.model import TypeRef

__all__ = [
    "DataclassSpec",
    "EnumMember",
    "EnumSpec",
    "ErrorSpec",
    "FieldSpec",
    "TypedDictSpec",
]


class _Documented:
    """The class docstring of a copied record or error, at class-member indentation."""

    doc: str | None  # a field of each dataclass below

    @property
    def docstring(self) -> str | None:
        return text.doc(self.doc, text.MEMBER)


@dataclass(frozen=True)
class FieldSpec:
    """A dataclass or TypedDict field; ``default`` is a rendered expression or None."""

    name: str
    type: TypeRef
    default: str | None = None
    kw_only: bool = False

    @property
    def decl(self) -> str:
        """The field as written in the class body."""
        if self.default is None:
            return f"{self.name}: {self.type.expr}"
        return f"{self.name}: {self.type.expr} = {self.default}"


@dataclass(frozen=True)
class DataclassSpec(_Documented):
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
class EnumSpec(_Documented):
    name: str
    doc: str | None
    bases: str  # "enum.Enum", "enum.IntEnum" or "str, enum.Enum"
    members: tuple[EnumMember, ...]
    line: int


@dataclass(frozen=True)
class TypedDictSpec(_Documented):
    name: str
    doc: str | None
    total: bool
    fields: tuple[FieldSpec, ...]
    line: int


@dataclass(frozen=True)
class ErrorSpec(_Documented):
    """A declared error; ``base`` is another generated error class or ``rt.ServiceError``.

    ``exc_path`` is the path it travels under on the wire (the generated class's ``exc_path``).
    """

    name: str
    doc: str | None
    base: str
    line: int
    exc_path: str

    @property
    def exc_path_line(self) -> str:
        return text.class_attribute("exc_path: ClassVar[str]", py_str(self.exc_path))
