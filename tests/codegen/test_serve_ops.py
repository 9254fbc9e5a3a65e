"""``rpcgen serve`` as production runs it: settings from a file, the environment and flags; JSON
logs; the application's own logging; a broker that comes up after the server."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
import rpcgen.runtime as rt
from cgtools import REPO
from rpcgen.runtime.testing import RabbitNode, Vhost
from rpcgen.runtime.testing.node import free_port

from generated.hello import DivisionByZero, HelloServiceClient
from tests.waiting import wait_until

APP = """
import logging

from generated.hello import DivisionByZero, HelloServiceServer


class Impl(HelloServiceServer):
    def test(self, name: str) -> str:
        logging.getLogger("app").info("greeting %s", name)
        return f"Hello, {name}!"

    def compute(self, a: int, b: int) -> int:
        if a == 13:
            raise RuntimeError("unlucky")  # undeclared
        return a + b

    def divide(self, a: int, b: int) -> float:
        if b == 0:
            raise DivisionByZero(f"cannot divide {a} by zero")
        return a / b


def with_own_logging() -> Impl:
    logging.basicConfig(level=logging.INFO, format="APP %(levelname)s %(message)s")
    return Impl()
"""


class Served:
    """``rpcgen serve`` in a subprocess, its output read line by line as it comes."""

    def __init__(self, cwd: Path, args: Sequence[str], env: dict[str, str] | None = None) -> None:
        environ = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "rpcgen", "serve", *args],
            cwd=cwd,
            env=environ,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, found: Callable[[str], bool], timeout: float = 60.0) -> str:
        def seen() -> tuple[str] | None:  # a tuple: an empty line found is found
            for line in list(self.lines):
                if found(line):
                    return (line,)
            assert self.proc.poll() is None or self._reader.is_alive(), self.output()
            return None

        return wait_until(seen, timeout, what="the line", describe=self.output)[0]

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=30)
        self._reader.join(10)
        return code

    def output(self) -> str:
        return "\n".join(self.lines)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._reader.join(10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., Served]]:
    (tmp_path / "app.py").write_text(APP)
    started: list[Served] = []

    def start(*args: str, env: dict[str, str] | None = None) -> Served:
        served = Served(tmp_path, args, env)
        started.append(served)
        return served

    yield start
    for served in started:
        served.kill()


def wait_until_served(client: HelloServiceClient, served: Served, timeout: float = 60) -> None:
    def answered() -> bool:
        try:
            client.test("ready?")
            return True
        except rt.UnknownService:  # the service queue is not bound yet
            assert served.proc.poll() is None, f"rpcgen serve exited early:\n{served.output()}"
            return False

    wait_until(answered, timeout, what="served", interval=0.1, describe=served.output)


def probe(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def prefetch_of(rabbit_vhost: Vhost, queue: str) -> list[int]:
    """The prefetch of each consumer of ``queue``, once the broker lists one (it lags)."""

    def found() -> list[int]:
        return [c.prefetch_count for c in rabbit_vhost.consumers() if c.queue == queue]

    return wait_until(found, 15, what=f"consumers of {queue}", interval=0.2)


def test_file_environment_and_flags_with_json_logs(
    serve: Callable[..., Served], tmp_path: Path, amqp_uri: str, rabbit_vhost: Vhost
) -> None:
    config = tmp_path / "rpcgen.toml"
    config.write_text(
        f'[serve]\namqp_uri = "{amqp_uri}"\nexchange = "ops-rpc"\nprefetch = 3\n'
        'log_format = "text"\n'
    )
    # The file says prefetch 3, the environment 4 (wins); the environment says text logs,
    # the flag json (wins); only the file names the exchange and the broker.
    served = serve(
        "app:Impl",
        "--config",
        str(config),
        "--log-format",
        "json",
        env={"RPCGEN_PREFETCH": "4", "RPCGEN_LOG_FORMAT": "text"},
    )
    with HelloServiceClient.connect(amqp_uri, timeout=10, exchange="ops-rpc") as client:
        wait_until_served(client, served)
        assert prefetch_of(rabbit_vhost, "rpc-hello_service") == [4]
        assert client.test("world") == "Hello, world!"
        with pytest.raises(DivisionByZero):
            client.divide(1, 0)
        with pytest.raises(rt.RemoteError, match="unlucky"):
            client.compute(13, 1)
    with (
        HelloServiceClient.connect(amqp_uri, timeout=10) as default,
        pytest.raises(rt.UnknownService),
    ):
        default.test("world")  # nothing is bound on nameko-rpc
    assert served.stop() == 0
    records = [json.loads(line) for line in served.lines]  # every line is one JSON object
    assert records, "no logs"
    for record in records:
        assert {"time", "level", "logger", "message", "service", "method", "call_id"} <= set(record)
    greeting = next(r for r in records if r["message"] == "greeting world")
    assert greeting["logger"] == "app"
    assert greeting["service"] == "hello_service"
    assert greeting["method"] == "test"
    assert greeting["call_id"].startswith("hello_service.test.")
    [error] = [r for r in records if r["level"] == "ERROR"]  # the undeclared one only
    assert error["method"] == "compute"
    assert error["call_id"].startswith("hello_service.compute.")
    assert error["call_id"] in error["message"]
    assert "RuntimeError: unlucky" in error["exception"]
    assert "Traceback" in error["exception"]
    serving = next(r for r in records if r["message"].startswith("serving hello_service"))
    assert serving["service"] == "hello_service"
    assert serving["call_id"] is None


def test_the_applications_own_logging_wins(serve: Callable[..., Served], amqp_uri: str) -> None:
    served = serve("app:with_own_logging", "--amqp-uri", amqp_uri, "--log-format", "json")
    with HelloServiceClient.connect(amqp_uri, timeout=10) as client:
        wait_until_served(client, served)
        client.test("world")
    assert served.stop() == 0
    assert "APP INFO greeting world" in served.lines
    assert not [line for line in served.lines if line.startswith("{")]


def test_the_log_level_filters_and_text_logs_carry_the_call_id(
    serve: Callable[..., Served], amqp_uri: str
) -> None:
    served = serve("app:Impl", "--amqp-uri", amqp_uri, "--log-level", "error")
    with HelloServiceClient.connect(amqp_uri, timeout=10) as client:
        wait_until_served(client, served)
        client.test("world")  # its INFO record is filtered out
        with pytest.raises(rt.RemoteError):
            client.compute(13, 1)
    assert served.stop() == 0
    records = [line for line in served.lines if not line.startswith((" ", "Traceback"))]
    assert records and all(" ERROR " in line for line in records if line[:1].isdigit())
    [failed] = [line for line in records if " ERROR " in line]
    assert re.search(r" failed \[hello_service\.compute\.[0-9a-f-]{36}\]$", failed)
    assert "RuntimeError: unlucky" in served.output()
    assert "greeting world" not in served.output()


def test_a_bad_setting_exits_2_naming_its_source(serve: Callable[..., Served]) -> None:
    served = serve("app:Impl", env={"RPCGEN_MAX_WORKERS": "none"})
    assert served.proc.wait(timeout=60) == 2
    served.wait_for(lambda line: "$RPCGEN_MAX_WORKERS: 'none': not a number" in line, 5)


def test_a_server_started_before_its_broker_serves_once_it_is_up(
    serve: Callable[..., Served], rabbit_node_factory: Callable[..., RabbitNode]
) -> None:
    node = rabbit_node_factory(management=False, boot=False)
    port = free_port()
    served = serve(
        "app:Impl", "--amqp-uri", node.uri, "--startup-timeout", "120", "--http-host", "127.0.0.1",
        env={"RPCGEN_HTTP_PORT": str(port)},
    )  # fmt: skip
    served.wait_for(lambda line: "broker not reachable (attempt 2)" in line)
    assert probe(port, "/healthz") == (200, "ok\n")  # waiting is alive ...
    assert probe(port, "/readyz") == (503, "starting\n")  # ... and not ready
    node.start()
    with HelloServiceClient.connect(node.uri, timeout=10) as client:
        wait_until_served(client, served)
        assert client.compute(2, 3) == 5
    assert probe(port, "/readyz") == (200, "ok\n")
    assert served.stop() == 0
    served.wait_for(lambda line: "connected after" in line, 1)
    assert "guest:guest@" not in served.output()


def test_the_start_up_limit_ends_with_a_clear_message(serve: Callable[..., Served]) -> None:
    uri = f"amqp://guest:guest@127.0.0.1:{free_port()}/"
    started = time.monotonic()
    served = serve("app:Impl", "--amqp-uri", uri, "--startup-timeout", "2")
    assert served.proc.wait(timeout=60) == 1
    assert time.monotonic() - started < 30
    served.wait_for(lambda line: "gave up after" in line and "start-up limit is 2 s" in line, 5)
    served.wait_for(lambda line: "Connection refused" in line, 1)


def test_a_signal_while_waiting_for_the_broker_exits_at_once(
    serve: Callable[..., Served],
) -> None:
    uri = f"amqp://guest:guest@127.0.0.1:{free_port()}/"
    served = serve("app:Impl", "--amqp-uri", uri, "--startup-timeout", "300")
    served.wait_for(lambda line: "broker not reachable (attempt 1)" in line)
    assert served.stop() == 0
    served.wait_for(lambda line: "stopped hello_service before it connected" in line, 1)


def test_once_store_keeps_the_ids_in_redis_and_no_once_turns_it_off(
    serve: Callable[..., Served], amqp_uri: str, redis_url: str
) -> None:
    import redis

    db = redis.Redis.from_url(redis_url)
    db.flushall()
    served = serve("app:Impl", "--amqp-uri", amqp_uri, "--once-store", redis_url)
    with HelloServiceClient.connect(amqp_uri, timeout=10) as client:
        wait_until_served(client, served)
        client.test("world")
    assert served.stop() == 0
    keys = [k.decode() for k in db.keys("rpcgen:once:*")]
    assert keys and all(k.startswith("rpcgen:once:rpc-hello_service\x00") for k in keys)
    # Each call's reply, kept for its copies: the readiness probe's and "world"'s.
    replies = {db.get(k) for k in keys}
    assert b'D{"result": "Hello, world!", "error": null}' in replies
    db.flushall()
    served = serve(
        "app:Impl",
        "--amqp-uri",
        amqp_uri,
        env={"RPCGEN_ONCE_STORE": redis_url, "RPCGEN_ONCE": "false"},
    )
    with HelloServiceClient.connect(amqp_uri, timeout=10) as client:
        wait_until_served(client, served)
        client.test("world")
    assert served.stop() == 0
    assert db.keys("*") == []  # off: the store is not asked
    served = serve("app:Impl", "--once-store", "http://redis/")
    assert served.proc.wait(timeout=60) == 2
    served.wait_for(lambda line: "--once-store: 'http://redis/': expected a redis://" in line, 5)
