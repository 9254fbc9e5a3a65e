"""Fixtures that put real Nameko 2.14.1 on the other side of the wire (see harness.py)."""

from __future__ import annotations

import contextlib
import importlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from rpcgen.runtime.testing import Vhost

from tests.interop.harness import (
    NAMEKO_VERSIONS,
    NamekoClient,
    NamekoDriver,
    NamekoServices,
    nameko_running,
    require_nameko_python,
)
from tests.interop.rpcgen_side import serve_greeter

StartNameko = Callable[..., NamekoServices]
IDL = Path(__file__).resolve().parent / "idl"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "nameko_python" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.nameko)


@pytest.fixture(scope="session", params=NAMEKO_VERSIONS)
def nameko_version(request: pytest.FixtureRequest) -> str:
    """Each Nameko test runs once per Nameko version (2.14.1, 3.0.0rc11)."""
    return str(request.param)


@pytest.fixture(scope="session")
def nameko_python(nameko_version: str) -> Path:
    """That Nameko's virtualenv python (scripts/test creates ``.venv-nameko``/``.venv-nameko3``)."""
    return require_nameko_python(nameko_version)


@pytest.fixture(scope="session")
def nameko_driver(
    nameko_python: Path, nameko_version: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[NamekoDriver]:
    driver = NamekoDriver(nameko_python, tmp_path_factory.mktemp("nameko") / "driver.log")
    assert driver.version == nameko_version, f"{nameko_python} runs Nameko {driver.version}"
    try:
        yield driver
    finally:
        driver.close()


@pytest.fixture
def nameko_client(nameko_driver: NamekoDriver, amqp_uri: str) -> NamekoClient:
    """Nameko's standalone proxies in this test's vhost: ``nameko_client.call(svc, meth, ...)``."""
    return NamekoClient(nameko_driver, amqp_uri)


@pytest.fixture
def start_nameko(nameko_python: Path, rabbit_vhost: Vhost, tmp_path: Path) -> Iterator[StartNameko]:
    """``start_nameko(module="greeter", services=("greeter", "relay"), env=None, config=None)``.

    Runs ``nameko run`` in this test's vhost, waits until every service consumes, and kills it at
    teardown (its log is printed if the test failed). ``.stop()`` is the graceful SIGTERM stop.
    """
    with contextlib.ExitStack() as started:

        def start(**options: Any) -> NamekoServices:
            running = nameko_running(nameko_python, rabbit_vhost, tmp_path, **options)
            return started.enter_context(running)

        yield start


@pytest.fixture(scope="session")
def interop_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """``rpcgen build tests/interop/idl`` into a temporary package; its ``greeter`` module.

    Gives ``GreeterClient``, ``GreeterAsyncClient``, ``GreeterServer``, ``RelayServer``,
    ``GhostClient``, ``Samples``, ``InsufficientFunds``, ... for the Nameko services' contract.
    """
    from rpcgen.codegen.build import build
    from rpcgen.codegen.write import write

    result = build(IDL)
    assert not result.errors, "\n".join(map(str, result.errors))
    root = tmp_path_factory.mktemp("interop")
    write(result.files, root / "interop_generated")
    sys.path.insert(0, str(root))
    try:
        yield importlib.import_module("interop_generated.greeter")
    finally:
        sys.path.remove(str(root))
        for name in [m for m in sys.modules if m.startswith("interop_generated")]:
            del sys.modules[name]


@pytest.fixture
def greeter(start_nameko: StartNameko) -> NamekoServices:
    """The Nameko ``greeter`` and ``relay`` services, running and consuming."""
    return start_nameko()


@pytest.fixture
def rpcgen_greeter(interop_api: ModuleType, rabbit_vhost: Vhost) -> Iterator[None]:
    """rpcgen servers of ``greeter`` and ``relay`` (rpcgen_side.py), running and consuming."""
    with serve_greeter(interop_api, rabbit_vhost.uri):
        for service in ("greeter", "relay"):
            rabbit_vhost.wait_for_consumers(f"rpc-{service}", timeout=30)
        yield


@pytest.fixture(params=["nameko", "rpcgen"])
def greeter_service(request: pytest.FixtureRequest) -> str:
    """``greeter`` + ``relay`` served by Nameko 2.14.1, then (second run) by rpcgen's runtime.

    Returns which one; tests written against it prove both look the same to Nameko callers.
    """
    request.getfixturevalue("greeter" if request.param == "nameko" else "rpcgen_greeter")
    return str(request.param)
