"""Repository-wide pytest set-up: the tests need rpcgen installed, with its pytest plugin.

The plugin (``rpcgen.runtime.testing``, entry point ``rpcgen``) provides the broker fixtures;
tests/interop/conftest.py adds the Nameko ones.
"""

from __future__ import annotations

import importlib.util

import pytest

INSTALL = "run scripts/test, or: pip install -e '.[dev]' --config-settings editable_mode=strict"


def pytest_configure(config: pytest.Config) -> None:
    if importlib.util.find_spec("rpcgen") is None:
        raise pytest.UsageError(f"rpcgen is not installed in this Python; {INSTALL}")
    if not config.pluginmanager.has_plugin("rpcgen"):
        raise pytest.UsageError(
            f"rpcgen's pytest plugin is not loaded (disabled with -p no:rpcgen?); {INSTALL}"
        )
