"""Nameko's RPC wire as constants and pure functions: names, bodies, context headers, call ids.

Everything here follows ``docs/wire.md`` (§1 constants, §3 RPC, §6 context headers) and does
no I/O, so the I/O shells (connection, client, server) and the tests share one definition of the
bytes. Values are plain JSON data; typed conversion lives in ``rpcgen.runtime._codec.codec``.
"""

from __future__ import annotations

import calendar
import datetime
import decimal
import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from rpcgen.runtime import errors

__all__ = [
    "CONTENT_ENCODING",
    "CONTENT_TYPE",
    "DEFAULT_EXCHANGE",
    "HEADER_PREFIX",
    "PARENT_CALLS_TRACKED",
    "PERSISTENT",
    "REPLY_QUEUE_TTL_MS",
    "UndecodedHeaders",
    "child_call_id_stack",
    "context_to_headers",
    "dumps",
    "error_reply",
    "event_exchange",
    "event_queue",
    "fits_as_context_key",
    "headers_to_context",
    "is_encodable_header",
    "is_event_type",
    "is_plain_header",
    "is_topic_word",
    "new_call_id",
    "parse_reply",
    "parse_request",
    "reply_body",
    "reply_queue_name",
    "request_body",
    "service_binding",
    "service_queue",
    "undecoded",
]

DEFAULT_EXCHANGE = "nameko-rpc"
CONTENT_TYPE = "application/json"
CONTENT_ENCODING = "utf-8"
PERSISTENT = 2
REPLY_QUEUE_TTL_MS = 300_000
PARENT_CALLS_TRACKED = 10
HEADER_PREFIX = "nameko."

# An AMQP short string (exchange, queue, routing key) holds at most 255 bytes.
_MAX_SHORTSTR = 255


def service_queue(service: str) -> str:
    """The durable request queue every instance of ``service`` consumes from."""
    return f"rpc-{service}"


def service_binding(service: str) -> str:
    """The binding key of the service queue: one topic word per method."""
    return f"{service}.*"


def event_exchange(service: str) -> str:
    """The topic exchange a service dispatches its events to (``docs/wire.md`` §7.1)."""
    return f"{service}.events"


def event_queue(
    source: str,
    event_type: str,
    handler_type: str,
    service: str,
    method: str,
    broadcast_identifier: str | None = None,
) -> str:
    """The queue of an event handler, named exactly as Nameko names it (§7.3)."""
    if handler_type == "singleton":
        return f"evt-{source}-{event_type}"
    name = f"evt-{source}-{event_type}--{service}.{method}"
    if handler_type == "broadcast":
        name += f"-{broadcast_identifier}"
    return name


def reply_queue_name(owner: str, ident: str) -> str:
    """A reply queue named as Nameko names its own; it is bound with the routing key ``ident``."""
    return f"rpc.reply-{owner}-{ident}"


def is_topic_word(name: str) -> bool:
    """Whether ``name`` can be one word of a topic routing key (a service or method name).

    A dot would split it in two, ``*`` and ``#`` are wildcards in bindings, and whitespace or
    control characters are legal on the wire but certain to be mistakes.
    """
    if not name or len(name.encode("utf-8", "surrogatepass")) > _MAX_SHORTSTR:
        return False
    return not any(ch in ".*#" or ch.isspace() or not ch.isprintable() for ch in name)


def is_event_type(name: str) -> bool:
    """Whether ``name`` can be an event type: any routing key a Nameko service can dispatch under.

    That is any AMQP short string (1 to 255 bytes), dots included (a handler's binding matches
    ``user.created`` exactly), except ``*`` and ``#``, which would make the handler's binding a
    wildcard that matches other event types.
    """
    if not name or len(name.encode("utf-8", "surrogatepass")) > _MAX_SHORTSTR:
        return False
    return "*" not in name and "#" not in name


def dumps(obj: object) -> bytes:
    """JSON bytes exactly as kombu writes them: default separators, ``ensure_ascii``, UTF-8."""
    return json.dumps(obj).encode("utf-8")


def request_body(args: Sequence[object], kwargs: Mapping[str, object]) -> bytes:
    """The body of a request: ``{"args": [...], "kwargs": {...}}``, in that key order."""
    return dumps({"args": list(args), "kwargs": dict(kwargs)})


_decoder: Any = json.JSONDecoder()
_scan_once: Callable[[str, int], tuple[object, int]] = _decoder.scan_once  # json.loads' C scanner


