"""Importing the runtime or a generated module changes nothing global; a Connection installs
the pika fixes (``rpcgen.runtime._amqp.pikafix``)."""

from __future__ import annotations

import subprocess
import sys

_PROBE = """
import logging
import pika.data
original = pika.data.decode_value
original_table = pika.data.decode_table
names = [
    "pika.connection",
    "pika.adapters.base_connection",
    "pika.adapters.utils.connection_workflow",
    "pika.adapters.utils.io_services_utils",
]
before = {n: list(logging.getLogger(n).filters) for n in names}
import rpcgen.runtime
import rpcgen.runtime.testing
import generated.hello
import generated.ledger
assert pika.data.decode_value is original, pika.data.decode_value
assert pika.data.decode_table is original_table, pika.data.decode_table
assert {n: list(logging.getLogger(n).filters) for n in names} == before
from rpcgen.runtime._amqp import pikafix
pikafix.install()
pikafix.install()
assert pika.data.decode_value is not original
assert pika.data.decode_table is not original_table
assert all(len(logging.getLogger(n).filters) == len(before[n]) + 1 for n in names)
print("ok")
"""


def test_imports_leave_pika_untouched_until_a_connection_installs_the_fixes() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_testing_package_does_not_import_pytest() -> None:
    probe = "import sys, rpcgen.runtime.testing; print('pytest' in sys.modules)"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "False"


def test_runtime_and_its_testing_package_do_not_import_redis_py() -> None:
    probe = """
import sys
import rpcgen, rpcgen.runtime, rpcgen.runtime.testing, rpcgen.runtime.testing.plugin
import rpcgen.runtime.testing.redis
print(sorted(name for name in sys.modules if name == "redis" or name.startswith("redis.")))
"""
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"


def test_logging_probes_settings_and_prometheus_configure_nothing_on_import() -> None:
    probe = """
import logging
import prometheus_client
before = set(prometheus_client.REGISTRY._names_to_collectors)
import rpcgen.runtime.logs, rpcgen.runtime.probes, rpcgen.settings, rpcgen.prometheus
from rpcgen.runtime import _metrics
assert not logging.getLogger().handlers
assert set(prometheus_client.REGISTRY._names_to_collectors) == before
assert _metrics.meter is None
print("ok")
"""
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
