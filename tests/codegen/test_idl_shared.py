"""Types shared between IDL modules: a tree with a types-only module, a subpackage, absolute and
relative imports, built, checked with ruff and ``mypy --strict``, imported, served and called on
both transports; and the errors a tree can have (a ring of imports, one name for two classes)."""

from __future__ import annotations

import itertools
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import rpcgen.runtime as rt
from cgtools import REPO, tool
from rpcgen.codegen.build import build
from rpcgen.codegen.write import write
from rpcgen.runtime.testing.memory import TRANSPORTS

COMMON = '''
"""Types every service of the fleet shares."""

import dataclasses
import enum
from typing import TypedDict


class Currency(str, enum.Enum):
    EUR = "EUR"
    USD = "USD"


@dataclasses.dataclass(frozen=True)
class Money:
    amount: int
    currency: Currency = Currency.EUR


class Address(TypedDict):
    street: str
    city: str


Cents = int  # an alias: it is int wherever it is used


class NotFound(Exception):
    """Nothing has that number."""
'''

INVOICE = '''
"""Invoices (a module of a subpackage, importing relatively)."""

import dataclasses
from typing import Protocol

from rpcgen import event, raises, service

from ..common import Address, Cents, Currency, Money, NotFound


@dataclasses.dataclass
class Invoice:
    number: int
    total: Money
    to: Address


class Overdue(NotFound):
    """Past its due date."""


@service("billing")
class Billing(Protocol):
    @raises(NotFound)
    def invoice(self, number: int, currency: Currency = Currency.EUR) -> Invoice: ...

    def cents(self, money: Money) -> Cents: ...

    @event("invoice_paid")
    def invoice_paid(self, payload: Invoice) -> None: ...
'''

SHOP = """
from typing import Protocol

from idl.common import Money, NotFound
from rpcgen import raises, service


@service("shop")
class Shop(Protocol):
    @raises(NotFound)
    def price(self, sku: str) -> Money: ...
"""

_serial = itertools.count()


def write_tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), "utf-8")
    return root


@pytest.fixture
def fleet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, str]]:
    """The tree built into ``tmp_path/<package>``; yields (that folder, the package name)."""
    monkeypatch.chdir(tmp_path)
    idl = write_tree(
        Path("idl"),
        {"common.py": COMMON, "billing/invoice.py": INVOICE, "shop.py": SHOP},
    )
    built = build(idl)
    assert [str(e) for e in built.errors] == []
    package = f"fleet_generated_{next(_serial)}"
    write(built.files, tmp_path / package)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path / package, package
    for name in [n for n in sys.modules if n == package or n.startswith(f"{package}.")]:
        del sys.modules[name]


def test_the_tree_builds_into_modules_that_import_each_shared_type(
    fleet: tuple[Path, str],
) -> None:
    out, _ = fleet
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert files == [
        "__init__.py",
        "billing/__init__.py",
        "billing/invoice.py",
        "common.py",
        "py.typed",
        "shop.py",
    ]
    invoice = (out / "billing/invoice.py").read_text("utf-8")
    assert "from ..common import Address, Currency, Money, NotFound\n" in invoice
    assert "class Money" not in invoice and "class NotFound" not in invoice
    assert "from .common import Money, NotFound\n" in (out / "shop.py").read_text("utf-8")


def test_the_generated_tree_passes_ruff_and_mypy_strict(fleet: tuple[Path, str]) -> None:
    out, package = fleet
    config = str(REPO / "pyproject.toml")
    for args in (["check"], ["format", "--check"]):
        ruff = subprocess.run(
            [tool("ruff"), *args, "--config", config, str(out)], capture_output=True, text=True
        )
        assert ruff.returncode == 0, ruff.stdout + ruff.stderr
    mypy = subprocess.run(
        [tool("mypy"), "--strict", "--no-incremental", "-p", package],
        capture_output=True,
        text=True,
        cwd=out.parent,
    )
    assert mypy.returncode == 0, mypy.stdout + mypy.stderr


def _modules(package: str) -> tuple[ModuleType, ModuleType, ModuleType]:
    import importlib

    return (
        importlib.import_module(f"{package}.common"),
        importlib.import_module(f"{package}.billing.invoice"),
        importlib.import_module(f"{package}.shop"),
    )


def test_each_shared_type_is_one_class(fleet: tuple[Path, str]) -> None:
    common, invoice, shop = _modules(fleet[1])
    assert invoice.Money is common.Money is shop.Money
    assert invoice.NotFound is common.NotFound is shop.NotFound
    assert common.NotFound.exc_path == "common.NotFound"
    assert invoice.Overdue.exc_path == "billing.invoice.Overdue"
    assert issubclass(invoice.Overdue, common.NotFound)


