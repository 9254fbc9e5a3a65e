"""Which request headers a handler's context keeps, so that the calls it makes can send them on."""

from __future__ import annotations

from rpcgen.runtime._dispatch import _sendable


def test_headers_that_surely_encode_are_passed_as_they_are() -> None:
    headers = {
        "nameko.call_id_stack": ["a.b.1"],
        "nameko.user": "bob",
        "nameko.rpcgen_deadline_ms": 1_790_000_000_000,
        "nameko.flag": 2**63 - 1,
    }
    assert _sendable(headers) is headers  # no copy, no encoding pass


def test_headers_pika_cannot_send_on_are_left_out() -> None:
    headers = {
        "nameko.rpcgen_deadline_ms": 1_790_000_000_000,
        "nameko.huge": 2**64,  # decoded from the wire, but pika cannot encode it
        "nameko.ratio": 0.5,  # pika decodes floats and cannot encode them
        "nameko." + "k" * 250: "too long once prefixed",
    }
    assert _sendable(headers) == {"nameko.rpcgen_deadline_ms": 1_790_000_000_000}
