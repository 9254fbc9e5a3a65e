"""Wire constants, names, bodies and context headers against docs/wire.md (§1, §3, §6)."""

from __future__ import annotations

import re

import pytest
from rpcgen.runtime import errors
from rpcgen.runtime._codec import wire


def test_constants_are_namekos() -> None:
    assert wire.DEFAULT_EXCHANGE == "nameko-rpc"
    assert wire.CONTENT_TYPE == "application/json"
    assert wire.CONTENT_ENCODING == "utf-8"
    assert wire.PERSISTENT == 2
    assert wire.REPLY_QUEUE_TTL_MS == 300_000
    assert wire.PARENT_CALLS_TRACKED == 10
    assert wire.HEADER_PREFIX == "nameko."


def test_names() -> None:
    assert wire.service_queue("greeter") == "rpc-greeter"
    assert wire.service_binding("greeter") == "greeter.*"
    uid = "6b392daa-f2e7-4f63-a835-5cb90f783e56"
    assert wire.reply_queue_name("greeter", uid) == f"rpc.reply-greeter-{uid}"


@pytest.mark.parametrize("name", ["greeter", "hello_service", "hello-service", "café", "a" * 255])
def test_topic_words(name: str) -> None:
    assert wire.is_topic_word(name)


@pytest.mark.parametrize(
    "name", ["", "a.b", "a*", "#", "two words", "tab\there", "nl\n", "bell\x07", "é" * 128]
)
def test_not_topic_words(name: str) -> None:
    assert not wire.is_topic_word(name)


@pytest.mark.parametrize(
    "name", ["user.created", "spam.ham", "a..b", ".", "order created", "café", "a" * 255]
)
def test_event_types(name: str) -> None:
    assert wire.is_event_type(name)


@pytest.mark.parametrize("name", ["", "a*", "user.#", "#", "*.created", "é" * 128])
def test_not_event_types(name: str) -> None:
    assert not wire.is_event_type(name)


def test_request_bodies_match_appendix_a() -> None:
    assert wire.request_body(["bob"], {}) == b'{"args": ["bob"], "kwargs": {}}'
    assert (
        wire.request_body([], {"name": "bob", "greeting": "hi"})
        == b'{"args": [], "kwargs": {"name": "bob", "greeting": "hi"}}'
    )
    assert wire.request_body(("bob",), {}) == b'{"args": ["bob"], "kwargs": {}}'


def test_dumps_escapes_non_ascii_as_kombu() -> None:
    assert wire.dumps({"s": "café"}) == b'{"s": "caf\\u00e9"}'


def test_reply_bodies_match_section_3_5() -> None:
    assert wire.reply_body("hello, bob", None) == b'{"result": "hello, bob", "error": null}'
    assert wire.error_reply(errors.MethodNotFound("nope")) == (
        b'{"result": null, "error": {"exc_type": "MethodNotFound", "exc_path": '
        b'"nameko.exceptions.MethodNotFound", "exc_args": ["nope"], "value": "nope"}}'
    )


def test_parse_request() -> None:
    assert wire.parse_request(b'{"args": ["bob"], "kwargs": {"x": 1}}') == (["bob"], {"x": 1})


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"args": []}', "Message missing `args` or `kwargs`"),
        (b'{"kwargs": {}}', "Message missing `args` or `kwargs`"),
        (b'{"args": [], "kwargs": []}', "`kwargs` is a JSON array, not an object"),
        (b'{"args": "ab", "kwargs": {}}', "`args` is a JSON string, not an array"),
        (b'{"args": null, "kwargs": {}}', "`args` is a JSON null, not an array"),
        (b'[["bob"], {}]', "request body is a JSON array, not an object"),
        (b"true", "request body is a JSON boolean, not an object"),
        (b"3", "request body is a JSON number, not an object"),
        (b"", "request body is not valid JSON (Expecting value: line 1 column 1 (char 0))"),
        (b"{'args': []}", "request body is not valid JSON (Expecting property name enclosed"),
        (b'{"args": ["\xff"], "kwargs": {}}', "request body is not valid UTF-8 (invalid start"),
        (b"[" * 100_000, "request body is nested too deeply to decode"),
    ],
)
def test_malformed_requests(body: bytes, message: str) -> None:
    with pytest.raises(errors.MalformedRequest) as caught:
        wire.parse_request(body)
    assert str(caught.value).startswith(message)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"result": 3, "error": null}', (3, None)),
        (b'{"result": 3, "error": false}', (3, None)),
        (b'{"result": 3, "error": {}}', (3, None)),
        (b'{"result": 3}', (3, None)),
        (b'{"result": null, "error": null}', (None, None)),
        (b'{"result": null, "error": {"exc_type": "X"}}', (None, {"exc_type": "X"})),
        (b'{"error": {"exc_type": "X"}}', (None, {"exc_type": "X"})),
    ],
)
def test_parse_reply_is_as_lenient_as_namekos_client(
    body: bytes, expected: tuple[object, object]
) -> None:
    assert wire.parse_reply(body) == expected


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"error": null}', "reply has neither `result` nor `error`"),
        (
            b'{"result": 1, "error": "boom"}',
            "reply `error` is a JSON string, not an object: 'boom'",
        ),
        (b'{"result": 1, "error": [1]}', "reply `error` is a JSON array, not an object: [1]"),
        (b"null", "reply body is a JSON null, not an object"),
        (b"{", "reply body is not valid JSON"),
        (b"\xfe\xff", "reply body is not valid UTF-8"),
    ],
)
def test_malformed_replies(body: bytes, message: str) -> None:
    with pytest.raises(errors.MalformedReply) as caught:
        wire.parse_reply(body)
    assert str(caught.value).startswith(message)


