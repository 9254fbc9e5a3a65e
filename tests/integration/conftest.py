"""Fixtures for the runtime's integration tests: a fresh vhost per test on a running broker.

Until the session's broker fixture (``rpcgen.runtime.testing``) is wired in, these read
``RPCGEN_TEST_AMQP_URI`` (default: the dev broker, ``amqp://guest:guest@127.0.0.1:5699/``) and
``RPCGEN_TEST_MGMT_URI`` (default ``http://guest:guest@127.0.0.1:15699/api/``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from tests.integration.helpers import AMQP, MGMT, Broker, with_vhost


@pytest.fixture
def broker() -> Iterator[Broker]:
    """A fresh vhost on the test broker, deleted afterwards."""
    vhost = f"rpcgen-it-{uuid.uuid4().hex[:10]}"
    probe = Broker(vhost, with_vhost(AMQP, vhost))
    try:
        probe.api("PUT", f"vhosts/{vhost}")
    except OSError as exc:
        pytest.skip(f"no test broker management API at {MGMT}: {exc}")
    user = urlsplit(AMQP).username or "guest"
    everything = {"configure": ".*", "write": ".*", "read": ".*"}
    probe.api("PUT", f"permissions/{vhost}/{user}", everything)
    try:
        yield probe
    finally:
        probe.api("DELETE", f"vhosts/{vhost}")
