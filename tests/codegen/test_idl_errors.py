"""Each IDL problem with its exact message: ``idl/file.py:LINE: Svc.m: what; what to do``."""

from __future__ import annotations

from collections.abc import Callable

import pytest

Problems = Callable[..., list[str]]

# Line 12 is the first line of each case's service body.
PRELUDE = """\
from __future__ import annotations

import dataclasses
import enum
from http import HTTPStatus
from typing import Annotated, Any, Literal, NotRequired, Protocol, TypedDict

from rpcgen import event, exc_path, raises, service

@service("svc")
class Svc(Protocol):
"""
SUPPORTED = (
    "use str, int, float, bool, None, bytes, datetime, date, time, Decimal, UUID, list[T], "
    "dict[str, T], tuple[...], a union, Literal[...], or an Enum, dataclass or TypedDict defined "
    "in idl/m.py"
)

# An error class (every Exception subclass of the module is one) whose class line is 16.
BAD_PATH = "    def m(self) -> None: ...\n\n\n@exc_path({path})\nclass Oops(Exception):\n    pass\n"

CASES: dict[str, tuple[str, str]] = {
    "missing param annotation": (
        "    def m(self, x) -> int: ...\n",
        "idl/m.py:12: Svc.m: parameter 'x' has no type annotation; annotate it, e.g. x: str",
    ),
    "missing return annotation": (
        "    def m(self, x: int): ...\n",
        "idl/m.py:12: Svc.m: the return type is not annotated; annotate it, e.g. -> None",
    ),
    "Any": (
        "    def m(self, x: Any) -> None: ...\n",
        f"idl/m.py:12: Svc.m: parameter 'x': Any is not supported; {SUPPORTED}",
    ),
    "Any in a result": (
        "    def m(self) -> list[Any]: ...\n",
        f"idl/m.py:12: Svc.m: return type: Any is not supported; {SUPPORTED}",
    ),
    "set": (
        "    def m(self, x: set[int]) -> None: ...\n",
        "idl/m.py:12: Svc.m: parameter 'x': set[int] is not supported (JSON has no sets); "
        "use a list instead",
    ),
    "set nested in an optional": (
        "    def m(self, x: dict[str, frozenset[str]] | None) -> None: ...\n",
        "idl/m.py:12: Svc.m: parameter 'x': frozenset[str] is not supported (JSON has no sets); "
        "use a list instead",
    ),
    "dict with int keys": (
        "    def m(self, x: dict[int, str]) -> None: ...\n",
        "idl/m.py:12: Svc.m: parameter 'x': dict[int, str] is not supported: JSON object keys "
        "are strings; use dict[str, str]",
    ),
    "bare list": (
        "    def m(self, x: list) -> None: ...\n",
        "idl/m.py:12: Svc.m: parameter 'x': bare list has no item type; use list[T]",
    ),
    "arbitrary class": (
        "    def m(self, x: Plain) -> None: ...\n\n\nclass Plain:\n    pass\n",
        "idl/m.py:12: Svc.m: parameter 'x': Plain is not supported: only Enums, dataclasses and "
        "TypedDicts defined in idl/m.py can cross the wire; make Plain a dataclass there",
    ),
    "enum from another module": (
        "    def m(self, x: HTTPStatus) -> None: ...\n",
        "idl/m.py:12: Svc.m: parameter 'x': HTTPStatus is not supported: it is defined in http, "
        "outside the IDL folder; define it in idl/m.py, or in another module of the IDL folder "
        "and import it",
    ),
    "error class as a value": (
        "    def m(self) -> Oops: ...\n\n\nclass Oops(Exception):\n    pass\n",
        "idl/m.py:12: Svc.m: return type: Oops is an error class, not a value type; declare it "
        "with @raises instead",
    ),
    "float in Literal": (
        "    def m(self, x: Literal[1.5]) -> None: ...\n",
        "idl/m.py:12: Svc.m: parameter 'x': Literal[1.5] is not supported; Literal values must "
        "be str, int, bool, None or members of an Enum defined in idl/m.py",
    ),
    "Annotated": (
        "    def m(self, x: Annotated[int, 'meta']) -> None: ...\n",
        "idl/m.py:12: Svc.m: parameter 'x': Annotated[int, 'meta'] is not supported; use the "
        "plain type without Annotated",
    ),
    "unknown name": (
        "    def m(self, x: Nope) -> None: ...\n",
        "idl/m.py:12: Svc.m: cannot evaluate the annotations: NameError: name 'Nope' is not "
        "defined; define or import every name they use",
    ),
    "*args": (
        "    def m(self, *args: int) -> None: ...\n",
        "idl/m.py:12: Svc.m: *args is not supported; declare each parameter by name",
    ),
    "**kwargs": (
        "    def m(self, **options: int) -> None: ...\n",
        "idl/m.py:12: Svc.m: **options is not supported; declare each keyword by name",
    ),
    "positional-only": (
        "    def m(self, x: int, /) -> None: ...\n",
        "idl/m.py:12: Svc.m: parameter 'x' is positional-only; remove the '/' (Nameko callers "
        "may pass any argument by keyword)",
    ),
    "default that is not a literal": (
        "    def m(self, x: list[int] = []) -> None: ...\n",
        "idl/m.py:12: Svc.m: parameter 'x': default of type list is not a literal; use None, a "
        "bool, int, float, str or a member of an Enum defined in idl/m.py",
    ),
    "default member of a foreign enum": (
        "    def m(self, x: int = HTTPStatus.OK) -> None: ...\n",
        "idl/m.py:12: Svc.m: parameter 'x': default of type HTTPStatus is not a literal; use "
        "None, a bool, int, float, str or a member of an Enum defined in idl/m.py",
    ),
    "raises a builtin": (
        "    @raises(ValueError)\n    def m(self) -> None: ...\n",
        "idl/m.py:13: Svc.m: @raises(ValueError): not an Exception subclass defined in idl/m.py; "
        "define the error class there",
    ),
    "raises a non-exception": (
        "    @raises(HTTPStatus)\n    def m(self) -> None: ...\n",
        "idl/m.py:13: Svc.m: @raises(HTTPStatus): not an Exception subclass defined in idl/m.py; "
        "define the error class there",
    ),
    "method name Python mangles": (
        "    def __helper(self) -> None: ...\n",
        "idl/m.py:12: Svc._Svc__helper: method name '__helper' starts with '__', which Python "
        "mangles inside a class; rename the method",
    ),
    "method name of rpcgen's aliases": (
        "    def _rpcgen_list(self) -> None: ...\n",
        "idl/m.py:12: Svc._rpcgen_list: method name '_rpcgen_list' starts with '_rpcgen_', which "
        "rpcgen's generated modules use for their own names; rename the method",
    ),
    "a reserved name and its generated name both declared": (
        "    def close(self) -> None: ...\n    def close_(self) -> None: ...\n",
        "idl/m.py:12: Svc.close: 'close' is generated as 'close_' (its own name belongs to the "
        "generated classes), but 'close_' is declared too, at idl/m.py:13; rename one of them",
    ),
    "method name that is not a topic word": (
        "    def café(self) -> None: ...\n",
        "idl/m.py:12: Svc.café: method name 'café' is not a single AMQP topic word; use only "
        "ASCII letters, digits and '_'",
    ),
    "parameter name starting with _": (
        "    def m(self, _x: int) -> None: ...\n",
        "idl/m.py:12: Svc.m: parameter '_x' starts with '_', which rpcgen reserves; rename it",
    ),
    "async def": (
        "    async def m(self) -> None: ...\n",
        "idl/m.py:12: Svc.m: async def is not supported; declare a plain def (rpcgen generates "
        "the async client)",
    ),
    "staticmethod": (
        "    @staticmethod\n    def m() -> None: ...\n",
        "idl/m.py:13: Svc.m: a staticmethod cannot be an RPC method; make it a plain method",
    ),
    "no self": (
        "    def m(x: int) -> None: ...\n",
        "idl/m.py:12: Svc.m: the first parameter must be self; declare a plain instance method",
    ),
    "attribute": (
        "    version: str\n",
        "idl/m.py:12: Svc.version: a service declares only methods; turn this attribute into a "
        "method or remove it",
    ),
    "no methods": (
        "    pass\n",
        "idl/m.py:11: Svc: the service declares no methods or events; add at least one (a "
        "service that only handles events needs no IDL: subclass rpcgen.runtime.Server, see "
        "docs/events.md)",
    ),
    "dataclass field type": (
        "    def m(self) -> Rec: ...\n\n\n@dataclasses.dataclass\nclass Rec:\n    tags: set[str]\n",
        "idl/m.py:17: Rec.tags: set[str] is not supported (JSON has no sets); use a list instead",
    ),
    "dataclass field default": (
        "    def m(self) -> Rec: ...\n\n\n@dataclasses.dataclass\nclass Rec:\n"
        "    n: int = dataclasses.field(default_factory=lambda: 1)\n",
        "idl/m.py:17: Rec.n: default_factory must be list or dict; compute other defaults in "
        "the caller",
    ),
    "dataclass field with init=False": (
        "    def m(self) -> Rec: ...\n\n\n@dataclasses.dataclass\nclass Rec:\n"
        "    n: int = dataclasses.field(default=1, init=False)\n",
        "idl/m.py:17: Rec.n: init=False is not supported (every field travels on the wire); "
        "remove it",
    ),
    "enum with a float value": (
        "    def m(self) -> Kind: ...\n\n\nclass Kind(enum.Enum):\n    A = 1.5\n",
        "idl/m.py:16: Kind.A: enum value 1.5 is not a str or int; give every member a str or int "
        "value (it travels as JSON)",
    ),
    "TypedDict mixing required and not-required keys": (
        "    def m(self) -> Row: ...\n\n\nclass Row(TypedDict):\n    a: int\n"
        "    b: NotRequired[int]\n",
        "idl/m.py:15: Row: mixing required and not-required keys is not supported (the generated "
        "code must run on Python 3.10); make every key required, or declare the class with "
        "total=False",
    ),
    "exc_path without a module": (
        BAD_PATH.format(path="'Oops'"),
        "idl/m.py:16: Oops: @exc_path('Oops') is not a dotted Python path; give the module and "
        "class the Nameko side registers, e.g. 'services.m.Oops'",
    ),
    "exc_path with a keyword": (
        BAD_PATH.format(path="'services.class.Oops'"),
        "idl/m.py:16: Oops: @exc_path('services.class.Oops') is not a dotted Python path; give "
        "the module and class the Nameko side registers, e.g. 'services.m.Oops'",
    ),
    "exc_path with an empty part": (
        BAD_PATH.format(path="'services..Oops'"),
        "idl/m.py:16: Oops: @exc_path('services..Oops') is not a dotted Python path; give the "
        "module and class the Nameko side registers, e.g. 'services.m.Oops'",
    ),
    "exc_path with spaces": (
        BAD_PATH.format(path="'services.m.Oops '"),
        "idl/m.py:16: Oops: @exc_path('services.m.Oops ') is not a dotted Python path; give the "
        "module and class the Nameko side registers, e.g. 'services.m.Oops'",
    ),
    "exc_path that is not a string": (
        BAD_PATH.format(path="None"),
        "idl/m.py:16: Oops: @exc_path(None) is not a dotted Python path; give the module and "
        "class the Nameko side registers, e.g. 'services.m.Oops'",
    ),
    "exc_path in Nameko's namespace": (
        BAD_PATH.format(path="'nameko.exceptions.RemoteError'"),
        "idl/m.py:16: Oops: @exc_path('nameko.exceptions.RemoteError') is in Nameko's own "
        "namespace, which rpcgen maps to its own error classes; give the path of the service's "
        "error class",
    ),
    "two errors under one exc_path": (
        "    def m(self) -> None: ...\n\n\n"
        "class Oops(Exception):\n    pass\n\n\n"
        "@exc_path('m.Oops')\nclass Other(Exception):\n    pass\n",
        "idl/m.py:20: Other: exc_path 'm.Oops' is already the path of Oops at idl/m.py:15; give "
        "each error its own path with @exc_path",
    ),
    "class name clashing with a generated one": (
        "    def m(self) -> None: ...\n\n\n@dataclasses.dataclass\nclass SvcClient:\n    n: int\n",
        "idl/m.py:11: Svc: the generated module would define 'SvcClient' twice (or shadow an "
        "import it needs); rename the class",
    ),
    "class name shadowing a generated import": (
        "    def m(self) -> Mapping: ...\n\n\n@dataclasses.dataclass\nclass Mapping:\n    n: int\n",
        "idl/m.py:16: Mapping: the generated module would define 'Mapping' twice (or shadow an "
        "import it needs); rename the class",
    ),
}


