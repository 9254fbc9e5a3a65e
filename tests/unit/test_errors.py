"""The error tree, Nameko's serialization rules (§5) and client-side deserialization."""

from __future__ import annotations

import json
import pickle
from collections.abc import Iterator
from typing import ClassVar

import pytest
from rpcgen.runtime import errors
from rpcgen.runtime._codec import wire


class InsufficientFunds(errors.ServiceError):
    """A declared error as generated code defines one."""


class NeedsTwo(errors.ServiceError):
    def __init__(self, balance: int, wanted: int) -> None:
        super().__init__(balance, wanted)


class NoFunds(errors.ServiceError):
    """A generated class whose IDL set its path, e.g. ``@exc_path("billing.errors.Overdrawn")``."""

    exc_path: ClassVar[str] = "billing.errors.Overdrawn"


class NoFundsToday(NoFunds):
    """A subclass that does not state its own path."""


class NotAServiceError(Exception):
    exc_path = "looks.Declared"  # only ServiceError subclasses choose their path


def test_every_error_derives_from_rpc_error() -> None:
    for name in errors.__all__:
        obj = getattr(errors, name)
        if isinstance(obj, type):
            assert issubclass(obj, errors.RpcError), name


def test_tree_shape() -> None:
    for cls in (errors.MethodNotFound, errors.IncorrectSignature, errors.MalformedRequest):
        assert issubclass(cls, errors.BadRequest)
    assert issubclass(errors.ReplyQueueExpired, errors.RpcConnectionError)
    assert issubclass(errors.ResultTypeError, errors.MalformedReply)


def test_client_errors_are_the_builtins_too() -> None:
    """Code that catches Python's own TimeoutError / ConnectionError catches rpcgen's."""
    with pytest.raises(TimeoutError) as timeout:
        raise errors.RpcTimeout("svc.m", 1.5)
    assert isinstance(timeout.value, errors.RpcError)
    assert str(timeout.value) == "svc.m: no reply within 1.5 s" and timeout.value.errno is None
    for lost in (errors.RpcConnectionError("gone"), errors.ReplyQueueExpired("expired")):
        with pytest.raises(ConnectionError):
            raise lost
        assert str(lost) in ("gone", "expired")
        assert pickle.loads(pickle.dumps(lost)).args == lost.args
    again = pickle.loads(pickle.dumps(errors.RpcTimeout("svc.m", 1.5)))
    assert (type(again), again.routing_key, again.timeout) == (errors.RpcTimeout, "svc.m", 1.5)


def test_retryable_errors_are_one_group() -> None:
    retryable = [n for n in errors.__all__ if _is_error(n, errors.RetryableError)]
    assert sorted(retryable) == [
        "ReplyQueueExpired",
        "RetryableError",
        "RpcConnectionError",
        "RpcTimeout",
        "UnknownService",
    ]


def _is_error(name: str, base: type) -> bool:
    obj = getattr(errors, name)
    return isinstance(obj, type) and issubclass(obj, base)


def test_all_lists_the_public_names() -> None:
    public = {
        name
        for name, obj in vars(errors).items()
        if not name.startswith("_") and getattr(obj, "__module__", None) == errors.__name__
    }
    assert public == set(errors.__all__)


def test_messages() -> None:
    assert str(errors.UnknownService("ghost")) == "Unknown service `ghost`"
    assert str(errors.RpcTimeout("hello_service.compute", 2.5)) == (
        "hello_service.compute: no reply within 2.5 s"
    )
    remote = errors.RemoteError("KeyError", "'x'", exc_path="builtins.KeyError")
    assert str(remote) == "KeyError 'x'"
    assert (remote.exc_type, remote.exc_path, remote.value) == (
        "KeyError",
        "builtins.KeyError",
        "'x'",
    )
    too_large = errors.PayloadTooLarge.exceeded("request to a.b", 2000, 1000)
    assert str(too_large) == "request to a.b is 2000 bytes, over the limit of 1000 bytes"
    assert (too_large.size, too_large.limit) == (2000, 1000)


def test_section_5_2_sample_byte_for_byte() -> None:
    data = errors.serialize_exception(ValueError("bad", 42, None, {"k": 1}, b"ab"))
    assert wire.dumps(data) == (
        b'{"exc_type": "ValueError", "exc_path": "builtins.ValueError", '
        b'"exc_args": ["bad", "42", "None", {"k": "1"}, ["97", "98"]], '
        b"\"value\": \"('bad', 42, None, {'k': 1}, b'ab')\"}"
    )


class _Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("no")


class _BrokenIterable:
    def __iter__(self) -> Iterator[object]:
        raise RuntimeError("no")

    def __str__(self) -> str:
        return "broken"


