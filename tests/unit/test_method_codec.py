"""MethodCodec: request and reply bodies, argument binding and validation, result decoding."""

from __future__ import annotations

import importlib
import json
import pkgutil
from datetime import datetime, timezone
from decimal import Decimal

import pytest
from rpcgen.runtime import Server, errors
from rpcgen.runtime._codec import wire
from rpcgen.runtime.spec import Method, Param

import generated
from tests.unit.codec_types import Color, Money, Owner


class InsufficientFunds(errors.ServiceError):
    pass


COMPUTE: Method[int] = Method(
    "hello_service", "compute", params=(Param("a", int), Param("b", int)), result=int
)
TRANSFER: Method[list[Money]] = Method(
    "ledger",
    "transfer",
    params=(
        Param("owner", Owner),
        Param("amount", Money),
        Param("note", str, has_default=True),
        Param("color", Color, keyword_only=True),
        Param("when", datetime, keyword_only=True, has_default=True),
    ),
    result=list[Money],
    errors=(InsufficientFunds,),
)


def test_codec_is_built_once_per_method() -> None:
    assert COMPUTE.codec is COMPUTE.codec


def test_encode_request_is_byte_identical_to_nameko() -> None:
    assert COMPUTE.codec.encode_request((1, 2), {}) == b'{"args": [1, 2], "kwargs": {}}'
    assert COMPUTE.codec.encode_request((1, 2), {}) == wire.request_body([1, 2], {})


def test_encode_request_with_records_and_keywords() -> None:
    body = TRANSFER.codec.encode_request(
        (Owner("bob", []), Money(Decimal("1.5")), "rent"), {"color": Color.RED}
    )
    assert body == (
        b'{"args": [{"name": "bob", "tags": [], "email": null}, {"amount": {"__type__": '
        b'"decimal", "__value__": "1.5"}, "currency": "EUR"}, "rent"], "kwargs": {"color": "red"}}'
    )


def test_decode_args_converts_to_declared_types() -> None:
    args, kwargs = TRANSFER.codec.decode_args(
        [{"name": "bob", "tags": ["a"]}, {"amount": "2"}],
        {"color": "green", "when": "2020-01-02T03:04:05Z"},
    )
    assert args == [Owner("bob", ["a"]), Money(Decimal(2))]
    assert kwargs == {
        "color": Color.GREEN,
        "when": datetime(2020, 1, 2, 3, 4, 5, tzinfo=timezone.utc),
    }


def test_decode_args_accepts_positional_params_by_keyword() -> None:
    assert COMPUTE.codec.decode_args([], {"b": 2, "a": 1}) == ([], {"b": 2, "a": 1})
    assert COMPUTE.codec.decode_args([1], {"b": 2}) == ([1], {"b": 2})


def test_decode_request_from_body() -> None:
    assert COMPUTE.codec.decode_request(b'{"args": [1, 2], "kwargs": {}}') == ([1, 2], {})
    with pytest.raises(errors.MalformedRequest):
        COMPUTE.codec.decode_request(b'{"args": [1, 2]}')


