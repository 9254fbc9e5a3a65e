"""The supported-type checker on evaluated annotations, without files."""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import typing
import uuid
from typing import Any, Literal, Optional, TypedDict, Union

import pytest
from rpcgen.codegen.model import Import, TypeRef
from rpcgen.codegen.types import Scope, TypeProblem, describe, render_default, render_type


class Color(enum.Enum):
    RED = "red"


class Foreign(enum.Enum):
    X = 1


@dataclasses.dataclass
class Point:
    x: int


class Row(TypedDict):
    a: int


class Oops(Exception):
    pass


SCOPE = Scope("idl/t.py", {Color: "Color", Point: "Point", Row: "Row"}, frozenset({Oops}))
DT = Import("datetime", "datetime")

SUPPORTED: list[tuple[object, str]] = [
    (str, "str"),
    (int, "int"),
    (float, "float"),
    (bool, "bool"),
    (bytes, "bytes"),
    (None, "None"),
    (type(None), "None"),
    (list[int], "list[int]"),
    (typing.List[int], "list[int]"),  # noqa: UP006 - the old spelling is accepted too
    (dict[str, list[Point]], "dict[str, list[Point]]"),
    (tuple[int, str], "tuple[int, str]"),
    (tuple[int, ...], "tuple[int, ...]"),
    (tuple[()], "tuple[()]"),
    (Optional[int], "int | None"),  # noqa: UP045
    (Union[int, str, None], "int | str | None"),  # noqa: UP007
    (int | None, "int | None"),
    (Literal["a", 'b"c', 1, True, None], 'Literal["a", \'b"c\', 1, True, None]'),
    (Literal[Color.RED], "Literal[Color.RED]"),
    (Color, "Color"),
    (Point | None, "Point | None"),
    (Row, "Row"),
    (decimal.Decimal, "Decimal"),
    (uuid.UUID, "UUID"),
    (datetime.date, "date"),
    (datetime.time, "time"),
]


@pytest.mark.parametrize("tp,expr", SUPPORTED, ids=[e for _, e in SUPPORTED])
def test_supported_types_render_as_python(tp: object, expr: str) -> None:
    ref = render_type(tp, SCOPE)
    assert ref.expr == expr
    # The expression evaluates (as the generated module evaluates it) to the same type again.
    names = {"Color": Color, "Point": Point, "Row": Row, "Literal": Literal}
    names |= {"Decimal": decimal.Decimal, "UUID": uuid.UUID, "date": datetime.date}
    names |= {"time": datetime.time}
    assert render_type(eval(ref.expr, names), SCOPE) == ref


def test_imports_are_collected_through_nesting() -> None:
    ref = render_type(dict[str, tuple[datetime.datetime, decimal.Decimal | None]], SCOPE)
    assert ref == TypeRef(
        "dict[str, tuple[datetime, Decimal | None]]",
        frozenset({DT, Import("decimal", "Decimal")}),
    )
    assert render_type(Literal["x"], SCOPE).imports == {Import("typing", "Literal")}


UNSUPPORTED: list[tuple[object, str]] = [
    (Any, "Any is not supported; use str, int"),
    (object, "object is not supported: only Enums, dataclasses and TypedDicts defined in"),
    (set[int], "set[int] is not supported (JSON has no sets); use a list instead"),
    (frozenset, "frozenset is not supported (JSON has no sets); use a list instead"),
    (dict[int, str], "dict[int, str] is not supported: JSON object keys are strings"),
    (list, "bare list has no item type; use list[T]"),
    (dict, "bare dict has no item type; use dict[str, T]"),
    (tuple, "bare tuple has no item type; use tuple[T, ...] or tuple[A, B]"),
    (Foreign, "Foreign is not supported: it is defined in test_idl_types, outside the IDL folder"),
    (Oops, "Oops is an error class, not a value type; declare it with @raises instead"),
    (Literal[Foreign.X], "Literal[Foreign.X] is not supported; Literal values must be"),
    (list[complex], "complex is not supported: only Enums, dataclasses and TypedDicts"),
    (typing.Sequence[int], "Sequence[int] is not supported; use str, int"),
    (typing.Annotated[int, "x"], "Annotated[int, 'x'] is not supported; use the plain type"),
    ([int], "[<class 'int'>] is not supported; use str, int"),
]


@pytest.mark.parametrize("tp,start", UNSUPPORTED, ids=[s.split(" ")[0] for _, s in UNSUPPORTED])
def test_unsupported_types_say_why(tp: object, start: str) -> None:
    with pytest.raises(TypeProblem) as caught:
        render_type(tp, SCOPE)
    assert str(caught.value).startswith(start)


def test_defaults_are_literals_only() -> None:
    assert render_default(Color.RED, SCOPE) == "Color.RED"
    assert render_default(-1.5e100, SCOPE) == "-1.5e100"
    assert render_default("it's", SCOPE) == '"it\'s"'
    for bad in (Foreign.X, [], b"x", float("nan"), object()):
        with pytest.raises(TypeProblem, match="is not a literal"):
            render_default(bad, SCOPE)


def test_describe_is_readable() -> None:
    assert describe(dict[str, Point | None]) == "dict[str, Point | None]"
    assert describe(Optional[int]) == "int | None"  # noqa: UP045
    assert describe(Literal["a"]) == 'Literal["a"]'
