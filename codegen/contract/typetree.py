"""A type expression of the model (``TypeRef.expr``) as a small tree that tools can walk.

The model renders every supported type as a Python expression naming builtins, a few imported
names and the record classes of its module (``codegen/types.py``). Parsing that text back with
``ast`` keeps this package pure: nothing is imported or evaluated.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass

from rpcgen.codegen.model import FieldSpec, ModuleSpec, TypeRef

__all__ = ["PRIMITIVES", "EnumValue", "Field", "Records", "Ty", "parse"]

# Scalars and the kombu special types, by the name the model writes.
PRIMITIVES = frozenset(
    {"str", "int", "float", "bool", "None", "bytes", "datetime", "date", "time", "Decimal", "UUID"}
)


@dataclass(frozen=True)
class EnumValue:
    """``Literal[Currency.EUR]``: an enum member named in a Literal."""

    enum: str
    member: str


LiteralValue = str | int | bool | None | EnumValue


@dataclass(frozen=True)
class Ty:
    """One node: ``kind`` is prim, ref, list, dict, tuple, tuple..., union or literal.

    ``name`` holds the primitive's or record's name; ``args`` the item, value, element or option
    types; ``values`` a Literal's values.
    """

    kind: str
    name: str = ""
    args: tuple[Ty, ...] = ()
    values: tuple[LiteralValue, ...] = ()

    def __str__(self) -> str:
        if self.kind in ("prim", "ref"):
            return self.name
        if self.kind == "union":
            return " | ".join(str(arg) for arg in self.args)
        if self.kind == "literal":
            shown = [
                f"{v.enum}.{v.member}" if isinstance(v, EnumValue) else repr(v) for v in self.values
            ]
            return f"Literal[{', '.join(shown)}]"
        if self.kind == "tuple...":
            return f"tuple[{self.args[0]}, ...]"
        if self.kind == "tuple" and not self.args:
            return "tuple[()]"
        inner = ", ".join(str(arg) for arg in self.args)
        return f"dict[str, {inner}]" if self.kind == "dict" else f"{self.kind}[{inner}]"


def parse(ref: TypeRef | str) -> Ty:
    """The tree of a model type expression; raises ``ValueError`` on anything the model never
    writes."""
    text = ref.expr if isinstance(ref, TypeRef) else ref
    return _node(ast.parse(text, mode="eval").body)


def _node(node: ast.expr) -> Ty:
    if isinstance(node, ast.Constant) and node.value is None:
        return Ty("prim", "None")
    if isinstance(node, ast.Name):
        return Ty("prim" if node.id in PRIMITIVES else "ref", node.id)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        options: list[Ty] = []
        for side in (node.left, node.right):
            tree = _node(side)
            options += tree.args if tree.kind == "union" else (tree,)
        return Ty("union", args=tuple(options))
    if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name):
        items = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        return _generic(node.value.id, items)
    raise ValueError(f"not a model type expression: {ast.unparse(node)}")


def _generic(name: str, items: list[ast.expr]) -> Ty:
    if name == "Literal":
        return Ty("literal", values=tuple(_literal(item) for item in items))
    if name == "list":
        return Ty("list", args=(_node(items[0]),))
    if name == "dict":
        return Ty("dict", args=(_node(items[1]),))
    if name == "tuple":
        if len(items) == 2 and isinstance(items[1], ast.Constant) and items[1].value is Ellipsis:
            return Ty("tuple...", args=(_node(items[0]),))
        if len(items) == 1 and isinstance(items[0], ast.Tuple) and not items[0].elts:
            return Ty("tuple")
        return Ty("tuple", args=tuple(_node(item) for item in items))
    raise ValueError(f"not a model type expression: {name}[...]")


def _literal(node: ast.expr) -> LiteralValue:
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        return EnumValue(node.value.id, node.attr)
    value = ast.literal_eval(node)
    if value is None or isinstance(value, (str, int, bool)):
        return value
    raise ValueError(f"not a Literal value: {ast.unparse(node)}")


@dataclass(frozen=True)
class Field:
    """A record field: its type, and whether it is required (has no default, or the TypedDict is
    total). Only a required field is sure to be sent: rpcgen peers send every dataclass field, but
    a Nameko peer sends what its code puts in the dict, and may leave out one with a default."""

    type: Ty
    required: bool


class Records:
    """The Enums, dataclasses and TypedDicts one IDL module can name, by name, with parsed fields.

    With ``tree`` (every module of the IDL by name), that includes the shared types the module
    imports from other modules of the tree, and what those name in their fields.
    """

    def __init__(self, module: ModuleSpec, tree: Mapping[str, ModuleSpec] | None = None) -> None:
        self.module = module.name
        self.enums: dict[str, tuple[str | int, ...]] = {}
        self.members: dict[str, dict[str, str | int]] = {}
        self.fields: dict[str, dict[str, Field]] = {}
        self.homes: dict[str, str] = {}  # record name -> the module that defines it
        self._add(module)
        seen = {module.name}
        todo = [home for _, home in module.shared]
        while tree is not None and todo:
            home = todo.pop()
            if home in seen or home not in tree:
                continue
            seen.add(home)
            self._add(tree[home])
            todo += [h for _, h in tree[home].shared]

    def _add(self, module: ModuleSpec) -> None:
        """``module``'s own records, where the name is not taken yet (the importer's win)."""
        for e in module.enums:
            if self.homes.setdefault(e.name, module.name) == module.name:
                self.enums[e.name] = tuple(_enum_value(m.value) for m in e.members)
                self.members[e.name] = {m.name: _enum_value(m.value) for m in e.members}
        for dc in module.dataclasses:
            if self.homes.setdefault(dc.name, module.name) == module.name:
                self.fields[dc.name] = {
                    f.name: Field(parse(f.type), _required(f)) for f in dc.fields
                }
        for td in module.typeddicts:
            if self.homes.setdefault(td.name, module.name) == module.name:
                self.fields[td.name] = {f.name: Field(parse(f.type), td.total) for f in td.fields}

    def enum_value(self, value: EnumValue) -> str | int:
        """The wire value of ``Currency.EUR``."""
        return self.members[value.enum][value.member]

    def literal_wire(self, value: LiteralValue) -> str | int | bool | None:
        return self.enum_value(value) if isinstance(value, EnumValue) else value


def _required(field: FieldSpec) -> bool:
    """A dataclass field without a default; ``dataclasses.field(kw_only=True)`` has none either."""
    default = field.default
    return default is None or (
        default.startswith("dataclasses.field(") and "default" not in default
    )


def _enum_value(text: str) -> str | int:
    value = ast.literal_eval(text)
    assert isinstance(value, (str, int))
    return value
