"""The one error type of the generator: a problem in an IDL module, located and actionable."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["IdlError"]


@dataclass(frozen=True)
class IdlError(Exception):
    """``idl/file.py:LINE: Service.method: what is wrong, and what to do``.

    ``service`` is the class the problem is in (a service, or a dataclass, enum, TypedDict or error
    class), ``method`` the method or field; either may be empty for module-level problems.
    """

    file: str
    line: int
    service: str
    method: str
    message: str

    def __str__(self) -> str:
        where = ".".join(part for part in (self.service, self.method) if part)
        prefix = f"{self.file}:{self.line}: "
        return f"{prefix}{where}: {self.message}" if where else f"{prefix}{self.message}"

    def sort_key(self) -> tuple[str, int, str, str, str]:
        return (self.file, self.line, self.service, self.method, self.message)
