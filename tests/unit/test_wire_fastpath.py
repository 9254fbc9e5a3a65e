"""wire's fast JSON path gives json.loads' answer (or the slow path's error) for any body."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st
from rpcgen.runtime._codec import wire

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=10,
)


def _reference(body: bytes) -> object:
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return "error"
    return data if isinstance(data, dict) else "error"


def _ours(body: bytes) -> object:
    data = wire._loads_object(body, "reply")
    return "error" if isinstance(data, str) else data


@given(
    st.dictionaries(st.text(max_size=8), _json, max_size=4), st.sampled_from(["", " ", "x", "}"])
)
def test_objects_with_any_tail(obj: dict[str, object], tail: str) -> None:
    body = (json.dumps(obj) + tail).encode("utf-8")
    assert repr(_ours(body)) == repr(_reference(body))  # repr: NaN != NaN


@given(st.binary(max_size=40).map(lambda b: b"{" + b))
def test_arbitrary_bytes_after_a_brace(body: bytes) -> None:
    assert repr(_ours(body)) == repr(_reference(body))


def test_the_slow_path_still_explains_errors() -> None:
    assert wire._loads_object(b'{"a": 1} x', "reply") == (
        "reply body is not valid JSON (Extra data: line 1 column 10 (char 9))"
    )
    assert wire._loads_object(b"[1]", "reply") == "reply body is a JSON array, not an object"
