"""Connecting: URIs, failover, refused logins and vhosts, and passwords kept out of sight."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

import pytest
import rpcgen.runtime as rt
from rpcgen.runtime._amqp.uris import pika_parameters, resolve_uris
from rpcgen.runtime.testing import Vhost

from tests.integration.helpers import api
from tests.integration.impls import Itest
from tests.integration.stubs import ItestClient

SECRET = "s3cr3t-Pa55"


def _params(uri: str) -> Any:
    return pika_parameters(uri, heartbeat=60, connect_timeout=5, name="t")


@pytest.mark.parametrize(
    ("uri", "vhost"),
    [
        ("amqp://u:p@h:5672//", "/"),  # Celery style: kombu reads "/", pika alone would read ""
        ("amqp://u:p@h:5672/", "/"),
        ("amqp://u:p@h", "/"),
        ("amqp://u:p@h:5672/%2F", "/"),
        ("amqp://u:p@h:5672/myvhost", "myvhost"),
        ("pyamqp://u:p@h:5672//", "/"),
    ],
)
def test_vhost_is_read_as_kombu_reads_it(uri: str, vhost: str) -> None:
    assert _params(uri).virtual_host == vhost


def test_uri_defaults_and_parameters(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RPCGEN_AMQP_URI", raising=False)
    assert resolve_uris(None) == ["amqp://guest:guest@localhost:5672/"]
    monkeypatch.setenv("RPCGEN_AMQP_URI", "amqp://a:b@elsewhere/")
    assert resolve_uris(None) == ["amqp://a:b@elsewhere/"]
    assert resolve_uris(["amqp://x", "amqp://y"]) == ["amqp://x", "amqp://y"]
    params = _params("amqps://u:p@h/")
    assert params.ssl_options is not None and params.port == 5671
    assert params.heartbeat == 60 and params.connection_attempts == 1
    assert _params("amqp://u:p@h/?heartbeat=5").heartbeat == 5


def test_bad_scheme_is_refused_without_the_password() -> None:
    with pytest.raises(ValueError, match="amqp:// or amqps://") as info:
        _params(f"http://u:{SECRET}@h/")
    assert SECRET not in str(info.value)


@pytest.mark.parametrize(
    "uri",
    [f"amqp://u:{SECRET}@h:1/v", f"amqps://u:{SECRET}@h/", "amqp://u:p%40ss@h/"],
)
def test_mask_uri(uri: str) -> None:
    masked = rt.mask_uri(uri)
    assert urlsplit(masked).password == "***"
    assert masked.replace("***", "") == uri.replace(urlsplit(uri).password or "", "")


@pytest.mark.broker
def test_wrong_password_is_a_clear_error_that_hides_it(
    rabbit_vhost: Vhost, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    uri = rabbit_vhost.uri.replace(f":{urlsplit(rabbit_vhost.uri).password}@", f":{SECRET}@")
    with pytest.raises(rt.RpcConnectionError, match="login refused for user 'guest'") as info:
        rt.Connection(uri)
    assert SECRET not in str(info.value) and "***" in str(info.value)
    assert all(SECRET not in record.getMessage() for record in caplog.records)


@pytest.mark.broker
def test_vhost_without_permission_is_a_clear_error(rabbit_vhost: Vhost) -> None:
    api(rabbit_vhost, "DELETE", f"permissions/{rabbit_vhost.name}/guest")
    with pytest.raises(rt.RpcConnectionError, match="refused"):
        rt.Connection(rabbit_vhost.uri)


@pytest.mark.broker
def test_no_configure_permission_is_a_clear_error(rabbit_vhost: Vhost) -> None:
    api(
        rabbit_vhost,
        "PUT",
        f"permissions/{rabbit_vhost.name}/guest",
        {"configure": "", "write": ".*", "read": ".*"},
    )
    with pytest.raises(rt.RpcConnectionError, match="ACCESS_REFUSED"):
        rt.Connection(rabbit_vhost.uri)


@pytest.mark.broker
def test_failover_takes_the_first_uri_that_works(rabbit_vhost: Vhost) -> None:
    dead = f"amqp://guest:{SECRET}@127.0.0.1:1/"
    with rt.Connection([dead, rabbit_vhost.uri], connect_timeout=2) as connection:
        assert connection.uri == rt.mask_uri(rabbit_vhost.uri)
        assert SECRET not in repr(connection)
    with pytest.raises(rt.RpcConnectionError) as info:
        rt.Connection([dead, dead.replace(":1/", ":2/")], connect_timeout=2)
    assert "127.0.0.1:1" in str(info.value) and "127.0.0.1:2" in str(info.value)
    assert "Connection refused" in str(info.value)
    assert SECRET not in str(info.value)


def test_a_refused_attempt_is_reported_by_rpcgen_not_by_seven_pika_errors(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.DEBUG), pytest.raises(rt.RpcConnectionError, match="refused"):
        rt.Connection(f"amqp://guest:{SECRET}@127.0.0.1:1/", connect_timeout=2)
    pika_records = [r for r in caplog.records if r.name.startswith("pika.adapters")]
    assert pika_records, "pika no longer logs failed attempts: drop the filter"
    assert max(r.levelno for r in pika_records) < logging.WARNING  # kept, at DEBUG
    caplog.clear()
    with caplog.at_level(logging.WARNING):  # outside rpcgen's turns: pika's own level
        logging.getLogger("pika.adapters.base_connection").error("another pika user's error")
    assert [r.levelno for r in caplog.records] == [logging.ERROR]


@pytest.mark.broker
def test_server_logs_never_show_the_password(
    rabbit_vhost: Vhost, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    password = urlsplit(rabbit_vhost.uri).password
    assert password
    with (
        rt.run_in_background(Itest(), rabbit_vhost.uri),
        ItestClient.connect(rabbit_vhost.uri) as client,
    ):
        assert client.hello("x") == "hello, x"
    assert any("***" in record.getMessage() for record in caplog.records)
    assert all(f":{password}@" not in record.getMessage() for record in caplog.records)
