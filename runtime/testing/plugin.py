"""pytest plugin ``rpcgen``: a real, throwaway RabbitMQ for integration tests, a vhost per test.

Loaded through the ``pytest11`` entry point; nothing starts until a test asks for a fixture.

Fixtures:
    ``rabbit_node`` (session): the ``Broker``; a ``RabbitNode`` started for the session, or the
        broker named by ``RPCGEN_TEST_AMQP_URI`` + ``RPCGEN_TEST_MGMT_URL``.
    ``rabbit_vhost`` (function): a ``Vhost`` made for this test and deleted after it, with helpers
        to inspect queues, bindings and consumers and to spy on messages.
    ``amqp_uri`` (function): ``rabbit_vhost.uri``, ``amqp://guest:guest@127.0.0.1:PORT/<vhost>``.
    ``rabbit_node_factory`` (function): ``factory(**RabbitNode options) -> RabbitNode`` for tests
        that stop, kill or restart a node, or need TLS; every node is closed at teardown.
    ``rabbit_cluster`` (function): a 3-node ``RabbitCluster`` for failover tests (~15 s).
    ``memory_broker`` (function): a ``MemoryBroker`` of this test's own, closed after it; its
        ``uri`` (``memory://<name>``) works wherever an AMQP URI does. No RabbitMQ needed.
    ``rpc_transport`` (function): ``"memory"`` unless overridden: which broker ``rpc_uri`` is on.
        Run a test on both with ``@pytest.mark.parametrize("rpc_transport", TRANSPORTS)``, or
        for a whole folder, override it in a conftest.py with ``params=TRANSPORTS``.
    ``rpc_uri`` (function): ``memory_broker.uri`` or ``amqp_uri``, as ``rpc_transport`` says.
    ``redis_url`` (session): ``redis://127.0.0.1:PORT/0`` of a throwaway ``RedisServer`` (no
        persistence) started for the session; tests share it, so each uses keys of its own
        (a fresh prefix). Skips (fails under ``CI``) without /usr/bin/redis-server.

Without /usr/lib/rabbitmq/bin/rabbitmq-server the broker fixtures skip (fail when ``CI`` is set):
``skip_or_fail(reason)`` is that rule, for any test whose optional environment is missing.
Tests parametrized with ``rpc_transport="rabbitmq"`` are marked ``broker`` too.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Callable, Iterator
from typing import Any, NoReturn

import pytest
from rpcgen.runtime.testing.cluster import RabbitCluster
from rpcgen.runtime.testing.memory import TRANSPORTS, MemoryBroker
from rpcgen.runtime.testing.node import SBIN, Broker, ExternalBroker, RabbitNode
from rpcgen.runtime.testing.redis import REDIS_SERVER, RedisServer
from rpcgen.runtime.testing.vhost import Vhost

ENV_AMQP_URI = "RPCGEN_TEST_AMQP_URI"
ENV_MGMT_URL = "RPCGEN_TEST_MGMT_URL"


def in_ci() -> bool:
    """Whether ``CI`` is set (``1``, ``true`` or ``yes``): a missing environment is a failure."""
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def skip_or_fail(reason: str, *, required_in_ci: bool = True) -> NoReturn:
    """Skip a test whose optional environment (a broker, a Nameko virtualenv) is missing; under
    CI, where scripts/test installs it, fail instead, so that nothing passes by not running.
    ``required_in_ci=False`` is for what CI may lack too (a pre-release that did not install)."""
    if required_in_ci and in_ci():
        pytest.fail(f"{reason} (CI is set, so this is a failure, not a skip)", pytrace=False)
    pytest.skip(reason)


def _require_rabbitmq() -> None:
    if not (SBIN / "rabbitmq-server").exists():
        skip_or_fail(
            f"RabbitMQ is not installed ({SBIN}/rabbitmq-server missing): run scripts/test, which "
            f"installs Debian's rabbitmq-server, or set {ENV_AMQP_URI} and {ENV_MGMT_URL}"
        )


@pytest.fixture(scope="session")
def rabbit_node() -> Iterator[Broker]:
    """The session's broker: an ephemeral ``RabbitNode``, or an external one named by the env."""
    uri = os.environ.get(ENV_AMQP_URI)
    if uri:
        mgmt = os.environ.get(ENV_MGMT_URL)
        if not mgmt:
            pytest.fail(f"{ENV_AMQP_URI} is set, so {ENV_MGMT_URL} must be too", pytrace=False)
        yield ExternalBroker(uri, mgmt)
        return
    _require_rabbitmq()
    with RabbitNode() as node:
        yield node


