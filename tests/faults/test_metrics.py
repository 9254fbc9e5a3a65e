"""``rpcgen.prometheus``: a scrape of ``/metrics`` shows the counts of a known workload, on a
real broker (and a forced reconnect), and through ``rpcgen serve --metrics``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import rpcgen.runtime as rt
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import CollectorRegistry
from rpcgen.prometheus import PrometheusMeter, instrument, render, uninstrument
from rpcgen.runtime.probes import ProbeServer
from rpcgen.runtime.testing import Vhost
from rpcgen.runtime.testing.node import free_port

from tests.integration.helpers import close_connections, declare_ghost, raw_channel
from tests.integration.impls import Itest
from tests.integration.stubs import InsufficientFunds, ItestClient, ItestServer
from tests.waiting import until_served, wait_until

pytestmark = [pytest.mark.broker, pytest.mark.timeout(110)]

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Ping:
    n: int


ping: rt.Event[Ping] = rt.Event("pinger", "ping", Ping)


class Pinger(rt.Client):
    service_name = "pinger"

    def ping(self, payload: Ping) -> None:
        self._publish(ping, payload)


class Counted(Itest):
    """``itest`` with an event handler that fails on ``Ping(0)``."""

    @ping.handler()
    def on_ping(self, payload: Ping) -> None:
        if payload.n == 0:
            raise ValueError("zero")


Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(url: str) -> Samples:
    with urllib.request.urlopen(url, timeout=5) as answer:
        assert answer.status == 200
        assert answer.headers["Content-Type"].startswith("text/plain; version=")
        text = answer.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
def meter() -> Iterator[PrometheusMeter]:
    meter = instrument(CollectorRegistry())
    try:
        yield meter
    finally:
        uninstrument()


def test_a_scrape_shows_the_counts_of_a_known_workload(
    meter: PrometheusMeter, amqp_uri: str, rabbit_vhost: Vhost
) -> None:
    runner = rt.ServiceRunner(Counted(), amqp_uri, max_workers=2)
    probes = ProbeServer(runner, 0, "127.0.0.1")
    probes.route("/metrics", lambda: render(meter.registry))
    probes.start()
    with raw_channel(amqp_uri) as channel:
        declare_ghost(channel, "ghost")  # bound, nobody consumes: calls time out
    try:
        runner.start()
        with rt.Connection(amqp_uri, client_name="caller") as connection:
            client, raw = ItestClient(connection, timeout=10), rt.RawClient(connection, timeout=10)
            for name in "abc":
                assert client.hello(name) == f"hello, {name}"
            for _ in range(2):
                with pytest.raises(InsufficientFunds):
                    client.withdraw(200)
            with pytest.raises(rt.RemoteError):
                client.fail("boom")
            with pytest.raises(rt.MethodNotFound):
                raw.call("itest", "nope", [], {})
            with pytest.raises(rt.RpcTimeout):
                raw.with_timeout(0.5).call("ghost", "x", [], {})
            with pytest.raises(rt.UnknownService):
                raw.call("nobody", "x", [], {})
            with Pinger.connect(amqp_uri) as pinger:
                for n in (1, 2, 0):
                    pinger.ping(Ping(n))
        url = f"http://127.0.0.1:{probes.port}/metrics"

        def events_handled() -> Samples | None:
            samples = scrape(url)
            errors = value(samples, "rpcgen_events_handled_total", service="itest",
                           handler="on_ping", outcome="error")  # fmt: skip
            return samples if errors >= 1 else None

        samples = wait_until(events_handled, 30, what="the events handled")
        svc = {"service": "itest"}
        handled = "rpcgen_server_handled_total"
        assert value(samples, handled, **svc, method="hello", outcome="ok") == 3
        assert value(samples, handled, **svc, method="withdraw", outcome="declared_error") == 2
        assert value(samples, handled, **svc, method="fail", outcome="error") == 1
        assert value(samples, handled, **svc, method="unknown", outcome="rejected") == 1
        assert value(samples, "rpcgen_server_started_total", **svc, method="hello") == 3
        assert value(samples, "rpcgen_server_handling_seconds_count", **svc, method="hello") == 3
        assert value(samples, "rpcgen_server_in_flight", **svc, method="hello") == 0
        events = "rpcgen_events_handled_total"
        assert value(samples, events, **svc, handler="on_ping", outcome="ok") == 2
        calls = "rpcgen_client_handled_total"
        assert value(samples, calls, **svc, method="hello", outcome="ok") == 3
        assert value(samples, calls, **svc, method="withdraw", outcome="remote_error") == 2
        assert value(samples, calls, **svc, method="fail", outcome="remote_error") == 1
        assert value(samples, calls, **svc, method="nope", outcome="remote_error") == 1
        assert value(samples, calls, service="ghost", method="x", outcome="timeout") == 1
        assert value(samples, calls, service="nobody", method="x", outcome="unknown_service") == 1
        assert value(samples, "rpcgen_client_handling_seconds_count", **svc, method="hello") == 3
        assert value(samples, "rpcgen_connection_up", client="itest") == 1
        assert value(samples, "rpcgen_connection_up", client="caller") == 0  # closed

        # The broker drops the server's connection: it comes back, and it is counted.
        assert close_connections(rabbit_vhost, "rpcgen itest") == 1

        def reconnect_counted() -> Samples | None:
            samples = scrape(url)
            counted = value(samples, "rpcgen_connection_reconnects_total", client="itest")
            return samples if counted >= 1 else None

        samples = wait_until(reconnect_counted, 30, what="a reconnect counted")
        assert value(samples, "rpcgen_connection_up", client="itest") == 1
    finally:
        runner.stop(10)
        probes.close()


class AsyncCounted(rt.Server):
    """``Counted`` with ``async def`` handlers: they run as tasks on the runner's loop."""

    service_name = "itest"
    methods = {n: ItestServer.methods[n] for n in ("hello", "withdraw", "fail")}  # noqa: RUF012

    async def hello(self, name: str) -> str:
        return f"hello, {name}"

    async def withdraw(self, amount: int) -> int:
        if amount > 100:
            raise InsufficientFunds(f"balance 100 < {amount}")
        return 100 - amount

    async def fail(self, message: str) -> None:
        raise ValueError(message)

    @ping.handler()
    async def on_ping(self, payload: Ping) -> None:
        if payload.n == 0:
            raise ValueError("zero")


