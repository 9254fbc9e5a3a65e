"""Record Nameko 2.14.1's own wire traffic and broker topology as golden samples (captures.py).

Nameko proxy -> Nameko service, observed by a spy queue bound with ``#`` to ``nameko-rpc``. The
test fails when what Nameko sends no longer matches ``captured/`` (for example after a kombu
upgrade), so the runtime's byte-level tests always compare against what Nameko really does.
``RPCGEN_UPDATE_CAPTURES=1`` rewrites the files instead.
"""

from __future__ import annotations

import difflib
import json
import os
from typing import Any

import pytest
from rpcgen.runtime.testing import SpiedMessage, Spy, Vhost

from tests.interop import captures
from tests.interop.captures import CallSpec, Capture
from tests.interop.harness import NamekoClient, NamekoServices
from tests.interop.samples import SAMPLES_WIRE

UPDATE = os.environ.get("RPCGEN_UPDATE_CAPTURES") == "1"
CONTEXT = {"language": "en", "user_id": 5, "custom": "x"}

# name: (description, call, messages the spy must see)
SCENARIOS: dict[str, tuple[str, CallSpec, int]] = {
    "hello_args": ("positional argument", CallSpec("greeter", "hello", ["bob"]), 2),
    "hello_kwargs": (
        "keyword arguments",
        CallSpec("greeter", "hello", [], {"name": "bob", "greeting": "hi"}),
        2,
    ),
    "hello_unicode": (
        "non-ASCII text: \\u escapes",
        CallSpec("greeter", "hello", ["b\u00f8b \U0001f600", "hi"]),
        2,
    ),
    "echo_samples": (
        "every supported type as an argument (kombu's encoding) and back in the reply",
        CallSpec("greeter", "echo", [SAMPLES_WIRE]),
        2,
    ),
    "compute": ("ints", CallSpec("greeter", "compute", [1, 2]), 2),
    "inspect_special_types": (
        "kombu markers in a request; the reply shows the types Nameko decoded",
        CallSpec(
            "greeter",
            "inspect",
            [
                {"__type__": "datetime", "__value__": "2020-01-02T03:04:05+00:00"},
                {"__type__": "date", "__value__": "2020-01-02"},
                {"__type__": "time", "__value__": "03:04:05"},
                {"__type__": "decimal", "__value__": "1.50"},
                {"__type__": "uuid", "__value__": {"hex": "12345678123456781234567812345678"}},
                {"__type__": "bytes", "__value__": "caf\u00e9"},
                {"__type__": "base64", "__value__": "AP/+"},
            ],
            {"nested": {"amounts": [{"__type__": "decimal", "__value__": "-0.01"}]}},
        ),
        2,
    ),
    "samples": ("a reply with every supported type", CallSpec("greeter", "samples"), 2),
    "error_registered": (
        "an error the caller rebuilds (deserialize_to_instance); exc_args are stringified",
        CallSpec("greeter", "withdraw", [10, 20]),
        2,
    ),
    "error_unregistered": (
        "an error the caller gets as RemoteError",
        CallSpec("greeter", "fail_unregistered", ["boom"]),
        2,
    ),
    "error_builtin": (
        "safe_for_serialization of mixed exc_args",
        CallSpec("greeter", "fail_builtin"),
        2,
    ),
    "method_not_found": ("MethodNotFound", CallSpec("greeter", "nope"), 2),
    "incorrect_signature": (
        "IncorrectSignature (CPython 3.11's TypeError text)",
        CallSpec("greeter", "hello", ["a", "b", "c"]),
        2,
    ),
    "unserializable": (
        "UnserializableValueError: result null",
        CallSpec("greeter", "unserializable"),
        2,
    ),
    "context": (
        "nameko.* context headers and the standalone proxy's call-id stack",
        CallSpec("greeter", "context", context_data=CONTEXT),
        2,
    ),
    "hop": (
        "greeter.hop calls relay.context: the service-side proxy's request and reply",
        CallSpec("greeter", "hop", ["context"], context_data=CONTEXT),
        4,
    ),
}


def _compare(name: str, capture: Capture) -> str | None:
    """None when the recorded file matches, else a diff (or rewrite it when updating)."""
    path = captures.path_of(name)
    text = captures.dump(capture)
    if UPDATE:
        path.write_text(text)
        return None
    old = path.read_text() if path.exists() else ""
    if old == text:
        return None
    diff = difflib.unified_diff(
        old.splitlines(), text.splitlines(), str(path), "captured now", lineterm=""
    )
    return "\n".join(diff)


def _strip_ids(name: str) -> str:
    return captures.UUID4.sub("<id>", name)


def _topology(vhost: Vhost) -> dict[str, Any]:
    """What Nameko declared: exchange, queues (ids stripped: one entry per kind), bindings."""
    exchanges = [
        {k: e[k] for k in ("name", "type", "durable", "auto_delete", "internal", "arguments")}
        for e in vhost.broker.management.exchanges(vhost.name)
        if e["name"] == "nameko-rpc"
    ]
    queues = {
        _strip_ids(q.name): {
            "durable": q.durable,
            "auto_delete": q.auto_delete,
            "exclusive": q.exclusive,
            "arguments": q.arguments,
        }
        for q in vhost.queues()
        if not q.name.startswith("rpcgen-spy-")
    }
    bindings = {
        (b.source, _strip_ids(b.destination), _strip_ids(b.routing_key))
        for b in vhost.bindings()
        if not b.destination.startswith("rpcgen-spy-")
    }
    consumers = {(_strip_ids(c.queue), c.prefetch_count, c.ack_required) for c in vhost.consumers()}
    return {
        "exchanges": exchanges,
        "queues": dict(sorted(queues.items())),
        "bindings (source, queue, key)": [list(b) for b in sorted(bindings)],
        "consumers (queue, prefetch, ack)": [list(c) for c in sorted(consumers)],
    }