@pytest.mark.parametrize(
    ("method", "args", "kwargs", "message"),
    [
        (COMPUTE, [1, 2, 3], {}, "compute() takes 2 positional arguments but 3 were given"),
        (COMPUTE, [1], {"c": 3}, "compute() got an unexpected keyword argument 'c'"),
        (COMPUTE, [1], {"a": 3}, "compute() got multiple values for argument 'a'"),
        (COMPUTE, [1], {}, "compute() missing required argument 'b'"),
        (COMPUTE, [], {}, "compute() missing required arguments 'a', 'b'"),
        (COMPUTE, ["x", 2], {}, "compute(): argument 'a' expected int, got str 'x'"),
        (COMPUTE, [1], {"b": True}, "compute(): argument 'b' expected int, got bool True"),
        (COMPUTE, [1, None], {}, "compute(): argument 'b' expected int, got None"),
        (
            TRANSFER,
            [{"name": "b", "tags": []}, {"amount": "1"}],
            {},
            "transfer() missing required argument 'color'",
        ),
        (
            TRANSFER,
            [{"name": "b", "tags": [1]}, {"amount": "1"}],
            {"color": "red"},
            "transfer(): argument 'owner' at owner.tags[0] expected str, got int 1",
        ),
        (
            TRANSFER,
            [{"name": "b", "tags": []}, {"amount": "1", "currency": "GBP"}],
            {"color": "red"},
            "transfer(): argument 'amount' at amount.currency expected Literal['EUR', 'USD'], "
            "got str 'GBP'",
        ),
        (
            TRANSFER,
            [{"name": "b", "tags": []}, {"amount": "1"}],
            {"color": "blue"},
            "transfer(): argument 'color' expected Color ('red', 'green'), got str 'blue'",
        ),
        (
            TRANSFER,
            [{"name": "b", "tags": []}, {}],
            {"color": "red"},
            "transfer(): argument 'amount' at amount.amount expected Decimal, "
            "got nothing (the field is missing)",
        ),
    ],
)
def test_incorrect_signatures(
    method: Method[object], args: list[object], kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(errors.IncorrectSignature) as caught:
        method.codec.decode_args(args, kwargs)
    assert str(caught.value) == message


def test_binding_errors_come_before_type_errors() -> None:
    with pytest.raises(errors.IncorrectSignature, match="missing required argument 'b'"):
        COMPUTE.codec.decode_args(["x"], {})


def test_encode_reply() -> None:
    assert COMPUTE.codec.encode_reply(3) == b'{"result": 3, "error": null}'
    assert TRANSFER.codec.encode_reply([Money(Decimal("1"), "USD")]) == (
        b'{"result": [{"amount": {"__type__": "decimal", "__value__": "1"}, "currency": "USD"}], '
        b'"error": null}'
    )


def test_unencodable_result_becomes_unserializable_value_error() -> None:
    assert COMPUTE.codec.encode_reply({1}) == (
        b'{"result": null, "error": {"exc_type": "UnserializableValueError", '
        b'"exc_path": "nameko.exceptions.UnserializableValueError", "exc_args": [], '
        b'"value": "Unserializable value: `{1}`"}}'
    )
    loop: list[object] = []
    loop.append(loop)
    reply = json.loads(COMPUTE.codec.encode_reply(loop))
    assert reply["result"] is None
    assert reply["error"]["exc_type"] == "UnserializableValueError"


def test_decode_result() -> None:
    assert COMPUTE.codec.decode_result(3) == 3
    money = TRANSFER.codec.decode_result([{"amount": {"__type__": "decimal", "__value__": "1"}}])
    assert money == [Money(Decimal(1))]


@pytest.mark.parametrize(
    ("method", "raw", "message"),
    [
        (COMPUTE, "3", "hello_service.compute: result expected int, got str '3'"),
        (COMPUTE, None, "hello_service.compute: result expected int, got None"),
        (
            TRANSFER,
            [{"amount": "x"}],
            "ledger.transfer: result at result[0].amount expected Decimal, got str 'x'",
        ),
    ],
)
def test_result_type_errors(method: Method[object], raw: object, message: str) -> None:
    with pytest.raises(errors.ResultTypeError) as caught:
        method.codec.decode_result(raw)
    assert str(caught.value) == message


def test_decode_reply_raises_declared_protocol_and_remote_errors() -> None:
    assert COMPUTE.codec.decode_reply(b'{"result": 3, "error": null}') == 3
    declared = wire.error_reply(InsufficientFunds("balance 3"))
    with pytest.raises(InsufficientFunds, match="balance 3"):
        TRANSFER.codec.decode_reply(declared)
    with pytest.raises(errors.RemoteError, match="InsufficientFunds balance 3"):
        COMPUTE.codec.decode_reply(declared)  # not declared on compute
    with pytest.raises(errors.MethodNotFound, match="nope"):
        COMPUTE.codec.decode_reply(wire.error_reply(errors.MethodNotFound("nope")))
    with pytest.raises(errors.MalformedReply):
        COMPUTE.codec.decode_reply(b"not json")


def test_unsupported_param_type_fails_when_the_codec_is_built() -> None:
    method: Method[None] = Method("svc", "m", params=(Param("s", set[int]),), result=None)
    with pytest.raises(TypeError, match=r"rpcgen cannot decode set\[int\]"):
        method.codec  # noqa: B018


def test_every_generated_method_has_a_codec() -> None:
    built = 0
    for info in pkgutil.iter_modules(generated.__path__):
        module = importlib.import_module(f"generated.{info.name}")
        for obj in vars(module).values():
            if isinstance(obj, type) and issubclass(obj, Server) and obj is not Server:
                for method in obj.methods.values():
                    assert method.codec is method.codec
                    built += 1
    assert built > 0