def _loads_object(body: bytes, what: str) -> dict[str, object] | str:
    """Parse ``body`` as a JSON object; on failure return the reason instead of raising."""
    # Fast path for what peers send (an object, no surrounding whitespace): json.loads would add
    # three Python-level calls and two regex matches around the same C scanner.
    if type(body) is bytes and body[:1] == b"{":
        try:
            text = body.decode("utf-8")
            data, end = _scan_once(text, 0)
        except (UnicodeDecodeError, ValueError, StopIteration, RecursionError):
            pass  # the slow path below reports it
        else:
            if end == len(text) and type(data) is dict:
                return data
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"{what} body is not valid UTF-8 ({exc.reason} at byte {exc.start})"
    except (AttributeError, TypeError):
        return f"{what} body is {type(body).__name__}, not bytes"
    try:
        data = json.loads(text)
    except RecursionError:
        return f"{what} body is nested too deeply to decode"
    except ValueError as exc:  # JSONDecodeError, and ints over the digit limit
        return f"{what} body is not valid JSON ({exc})"
    if not isinstance(data, dict):
        return f"{what} body is a JSON {_json_kind(data)}, not an object"
    return data


def _json_kind(value: object) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    return "number"


def parse_request(body: bytes) -> tuple[list[object], dict[str, object]]:
    """The ``args`` and ``kwargs`` of a request body.

    Raises ``errors.MalformedRequest`` for anything else: invalid UTF-8 or JSON and bodies that
    are not objects (which Nameko drops silently or answers with a ``TypeError``), a missing key
    (Nameko's exact message), and ``args``/``kwargs`` of the wrong JSON type.
    """
    data = _loads_object(body, "request")
    if isinstance(data, str):
        raise errors.MalformedRequest(data)
    try:
        args, kwargs = data["args"], data["kwargs"]
    except KeyError:
        raise errors.MalformedRequest("Message missing `args` or `kwargs`") from None
    if not isinstance(args, list):
        raise errors.MalformedRequest(f"`args` is a JSON {_json_kind(args)}, not an array")
    if not isinstance(kwargs, dict):
        raise errors.MalformedRequest(f"`kwargs` is a JSON {_json_kind(kwargs)}, not an object")
    return args, kwargs


def reply_body(result: object, error: Mapping[str, object] | None) -> bytes:
    """The body of a reply: ``{"result": ..., "error": ...}``, in that key order."""
    return dumps({"result": result, "error": None if error is None else dict(error)})


def error_reply(exc: BaseException) -> bytes:
    """The reply body a server sends when handling a request raised ``exc``."""
    return reply_body(None, errors.serialize_exception(exc))


def parse_reply(body: bytes) -> tuple[object, dict[str, object] | None]:
    """The ``result`` and ``error`` of a reply body, read as leniently as Nameko's client does.

    A falsy ``error`` (null, false, ``{}``, missing) means success and ``result`` must be present;
    a truthy one must be an object. Anything else raises ``errors.MalformedReply``.
    """
    data = _loads_object(body, "reply")
    if isinstance(data, str):
        raise errors.MalformedReply(data)
    error = data.get("error")
    if error:
        if not isinstance(error, dict):
            raise errors.MalformedReply(
                f"reply `error` is a JSON {_json_kind(error)}, not an object: {error!r:.200}"
            )
        return data.get("result"), error
    if "result" not in data:
        raise errors.MalformedReply("reply has neither `result` nor `error`")
    return data["result"], None


def context_to_headers(context: Mapping[str, object]) -> dict[str, object]:
    """AMQP headers for a worker context: each key prefixed with ``nameko.``, ``None`` dropped.

    Tuples become lists because pika cannot encode a tuple in a header table.
    """
    headers: dict[str, object] = {}
    for key, value in context.items():
        if value is None:
            continue
        headers[HEADER_PREFIX + key] = list(value) if isinstance(value, tuple) else value
    return headers


_MIN_LONG, _MAX_LONG = -(2**63), 2**63 - 1


def is_plain_header(key: str, value: object) -> bool:
    """Whether a header surely travels unchanged and can be sent on, known at a glance.

    The one rule for skipping the slow checks (the dispatcher's ``sendable`` headers, the
    in-memory transport's encode-and-decode): the key still fits an AMQP short string once sent
    on as ``nameko.<key>`` (``fits_as_context_key``), and the value is a str, a list of str
    (Nameko's own headers) or an int (or bool) that fits 64 bits (rpcgen's deadline). Anything
    else must be checked (``is_encodable_header``): AMQP decoders read more types than they
    encode (floats, ints over 64 bits).
    """
    if not fits_as_context_key(key):
        return False
    if isinstance(value, str):
        return True
    if isinstance(value, int):  # pika decodes a 64-bit int as its own subclass of int
        return _MIN_LONG <= value <= _MAX_LONG
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def fits_as_context_key(key: str) -> bool:
    """Whether header ``key`` still fits an AMQP short string once sent on as ``nameko.<key>``."""
    if len(key) <= _PLAIN_KEY_CHARS:  # 4 bytes a character at most in UTF-8
        return True
    size = len(key.encode("utf-8", "surrogatepass"))
    return size + (0 if key.startswith(HEADER_PREFIX) else len(HEADER_PREFIX)) <= _MAX_SHORTSTR