def _as_captured(messages: list[SpiedMessage], nameko_version: str) -> list[dict[str, Any]]:
    """Spied messages, normalized as the captures (Nameko 2.14.1's) are.

    Nameko 3's standalone client is the one thing that differs: it names its reply queue and its
    call ids differently (``captures.as_nameko_2``). Everything else must match byte for byte.
    """
    if nameko_version != "2.14.1":
        messages = captures.messages_as_nameko_2(messages)
    return captures.normalize(messages)


def _call_and_spy(
    nameko_client: NamekoClient, spy: Spy, call: CallSpec, count: int, nameko_version: str
) -> list[dict[str, Any]]:
    """Make ``call`` through Nameko's proxy; the ``count`` messages the spy saw, as captured."""
    nameko_client.call(
        call.service, call.method, *call.args, context_data=call.context_data, **call.kwargs
    )
    return _as_captured(spy.get(count, timeout=15), nameko_version)


def test_nameko_wire_matches_the_captures(
    greeter: NamekoServices, nameko_client: NamekoClient, rabbit_vhost: Vhost, nameko_version: str
) -> None:
    if UPDATE and nameko_version != "2.14.1":
        pytest.skip("the captures are recorded from Nameko 2.14.1")  # only when re-recording
    spy = rabbit_vhost.spy("nameko-rpc", "#")
    problems = []
    for name, (description, call, count) in SCENARIOS.items():
        messages = _call_and_spy(nameko_client, spy, call, count, nameko_version)
        problems.append(_compare(name, Capture(name, description, call, messages)))

    topology = json.dumps(_topology(rabbit_vhost), indent=2) + "\n"
    if nameko_version != "2.14.1":
        topology = captures.as_nameko_2(topology)
    path = captures.CAPTURED / "topology.json"
    if UPDATE:
        path.write_text(topology)
    elif not path.exists() or path.read_text() != topology:
        problems.append(f"topology.json differs; now:\n{topology}")

    failures = [p for p in problems if p]
    assert not failures, "\n\n".join(failures)
    assert set(captures.names()) == set(SCENARIOS), "stale files in captured/"


# Where rpcgen's server may differ from Nameko's captures, and why.
RPCGEN_SERVER_DIFFERS = {
    "hop": "rpcgen's own request to relay carries an expiration and its own reply queue",
    "inspect_special_types": "Nameko's inspect takes *args, **kwargs; the IDL's takes one Samples",
    "incorrect_signature": "the text: Nameko passes on CPython's TypeError, which counts self",
}


def test_rpcgen_server_replies_match_the_captures(
    rpcgen_greeter: None, nameko_client: NamekoClient, rabbit_vhost: Vhost, nameko_version: str
) -> None:
    """Nameko proxy -> rpcgen server: every reply byte-identical to the Nameko service's."""
    spy = rabbit_vhost.spy("nameko-rpc", "#")
    problems = []
    for name, (_, call, count) in SCENARIOS.items():
        messages = _call_and_spy(nameko_client, spy, call, count, nameko_version)
        if name in RPCGEN_SERVER_DIFFERS:
            continue
        golden = captures.load(name).messages
        if messages != golden:
            diff = difflib.unified_diff(
                json.dumps(golden, indent=1).splitlines(),
                json.dumps(messages, indent=1).splitlines(),
                f"captured/{name}.json",
                "rpcgen server",
                lineterm="",
            )
            problems.append("\n".join(diff))
    assert not problems, "\n\n".join(problems)


def test_normalize_numbers_ids_by_first_appearance() -> None:
    a, b = "0f8e7d6c-5b4a-4c3d-8e2f-1a0b9c8d7e6f", "11111111-2222-4333-9444-555555555555"
    fixed = "12345678-1234-5678-1234-567812345678"  # not a uuid4: a value, kept as it is
    msgs = [
        SpiedMessage("x", "svc.m", {"correlation_id": a, "reply_to": b}, f'["{fixed}"]'.encode()),
        SpiedMessage("x", b, {"correlation_id": a, "headers": {"k": [f"s.m.{b}"]}}, b"{}"),
    ]
    assert captures.normalize(msgs) == [
        {
            "kind": "request",
            "exchange": "x",
            "routing_key": "svc.m",
            "properties": {"correlation_id": "<id-1>", "reply_to": "<id-2>"},
            "body": f'["{fixed}"]',
        },
        {
            "kind": "reply",
            "exchange": "x",
            "routing_key": "<id-2>",
            "properties": {"correlation_id": "<id-1>", "headers": {"k": ["s.m.<id-2>"]}},
            "body": "{}",
        },
    ]


def test_nameko_3_names_are_translated_and_nothing_else() -> None:
    client, call = "0f8e7d6c-5b4a-4c3d-8e2f-1a0b9c8d7e6f", "11111111-2222-4333-9444-555555555555"
    stack = {"nameko.call_id_stack": [f"standalone_rpc_client.{client}.{call}"]}
    sent = SpiedMessage("nameko-rpc", "greeter.hello", {"headers": stack}, b'{"args": []}')
    reply_queue = f"rpc.reply-standalone_rpc_client-{client}"
    (translated,) = captures.messages_as_nameko_2([sent])
    assert translated.properties == {
        "headers": {"nameko.call_id_stack": [f"standalone_rpc_proxy.call.{call}"]}
    }
    assert (translated.routing_key, translated.body) == (sent.routing_key, sent.body)
    assert captures.as_nameko_2(reply_queue) == f"rpc.reply-standalone_rpc_proxy-{client}"
    assert captures.as_nameko_2(f"greeter.hello.{call}") == f"greeter.hello.{call}"