@pytest.mark.parametrize("body,expected", CASES.values(), ids=list(CASES))
def test_each_problem_has_its_message(problems: Problems, body: str, expected: str) -> None:
    assert problems(m=PRELUDE + body) == [expected]


def test_service_name_that_is_not_a_topic_word(problems: Problems) -> None:
    source = PRELUDE.replace('"svc"', '"svc.v2"') + "    def m(self) -> None: ...\n"
    assert problems(m=source) == [
        "idl/m.py:11: Svc: service name 'svc.v2' is not a single AMQP topic word; use only "
        "letters, digits, '_' and '-' (no '.', '*', '#' or spaces)"
    ]


def test_service_must_be_a_protocol(problems: Problems) -> None:
    source = (
        PRELUDE.replace("class Svc(Protocol):", "class Svc:") + "    def m(self) -> None: ...\n"
    )
    assert problems(m=source) == [
        "idl/m.py:11: Svc: a service must be a class whose only base is typing.Protocol"
    ]


def test_duplicate_service_names_across_modules(problems: Problems) -> None:
    body = "    def m(self) -> None: ...\n"
    other = PRELUDE.replace("class Svc(", "class Other(") + body
    assert problems(a=PRELUDE + body, b=other) == [
        "idl/b.py:11: Other: service name 'svc' is already used by Svc at idl/a.py:11; give each "
        "service a unique name"
    ]


