"""Repository-wide pytest set-up: the tests need rpcgen installed, with its pytest plugin.

The plugin (``rpcgen.runtime.testing``, entry point ``rpcgen``) provides the broker fixtures;
``nameko_greeter`` (below) is Nameko 2.14.1's greeter for any folder; tests/interop/conftest.py
adds the Nameko fixtures that run once per Nameko version.
"""

from __future__ import annotations

import importlib.util
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from rpcgen.runtime.testing import Vhost

    from tests.interop.harness import NamekoServices

SKIPS_ALLOWED = Path(__file__).resolve().parent / "skips-allowed.txt"
INSTALL = "run scripts/test, or: pip install -e '.[dev]' --config-settings editable_mode=strict"


def pytest_configure(config: pytest.Config) -> None:
    if importlib.util.find_spec("rpcgen") is None:
        raise pytest.UsageError(f"rpcgen is not installed in this Python; {INSTALL}")
    if not config.pluginmanager.has_plugin("rpcgen"):
        raise pytest.UsageError(
            f"rpcgen's pytest plugin is not loaded (disabled with -p no:rpcgen?); {INSTALL}"
        )


@pytest.fixture
def nameko_greeter(rabbit_vhost: Vhost, tmp_path: Path) -> Iterator[NamekoServices]:
    """Nameko 2.14.1's ``greeter`` and ``relay`` (tests/interop/nameko_side/greeter.py) in this
    test's vhost, consuming; skips without its virtualenv (fails under CI)."""
    from tests.interop.harness import nameko_greeter_running

    with nameko_greeter_running(rabbit_vhost, tmp_path) as services:
        yield services


# -- skips: counted, and under scripts/test only the reviewed ones pass ----------------------------

_skips: list[tuple[str, str]] = []  # (test id, reason)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped and not hasattr(report, "wasxfail"):
        longrepr = report.longrepr
        reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        _skips.append((report.nodeid, reason.removeprefix("Skipped: ")))


def _allowed_skips() -> list[re.Pattern[str]]:
    lines = SKIPS_ALLOWED.read_text().splitlines()
    return [
        re.compile(line.split("|")[0].strip())
        for line in lines
        if line.strip() and not line.startswith("#")
    ]


def _unexplained_skips() -> list[tuple[str, str]]:
    allowed = _allowed_skips()
    return [(test, why) for test, why in _skips if not any(p.search(why) for p in allowed)]


def _checking_skips() -> bool:
    return os.environ.get("RPCGEN_CHECK_SKIPS") == "1"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _checking_skips() and _unexplained_skips() and exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any) -> None:
    unexplained = _unexplained_skips()
    terminalreporter.write_line(
        f"skips: {len(_skips)} ({len(_skips) - len(unexplained)} on tests/skips-allowed.txt, "
        f"{len(unexplained)} not)"
    )
    for test, why in unexplained:
        terminalreporter.write_line(f"  unexplained skip: {test}: {why}")
    if unexplained and _checking_skips():
        terminalreporter.write_line(
            "a skip not on tests/skips-allowed.txt fails the test command: make the test run, "
            "or add its reason to the list with why"
        )
