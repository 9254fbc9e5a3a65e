"""rpcgen: typed RPC over RabbitMQ, wire-compatible with Nameko.

IDL authors need only ``from rpcgen import service, raises``; generated code imports
``rpcgen.runtime``; the ``rpcgen`` command lives in ``rpcgen.cli``.
"""

from rpcgen.codegen.markers import raises, service

__all__ = ["raises", "service"]
__version__ = "0.1.0"