def test_context_headers_match_appendix_a() -> None:
    stack = ["standalone_rpc_proxy.call.b31898e7-5359-4ed6-8800-5b5c7f73d131"]
    context = {
        "language": "en",
        "user_id": 5,
        "custom": "x",
        "nothing": None,
        "call_id_stack": stack,
    }
    assert wire.context_to_headers(context) == {
        "nameko.language": "en",
        "nameko.user_id": 5,
        "nameko.custom": "x",
        "nameko.call_id_stack": stack,
    }


def test_context_headers_turn_tuples_into_lists_for_pika() -> None:
    assert wire.context_to_headers({"call_id_stack": ("a", "b")}) == {
        "nameko.call_id_stack": ["a", "b"]
    }


def test_headers_to_context_strips_prefix_and_keeps_everything() -> None:
    headers = {"nameko.language": "en", "foo": "bar", "x-death": [1], "nameko.user_id": 5}
    assert wire.headers_to_context(headers) == {
        "language": "en",
        "foo": "bar",
        "x-death": [1],
        "user_id": 5,
    }
    # An unprefixed header is promoted on the next hop, as Nameko does (§6.2).
    assert wire.context_to_headers(wire.headers_to_context({"foo": "bar"})) == {"nameko.foo": "bar"}


def test_headers_to_context_edge_cases() -> None:
    assert wire.headers_to_context(None) == {}
    assert wire.headers_to_context({}) == {}
    assert wire.headers_to_context({"foo": 1, "nameko.foo": 2}) == {"foo": 2}
    assert wire.headers_to_context({"nameko.foo": 2, "foo": 1}) == {"foo": 1}
    assert wire.headers_to_context({b"raw": 1, "ok": 2}) == {"ok": 2}  # type: ignore[dict-item]


def test_new_call_id() -> None:
    call_id = wire.new_call_id("greeter", "hello")
    assert re.fullmatch(r"greeter\.hello\.[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}", call_id)
    assert call_id != wire.new_call_id("greeter", "hello")


def test_call_id_stack_starts_with_own_id() -> None:
    assert wire.child_call_id_stack(None, "me") == ["me"]
    assert wire.child_call_id_stack([], "me") == ["me"]
    assert wire.child_call_id_stack(["a", "b"], "me") == ["a", "b", "me"]


def test_call_id_stack_keeps_last_ten_parents() -> None:
    parents = [f"svc.m.{i}" for i in range(15)]
    stack = wire.child_call_id_stack(parents, "me")
    assert stack == [*parents[5:], "me"]
    assert len(stack) == wire.PARENT_CALLS_TRACKED + 1
    assert parents == [f"svc.m.{i}" for i in range(15)]  # the caller's list is not modified
    assert wire.child_call_id_stack(parents, "me", tracked=2) == ["svc.m.13", "svc.m.14", "me"]
    assert wire.child_call_id_stack(parents, "me", tracked=0) == ["me"]


@pytest.mark.parametrize(
    ("parent", "expected"),
    [
        ("abc", ["abc", "me"]),  # Nameko would split it into "a", "b", "c"
        (("a", "b"), ["a", "b", "me"]),
        (["a", 5, None, b"x", ["n"], "b"], ["a", "b", "me"]),
        (5, ["me"]),
        ({"a": 1}, ["me"]),
        (b"abc", ["me"]),
    ],
)
def test_call_id_stack_is_robust_to_bad_headers(parent: object, expected: list[str]) -> None:
    assert wire.child_call_id_stack(parent, "me") == expected
