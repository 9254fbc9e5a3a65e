"""Methods named ``close``, ``connect``, ``methods``, ``with_timeout`` and ``list``, both ways: a
typed rpcgen client calls them on a real Nameko service (as ``close_()`` ...), and a Nameko caller
calls them on an rpcgen server, which must look exactly like the Nameko one."""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import rpcgen.runtime as rt
from rpcgen.runtime.testing import Vhost

from tests.interop.conftest import StartNameko
from tests.interop.harness import NamekoClient

pytestmark = pytest.mark.nameko


@pytest.fixture(scope="session")
def accounts_api(interop_api: ModuleType) -> ModuleType:
    """``interop_generated.accounts``, built with the rest of tests/interop/idl."""
    return importlib.import_module("interop_generated.accounts")


def rpcgen_accounts(api: ModuleType) -> rt.Server:
    """The Nameko service's behaviour, on rpcgen's skeleton (renamed methods end in ``_``)."""

    class Accounts(api.AccountsServer):  # type: ignore[misc,name-defined]
        def close_(self, account_id: str) -> str:
            return f"closed {account_id}"

        def connect_(self, host: str, port: int = 5672) -> str:
            return f"{host}:{port}"

        def list(self) -> list[str]:
            return ["acc-1", "acc-2"]

        def methods_(self) -> list[str]:
            return ["close", "connect", "list", "methods", "with_timeout"]

        def with_timeout_(self, seconds: float) -> float:
            return seconds * 2

    server: rt.Server = Accounts()
    return server


@pytest.fixture(params=["nameko", "rpcgen"])
def accounts(
    request: pytest.FixtureRequest,
    accounts_api: ModuleType,
    rabbit_vhost: Vhost,
    nameko_python: Path,
) -> Iterator[str]:
    """``accounts`` served by Nameko (each version), then (second run) by rpcgen."""
    if request.param == "nameko":
        start: StartNameko = request.getfixturevalue("start_nameko")
        start(module="accounts", services=("accounts",))
        yield "nameko"
        return
    with rt.run_in_background(rpcgen_accounts(accounts_api), rabbit_vhost.uri):
        yield "rpcgen"


def test_a_typed_rpcgen_client_calls_the_renamed_methods(
    accounts: str, accounts_api: ModuleType, rabbit_vhost: Vhost
) -> None:
    with accounts_api.AccountsClient.connect(rabbit_vhost.uri, timeout=20) as client:
        assert client.close_("acc-1") == "closed acc-1"
        assert client.connect_("broker") == "broker:5672"
        assert client.connect_("broker", port=1) == "broker:1"
        assert client.list() == ["acc-1", "acc-2"]
        assert client.methods_() == ["close", "connect", "list", "methods", "with_timeout"]
        assert client.with_timeout_(1.5) == 3.0
        assert client.close_.call_async("acc-2").result() == "closed acc-2"
        assert client.with_timeout(5).close_("acc-3") == "closed acc-3"  # rpcgen's own API

    async def via_asyncio() -> list[Any]:
        async with accounts_api.AccountsAsyncClient.connect(rabbit_vhost.uri) as aclient:
            return [await aclient.close_("acc-4"), await aclient.connect_("b", 2)]

    assert asyncio.run(via_asyncio()) == ["closed acc-4", "b:2"]


def test_a_nameko_caller_sees_the_same_service(accounts: str, nameko_client: NamekoClient) -> None:
    assert nameko_client.call("accounts", "close", "acc-1").value == "closed acc-1"
    assert nameko_client.call("accounts", "connect", "broker").value == "broker:5672"
    assert nameko_client.call("accounts", "connect", host="b", port=3).value == "b:3"
    assert nameko_client.call("accounts", "list").value == ["acc-1", "acc-2"]
    assert nameko_client.call("accounts", "methods").value[0] == "close"
    assert nameko_client.call("accounts", "with_timeout", 2).value == 4
    missing = nameko_client.call(
        "accounts", "close_", "acc-1"
    )  # the Python name is not on the wire
    assert missing.error_class == "nameko.exceptions.MethodNotFound"
