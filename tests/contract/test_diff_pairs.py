"""``rpcgen diff`` on a table of before/after IDL pairs: edits of a base IDL and their verdicts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from rpcgen.cli import app
from typer.testing import CliRunner

BASE = '''
from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Literal, Protocol, TypedDict

from rpcgen import event, exc_path, raises, service


class Color(str, enum.Enum):
    RED = "red"
    GREEN = "green"


class Status(enum.IntEnum):
    OPEN = 1
    CLOSED = 2


@dataclass
class Item:
    name: str
    qty: int = 1


@dataclass
class Receipt:
    total: int
    note: str = ""


class Filter(TypedDict):
    text: str


@dataclass
class Tally:
    n: int


class ShopError(Exception):
    """Base."""


class NotFound(ShopError):
    """Missing."""


class OutOfStock(Exception):
    """None left."""


@service("shop")
class Shop(Protocol):
    @raises(NotFound)
    def get(self, item_id: int) -> str: ...

    def add(self, item: Item, color: Color, *, note: str | None = None) -> Receipt: ...

    def status(self) -> Status: ...

    def mode(self, m: Literal["x", "y"], limit: int = 10) -> Literal["a", "b"]: ...

    def find(self, f: Filter, tags: list[str]) -> list[str]: ...

    def ping(self) -> None: ...

    @event("counted")
    def counted(self, payload: int | None) -> None: ...

    @event("tallied")
    def tallied(self, payload: Tally) -> None: ...
'''

C, S, B, OK = "breaks callers", "breaks servers", "breaks callers and servers", "compatible"

# id: (edits as (old text, new text), {fragment of the change: verdict})
PAIRS: dict[str, tuple[list[tuple[str, str]], dict[str, str]]] = {
    "method removed": ([("    def ping(self) -> None: ...\n", "")], {"method removed": C}),
    "method added": (
        [("def ping(self)", "def size(self) -> int: ...\n\n    def ping(self)")],
        {"method added": OK},
    ),
    "service renamed": (
        [('@service("shop")', '@service("store")')],
        {"service removed": C, "service added": OK},
    ),
    "param added, no default": (
        [("item_id: int)", "item_id: int, full: bool)")],
        {"'full' added without a default": B},
    ),
    "param added with default": (
        [("item_id: int)", "item_id: int, full: bool = False)")],
        {"'full' added with default False": OK},
    ),
    "optional param removed": ([(", *, note: str | None = None", "")], {"'note' removed": C}),
    "required param removed": (
        [("def get(self, item_id: int)", "def get(self)")],
        {"'item_id' removed": B},
    ),
    "param got a default": (
        [("def get(self, item_id: int)", "def get(self, item_id: int = 0)")],
        {"got the default 0": S},
    ),
    "unused data type added": (
        [
            (
                "class Filter(TypedDict):",
                "@dataclass\nclass Spare:\n    x: int\n\n\nclass Filter(TypedDict):",
            )
        ],
        {"Spare: data type added": OK},
    ),
    "param renamed": ([("item_id: int", "ident: int")], {"renamed to 'ident'": B}),
    "params reordered": (
        [("item: Item, color: Color", "color: Color, item: Item")],
        {"reordered": B},
    ),
    "param narrowed": (
        [("note: str | None = None", "note: str = ''")],
        {"type str | None -> str": C, 'default None -> ""': OK},
    ),
    "param widened": ([("item_id: int", "item_id: int | str")], {"type int -> int | str": S}),
    "param int to float": ([("item_id: int", "item_id: float")], {"type int -> float": S}),
    "param int to str": ([("item_id: int", "item_id: str")], {"type int -> str": B}),
    "result widened": (
        [("-> Receipt:", "-> Receipt | None:")],
        {"result type Receipt -> Receipt | None": C},
    ),
    "result narrowed": ([("-> Status:", "-> Literal[Status.OPEN]:")], {"result type Status": S}),
    "result list to tuple": ([("-> list[str]:", "-> tuple[str, ...]:")], {"result type": OK}),
    "result enum member added": (
        [("    CLOSED = 2\n", "    CLOSED = 2\n    HELD = 3\n")],
        {"HELD = 3 added": C},
    ),
    "param enum member added": (
        [('    GREEN = "green"\n', '    GREEN = "green"\n    BLUE = "blue"\n')],
        {"BLUE = 'blue' added": S},
    ),
    "param enum member removed": ([('    GREEN = "green"\n', "")], {"GREEN = 'green' removed": C}),
    "enum member renamed": ([("    OPEN = 1", "    OPENED = 1")], {"OPEN renamed to OPENED": OK}),
    "result literal widened": (
        [('Literal["a", "b"]', 'Literal["a", "b", "c"]')],
        {"result type": C},
    ),
    "param literal narrowed": ([('Literal["x", "y"]', 'Literal["x"]')], {"parameter 'm' type": C}),
    "param default removed": ([("limit: int = 10", "limit: int")], {"lost its default 10": C}),
    "param default changed": ([("limit: int = 10", "limit: int = 20")], {"default 10 -> 20": OK}),
    "param made keyword-only": (
        [('m: Literal["x", "y"], limit', 'm: Literal["x", "y"], *, limit')],
        {"made keyword-only": C},
    ),
    "keyword-only made positional": (
        [("color: Color, *, note", "color: Color, note")],
        {"made positional": S},
    ),
    "param record required field added": (
        [("    name: str\n    qty", "    name: str\n    size: int\n    qty")],
        {"Item.size: field added (required": C},
    ),
    "param record optional field added": (
        [("    qty: int = 1\n", "    qty: int = 1\n    sku: str = ''\n")],
        {"Item.sku: field added (optional": OK},
    ),
    "param record field removed": (
        [("    name: str\n    qty", "    qty")],
        {"Item.name: field removed": S},
    ),
    "param record default removed": (
        [("    qty: int = 1\n", "    qty: int\n")],
        {"Item.qty: field now required": C},
    ),
    "param record field widened": (
        [("    qty: int = 1\n", "    qty: float = 1\n")],
        {"Item.qty: field type int -> float": S},
    ),
    "result record optional field added": (
        [('    note: str = ""\n', '    note: str = ""\n    tax: int = 0\n')],
        {"Receipt.tax: field added": OK},
    ),
    # Old servers do not send it; new callers require it.
    "result record required field added": (
        [("    total: int\n", "    total: int\n    tax: int\n")],
        {"Receipt.tax: field added": S},
    ),
    "result record field removed": (
        [("    total: int\n    note", "    note")],
        {"Receipt.total: field removed": C},
    ),
    "typeddict made total=False": (
        [("class Filter(TypedDict):", "class Filter(TypedDict, total=False):")],
        {"Filter.text": S},
    ),
    "exc_path changed": (
        [
            (
                "class NotFound(ShopError):",
                '@exc_path("svc.errors.NotFound")\nclass NotFound(ShopError):',
            )
        ],
        {"exc_path shop.NotFound -> svc.errors.NotFound": B},
    ),
    "error base changed": (
        [("class NotFound(ShopError):", "class NotFound(Exception):")],
        {"base class ShopError -> rt.ServiceError": OK},
    ),
    "declared error added": (
        [("@raises(NotFound)", "@raises(NotFound, OutOfStock)")],
        {"declared error OutOfStock added": C},
    ),
    "declared error removed": (
        [("    @raises(NotFound)\n", "")],
        {"declared error NotFound removed": OK},
    ),
    "unused error added": (
        [("class OutOfStock", "class Gone(Exception):\n    pass\n\n\nclass OutOfStock")],
        {"error class added": OK},
    ),
    "event removed": (
        [('    @event("counted")\n    def counted(self, payload: int | None) -> None: ...\n', "")],
        {"event removed": C},
    ),
    "event added": (
        [
            (
                '    @event("counted")',
                '    @event("gone")\n    def gone(self, payload: str) -> None: ...\n\n'
                '    @event("counted")',
            )
        ],
        {"event added": OK},
    ),
    "event payload widened": (
        [("payload: int | None", "payload: int | str | None")],
        {"payload type int | None -> int | str | None": C},
    ),
    "event payload narrowed": (
        [("payload: int | None", "payload: int")],
        {"payload type int | None -> int": S},
    ),
    "event payload record field type changed": (
        [("    n: int\n", "    n: str\n")],
        {"Tally.n: field type int -> str": B},
    ),
    "event payload record optional field added": (
        [("    n: int\n", "    n: int\n    by: str = ''\n")],
        {"Tally.by: field added (optional": OK},
    ),
    "event payload record required field added": (
        [("    n: int\n", "    n: int\n    by: str\n")],
        {"Tally.by: field added (required": S},
    ),
    "event renamed": (
        [('@event("tallied")', '@event("counted_up")')],
        {"tallied: event removed": C, "counted_up: event added": OK},
    ),
    "nothing changed": ([], {}),
}


def _write(folder: Path, source: str) -> Path:
    folder.mkdir(parents=True)
    (folder / "shop.py").write_text(source, "utf-8")
    return folder


def _edit(edits: list[tuple[str, str]]) -> str:
    text = BASE
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new, 1)
    return text


@pytest.mark.parametrize("case", PAIRS, ids=list(PAIRS))
def test_pair(case: str, tmp_path: Path) -> None:
    edits, expected = PAIRS[case]
    old = _write(tmp_path / "a" / "idl", BASE)
    new = _write(tmp_path / "b" / "idl", _edit(edits))
    result = CliRunner().invoke(app, ["diff", str(old), str(new), "--format", "json"])
    assert result.exit_code in (0, 1), result.output
    doc = json.loads(result.stdout)
    found = {f"{c['where']}: {c['change']}": c["verdict"] for c in doc["changes"]}
    assert len(found) == len(expected), found
    for fragment, verdict in expected.items():
        hits = [v for text, v in found.items() if fragment in text]
        assert hits == [verdict], (fragment, found)
    assert result.exit_code == (1 if doc["breaking"] else 0)
    assert doc["breaking"] == any(v != OK for v in expected.values())


def test_text_output_puts_breaking_first(tmp_path: Path) -> None:
    old = _write(tmp_path / "a" / "idl", BASE)
    new = _write(
        tmp_path / "b" / "idl",
        _edit(
            [
                ("def ping(self)", "def size(self) -> int: ...\n\n    def ping(self)"),
                ("    def get", "    def gone"),
            ]
        ),
    )
    result = CliRunner().invoke(app, ["diff", str(old), str(new)])
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0].startswith("BREAKS CALLERS") and "shop.get: method removed" in lines[0]
    assert lines[-1] == "3 changes: 1 break callers, 0 break servers, 2 compatible"


def test_git_revision_against_folder(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    idl = _write(repo / "idl", BASE)
    for args in (
        ["init", "-q"],
        ["add", "idl"],
        ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "idl"],
    ):
        subprocess.run(["git", *args], cwd=repo, check=True)
    (idl / "shop.py").write_text(_edit([("    def ping(self) -> None: ...\n", "")]), "utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "rpcgen", "diff", "HEAD", "idl"],
        cwd=repo,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1, result.stderr
    assert "BREAKS CALLERS  shop.ping: method removed" in result.stdout


def test_bad_idl_and_bad_revision_exit_2(tmp_path: Path) -> None:
    good = _write(tmp_path / "a" / "idl", BASE)
    bad = _write(tmp_path / "b" / "idl", BASE.replace("item_id: int", "item_id"))
    result = CliRunner().invoke(app, ["diff", str(good), str(bad)])
    assert result.exit_code == 2
    assert "parameter 'item_id' has no type annotation" in result.stderr
    result = CliRunner().invoke(app, ["diff", "no-such-rev", str(good)])
    assert result.exit_code == 2
