"""Property tests: round trips for every supported type; no unexpected exception on any input."""

from __future__ import annotations

import contextlib
import json
import types
import typing
import uuid
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st
from rpcgen.runtime import errors
from rpcgen.runtime._codec import codec, wire
from rpcgen.runtime.spec import Method, Param

from tests.unit.codec_types import Account, Address, Color, Contact, Level, Money, Mood, Owner

ZONES = st.sampled_from(
    [None, timezone.utc, timezone(timedelta(hours=5, minutes=30)), timezone(-timedelta(hours=8))]
)
texts = st.text(max_size=12)
decimals = st.decimals(allow_nan=False, places=None)
owners = st.builds(Owner, texts, st.lists(texts, max_size=3), st.none() | texts)
moneys = st.builds(Money, decimals, st.sampled_from(["EUR", "USD"]))
addresses = st.fixed_dictionaries({"street": texts, "zip": st.integers()})
contacts = st.fixed_dictionaries({}, optional={"phone": texts, "address": addresses})


def accounts(history: st.SearchStrategy[list[Account]]) -> st.SearchStrategy[Account]:
    return st.builds(
        Account,
        st.integers(),
        owners,
        st.sampled_from(Color),
        moneys,
        st.datetimes(timezones=ZONES),
        st.lists(st.uuids(), max_size=2).map(tuple),
        history,
        st.dictionaries(texts, st.floats(allow_nan=False), max_size=2),
    )


LEAVES: dict[object, st.SearchStrategy[typing.Any]] = {
    str: st.text(),
    int: st.integers(-(2**80), 2**80),
    float: st.floats(allow_nan=False),
    bool: st.booleans(),
    type(None): st.none(),
    datetime: st.datetimes(timezones=ZONES),
    date: st.dates(),
    time: st.times(timezones=ZONES),
    Decimal: decimals,
    uuid.UUID: st.uuids(),
    bytes: st.binary(max_size=20),
    Color: st.sampled_from(Color),
    Level: st.sampled_from(Level),
    Mood: st.sampled_from(Mood),
    typing.Literal["a", 1, True, None]: st.sampled_from(["a", 1, True, None]),
    Owner: owners,
    Money: moneys,
    Address: addresses,
    Contact: contacts,
    Account: accounts(st.lists(accounts(st.just([])), max_size=2)),
    # Unions whose members a value's JSON form tells apart.
    int | str: st.integers() | st.text(),
    float | int: st.floats(allow_nan=False) | st.integers(),
    Decimal | str: decimals | st.text(),
    datetime | date | None: st.datetimes() | st.dates() | st.none(),
    bytes | str: st.binary() | st.text(),
    Color | int: st.sampled_from(Color) | st.integers(),
}


def _containers(inner: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
    return st.one_of(
        inner.map(lambda tp: types.GenericAlias(list, (tp,))),
        inner.map(lambda tp: types.GenericAlias(dict, (str, tp))),
        inner.map(lambda tp: types.GenericAlias(tuple, (tp, ...))),
        st.tuples(inner, inner).map(lambda pair: types.GenericAlias(tuple, pair)),
        inner.map(lambda tp: typing.Optional[tp]),  # noqa: UP045
    )


type_exprs = st.recursive(st.sampled_from(list(LEAVES)), _containers, max_leaves=4)


def values_of(tp: typing.Any) -> st.SearchStrategy[object]:
    if tp in LEAVES:
        return LEAVES[tp]
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is list:
        return st.lists(values_of(args[0]), max_size=3)
    if origin is dict:
        return st.dictionaries(texts, values_of(args[1]), max_size=3)
    if origin is tuple and args[-1] is Ellipsis:
        return st.lists(values_of(args[0]), max_size=3).map(tuple)
    if origin is tuple:
        return st.tuples(*map(values_of, args))
    return st.one_of([values_of(arg) for arg in args])  # a union


typed_values = type_exprs.flatmap(lambda tp: st.tuples(st.just(tp), values_of(tp)))

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.text(max_size=8), inner, max_size=4),
        st.fixed_dictionaries(
            {
                "__type__": st.sampled_from(
                    ["datetime", "date", "time", "decimal", "uuid", "bytes", "base64", "x"]
                ),
                "__value__": inner,
            }
        ),
    ),
    max_leaves=12,
)


