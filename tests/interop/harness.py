"""Real Nameko 2.14.1 on the other side of the wire, run in its own virtualenv.

Nothing here imports nameko or eventlet: ``NamekoServices`` runs ``nameko run`` on the modules in
``nameko_side/`` and ``NamekoDriver`` keeps one ``nameko_side/driver.py`` process per session
that makes calls with Nameko's standalone proxies and reports what a Nameko user would see.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from rpcgen.runtime.testing import Vhost
from rpcgen.runtime.testing.plugin import skip_or_fail

from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
NAMEKO_SIDE = Path(__file__).resolve().parent / "nameko_side"
NAMEKO_VERSIONS = ("2.14.1", "3.0.0rc11")
# version: (environment variable, folder at the repo root) of its virtualenv
_ENVS = {
    "2.14.1": ("RPCGEN_NAMEKO_PYTHON", ".venv-nameko"),
    "3.0.0rc11": ("RPCGEN_NAMEKO3_PYTHON", ".venv-nameko3"),
}


def find_nameko_python(version: str = "2.14.1") -> Path | None:
    """That Nameko's python: $RPCGEN_NAMEKO[3]_PYTHON, else .venv-nameko[3]/, else /tmp/venv-...."""
    variable, folder = _ENVS[version]
    candidates = [os.environ.get(variable, ""), str(ROOT / folder / "bin/python")]
    candidates.append(f"/tmp/{folder[1:]}/bin/python")
    return next((Path(c) for c in candidates if c and Path(c).exists()), None)


def require_nameko_python(version: str = "2.14.1") -> Path:
    """That Nameko's python, or the test skips (fails under CI: scripts/test installs 2.14.1;
    3.0.0rc11 is a pre-release it may fail to install, so its absence only skips)."""
    python = find_nameko_python(version)
    if python is None:
        skip_or_fail(
            f"no Nameko {version} virtualenv: run scripts/test, or see tests/interop/harness.py",
            required_in_ci=version == "2.14.1",
        )
    return python


def nameko_greeter_running(
    vhost: Vhost, workdir: Path, version: str = "2.14.1", **options: Any
) -> contextlib.AbstractContextManager[NamekoServices]:
    """``nameko run greeter`` (``greeter`` and ``relay``) of that Nameko version in ``vhost``."""
    return nameko_running(require_nameko_python(version), vhost, workdir, **options)


@contextlib.contextmanager
def nameko_running(
    python: Path, vhost: Vhost, workdir: Path, **options: Any
) -> Iterator[NamekoServices]:
    """``NamekoServices(python, vhost, workdir, **options)``, consuming; killed after, its log
    printed (pytest shows it when the test failed)."""
    services = NamekoServices(python, vhost, workdir, **options)
    try:
        services.wait_ready()
        yield services
    finally:
        services.kill()
        print(f"--- {services.log_path} ---\n{services.log()}")


class NamekoError(RuntimeError):
    """The Nameko side itself failed (not a call: a crashed process or a failed job)."""


@dataclass(frozen=True)
class Outcome:
    """One call as a Nameko caller saw it: a result, or the exception it raised."""

    ok: bool
    result: Any = None  # kombu JSON: datetime, Decimal, ... stay {"__type__", "__value__"} dicts
    repr: str = ""  # repr() of the result in the Nameko process: shows the decoded types
    error: Mapping[str, Any] = field(default_factory=dict)  # class, str, args, exc_type, value

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Outcome:
        if raw["ok"]:
            return cls(True, raw["result"], raw["repr"])
        return cls(False, error=raw["error"])

    @property
    def value(self) -> Any:
        """The result; a failed call is an assertion error that shows the exception."""
        if not self.ok:
            raise AssertionError(f"the Nameko caller got an exception: {dict(self.error)}")
        return self.result

    @property
    def error_class(self) -> str:
        """Class of what the Nameko caller raised, e.g. ``nameko.exceptions.RemoteError``."""
        if self.ok:
            raise AssertionError(f"the Nameko caller got a result, not an exception: {self.repr}")
        return str(self.error["class"])


@dataclass(frozen=True)
class Call:
    method: str
    args: Sequence[Any] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)


class NamekoDriver:
    """One long-lived ``driver.py`` process: starting Nameko's imports costs about a second."""

    def __init__(self, python: Path, log_path: Path) -> None:
        self._log = open(log_path, "ab")  # noqa: SIM115  (closed in close())
        self.log_path = log_path
        self._proc = subprocess.Popen(
            [str(python), "-W", "ignore", "driver.py"],
            cwd=NAMEKO_SIDE,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            start_new_session=True,
        )
        hello = self._read_line(timeout=60)
        if not hello:
            raise NamekoError(f"the Nameko driver did not start\n{self.log_tail()}")
        self.version: str = json.loads(hello)["nameko"]

    def run(self, job: Mapping[str, Any], timeout: float = 60.0) -> list[Outcome]:
        """Send one job (see driver.py) and return one ``Outcome`` per call."""
        stdin = self._pipes()[0]
        stdin.write(json.dumps(job).encode() + b"\n")
        stdin.flush()
        line = self._read_line(timeout)
        if not line:
            raise NamekoError(
                f"no answer from the Nameko driver within {timeout}s\n{self.log_tail()}"
            )
        answer = json.loads(line)
        if "failed" in answer:
            raise NamekoError(
                f"Nameko driver job failed: {answer['failed']}\n{answer.get('traceback')}"
            )
        return [Outcome.from_json(r) for r in answer["results"]]

    def _read_line(self, timeout: float) -> bytes:
        stdout = self._pipes()[1]
        ready, _, _ = select.select([stdout], [], [], timeout)
        return stdout.readline() if ready else b""

    def _pipes(self) -> tuple[IO[bytes], IO[bytes]]:
        if self._proc.poll() is not None or self._proc.stdin is None or self._proc.stdout is None:
            raise NamekoError(
                f"the Nameko driver exited ({self._proc.returncode})\n{self.log_tail()}"
            )
        return self._proc.stdin, self._proc.stdout

    def log_tail(self, lines: int = 40) -> str:
        self._log.flush()
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def close(self) -> None:
        if self._proc.stdin is not None:
            with contextlib.suppress(OSError):
                self._proc.stdin.close()  # EOF ends the driver's loop
        try:
            self._proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(self._proc.pid, signal.SIGKILL)
            self._proc.wait()
        if self._proc.stdout is not None:
            self._proc.stdout.close()
        self._log.close()


