"""Golden wire samples captured from Nameko 2.14.1 (``captured/*.json``), and how to compare.

Each file holds one call (``call``: service, method, args with kombu markers, kwargs, context
data) and every message a spy queue bound with ``#`` to ``nameko-rpc`` saw for it, in order:
exchange, routing key, the properties present on the wire, and the exact body text (Nameko's JSON
is ASCII). Random ids (uuid4: correlation ids, reply-to keys, call ids) are replaced by
``<id-1>``, ``<id-2>``, ... in order of first appearance, so equal ids stay equal.

A byte-level test of rpcgen makes the same call, spies on it the same way, and compares
``normalize(spy messages)`` with ``load(name).messages``.
Re-record with ``RPCGEN_UPDATE_CAPTURES=1 pytest tests/interop/test_nameko_captures.py``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rpcgen.runtime.testing import SpiedMessage

CAPTURED = Path(__file__).resolve().parent / "captured"
UUID4 = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


@dataclass(frozen=True)
class CallSpec:
    """The call a capture records; ``args``/``kwargs`` use kombu's ``__type__`` markers."""

    service: str
    method: str
    args: Sequence[Any] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    context_data: Mapping[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "method": self.method,
            "args": list(self.args),
            "kwargs": dict(self.kwargs),
            "context_data": None if self.context_data is None else dict(self.context_data),
        }


@dataclass(frozen=True)
class Capture:
    name: str
    description: str
    call: CallSpec
    messages: list[dict[str, Any]]  # normalized; see normalize()


class IdNormalizer:
    """Replaces uuid4 strings by ``<id-N>``, numbering them in order of first appearance."""

    def __init__(self) -> None:
        self.seen: dict[str, str] = {}

    def text(self, value: str) -> str:
        return UUID4.sub(
            lambda m: self.seen.setdefault(m.group(), f"<id-{len(self.seen) + 1}>"), value
        )

    def value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, bytes):
            return self.text(value.decode())
        if isinstance(value, list):
            return [self.value(v) for v in value]
        if isinstance(value, dict):
            return {self.text(k): self.value(v) for k, v in value.items()}
        return value


def normalize(messages: Iterable[SpiedMessage]) -> list[dict[str, Any]]:
    """Spied messages as comparable JSON data, ids normalized across all of them."""
    ids = IdNormalizer()
    out = []
    for msg in messages:
        out.append(
            {
                "kind": "request" if "reply_to" in msg.properties else "reply",
                "exchange": msg.exchange,
                "routing_key": ids.text(msg.routing_key),
                "properties": ids.value(msg.properties),
                "body": ids.text(msg.body.decode("ascii")),  # Nameko's JSON is ensure_ascii
            }
        )
    return out


# Nameko 3's standalone client names itself differently (docs/wire.md, section 9): its reply
# queue is ``rpc.reply-standalone_rpc_client-<id>`` and its call id
# ``standalone_rpc_client.<client id>.<new id>``, where 2.14.1's standalone proxy has
# ``rpc.reply-standalone_rpc_proxy-<id>`` and ``standalone_rpc_proxy.call.<id>``. Everything
# else each version sends is the same, byte for byte (tests/interop/test_nameko_captures.py).
_CLIENT_CALL_ID = re.compile(rf"standalone_rpc_client\.(?:{UUID4.pattern})\.({UUID4.pattern})")


def as_nameko_2(text: str) -> str:
    """``text`` with Nameko 3's standalone client names written as Nameko 2.14.1 writes them."""
    text = _CLIENT_CALL_ID.sub(r"standalone_rpc_proxy.call.\1", text)
    return text.replace("rpc.reply-standalone_rpc_client-", "rpc.reply-standalone_rpc_proxy-")


def messages_as_nameko_2(messages: Iterable[SpiedMessage]) -> list[SpiedMessage]:
    """Spied messages of a Nameko 3 client, its names translated by ``as_nameko_2``."""
    return [
        SpiedMessage(
            m.exchange,
            as_nameko_2(m.routing_key),
            json.loads(as_nameko_2(json.dumps(m.properties))),
            as_nameko_2(m.body.decode("ascii")).encode("ascii"),
        )
        for m in messages
    ]


def path_of(name: str) -> Path:
    return CAPTURED / f"{name}.json"


def load(name: str) -> Capture:
    raw = json.loads(path_of(name).read_text())
    call = raw["call"]
    spec = CallSpec(
        call["service"], call["method"], call["args"], call["kwargs"], call["context_data"]
    )
    return Capture(name, raw["description"], spec, raw["messages"])


def dump(capture: Capture) -> str:
    data = {
        "description": capture.description,
        "nameko": "2.14.1",
        "call": capture.call.to_json(),
        "messages": capture.messages,
    }
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def names() -> list[str]:
    return sorted(p.stem for p in CAPTURED.glob("*.json") if p.stem != "topology")
