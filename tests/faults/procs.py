"""Servers in subprocesses, as in production, for the tests that kill or signal them."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]

# Itest with two fault hooks: hello("crash") kills the process mid-request (os._exit, no
# cleanup, no ack), and every handler start is announced on stdout.
SERVER = textwrap.dedent(
    """
    import logging, os, sys
    import rpcgen.runtime as rt
    from tests.integration.impls import Itest

    class Faulty(Itest):
        def hello(self, name: str) -> str:
            if name == "crash":
                print("crashing", flush=True)
                os._exit(3)
            return super().hello(name)

    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    rt.serve(Faulty(), sys.argv[1], max_workers=int(sys.argv[2]), prefetch=int(sys.argv[3]))
    """
)


class ServerProcess:
    """``rt.serve`` of the faulty Itest in a child process; its log goes to a file."""

    def __init__(self, uri: str, log: Path, *, max_workers: int = 4, prefetch: int = 4) -> None:
        self.log = log
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self._log_file = log.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-c", SERVER, uri, str(max_workers), str(prefetch)],
            env=env, stdout=subprocess.PIPE, stderr=self._log_file, text=True,
        )  # fmt: skip

    def wait_serving(self, timeout: float = 30.0) -> None:
        def serving() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited:\n{self.log.read_text()}")
            return "serving itest" in self.log.read_text()

        wait_until(serving, timeout, describe=self.log.read_text)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self._log_file.close()