def test_safe_for_serialization_rules() -> None:
    safe = errors.safe_for_serialization
    assert safe("s") == "s"
    assert safe(1.5) == "1.5"
    assert safe(True) == "True"
    assert safe((1, "a", [None])) == ["1", "a", ["None"]]
    assert safe({1: {2: b"\x01"}}) == {"1": {"2": ["1"]}}
    assert safe(_Unprintable()) == "[__unicode__ failed]"
    assert safe(x for x in (1, 2)) == ["1", "2"]


def test_safe_for_serialization_never_raises_where_nameko_would() -> None:
    safe = errors.safe_for_serialization
    assert safe(_BrokenIterable()) == "broken"
    assert safe({(1, 2): "v"}) == {"(1, 2)": "v"}  # Nameko: unhashable list key
    loop: list[object] = []
    loop.append(loop)
    json.dumps(safe(loop))  # Nameko: RecursionError


def test_protocol_errors_travel_under_namekos_paths() -> None:
    for cls in (errors.MethodNotFound, errors.IncorrectSignature, errors.MalformedRequest):
        data = errors.serialize_exception(cls("why"))
        assert data == {
            "exc_type": cls.__name__,
            "exc_path": f"nameko.exceptions.{cls.__name__}",
            "exc_args": ["why"],
            "value": "why",
        }
        assert list(data) == ["exc_type", "exc_path", "exc_args", "value"]


def test_unserializable_value_error_as_nameko() -> None:
    data = errors.serialize_exception(errors.UnserializableValueError({1, 2}))
    assert data == {
        "exc_type": "UnserializableValueError",
        "exc_path": "nameko.exceptions.UnserializableValueError",
        "exc_args": [],
        "value": "Unserializable value: `{1, 2}`",
    }


def test_remote_error_and_unknown_service_serialize_as_namekos() -> None:
    remote = errors.RemoteError("KeyError", "'x'")
    assert errors.serialize_exception(remote) == {
        "exc_type": "RemoteError",
        "exc_path": "nameko.exceptions.RemoteError",
        "exc_args": ["KeyError 'x'"],
        "value": "KeyError 'x'",
    }
    assert errors.serialize_exception(errors.UnknownService("ghost")) == {
        "exc_type": "UnknownService",
        "exc_path": "nameko.exceptions.UnknownService",
        "exc_args": ["ghost"],
        "value": "Unknown service `ghost`",
    }


def test_declared_errors_serialize_with_their_module_path() -> None:
    data = errors.serialize_exception(InsufficientFunds("balance 3"))
    assert data["exc_type"] == "InsufficientFunds"
    assert data["exc_path"] == f"{__name__}.InsufficientFunds"
    assert data["exc_args"] == ["balance 3"]


def test_a_declared_error_sends_its_own_exc_path() -> None:
    data = errors.serialize_exception(NoFunds("balance 3", 3))
    assert (data["exc_type"], data["exc_path"]) == ("NoFunds", "billing.errors.Overdrawn")
    assert data["exc_args"] == ["balance 3", "3"]
    # A path names one class: a subclass without its own does not borrow its base's.
    data = errors.serialize_exception(NoFundsToday("x"))
    assert (data["exc_type"], data["exc_path"]) == ("NoFundsToday", f"{__name__}.NoFundsToday")
    data = errors.serialize_exception(NotAServiceError("x"))
    assert data["exc_path"] == f"{__name__}.NotAServiceError"


def test_deserialize_declared_error_by_exact_exc_path() -> None:
    # A Nameko service's class of another name, which the IDL describes as NoFunds.
    data = {
        "exc_type": "Overdrawn",
        "exc_path": "billing.errors.Overdrawn",
        "exc_args": ["balance 3"],
        "value": "balance 3",
    }
    rebuilt = errors.deserialize_error(data, (InsufficientFunds, NoFunds, NoFundsToday))
    assert type(rebuilt) is NoFunds
    assert rebuilt.args == ("balance 3",)
    # The path wins over a declared class whose name is the exc_type.
    named = {**data, "exc_type": "InsufficientFunds"}
    assert type(errors.deserialize_error(named, (InsufficientFunds, NoFunds))) is NoFunds
    # An inherited path is not the subclass's, and a path only counts when declared.
    assert type(errors.deserialize_error(data, (NoFundsToday,))) is errors.RemoteError
    assert type(errors.deserialize_error(data, (InsufficientFunds,))) is errors.RemoteError


