"""Repository-wide pytest set-up: the tests need rpcgen installed, with its pytest plugin.

The plugin (``rpcgen.runtime.testing``, entry point ``rpcgen``) provides the broker fixtures;
``nameko_greeter`` (below) is Nameko 2.14.1's greeter for any folder; tests/interop/conftest.py
adds the Nameko fixtures that run once per Nameko version.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from rpcgen.runtime.testing import Vhost

    from tests.interop.harness import NamekoServices

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