@settings(max_examples=200)
@given(typed_values)
def test_decoding_what_was_encoded_gives_the_value_back(typed: tuple[object, object]) -> None:
    tp, value = typed
    decoded = codec.decoder_for(tp)(json.loads(codec.dumps(value)))
    assert decoded == value
    assert type(decoded) is type(value)


@settings(max_examples=200)
@given(typed_values)
def test_to_wire_is_exactly_what_dumps_writes(typed: tuple[object, object]) -> None:
    _, value = typed
    assert wire.dumps(codec.to_wire(value)) == codec.dumps(value)


@given(json_values)
def test_plain_json_is_written_as_json_dumps_writes_it(value: object) -> None:
    assert codec.dumps(value) == json.dumps(value).encode()


DECODED_TYPES = [*LEAVES, list[Account], dict[str, tuple[int, Money]], tuple[Color, ...]]


@settings(max_examples=300)
@given(st.sampled_from(DECODED_TYPES), json_values)
def test_decoders_raise_only_decode_error(tp: object, raw: object) -> None:
    try:
        codec.decoder_for(tp)(raw)
    except codec.DecodeError as exc:
        assert str(exc)


@settings(max_examples=500)
@given(st.binary(max_size=200))
def test_parse_request_raises_only_malformed_request_on_bytes(body: bytes) -> None:
    with contextlib.suppress(errors.MalformedRequest):
        wire.parse_request(body)


def _bodies() -> st.SearchStrategy[bytes]:
    shaped = st.fixed_dictionaries({}, optional={"args": json_values, "kwargs": json_values})
    return (shaped | json_values).map(lambda value: json.dumps(value).encode())


TRANSFER: Method[object] = Method(
    "ledger",
    "transfer",
    params=(
        Param("owner", Owner),
        Param("amount", Money, has_default=True),
        Param("color", Color, keyword_only=True),
    ),
    result=list[Money],
)


@settings(max_examples=500)
@given(_bodies())
def test_decode_request_raises_only_bad_request(body: bytes) -> None:
    with contextlib.suppress(errors.MalformedRequest):
        wire.parse_request(body)
    try:
        TRANSFER.codec.decode_request(body)
    except (errors.MalformedRequest, errors.IncorrectSignature) as exc:
        assert str(exc)


@settings(max_examples=300)
@given(st.binary(max_size=200) | _bodies())
def test_parse_reply_raises_only_malformed_reply(body: bytes) -> None:
    with contextlib.suppress(errors.MalformedReply):
        wire.parse_reply(body)


python_values = st.recursive(
    json_values | st.binary() | st.decimals() | st.complex_numbers() | st.just(object()),
    lambda inner: st.lists(inner).map(tuple) | st.frozensets(st.integers()) | st.lists(inner),
    max_leaves=8,
)


@given(st.lists(python_values, max_size=4))
def test_any_exception_serializes_to_json(args: list[object]) -> None:
    data = errors.serialize_exception(ValueError(*args))
    assert list(data) == ["exc_type", "exc_path", "exc_args", "value"]
    wire.dumps(data)


@given(json_values, st.lists(st.sampled_from([Owner, Money]).map(lambda _: _Declared)))
def test_deserialize_error_never_raises(
    data: object, declared: list[type[errors.ServiceError]]
) -> None:
    rebuilt = errors.deserialize_error(data, declared)  # type: ignore[arg-type]
    assert isinstance(rebuilt, errors.RpcError)
    str(rebuilt)


@given(st.fixed_dictionaries({"exc_type": st.just("_Declared"), "exc_args": json_values}))
def test_declared_errors_are_rebuilt_from_any_args(data: dict[str, object]) -> None:
    assert isinstance(errors.deserialize_error(data, [_Declared]), _Declared)


class _Declared(errors.ServiceError):
    def __init__(self, amount: int) -> None:
        super().__init__(amount)


@given(json_values, st.integers(-2, 20))
def test_call_id_stack_from_any_header(parent: object, tracked: int) -> None:
    stack = wire.child_call_id_stack(parent, "me", tracked)
    assert stack[-1] == "me"
    assert all(isinstance(item, str) for item in stack)
    assert len(stack) <= max(tracked, 0) + 1