def test_async_handlers_are_counted_as_sync_ones_are(meter: PrometheusMeter, amqp_uri: str) -> None:
    with (
        rt.run_in_background(AsyncCounted(), amqp_uri) as runner,
        rt.Connection(amqp_uri, client_name="caller") as connection,
    ):
        client, raw = ItestClient(connection, timeout=10), rt.RawClient(connection, timeout=10)
        for name in "abc":
            assert client.hello(name) == f"hello, {name}"
        for _ in range(2):
            with pytest.raises(InsufficientFunds):
                client.withdraw(200)
        with pytest.raises(rt.RemoteError):
            client.fail("boom")
        with pytest.raises(rt.IncorrectSignature):
            raw.call("itest", "hello", [1, 2, 3], {})
        with Pinger.connect(amqp_uri) as pinger:
            for n in (1, 2, 0):
                pinger.ping(Ping(n))
        events, svc = "rpcgen_events_handled_total", {"service": "itest"}

        def handled() -> Samples | None:
            samples = _samples(meter)
            failed = value(samples, events, **svc, handler="on_ping", outcome="error")
            return samples if failed >= 1 else None

        samples = wait_until(handled, 30, what="the events handled")
        assert runner.prefetch == rt.ASYNC_PREFETCH  # it served them as async tasks
    handled = "rpcgen_server_handled_total"
    assert value(samples, handled, **svc, method="hello", outcome="ok") == 3
    assert value(samples, handled, **svc, method="hello", outcome="rejected") == 1
    assert value(samples, handled, **svc, method="withdraw", outcome="declared_error") == 2
    assert value(samples, handled, **svc, method="fail", outcome="error") == 1
    assert value(samples, "rpcgen_server_started_total", **svc, method="hello") == 3
    assert value(samples, "rpcgen_server_handling_seconds_count", **svc, method="hello") == 3
    assert value(samples, "rpcgen_server_in_flight", **svc, method="hello") == 0
    assert value(samples, events, **svc, handler="on_ping", outcome="ok") == 2


def _samples(meter: PrometheusMeter) -> Samples:
    status, _type, body = render(meter.registry)
    assert status == 200
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(body.decode())
        for s in family.samples
    }


APP = """
from tests.integration.impls import Itest
"""


def test_rpcgen_serve_metrics_serves_the_scrape(amqp_uri: str, tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(APP)
    port = free_port()
    env = {**os.environ, "PYTHONPATH": f"{ROOT}", "RPCGEN_AMQP_URI": amqp_uri}
    command = [sys.executable, "-m", "rpcgen", "serve", "app:Itest", "--metrics"]
    proc = subprocess.Popen(
        [*command, "--http-port", str(port), "--http-host", "127.0.0.1"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        with ItestClient.connect(amqp_uri, timeout=10) as client:
            until_served(lambda: client.hello("up?"), process=proc, timeout=30)
            client.compute(2, b=3)
        samples = scrape(f"http://127.0.0.1:{port}/metrics")
        ok = {"service": "itest", "outcome": "ok"}
        assert value(samples, "rpcgen_server_handled_total", method="hello", **ok) == 1
        assert value(samples, "rpcgen_server_handled_total", method="compute", **ok) == 1
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        out, _ = proc.communicate(timeout=10)
        print(out)


def test_metrics_needs_the_http_port(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(APP)
    env = {**os.environ, "PYTHONPATH": f"{ROOT}"}
    done = subprocess.run(
        [sys.executable, "-m", "rpcgen", "serve", "app:Itest", "--metrics"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert "--metrics needs --http-port" in done.stderr
