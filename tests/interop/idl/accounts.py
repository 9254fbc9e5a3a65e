"""The contract of ../nameko_side/accounts.py: methods named like rpcgen's own client API.

rpcgen generates them as ``close_``, ``connect_``, ``methods_`` and ``with_timeout_``; on the wire
they stay ``accounts.close`` and so on. ``list`` keeps its name.
"""

from __future__ import annotations

from typing import Protocol

from rpcgen import service


@service("accounts")
class Accounts(Protocol):
    def close(self, account_id: str) -> str: ...
    def connect(self, host: str, port: int = 5672) -> str: ...
    def list(self) -> list[str]: ...
    def methods(self) -> list[str]: ...
    def with_timeout(self, seconds: float) -> float: ...