def test_duplicate_is_found_even_when_the_first_module_has_other_problems(
    problems: Problems,
) -> None:
    bad = PRELUDE + "    def m(self, x: Any) -> None: ...\n"
    other = PRELUDE.replace("class Svc(", "class Other(") + "    def m(self) -> None: ...\n"
    found = problems(a=bad, b=other)
    assert len(found) == 2
    assert found[1].startswith("idl/b.py:11: Other: service name 'svc' is already used by Svc")


def test_exc_path_on_a_class_that_is_not_an_error(problems: Problems) -> None:
    body = (
        "    def m(self) -> Rec: ...\n\n\n"
        "@exc_path('m.Rec')\n@dataclasses.dataclass\nclass Rec:\n    n: int\n"
    )
    assert problems(m=PRELUDE + body) == [
        "idl/m.py:15: import failed: TypeError: @exc_path('m.Rec') decorates an Exception "
        "subclass (a declared error), not class Rec; fix the module so that it imports"
    ]


def test_module_that_fails_to_import(problems: Problems) -> None:
    source = "import os\n\nx = undefined_name + 1\n"
    assert problems(m=source) == [
        "idl/m.py:3: import failed: NameError: name 'undefined_name' is not defined; fix the "
        "module so that it imports"
    ]


def test_import_error_raised_in_a_function_points_at_the_idl_line(problems: Problems) -> None:
    source = "import json\n\n\njson.loads('{')\n"
    found = problems(m=source)
    assert len(found) == 1
    assert found[0].startswith("idl/m.py:4: import failed: json.decoder.JSONDecodeError: ")


