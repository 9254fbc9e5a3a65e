"""Nameko's ``rpc_exchange`` (a non-default RPC exchange), both ways: rpcgen's ``exchange`` option
(clients, servers, ``rpcgen call --exchange``) against real Nameko on that exchange."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from types import ModuleType

import pytest
import rpcgen.runtime as rt
from rpcgen.runtime.testing import Vhost

from tests.interop.conftest import StartNameko
from tests.interop.harness import NamekoClient, NamekoDriver
from tests.interop.rpcgen_side import make_servers

EXCHANGE = "custom-rpc"


def test_rpcgen_calls_nameko_on_a_custom_exchange(
    interop_api: ModuleType, start_nameko: StartNameko, amqp_uri: str, rabbit_vhost: Vhost
) -> None:
    start_nameko(config={"rpc_exchange": EXCHANGE})
    with interop_api.GreeterClient.connect(amqp_uri, timeout=15, exchange=EXCHANGE) as client:
        assert client.hello("bob") == "hello, bob"
        assert client.compute(2, 3) == 5
    # On the default exchange nothing is bound: the exchange is what routes the call.
    with (
        interop_api.GreeterClient.connect(amqp_uri, timeout=15) as client,
        pytest.raises(rt.UnknownService),
    ):
        client.hello("bob")
    # The CLI's --exchange.
    command = [sys.executable, "-m", "rpcgen", "call", "greeter.hello", '"ann"']
    done = subprocess.run(
        [*command, "--amqp-uri", amqp_uri, "--exchange", EXCHANGE, "--timeout", "15"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == "hello, ann"
    # ... and $RPCGEN_EXCHANGE, when no flag is given.
    done = subprocess.run(
        [*command, "--amqp-uri", amqp_uri, "--timeout", "15"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "RPCGEN_EXCHANGE": EXCHANGE},
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == "hello, ann"


def test_nameko_calls_rpcgen_served_on_a_custom_exchange(
    interop_api: ModuleType, nameko_driver: NamekoDriver, amqp_uri: str, rabbit_vhost: Vhost
) -> None:
    connection = rt.Connection(amqp_uri, client_name="greeter", exchange=EXCHANGE)
    try:
        greeter, _relay = make_servers(interop_api, connection)
        with rt.run_in_background(greeter, amqp_uri, exchange=EXCHANGE):
            rabbit_vhost.wait_for_consumers("rpc-greeter", timeout=30)
            nameko = NamekoClient(nameko_driver, amqp_uri, config={"rpc_exchange": EXCHANGE})
            assert nameko.call("greeter", "hello", "bob").value == "hello, bob"
            assert nameko.call("greeter", "compute", 2, 3).value == 5
            # A Nameko caller on the default exchange does not reach it.
            default = NamekoClient(nameko_driver, amqp_uri)
            outcome = default.call("greeter", "hello", "bob", timeout=5)
            assert outcome.error_class.endswith("UnknownService")
    finally:
        connection.close()
