"""Security: TLS end to end with a generated CA, passwords never printed, clear refusals.

Only JSON is accepted (pickle never deserialised): tests/faults/test_poison.py.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import Callable
from urllib.parse import quote

import pytest
import rpcgen.runtime as rt
from rpcgen.runtime.testing import Broker, RabbitNode, Vhost

from tests.integration.impls import Itest
from tests.integration.stubs import ItestAsyncClient, ItestClient

SECRET = "Pa55-w0rd%40Secret"  # written percent-encoded: "@" in the decoded password
SECRETS = (SECRET, "Pa55-w0rd@Secret", "Pa55-w0rd")


def _assert_hidden(*texts: str) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in text, f"password leaked in: {text!r}"


def _all_logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    out = []
    for record in caplog.records:
        out.append(record.getMessage())
        if record.exc_info:
            out.append("".join(traceback.format_exception(*record.exc_info)))
    return out


def _error_text(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc)) + repr(exc)


def test_tls_end_to_end_with_the_generated_ca(
    rabbit_node_factory: Callable[..., RabbitNode],
) -> None:
    node = rabbit_node_factory(tls=True, management=False)
    assert node.tls is not None
    uri = f"{node.amqps_uri}?cafile={quote(str(node.tls.ca))}"
    with (
        rt.run_in_background(Itest(), uri),
        ItestClient.connect(uri, timeout=20) as client,
    ):
        assert client.hello("over tls") == "hello, over tls"
        assert client._connection.uri.startswith("amqps://guest:***@localhost:")
    with_client_cert = (
        f"{uri}&certfile={quote(str(node.tls.client_cert))}"
        f"&keyfile={quote(str(node.tls.client_key))}"
    )
    with rt.Connection(with_client_cert) as conn:
        assert conn.is_open


def test_tls_without_the_ca_is_refused_clearly(
    rabbit_node_factory: Callable[..., RabbitNode],
) -> None:
    node = rabbit_node_factory(tls=True, management=False)
    with pytest.raises(rt.RpcConnectionError, match="CERTIFICATE_VERIFY_FAILED") as info:
        rt.Connection(node.amqps_uri, connect_timeout=5)
    assert "guest:***@" in str(info.value)


def test_tls_options_need_amqps() -> None:
    with pytest.raises(ValueError, match="need an amqps:// URI"):
        rt.Connection(f"amqp://u:{SECRET}@localhost:1/?cafile=/nonexistent")


def test_passwords_are_masked_everywhere(
    rabbit_node: Broker, rabbit_vhost: Vhost, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    rabbit_node.add_user("secure", "Pa55-w0rd@Secret", vhost=rabbit_vhost.name)
    base = rabbit_vhost.uri.replace("guest:guest@", f"secure:{SECRET}@")
    texts: list[str] = []
    with (
        rt.run_in_background(Itest(), base) as runner,
        rt.Connection(base, client_name="sec") as conn,
    ):
        client = ItestClient(conn, timeout=20)
        assert client.hello("x") == "hello, x"
        texts += [repr(conn), str(conn), conn.uri, repr(client), repr(runner.connection)]
        texts += [repr(rt.AsyncConnection(conn))]
        with pytest.raises(rt.RemoteError) as remote:
            client.fail("boom")
        texts.append(_error_text(remote.value))

        async def async_call() -> str:
            return await ItestAsyncClient(rt.AsyncConnection(conn), timeout=20).hello("a")

        assert asyncio.run(async_call()) == "hello, a"
    # Refused logins, unreachable hosts and failover lists: errors name the user, not the secret.
    wrong = base.replace(f":{SECRET}@", ":Pa55-w0rd-wrong@")
    dead = f"amqp://secure:{SECRET}@127.0.0.1:1/"
    for uris in ([wrong], [dead, wrong]):
        with pytest.raises(rt.RpcConnectionError) as failed:
            rt.Connection(uris, connect_timeout=5)
        texts.append(_error_text(failed.value))
    assert "login refused for user 'secure'" in texts[-1]
    with pytest.raises(ValueError) as bad:
        rt.Connection(f"http://secure:{SECRET}@localhost/")
    texts.append(_error_text(bad.value))
    _assert_hidden(*texts, *_all_logged(caplog))
    assert any("***" in text for text in _all_logged(caplog))  # the URI was logged, masked


def test_a_user_without_rights_on_the_vhost_is_refused_clearly(
    rabbit_node: Broker, rabbit_vhost: Vhost
) -> None:
    rabbit_node.add_user("stranger", "stranger-pw")  # no permissions anywhere
    uri = rabbit_vhost.uri.replace("guest:guest@", "stranger:stranger-pw@")
    with pytest.raises(rt.RpcConnectionError, match="access to the virtual host refused") as info:
        rt.Connection(uri, connect_timeout=5)
    assert "stranger-pw" not in str(info.value)