def test_declared_errors_round_trip_through_their_wire_form() -> None:
    declared = (InsufficientFunds, NoFunds, NoFundsToday)
    for exc in (InsufficientFunds("a"), NoFunds("b"), NoFundsToday("c")):
        rebuilt = errors.deserialize_error(errors.serialize_exception(exc), declared)
        assert (type(rebuilt), rebuilt.args) == (type(exc), exc.args)


def test_deserialize_protocol_errors() -> None:
    for cls in (
        errors.BadRequest,
        errors.MethodNotFound,
        errors.IncorrectSignature,
        errors.MalformedRequest,
    ):
        rebuilt = errors.deserialize_error(errors.serialize_exception(cls("why")))
        assert type(rebuilt) is cls
        assert rebuilt.args == ("why",)


def test_deserialize_declared_error_by_exc_type() -> None:
    data = {
        "exc_type": "InsufficientFunds",
        "exc_path": "ledger_service.InsufficientFunds",  # a Nameko service's own module
        "exc_args": ["balance 3"],
        "value": "balance 3",
    }
    rebuilt = errors.deserialize_error(data, (NeedsTwo, InsufficientFunds))
    assert type(rebuilt) is InsufficientFunds
    assert str(rebuilt) == "balance 3"
    # Not declared for this method: a RemoteError.
    other = errors.deserialize_error(data, (NeedsTwo,))
    assert type(other) is errors.RemoteError
    assert str(other) == "InsufficientFunds balance 3"


def test_declared_error_with_other_constructor_is_still_rebuilt() -> None:
    data = {"exc_type": "NeedsTwo", "exc_path": "x.NeedsTwo", "exc_args": ["3"], "value": "3"}
    rebuilt = errors.deserialize_error(data, (NeedsTwo,))
    assert type(rebuilt) is NeedsTwo
    assert rebuilt.args == ("3",)


def test_deserialize_anything_else_to_remote_error() -> None:
    data = errors.serialize_exception(KeyError("x"))
    rebuilt = errors.deserialize_error(data)
    assert isinstance(rebuilt, errors.RemoteError)
    assert (rebuilt.exc_type, rebuilt.exc_path, rebuilt.value) == (
        "KeyError",
        "builtins.KeyError",
        "'x'",
    )
    assert rebuilt.exc_args == ["x"]
    assert str(rebuilt) == "KeyError 'x'"


def test_remote_errors_nameko_does_not_register_stay_remote() -> None:
    for exc in (errors.UnserializableValueError(object()), errors.UnknownService("ghost")):
        rebuilt = errors.deserialize_error(errors.serialize_exception(exc))
        assert type(rebuilt) is errors.RemoteError


def test_payload_too_large_crosses_the_wire() -> None:
    exc = errors.PayloadTooLarge.exceeded("reply of a.b", 10, 5)
    rebuilt = errors.deserialize_error(errors.serialize_exception(exc))
    assert type(rebuilt) is errors.PayloadTooLarge
    assert str(rebuilt) == str(exc)


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"exc_type": 5, "exc_path": ["x"], "exc_args": "abc", "value": None},
        {"exc_path": "nameko.exceptions.MethodNotFound", "exc_args": {"a": 1}},
        {"exc_type": "InsufficientFunds", "exc_args": 7},
        "not a mapping",
        None,
        [1, 2],
    ],
)
def test_deserialize_never_raises(data: object) -> None:
    rebuilt = errors.deserialize_error(data, (InsufficientFunds,))  # type: ignore[arg-type]
    assert isinstance(rebuilt, errors.RpcError)
    str(rebuilt)


def test_malformed_error_data_becomes_remote_error() -> None:
    rebuilt = errors.deserialize_error({"exc_type": 5, "value": None})
    assert isinstance(rebuilt, errors.RemoteError)
    assert (rebuilt.exc_type, rebuilt.value) == ("5", "None")
    odd = errors.deserialize_error("boom")  # type: ignore[arg-type]
    assert isinstance(odd, errors.RemoteError)
    assert odd.value == "boom"


@pytest.mark.parametrize(
    "exc",
    [
        errors.RemoteError("KeyError", "'x'", exc_path="builtins.KeyError", exc_args=["x"]),
        errors.UnserializableValueError({1}),
        errors.UnknownService("ghost"),
        errors.RpcTimeout("a.b", 1.5),
        errors.PayloadTooLarge.exceeded("request", 2, 1),
        errors.MethodNotFound("m"),
        errors.ReplyQueueExpired("lost"),
        errors.ResultTypeError("a.b: bad"),
        InsufficientFunds("x"),
    ],
)
def test_errors_pickle(exc: errors.RpcError) -> None:
    copy = pickle.loads(pickle.dumps(exc))
    assert type(copy) is type(exc)
    assert str(copy) == str(exc)
    assert vars(copy) == vars(exc)
