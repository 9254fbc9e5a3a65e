"""rpcgen: typed RPC over RabbitMQ, wire-compatible with Nameko.

IDL authors need only ``from rpcgen import service, raises, exc_path, event``; generated code
imports ``rpcgen.runtime``; the ``rpcgen`` command lives in ``rpcgen.cli``.
"""

from rpcgen.codegen.markers import event, exc_path, raises, service

__all__ = ["event", "exc_path", "raises", "service"]
__version__ = "0.1.0"  # the one place: pyproject reads it, CHANGELOG.md says what changed