def test_module_with_a_syntax_error(problems: Problems) -> None:
    assert problems(m="x = 1\ndef f(:\n    pass\n") == [
        "idl/m.py:2: import failed: SyntaxError: invalid syntax; fix the module so that it imports"
    ]


def test_module_without_a_service(problems: Problems) -> None:
    assert problems(m="X = 1\n") == [
        "idl/m.py:1: no @service class and no types to share; decorate a typing.Protocol class "
        'with @service("name"), or define the types other IDL modules import'
    ]


def test_file_name_that_is_not_a_module_name(problems: Problems) -> None:
    assert problems(**{"my-service": PRELUDE + "    def m(self) -> None: ...\n"}) == [
        "idl/my-service.py:1: the file name is not a valid Python module name; rename it "
        "(e.g. my_service.py)"
    ]


def test_empty_folder(problems: Problems) -> None:
    assert problems() == ["idl:1: no IDL modules (*.py) found; add one"]


def test_every_problem_is_reported_in_one_run(problems: Problems) -> None:
    body = (
        "    def a(self, x) -> None: ...\n"  # 12
        "    def b(self, x: set[int]) -> None: ...\n"  # 13
        "    def __c(self) -> Any: ...\n"  # 14: two problems on one method
    )
    found = problems(m=PRELUDE + body, n="oops(\n")
    assert [f.split(": ")[0] + ": " + f.split(": ")[1] for f in found] == [
        "idl/m.py:12: Svc.a",
        "idl/m.py:13: Svc.b",
        "idl/m.py:14: Svc._Svc__c",
        "idl/m.py:14: Svc._Svc__c",
        "idl/n.py:1: import failed",
    ]


def test_a_method_shadowing_a_type_without_future_annotations(problems: Problems) -> None:
    source = PRELUDE.replace("from __future__ import annotations\n", "") + (
        "    def list(self) -> list[str]: ...\n    def names(self) -> list[str]: ...\n"
    )
    assert problems(m=source) == [
        "idl/m.py:11: import failed: TypeError: 'function' object is not subscriptable; a method "
        "named like a type (list, dict, ...) shadows it in the rest of the class body; add "
        "'from __future__ import annotations' at the top of the file"
    ]
