"""Throwaway RabbitMQ brokers for tests, demos and benchmarks (stdlib only, no pika).

``RabbitNode`` starts a private node from Debian's ``rabbitmq-server`` package: free loopback ports,
its own data folder, cookie, ``HOME`` and epmd, so parallel sessions never meet. ``ExternalBroker``
wraps a broker that is already running. Both expose the ``Broker`` surface the fixtures use.
The recipe and its measured pitfalls are in docs/wire.md §10.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from rpcgen.runtime.testing.broker import (
    Broker,
    ExternalBroker,
    free_port,
    kill_epmd,
    wait_gone,
)
from rpcgen.runtime.testing.management import BrokerError, Management, QueueConsumer, QueueInfo
from rpcgen.runtime.testing.tls import TlsFiles, make_tls_files

__all__ = [
    "SBIN",
    "Broker",
    "BrokerError",
    "ExternalBroker",
    "RabbitNode",
    "TlsFiles",
    "free_port",
    "kill_epmd",
]

#: Where the Debian package keeps the scripts that run as the caller (the sbin links `su rabbitmq`).
SBIN = Path("/usr/lib/rabbitmq/bin")
_LOOPBACK_DIST = "-kernel inet_dist_use_interface {127,0,0,1}"


class RabbitNode(Broker):
    """One ephemeral RabbitMQ node on loopback; ``close()`` removes every trace of it.

    ``stop()``/``start()`` restart it on the same data folder and ports (durable state survives);
    ``kill()`` is SIGKILL. Use it as a context manager, or call ``close()``.
    """

    def __init__(
        self,
        *,
        tls: bool = False,
        management: bool = True,
        boot_timeout: float = 90.0,
        cookie: str | None = None,
        epmd_port: int | None = None,
        boot: bool = True,
        amqp_port: int | None = None,
    ) -> None:
        """Make the node's folder and boot it (unless ``boot=False``: then ``start()`` it).

        ``amqp_port`` fixes the AMQP listener's port (``rpcgen broker --port``); by default, and
        for every other listener, a free loopback port is picked.

        ``cookie`` and ``epmd_port`` are for nodes that must see each other (``RabbitCluster``);
        a node given an ``epmd_port`` leaves that epmd to its owner.
        """
        if not (SBIN / "rabbitmq-server").exists():
            raise BrokerError(
                f"{SBIN}/rabbitmq-server not found: install Debian's rabbitmq-server package"
            )
        self.dir = Path(tempfile.mkdtemp(prefix="rpcgen-rmq-"))
        self.amqp_port = amqp_port if amqp_port is not None else free_port()
        self.dist_port = free_port()
        self.epmd_port = epmd_port if epmd_port is not None else free_port()
        self._owns_epmd = epmd_port is None
        self._cookie = cookie or secrets.token_hex(16)
        self.mgmt_port = free_port() if management else None
        self.amqps_port = free_port() if tls else None
        self.nodename = f"rpcgen{self.amqp_port}@localhost"
        self.uri = f"amqp://guest:guest@127.0.0.1:{self.amqp_port}/"
        self.boot_timeout = boot_timeout
        self.tls: TlsFiles | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._closed = False
        atexit.register(self.close)
        try:
            self._write_files()
            self._env = self._make_env()
            if boot:
                self.start()
        except BaseException:
            self.close()
            raise

    # -- public surface -------------------------------------------------------------------------

    @property
    def amqps_uri(self) -> str:
        """``amqps://`` URI of the TLS listener; the client must trust ``self.tls.ca``."""
        if self.amqps_port is None:
            raise BrokerError("this node was started without tls=True")
        return f"amqps://guest:guest@localhost:{self.amqps_port}/"

    @property
    def mgmt_url(self) -> str:
        if self.mgmt_port is None:
            raise BrokerError("this node was started with management=False")
        return f"http://guest:guest@127.0.0.1:{self.mgmt_port}/"

    @property
    def log_path(self) -> Path:
        return self.dir / "log" / f"{self.nodename}.log"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> None:
        """Boot the node (again, after ``stop``/``kill``) and wait until it accepts work."""
        self.launch()
        self.wait_booted()

    def launch(self) -> None:
        """Start booting and return at once (``wait_booted`` finishes): boots nodes in parallel."""
        if self.running:
            raise BrokerError(f"{self.nodename} is already running")
        (self.dir / "node.pid").unlink(missing_ok=True)  # a stale one would fool `rabbitmqctl wait`
        with open(self.dir / "stdout.log", "ab") as out:
            self._proc = subprocess.Popen(
                [str(SBIN / "rabbitmq-server")],
                env=self._env,
                cwd=self.dir,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # own process group: kill() takes the launcher and beam
            )

    def wait_booted(self) -> None:
        """Wait until the launched node accepts work; on failure, kill it and raise the cause."""
        try:
            self._wait_booted()
            if self.mgmt_port is not None:
                self.management = Management(self.mgmt_url)
                self.management.wait_ready(timeout=30)
        except BaseException:
            self.kill()  # a failed boot leaves nothing running; start() may be called again
            raise

    def stop(self, timeout: float = 30.0) -> None:
        """Graceful stop (SIGTERM to beam, which flushes durable state); waits for the exit.

        Takes ~1 s, but ~6 s with the management plugin: fault tests that restart a node
        should start it with ``management=False``.
        """
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        beam = self._beam_pid()
        with contextlib.suppress(ProcessLookupError):
            os.kill(beam if beam is not None else proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise BrokerError(
                f"{self.nodename} did not stop within {timeout}s; killed it"
            ) from None

    def kill(self) -> None:
        """SIGKILL the node (launcher, beam and its helpers), as a crash would."""
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        beam = self._beam_pid()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
        if beam is not None:
            wait_gone(beam, timeout=10)  # beam is the launcher's child: the wait above misses it

    def ctl(self, *args: str, timeout: float = 60.0) -> str:
        """Run ``rabbitmqctl -q -n NODE *args`` against this node and return its stdout."""
        return self._cli("rabbitmqctl", *args, timeout=timeout)

    def list_queues(self, vhost: str) -> list[QueueInfo]:
        """Exact queue state from the queue processes (rabbitmqctl, ~0.4 s), not the stats DB."""
        return QueueInfo.from_ctl_json(
            self.ctl("list_queues", "-p", vhost, "--formatter", "json", *QueueInfo.CTL_COLUMNS)
        )

    def list_consumers(self, vhost: str) -> list[QueueConsumer]:
        """Exact consumers (rabbitmqctl), not the stats DB, which lags ~5 s."""
        return QueueConsumer.from_ctl_json(
            self.ctl(
                "list_consumers", "-p", vhost, "--formatter", "json", *QueueConsumer.CTL_COLUMNS
            )
        )

    def add_vhost(self, name: str) -> str:
        if self.mgmt_port is not None:
            return super().add_vhost(name)
        self.ctl("add_vhost", name)
        self.ctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
        return self.vhost_uri(name)

    def delete_vhost(self, name: str) -> None:
        if self.mgmt_port is not None:
            super().delete_vhost(name)
            return
        with contextlib.suppress(BrokerError):
            self.ctl("delete_vhost", name)

    def close(self) -> None:
        """Kill the node and its private epmd and delete its folder; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        atexit.unregister(self.close)
        try:
            # No graceful stop: the data is deleted anyway, and with the management plugin a
            # graceful stop takes 5 s longer (its stats agent stops on a timeout).
            self.kill()
            if self._owns_epmd:
                kill_epmd(self.epmd_port)
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> RabbitNode:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"RabbitNode({self.nodename}, amqp={self.amqp_port}, dir={self.dir})"

    # -- internals ------------------------------------------------------------------------------

    def _write_files(self) -> None:
        d = self.dir
        cookie = d / ".erlang.cookie"
        cookie.write_text(self._cookie)
        cookie.chmod(0o400)  # Erlang refuses a cookie readable by others
        (d / "rabbitmq-env.conf").write_text("")  # shields the package's system-wide env file
        (d / "advanced.config").write_text("[].\n")
        plugins = "[rabbitmq_management]" if self.mgmt_port is not None else "[]"
        (d / "enabled_plugins").write_text(plugins + ".\n")
        if self.amqps_port is not None:
            self.tls = make_tls_files(d / "certs")
        (d / "rabbitmq.conf").write_text(self._config())

    def _config(self) -> str:
        lines = [
            f"listeners.tcp.1 = 127.0.0.1:{self.amqp_port}",
            # Queue/consumer counters in the management API refresh this often (default 5 s).
            "collect_statistics_interval = 500",
        ]
        if self.mgmt_port is not None:
            lines += ["management.tcp.ip = 127.0.0.1", f"management.tcp.port = {self.mgmt_port}"]
        if self.tls is not None and self.amqps_port is not None:
            lines += [
                f"listeners.ssl.1 = 127.0.0.1:{self.amqps_port}",  # .default would bind 0.0.0.0
                f"ssl_options.cacertfile = {self.tls.ca}",
                f"ssl_options.certfile = {self.tls.server_cert}",
                f"ssl_options.keyfile = {self.tls.server_key}",
                "ssl_options.verify = verify_peer",
                "ssl_options.fail_if_no_peer_cert = false",
                "ssl_options.versions.1 = tlsv1.3",
                "ssl_options.versions.2 = tlsv1.2",
            ]
        return "\n".join(lines) + "\n"

    def _make_env(self) -> dict[str, str]:
        d = self.dir
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RABBITMQ_", "ERL_"))}
        env.update(
            HOME=str(d),  # => the cookie above, for the server and every CLI call
            RABBITMQ_NODENAME=self.nodename,
            RABBITMQ_NODE_IP_ADDRESS="127.0.0.1",
            RABBITMQ_NODE_PORT=str(self.amqp_port),
            RABBITMQ_DIST_PORT=str(self.dist_port),  # the default, port + 20000, can overflow
            RABBITMQ_MNESIA_BASE=str(d / "mnesia"),
            RABBITMQ_LOG_BASE=str(d / "log"),
            RABBITMQ_PID_FILE=str(d / "node.pid"),
            RABBITMQ_CONF_ENV_FILE=str(d / "rabbitmq-env.conf"),
            RABBITMQ_CONFIG_FILE=str(d / "rabbitmq.conf"),
            RABBITMQ_ADVANCED_CONFIG_FILE=str(d / "advanced.config"),
            RABBITMQ_ENABLED_PLUGINS_FILE=str(d / "enabled_plugins"),
            RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=_LOOPBACK_DIST,
            RABBITMQ_CTL_ERL_ARGS=_LOOPBACK_DIST,
            # A private epmd: never touches (or leaves behind) the machine's shared one on 4369.
            ERL_EPMD_PORT=str(self.epmd_port),
            ERL_EPMD_ADDRESS="127.0.0.1",
        )
        return env

    def _cli(self, tool: str, *args: str, timeout: float) -> str:
        try:
            done = subprocess.run(
                [str(SBIN / tool), "-q", "-n", self.nodename, *args],
                env=self._env,
                cwd=self.dir,  # a failing CLI VM drops erl_crash.dump into its cwd
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise BrokerError(f"{tool} {' '.join(args)}: no answer within {timeout}s") from None
        if done.returncode != 0:
            raise BrokerError(
                f"{tool} {' '.join(args)} failed ({done.returncode}): {done.stderr.strip()}"
            )
        return done.stdout

    def _wait_booted(self) -> None:
        """Wait for the pid file and the booted ``rabbit`` app; fail fast if the node dies."""
        pidfile = str(self.dir / "node.pid")
        cmd = [
            str(SBIN / "rabbitmqctl"),
            "-q",
            "-n",
            self.nodename,
            "wait",
            pidfile,
            "--timeout",
            str(int(self.boot_timeout)),
        ]
        waiter = subprocess.Popen(
            cmd,
            env=self._env,
            cwd=self.dir,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + self.boot_timeout + 10
        try:
            while waiter.poll() is None:
                if self._proc is not None and self._proc.poll() is not None:
                    raise BrokerError(f"{self.nodename} exited during boot:\n{self._log_tail()}")
                if time.monotonic() > deadline:
                    raise BrokerError(
                        f"{self.nodename} did not boot in {self.boot_timeout}s:\n{self._log_tail()}"
                    )
                time.sleep(0.1)
            if waiter.returncode != 0:
                out = waiter.stdout.read().decode(errors="replace") if waiter.stdout else ""
                raise BrokerError(f"`rabbitmqctl wait` failed: {out.strip()}\n{self._log_tail()}")
        finally:
            if waiter.poll() is None:
                waiter.kill()
            waiter.wait()
            if waiter.stdout:
                waiter.stdout.close()

    def _beam_pid(self) -> int | None:
        with contextlib.suppress(OSError, ValueError):
            return int((self.dir / "node.pid").read_text().strip())
        return None

    def _log_tail(self) -> str:
        """The node log's first errors (the cause; later ones are fallout) and stdout's tail."""
        log, stdout = _lines(self.log_path), _lines(self.dir / "stdout.log")
        errors = [line for line in log if "[error]" in line or "[critical]" in line][:12]
        parts = [f"first errors in {self.log_path}:", *(errors or log[-12:])] if log else []
        parts += ["stdout of rabbitmq-server:", *stdout[-12:]] if stdout else []
        return "\n".join(parts) or f"no logs in {self.dir}"


def _lines(path: Path) -> list[str]:
    try:
        return path.read_text(errors="replace").splitlines()
    except OSError:
        return []
