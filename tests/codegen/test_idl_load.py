"""What ``load`` builds from a small IDL: names, signatures, records, errors, lines, docs."""

from __future__ import annotations

import sys
from collections.abc import Callable

from rpcgen.codegen.load import LoadResult
from rpcgen.codegen.model import FieldSpec, ModuleSpec, TypeRef

Loaded = Callable[..., LoadResult]

SHOP = '''
"""A shop."""

from __future__ import annotations

import dataclasses
import enum
from datetime import datetime
from typing import Protocol, TypedDict

from rpcgen import raises, service


class Size(enum.IntEnum):
    S = 1
    M = 2
    SMALL = 1  # an alias: not copied


class Mode(str, enum.Enum):
    """How to ship."""

    FAST = "fast"


@dataclasses.dataclass(frozen=True)
class Item:
    sku: str
    size: Size = Size.M
    tags: list[str] = dataclasses.field(default_factory=list)
    note: str | None = dataclasses.field(default=None, kw_only=True)


class Query(TypedDict, total=False):
    sku: str


class ShopError(Exception):
    """Base."""


class SoldOut(ShopError):
    pass


class Helper:
    """Not used by any signature, so not copied."""


@service("shop")
class Shop(Protocol):
    """Sells items."""

    @raises(ShopError)
    def buy(self, item: Item, count: int = 1, *, mode: Mode = Mode.FAST) -> datetime:
        """Buy ``count`` items.

        Returns when they ship.
        """
        ...

    def find(self, query: Query) -> list[Item]: ...
'''


def shop(loaded: Loaded) -> ModuleSpec:
    (module,) = loaded(shop=SHOP).modules
    return module


def test_service_and_method_names(loaded: Loaded) -> None:
    (svc,) = shop(loaded).services
    assert (svc.name, svc.wire_name, svc.line, svc.doc) == ("Shop", "shop", 50, "Sells items.")
    assert (svc.client, svc.async_client, svc.server) == (
        "ShopClient",
        "ShopAsyncClient",
        "ShopServer",
    )
    buy, find = svc.methods
    assert (buy.name, buy.wire_name, buy.line) == ("buy", "buy", 54)  # the def, not @raises
    assert buy.const == "_Shop_buy"
    assert buy.doc == "Buy ``count`` items.\n\nReturns when they ship."
    assert find.doc is None


def test_signature_parts(loaded: Loaded) -> None:
    buy = shop(loaded).services[0].methods[0]
    assert buy.decls == ("item: Item", "count: int = 1", "*", "mode: Mode = Mode.FAST")
    assert buy.args == ("item", "count")
    assert buy.kwargs == ("mode",)
    assert buy.result == TypeRef("datetime", buy.result.imports)


def test_declared_errors_include_their_subclasses(loaded: Loaded) -> None:
    buy = shop(loaded).services[0].methods[0]
    assert buy.errors == ("ShopError", "SoldOut")


def test_records(loaded: Loaded) -> None:
    module = shop(loaded)
    size, mode = module.enums
    assert (size.bases, [m.name for m in size.members], size.doc) == (
        "enum.IntEnum",
        ["S", "M"],
        None,
    )
    assert (mode.bases, mode.members[0].value, mode.doc) == (
        "str, enum.Enum",
        '"fast"',
        "How to ship.",
    )
    (item,) = module.dataclasses
    assert item.frozen
    assert item.doc is None  # not the signature dataclasses makes up
    assert item.fields == (
        FieldSpec("sku", TypeRef("str")),
        FieldSpec("size", TypeRef("Size"), "Size.M"),
        FieldSpec("tags", TypeRef("list[str]"), "dataclasses.field(default_factory=list)"),
        FieldSpec("note", TypeRef("str | None"), "dataclasses.field(default=None, kw_only=True)"),
    )
    (query,) = module.typeddicts
    assert (query.total, query.fields) == (False, (FieldSpec("sku", TypeRef("str")),))
    assert [(e.name, e.base, e.exc_path) for e in module.errors] == [
        ("ShopError", "rt.ServiceError", "shop.ShopError"),  # <idl module>.<Class> by default
        ("SoldOut", "ShopError", "shop.SoldOut"),
    ]


def test_exc_path_sets_the_path_of_its_own_class_only(loaded: Loaded) -> None:
    source = SHOP.replace(
        "from rpcgen import raises, service",
        "from rpcgen import exc_path, raises, service",
    ).replace(
        "class ShopError(Exception):",
        '@exc_path("services.shop_errors.ShopFailure")\nclass ShopError(Exception):',
    )
    (module,) = loaded(shop=source).modules
    assert [(e.name, e.exc_path, e.line) for e in module.errors] == [
        ("ShopError", "services.shop_errors.ShopFailure", 38),  # the class line, as without it
        ("SoldOut", "shop.SoldOut", 42),  # a path names one class: a subclass keeps its own
    ]


def test_module_level_parts(loaded: Loaded) -> None:
    module = shop(loaded)
    assert (module.name, module.source, module.doc) == ("shop", "idl/shop.py", "A shop.")
    assert module.imports == (
        "import abc",
        "import dataclasses",
        "import enum",
        "from collections.abc import Mapping",
        "from datetime import datetime",
        "from typing import ClassVar, TypedDict",
    )
    assert module.exports == (
        "Item",
        "Mode",
        "Query",
        "ShopAsyncClient",
        "ShopAsyncServer",
        "ShopClient",
        "ShopError",
        "ShopServer",
        "Size",
        "SoldOut",
    )


def test_loading_leaves_no_module_behind_and_can_repeat(loaded: Loaded) -> None:
    before = set(sys.modules)
    first = shop(loaded)
    assert set(sys.modules) == before
    assert shop(loaded) == first


def test_modules_are_sorted_and_underscore_files_skipped(loaded: Loaded) -> None:
    result = loaded(
        zeta=SHOP.replace('"shop"', '"zeta"'),
        alpha=SHOP.replace('"shop"', '"alpha"'),
        _private="x = 1",
    )
    assert [m.name for m in result.modules] == ["alpha", "zeta"]