@dataclass
class NamekoClient:
    """Nameko's standalone proxies pointed at one vhost, through the session's driver."""

    driver: NamekoDriver
    uri: str
    config: Mapping[str, Any] | None = None  # more Nameko config keys, e.g. rpc_exchange

    def call(
        self,
        service: str,
        method: str,
        *args: Any,
        context_data: Mapping[str, Any] | None = None,
        timeout: float = 10.0,
        proxy: str = "cluster",
        **kwargs: Any,
    ) -> Outcome:
        """``ClusterRpcProxy`` (or ``ServiceRpcProxy``) ``.<service>.<method>(*args, **kwargs)``."""
        job = self._job(service, [Call(method, args, kwargs)], context_data, timeout, proxy, "sync")
        [outcome] = self.driver.run(job, timeout=timeout + 30)
        return outcome

    def call_async(
        self,
        service: str,
        calls: Sequence[Call],
        *,
        context_data: Mapping[str, Any] | None = None,
        timeout: float = 10.0,
        proxy: str = "cluster",
    ) -> list[Outcome]:
        """Send every call with ``call_async`` on one proxy, then collect the results in order."""
        job = self._job(service, calls, context_data, timeout, proxy, "async")
        return self.driver.run(job, timeout=timeout * len(calls) + 30)

    def _job(
        self,
        service: str,
        calls: Sequence[Call],
        context_data: Mapping[str, Any] | None,
        timeout: float,
        proxy: str,
        mode: str,
    ) -> dict[str, Any]:
        return {
            "uri": self.uri,
            "proxy": proxy,
            "service": service,
            "context_data": dict(context_data) if context_data is not None else None,
            "timeout": timeout,
            "mode": mode,
            "config": dict(self.config) if self.config else None,
            "calls": [
                {"method": c.method, "args": list(c.args), "kwargs": dict(c.kwargs)} for c in calls
            ],
        }


class NamekoServices:
    """``nameko run <module>`` in the Nameko virtualenv, in one test's vhost."""

    def __init__(
        self,
        python: Path,
        vhost: Vhost,
        workdir: Path,
        *,
        module: str = "greeter",
        services: Sequence[str] = ("greeter", "relay"),
        env: Mapping[str, str] | None = None,
        config: Mapping[str, Any] | None = None,
    ) -> None:
        self.vhost = vhost
        self.services = tuple(services)
        self.log_path = workdir / f"nameko-{module}.log"
        config_path = workdir / f"nameko-{module}.yaml"
        # JSON is YAML, and Nameko reads its --config as YAML.
        config_path.write_text(json.dumps({"AMQP_URI": vhost.uri, **(config or {})}))
        with open(self.log_path, "ab") as log:
            self._proc = subprocess.Popen(
                [
                    str(python),
                    "-W",
                    "ignore",
                    "-m",
                    "nameko",
                    "run",
                    "--config",
                    str(config_path),
                    module,
                ],
                cwd=NAMEKO_SIDE,
                env={**os.environ, **(env or {})},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Wait until every service consumes its ``rpc-<service>`` queue."""

        def ready() -> bool:
            if self._proc.poll() is not None:
                raise NamekoError(f"nameko run exited ({self._proc.returncode}):\n{self.log()}")
            # Asked over AMQP (exact) rather than the management API, whose consumers are ~5 s late.
            return all(self.vhost.consumer_count(f"rpc-{s}") for s in self.services)

        try:
            wait_until(ready, timeout, what="Nameko services consuming")
        except AssertionError as exc:
            raise NamekoError(f"{exc}:\n{self.log()}") from None

    @property
    def pid(self) -> int:
        return self._proc.pid

    def exited(self) -> bool:
        """Whether the ``nameko run`` process has ended."""
        return self._proc.poll() is not None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 20.0) -> int:
        """SIGTERM (Nameko's graceful stop), SIGKILL after ``timeout``; returns the exit code."""
        if self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
            try:
                self._proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self._proc.pid, signal.SIGKILL)
                self._proc.wait()
        return self._proc.returncode

    def kill(self) -> None:
        """SIGKILL (teardown: a graceful Nameko stop costs ~3 s and the vhost is deleted anyway)."""
        if self._proc.poll() is None:
            os.killpg(self._proc.pid, signal.SIGKILL)
        self._proc.wait()