def _vhost_name(request: pytest.FixtureRequest) -> str:
    test = re.sub(r"[^A-Za-z0-9_]+", "_", request.node.name)[:40].strip("_")
    return f"rpcgen-{test}-{secrets.token_hex(3)}"


@pytest.fixture
def rabbit_vhost(rabbit_node: Broker, request: pytest.FixtureRequest) -> Iterator[Vhost]:
    """A fresh vhost for this test, guest has full rights; deleted (with its queues) afterwards."""
    name = _vhost_name(request)
    vhost = Vhost(rabbit_node, name, rabbit_node.add_vhost(name))
    try:
        yield vhost
    finally:
        vhost.close()


@pytest.fixture
def amqp_uri(rabbit_vhost: Vhost) -> str:
    """AMQP URI of this test's own vhost."""
    return rabbit_vhost.uri


@pytest.fixture
def rabbit_node_factory() -> Iterator[Callable[..., RabbitNode]]:
    """``factory(tls=False, management=True)`` starts a node for this test; closed at teardown."""
    _require_rabbitmq()
    nodes: list[RabbitNode] = []

    def factory(**options: Any) -> RabbitNode:
        node = RabbitNode(**options)
        nodes.append(node)
        return node

    try:
        yield factory
    finally:
        for node in nodes:
            node.close()


@pytest.fixture
def rabbit_cluster() -> Iterator[RabbitCluster]:
    """Three clustered nodes on loopback (no management plugin), removed at teardown."""
    _require_rabbitmq()
    with RabbitCluster(3) as cluster:
        yield cluster


@pytest.fixture
def memory_broker(request: pytest.FixtureRequest) -> Iterator[MemoryBroker]:
    """An in-memory broker for this test (``memory_broker.uri``), closed after it."""
    with MemoryBroker(_vhost_name(request)) as broker:
        yield broker


@pytest.fixture
def rpc_transport() -> str:
    """Which broker ``rpc_uri`` is on: ``"memory"`` here; override or parametrize it."""
    return "memory"


@pytest.fixture
def rpc_uri(rpc_transport: str, request: pytest.FixtureRequest) -> str:
    """The URI of this test's broker: in memory, or a RabbitMQ vhost (``rpc_transport``)."""
    if rpc_transport == "memory":
        return str(request.getfixturevalue("memory_broker").uri)
    if rpc_transport == "rabbitmq":
        return str(request.getfixturevalue("amqp_uri"))
    raise pytest.UsageError(f"rpc_transport is {rpc_transport!r}, not one of {TRANSPORTS}")


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """The URL of the session's throwaway Redis server."""
    if not REDIS_SERVER.exists():
        skip_or_fail(
            f"Redis is not installed ({REDIS_SERVER} missing): run scripts/test, which installs "
            "Debian's redis-server"
        )
    with RedisServer() as server:
        yield server.url


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "broker: uses a RabbitMQ from rpcgen's plugin (set automatically)"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that uses a broker fixture, so ``-m 'not broker'`` runs the fast ones."""
    broker_fixtures = {"rabbit_node", "rabbit_node_factory", "rabbit_cluster"}
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        on_rabbit = params.get("rpc_transport") == "rabbitmq"
        if on_rabbit or broker_fixtures & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.broker)
