"""Fixtures for the runtime's integration tests: a fresh vhost per test on a running broker.

Until the session's broker fixture (``rpcgen.runtime.testing``) is wired in, these read
``RPCGEN_TEST_AMQP_URI`` (default: the dev broker, ``amqp://guest:guest@127.0.0.1:5699/``) and
``RPCGEN_TEST_MGMT_URI`` (default ``http://guest:guest@127.0.0.1:15699/api/``).
"""

from __future__ import annotations

import base64
import json
import os
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import pytest

AMQP = os.environ.get("RPCGEN_TEST_AMQP_URI", "amqp://guest:guest@127.0.0.1:5699/")
MGMT = os.environ.get("RPCGEN_TEST_MGMT_URI", "http://guest:guest@127.0.0.1:15699/api/")


@dataclass
class Broker:
    """One test's vhost: its AMQP URI and management API helpers."""

    vhost: str
    uri: str

    def api(self, method: str, path: str, body: object = None) -> Any:
        parts = urlsplit(MGMT)
        base = f"{parts.scheme}://{parts.hostname}:{parts.port}{parts.path.rstrip('/')}"
        auth = base64.b64encode(f"{parts.username}:{parts.password}".encode()).decode()
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(f"{base}/{path}", data=data, method=method)
        req.add_header("authorization", f"Basic {auth}")
        req.add_header("content-type", "application/json")
        with urllib.request.urlopen(req, timeout=10) as resp:
            text = resp.read()
        return json.loads(text) if text else None

    def queue(self, name: str) -> dict[str, Any] | None:
        try:
            return dict(
                self.api("GET", f"queues/{quote(self.vhost, safe='')}/{quote(name, safe='')}")
            )
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            raise

    def queues(self) -> list[dict[str, Any]]:
        return list(self.api("GET", f"queues/{quote(self.vhost, safe='')}"))

    def exchange(self, name: str) -> dict[str, Any]:
        return dict(self.api("GET", f"exchanges/{quote(self.vhost, safe='')}/{quote(name)}"))

    def bindings(self) -> list[dict[str, Any]]:
        return list(self.api("GET", f"bindings/{quote(self.vhost, safe='')}"))


def _with_vhost(uri: str, vhost: str) -> str:
    parts = urlsplit(uri)
    return parts._replace(path="/" + quote(vhost, safe="")).geturl()


@pytest.fixture
def broker() -> Iterator[Broker]:
    """A fresh vhost on the test broker, deleted afterwards."""
    vhost = f"rpcgen-it-{uuid.uuid4().hex[:10]}"
    probe = Broker(vhost, _with_vhost(AMQP, vhost))
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
