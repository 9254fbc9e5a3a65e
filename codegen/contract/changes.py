"""A change found by ``rpcgen diff``, its verdict, and the summary line."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Change", "report", "summary", "type_why"]


@dataclass(frozen=True)
class Change:
    """One change: where, what, whom it breaks, and why."""

    where: str
    what: str
    callers: bool = False
    servers: bool = False
    why: str = ""

    @property
    def verdict(self) -> str:
        broken = [who for who, hit in (("callers", self.callers), ("servers", self.servers)) if hit]
        return f"breaks {' and '.join(broken)}" if broken else "compatible"

    def as_json(self) -> dict[str, object]:
        return {
            "where": self.where,
            "change": self.what,
            "breaks_callers": self.callers,
            "breaks_servers": self.servers,
            "verdict": self.verdict,
            "why": self.why,
        }


_WHY = {
    ("param", "callers"): "new servers refuse some arguments existing callers send",
    ("param", "servers"): "old servers refuse some arguments new callers send",
    ("result", "callers"): "existing callers refuse some results new servers send",
    ("result", "servers"): "new callers refuse some results old servers send",
}


def type_why(position: str, callers: bool, servers: bool) -> str:
    """Why a type change at ``position`` (param or result) breaks whom it breaks."""
    parts = [
        _WHY[position, who] for who, hit in (("callers", callers), ("servers", servers)) if hit
    ]
    return "; ".join(parts) or "each side still accepts everything the other sends"


def summary(changes: Sequence[Change]) -> str:
    callers = sum(c.callers for c in changes)
    servers = sum(c.servers for c in changes)
    compatible = sum(not (c.callers or c.servers) for c in changes)
    return (
        f"{len(changes)} change{'s' * (len(changes) != 1)}: {callers} break callers, "
        f"{servers} break servers, {compatible} compatible"
    )


def report(changes: Sequence[Change], fmt: str) -> str:
    """The changes as text (one line each, breaking first) or as a JSON document."""
    if fmt == "json":
        doc = {
            "breaking": any(c.callers or c.servers for c in changes),
            "summary": summary(changes),
            "changes": [c.as_json() for c in changes],
        }
        return json.dumps(doc, indent=2)
    ordered = sorted(changes, key=lambda c: (not c.callers, not c.servers))
    width = max((len(c.verdict) for c in ordered), default=0)
    lines = [f"{_label(c):<{width}}  {c.where}: {c.what} ({c.why})" for c in ordered]
    return "\n".join([*lines, summary(changes)])


def _label(change: Change) -> str:
    """BREAKS CALLERS in capitals, so that it stands out from "compatible"."""
    return change.verdict if change.verdict == "compatible" else change.verdict.upper()