@pytest.mark.parametrize("rpc_transport", TRANSPORTS)
def test_services_of_the_tree_serve_and_call_with_shared_types(
    fleet: tuple[Path, str], rpc_uri: str
) -> None:
    common, invoice, shop = _modules(fleet[1])
    Money, NotFound = common.Money, common.NotFound

    class Billing(invoice.BillingServer):  # type: ignore[misc,name-defined]
        def invoice(self, number: int, currency: Any = common.Currency.EUR) -> Any:
            if number == 0:
                raise invoice.Overdue("since May")
            if number < 0:
                raise NotFound(f"no invoice {number}")
            to = {"street": "Main 1", "city": "Ghent"}
            return invoice.Invoice(number, Money(number * 100, currency), to)

        def cents(self, money: Any) -> int:
            return int(money.amount)

    class Shop(shop.ShopServer):  # type: ignore[misc,name-defined]
        def price(self, sku: str) -> Any:
            if sku == "none":
                raise NotFound(sku)
            return Money(250, common.Currency.USD)

    with (
        rt.run_in_background(Billing(), rpc_uri),
        rt.run_in_background(Shop(), rpc_uri),
        invoice.BillingClient.connect(rpc_uri) as billing,
        shop.ShopClient.connect(rpc_uri) as shop_client,
    ):
        got = billing.invoice(7, common.Currency.USD)
        assert got == invoice.Invoice(
            7, Money(700, common.Currency.USD), {"street": "Main 1", "city": "Ghent"}
        )
        assert type(got.total) is Money
        assert billing.cents(Money(42)) == 42
        assert shop_client.price("a") == Money(250, common.Currency.USD)
        # A shared declared error is re-raised as the one class by every service.
        with pytest.raises(NotFound) as by_shop:
            shop_client.price("none")
        with pytest.raises(NotFound) as by_billing:
            billing.invoice(-1)
        with pytest.raises(invoice.Overdue):
            billing.invoice(0)
    assert type(by_shop.value) is NotFound and type(by_billing.value) is NotFound


def _problems(root: Path, files: dict[str, str]) -> list[str]:
    from rpcgen.codegen.load import load

    return [str(e) for e in load(write_tree(root, files)).errors]


RING_A = """
from __future__ import annotations

import dataclasses
from typing import Protocol

from rpcgen import service

from . import b


@dataclasses.dataclass
class A:
    x: int


@service("a")
class SvcA(Protocol):
    def get(self) -> b.B: ...
"""

RING_B = """
from __future__ import annotations

import dataclasses
from typing import Protocol

from rpcgen import service

from . import a


@dataclasses.dataclass
class B:
    y: int


@service("b")
class SvcB(Protocol):
    def get(self) -> a.A: ...
"""


def test_modules_that_import_each_others_types_get_a_file_line_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert _problems(Path("idl"), {"a.py": RING_A, "b.py": RING_B}) == [
        "idl/a.py:8: IDL modules import each other's types (a -> b -> a); move the shared "
        "types into a module that imports none of them"
    ]


def test_one_name_for_two_shared_classes_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    one = "import dataclasses\n\n\n@dataclasses.dataclass\nclass Money:\n    cents: int\n"
    user = """
    from typing import Protocol

    from rpcgen import service

    from . import one
    from .two import Money


    @service("user")
    class User(Protocol):
        def a(self) -> one.Money: ...

        def b(self) -> Money: ...
    """
    assert _problems(
        Path("idl"), {"one.py": one, "two.py": one, "user.py": textwrap.dedent(user)}
    ) == [
        "idl/user.py:6: Money: the generated module would import 'Money' from both one and "
        "two; rename one of the classes"
    ]


def test_a_subclass_in_an_unrelated_module_is_not_pulled_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A shared error's subclass elsewhere must not make a module import that module."""
    monkeypatch.chdir(tmp_path)
    other = """
    from typing import Protocol

    from rpcgen import service

    from .common import NotFound


    class Gone(NotFound):
        pass


    @service("other")
    class Other(Protocol):
        def x(self) -> None: ...
    """
    idl = write_tree(Path("idl"), {"common.py": COMMON, "shop.py": SHOP, "other.py": other})
    built = build(idl)
    assert [str(e) for e in built.errors] == []
    assert "Gone" not in built.files["shop.py"]
    assert "errors=(NotFound,)" in built.files["shop.py"]


def test_an_idl_folder_with_an_init_module_still_takes_absolute_imports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))  # so that ``idl`` is a regular package here
    files = {"__init__.py": "", "common.py": COMMON, "shop.py": SHOP}
    assert _problems(Path("idl"), files) == []
    assert "idl" not in sys.modules and "idl.common" not in sys.modules  # removed afterwards
