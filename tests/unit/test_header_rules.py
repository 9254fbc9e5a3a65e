"""The header rules of ``wire`` agree with pika's encoder, which sends what rpcgen publishes.

``wire.is_encodable_header`` decides without pika (outside ``_amqp/``) what a handler's calls
may send on; ``wire.is_plain_header`` is the shortcut that skips that check. Both are compared
here with what pika's field-table encoder accepts, on generated values of every kind.
"""

from __future__ import annotations

import datetime
import decimal

from hypothesis import given, settings
from hypothesis import strategies as st
from pika import data as pika_data
from rpcgen.runtime._codec import wire

_leaves = st.one_of(
    st.text(),  # surrogates included: not UTF-8 encodable
    st.binary(max_size=8),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    st.decimals(allow_nan=True, places=None),
    st.datetimes(min_value=datetime.datetime(1900, 1, 1)),
    st.none(),
    st.tuples(st.text(max_size=3)),
)
_values = st.recursive(
    _leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=300), inner, max_size=3)
    ),
    max_leaves=8,
)
_keys = st.one_of(st.text(max_size=8), st.text(min_size=240, max_size=260))


def _pika_sends(key: str, value: object) -> bool:
    try:
        pika_data.encode_table([], {"nameko." + key.removeprefix("nameko."): value})
    except Exception:
        return False
    return True


@settings(max_examples=600, deadline=None)
@given(_keys, _values)
def test_is_encodable_header_agrees_with_pika(key: str, value: object) -> None:
    assert wire.is_encodable_header(key, value) == _pika_sends(key, value)


@settings(max_examples=300, deadline=None)
@given(_keys, _values)
def test_a_plain_header_is_always_encodable(key: str, value: object) -> None:
    if wire.is_plain_header(key, value):
        assert _pika_sends(key, value)


def test_the_usual_headers_are_plain() -> None:
    assert wire.is_plain_header("nameko.call_id_stack", ["a.b.1", "c.d.2"])
    assert wire.is_plain_header("nameko.rpcgen_deadline_ms", 1_790_000_000_000)
    # As pika decodes it off the wire: its own subclass of int.
    (received, _) = pika_data.decode_value(b"l" + (1_790_000_000_000).to_bytes(8, "big"), 0)
    assert type(received) is not int and wire.is_plain_header("nameko.d", received)
    assert wire.is_plain_header("nameko.user", "bob")
    assert not wire.is_plain_header("nameko.ratio", 0.5)
    assert not wire.is_plain_header("nameko.huge", 2**64)
    assert not wire.is_plain_header("k" * 250, "fits alone, not once prefixed")


def test_encodable_edge_values() -> None:
    assert wire.is_encodable_header("d", decimal.Decimal("1.5"))
    assert not wire.is_encodable_header("d", decimal.Decimal("1E+10"))  # over 32 bits
    assert not wire.is_encodable_header("d", decimal.Decimal("NaN"))
    assert not wire.is_encodable_header("t", datetime.datetime(1969, 12, 31))
    assert not wire.is_encodable_header("s", "\ud800")
    assert not wire.is_encodable_header("x", (1, 2))