_PLAIN_KEY_CHARS = (_MAX_SHORTSTR - len(HEADER_PREFIX)) // 4


def is_encodable_header(key: str, value: object) -> bool:
    """Whether a handler's calls can send header ``key: value`` on in an AMQP field table.

    ``fits_as_context_key``, and a value of a type the AMQP 0-9-1 field table writes as pika
    writes it: str (UTF-8), bytes, bool, an int of 64 bits, a ``Decimal`` of 32 bits and at most
    255 decimals, a ``datetime`` from 1970 on, None, and dicts (short-string keys) and lists of
    these. Not floats, nor ints over 64 bits, which decoders read but pika cannot write.
    """
    return fits_as_context_key(key) and _encodable(value)


def _encodable(value: object) -> bool:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True
    if isinstance(value, (bytes, bool)) or value is None:
        return True
    if isinstance(value, int):
        return _MIN_LONG <= value <= _MAX_LONG
    if isinstance(value, decimal.Decimal):
        return _decimal_encodable(value)
    if isinstance(value, datetime.datetime):
        return calendar.timegm(value.utctimetuple()) >= 0
    if isinstance(value, dict):
        return all(_short_key(k) and _encodable(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_encodable(item) for item in value)
    return False


def _short_key(key: object) -> bool:
    if isinstance(key, str):
        try:
            return len(key.encode("utf-8")) <= _MAX_SHORTSTR
        except UnicodeEncodeError:
            return False
    return isinstance(key, bytes) and len(key) <= _MAX_SHORTSTR


def _decimal_encodable(value: decimal.Decimal) -> bool:
    if not value.is_finite():  # NaN, sNaN, infinity
        return False
    value = value.normalize()
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)
    if exponent < -255 or exponent > 9:  # too many decimals, or 10**10 and more: not 32 bits
        return False
    raw = int(value.scaleb(-exponent)) if exponent < 0 else int(value)
    return _MIN_INT <= raw <= _MAX_INT


_MIN_INT, _MAX_INT = -(2**31), 2**31 - 1


class UndecodedHeaders(dict[str, Any]):
    """An empty header table standing for one a transport did not decode; ``reason`` says why
    (the AMQP transport's decoder makes one for a table too deep, too big or not decodable:
    ``_amqp.pikafix``)."""

    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason


def undecoded(headers: object) -> str | None:
    """Why a message's headers were not decoded, or None if they were."""
    return headers.reason if isinstance(headers, UndecodedHeaders) else None


def headers_to_context(headers: Mapping[str, object] | None) -> dict[str, object]:
    """The context carried by a message's headers, read as Nameko reads it (§6.2).

    The ``nameko.`` prefix is stripped and every header is kept, prefixed or not, so the next hop
    sees unprefixed headers promoted to ``nameko.<key>``. When both ``foo`` and ``nameko.foo``
    are present, the later one wins. Non-string keys cannot come from AMQP and are skipped.
    """
    if not headers:
        return {}
    context: dict[str, object] = {}
    cut = len(HEADER_PREFIX)
    for key, value in headers.items():
        if not isinstance(key, str):
            continue
        context[key[cut:] if key.startswith(HEADER_PREFIX) else key] = value
    return context


def new_call_id(service: str, method: str) -> str:
    """A worker's call id, ``<service>.<method>.<uuid4>``, as Nameko forms it."""
    return f"{service}.{method}.{uuid.uuid4()}"


def child_call_id_stack(
    parent: object, call_id: str, tracked: int = PARENT_CALLS_TRACKED
) -> list[str]:
    """The call-id stack a worker sends on: the last ``tracked`` parent ids, then its own.

    More robust than Nameko, which splits a string stack into characters: a string is a
    one-element stack, items that are not strings are dropped, any other type is no stack, and
    ``tracked <= 0`` keeps no parents (Nameko's ``[-0:]`` would keep them all).
    """
    if isinstance(parent, str):
        parents = [parent]
    elif isinstance(parent, (list, tuple)):
        parents = [item for item in parent if isinstance(item, str)]
    else:
        parents = []
    kept = parents[-tracked:] if tracked > 0 else []
    kept.append(call_id)
    return kept
