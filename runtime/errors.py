"""Error tree. STUB: to be completed (serialization, registry)."""

from __future__ import annotations

__all__ = ["RpcError", "ServiceError"]


class RpcError(Exception):
    """Root of every error rpcgen raises."""


class ServiceError(RpcError):
    """Base of the generated classes for errors declared in the IDL with ``@raises``."""
