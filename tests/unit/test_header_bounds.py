"""Header decoding is total and bounded once ``pikafix.install()`` ran (as any Connection does):
a table too deep, too big or not decodable at all becomes an empty ``UndecodedHeaders`` saying
why, and the properties after it still decode (the table's length prefix frames it)."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pika
import pytest
from rpcgen.runtime._amqp import pikafix
from rpcgen.runtime._amqp.pikafix import MAX_HEADER_DEPTH, MAX_HEADER_VALUES, undecoded

from tests.faults.rawamqp import RawField, raw_fields, timestamp


@pytest.fixture(autouse=True)
def _installed() -> Iterator[None]:
    pikafix.install()  # what every Connection does; idempotent
    yield


def nested(kind: bytes, levels: int) -> RawField:
    """A table (``F``) or array (``A``) value nested ``levels`` deep, one entry per level."""
    payload = b""
    for _ in range(levels):
        entry = b"\x01k" + kind + payload if kind == b"F" else kind + payload
        inner = payload if not payload else entry
        payload = struct.pack(">I", len(inner)) + inner
    return RawField(kind, payload)


def round_trip(headers: dict[str, Any]) -> Any:
    """Encode properties with ``headers`` as a publisher would, decode them as a consumer."""
    sent = pika.BasicProperties(
        headers=headers, delivery_mode=2, correlation_id="cid-1", reply_to="back"
    )
    with raw_fields():
        encoded = b"".join(sent.encode())
    got = pika.BasicProperties()
    got.decode(encoded)
    # Whatever happened to the headers, the fields after them are intact.
    assert (got.delivery_mode, got.correlation_id, got.reply_to) == (2, "cid-1", "back")
    return got.headers


def depth_of(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((depth_of(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((depth_of(v) for v in value), default=0)
    return 0


@pytest.mark.parametrize("kind", [b"F", b"A"])
def test_nesting_up_to_the_bound_decodes(kind: bytes) -> None:
    headers = round_trip({"deep": nested(kind, MAX_HEADER_DEPTH - 1)})
    assert undecoded(headers) is None
    assert depth_of(headers) == MAX_HEADER_DEPTH


@pytest.mark.parametrize("kind", [b"F", b"A"])
@pytest.mark.parametrize("levels", [MAX_HEADER_DEPTH, 5000])
def test_nesting_past_the_bound_is_undecoded(kind: bytes, levels: int) -> None:
    headers = round_trip({"deep": nested(kind, levels)})
    assert headers == {}
    assert f"nested deeper than {MAX_HEADER_DEPTH} levels" in str(undecoded(headers))


def test_values_up_to_the_bound_decode() -> None:
    table = {f"k{i}": None for i in range(MAX_HEADER_VALUES)}
    headers = round_trip(table)
    assert undecoded(headers) is None and headers == table


@pytest.mark.parametrize(
    "headers",
    [
        {f"k{i}": None for i in range(MAX_HEADER_VALUES + 1)},
        {"many": [None] * MAX_HEADER_VALUES},  # the array is a value too
        {"many": [None] * 30_000},
        {f"t{i}": {"a": [1, 2]} for i in range(MAX_HEADER_VALUES // 3)},  # counted at each level
    ],
    ids=["flat", "array-just-over", "array-huge", "nested"],
)
def test_too_many_values_are_undecoded(headers: dict[str, Any]) -> None:
    got = round_trip(headers)
    assert got == {}
    assert f"more than {MAX_HEADER_VALUES} values" in str(undecoded(got))


def test_an_unknown_field_type_is_undecoded() -> None:
    got = round_trip({"odd": RawField(b"?", b""), "x-later": "ok"})
    assert got == {}
    assert "cannot decode" in str(undecoded(got))


def test_ordinary_headers_and_odd_timestamps_decode_as_before() -> None:
    got = round_trip(
        {
            "nameko.call_id_stack": ["a.b.1", "c.d.2"],
            "when": timestamp(2**62),  # past datetime's range: its seconds
            "then": timestamp(0),
            "n": {"x": [1, "y", {"z": True}]},
        }
    )
    assert undecoded(got) is None
    assert got["nameko.call_id_stack"] == ["a.b.1", "c.d.2"]
    assert got["when"] == 2**62
    assert isinstance(got["then"], datetime)
    assert got["n"] == {"x": [1, "y", {"z": True}]}
