"""Encoding to kombu's bytes, type-directed decoding, and its error messages."""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass, make_dataclass
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any, Literal, Optional

import pytest
from rpcgen.runtime._codec import codec, wire

from tests.unit.codec_types import (
    Account,
    Address,
    Color,
    Contact,
    Everything,
    Level,
    Money,
    Mood,
    Owner,
    Positive,
)

UTC = timezone.utc
UID = uuid.UUID("12345678-1234-5678-1234-567812345678")


def roundtrip(value: object, tp: object) -> object:
    return codec.decoder_for(tp)(json.loads(codec.dumps(value)))


# --- encoding: §4.1 markers, byte for byte --------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (
            datetime(2020, 1, 2, 3, 4, 5, tzinfo=UTC),
            '"datetime", "__value__": "2020-01-02T03:04:05+00:00"',
        ),
        (datetime(2020, 1, 2, 3, 4, 5), '"datetime", "__value__": "2020-01-02T03:04:05"'),
        (datetime(2020, 1, 2, 3, 4, 5, 6), '"datetime", "__value__": "2020-01-02T03:04:05.000006"'),
        (date(2020, 1, 2), '"date", "__value__": "2020-01-02"'),
        (time(3, 4, 5), '"time", "__value__": "03:04:05"'),
        (Decimal("1.50"), '"decimal", "__value__": "1.50"'),
        (UID, '"uuid", "__value__": {"hex": "12345678123456781234567812345678"}'),
        (b"text", '"bytes", "__value__": "text"'),
        (b"\xff\x00", '"base64", "__value__": "/wA="'),
    ],
)
def test_special_types_as_kombu_5_3_markers(value: object, expected: str) -> None:
    assert codec.dumps(value) == ('{"__type__": ' + expected + "}").encode()


def test_dataclass_encodes_in_field_order() -> None:
    owner = Owner("bob", ["a", "b"])
    assert codec.dumps(owner) == b'{"name": "bob", "tags": ["a", "b"], "email": null}'


def test_enums_encode_as_values() -> None:
    assert codec.dumps([Color.RED, Level.HIGH, Mood.SAD]) == b'["red", 2, "sad"]'
    assert codec.dumps({Mood.SAD: 1}) == b'{"sad": 1}'


def test_plain_values_are_byte_identical_to_wire_dumps() -> None:
    value = {"args": ["café", 1, 2.5, None, True, [1, (2, 3)]], "kwargs": {"k": {"n": -1}}}
    assert codec.dumps(value) == wire.dumps(value)


def test_to_wire_is_what_dumps_writes() -> None:
    account = Account(
        1,
        Owner("bob", ["x"]),
        Color.GREEN,
        Money(Decimal("2.5")),
        datetime(2020, 1, 2, tzinfo=UTC),
        (UID,),
        limits={"day": 1.5},
    )
    plain = codec.to_wire(account)
    assert wire.dumps(plain) == codec.dumps(account)
    assert plain == {
        "id": 1,
        "owner": {"name": "bob", "tags": ["x"], "email": None},
        "color": "green",
        "balance": {"amount": {"__type__": "decimal", "__value__": "2.5"}, "currency": "EUR"},
        "opened": {"__type__": "datetime", "__value__": "2020-01-02T00:00:00+00:00"},
        "ids": [{"__type__": "uuid", "__value__": {"hex": UID.hex}}],
        "history": [],
        "limits": {"day": 1.5},
    }


@pytest.mark.parametrize("value", [{1, 2}, object(), Owner, {"k": {1j}}, [frozenset()]])
def test_unsupported_values_raise_type_error(value: object) -> None:
    with pytest.raises(TypeError, match="rpcgen cannot send"):
        codec.dumps(value)
    with pytest.raises(TypeError, match="rpcgen cannot send"):
        codec.to_wire(value)


def test_to_wire_rejects_keys_json_cannot_write() -> None:
    with pytest.raises(TypeError, match="dict key tuple"):
        codec.to_wire({(1, 2): "v"})


# --- decoding: round trips ------------------------------------------------------------------


def test_nested_records_round_trip() -> None:
    inner = Account(
        2, Owner("amy", []), Color.RED, Money(Decimal("0.1"), "USD"), datetime(2021, 5, 6)
    )
    account = Account(
        1,
        Owner("bob", ["x", "y"], "b@x"),
        Color.GREEN,
        Money(Decimal("-3.25")),
        datetime(2020, 1, 2, 3, 4, 5, 123456, tzinfo=timezone(timedelta(hours=5, minutes=30))),
        (UID, uuid.uuid4()),
        [inner],
        {"day": 1.0, "week": 2.5},
    )
    assert roundtrip(account, Account) == account
    assert roundtrip([account], list[Account]) == [account]
    assert roundtrip({"a": account}, dict[str, Account]) == {"a": account}


def test_every_supported_type_round_trips() -> None:
    value = Everything(
        s="é\x00\U0001f600",
        i=-(2**70),
        f=0.1,
        b=False,
        n=None,
        d=date(1, 1, 1),
        t=time(23, 59, 59, 999999, tzinfo=UTC),
        raw=bytes(range(256)),
        level=Level.HIGH,
        mood=Mood.HAPPY,
        pair=(1, "one"),
        empty=(),
        maybe=None,
        either="x",
        contact={"phone": "123", "address": {"street": "Main", "zip": 1000}},
    )
    decoded = roundtrip(value, Everything)
    assert decoded == value
    assert isinstance(decoded, Everything)
    assert type(decoded.level) is Level
    assert type(decoded.pair) is tuple


def test_typeddict_totality() -> None:
    assert roundtrip({}, Contact) == {}
    with pytest.raises(codec.DecodeError, match=r"^zip: expected int, got nothing"):
        codec.decoder_for(Address)({"street": "Main"})


def test_unknown_keys_are_ignored() -> None:
    decode = codec.decoder_for(Owner)
    assert decode({"name": "bob", "tags": [], "added_later": 1}) == Owner("bob", [])
    assert codec.decoder_for(Address)({"street": "s", "zip": 1, "x": 2}) == {
        "street": "s",
        "zip": 1,
    }


def test_defaults_fill_missing_fields() -> None:
    assert codec.decoder_for(Money)({"amount": "1"}) == Money(Decimal(1))


def test_optional_literal_and_tuples() -> None:
    assert codec.decoder_for(Optional[int])(None) is None  # noqa: UP045
    assert codec.decoder_for(int | None)(3) == 3
    assert codec.decoder_for(Literal["a", 2, True, None])(True) is True
    assert codec.decoder_for(Literal[Color.RED])("red") is Color.RED
    assert codec.decoder_for(tuple[int, ...])([1, 2]) == (1, 2)
    assert codec.decoder_for(tuple[int, str])([1, "a"]) == (1, "a")
    assert codec.decoder_for(tuple[()])([]) == ()


def test_int_is_accepted_for_float() -> None:
    decoded = codec.decoder_for(float)(3)
    assert decoded == 3.0
    assert type(decoded) is float
    assert codec.decoder_for(list[float])([1, 2.5]) == [1.0, 2.5]


@pytest.mark.parametrize(
    ("tp", "raw", "expected"),
    [
        (float | int, 1, int),
        (float | int, 1.0, float),
        (int | float, 1.5, float),
        (Decimal | str, "1.5", str),
        (str | Decimal, "1.5", str),
        (Decimal | str, {"__type__": "decimal", "__value__": "1.5"}, Decimal),
        (Decimal | float, 1.5, float),
        (datetime | str, "2020-01-02", str),
        (date | datetime, {"__type__": "datetime", "__value__": "2020-01-02T00:00:00"}, datetime),
        (int | str, "1", str),
        (Color | str, "red", Color),
        (str | Color, "red", str),
    ],
)
def test_unions_prefer_the_member_made_for_the_json_type(
    tp: Any, raw: object, expected: type
) -> None:
    assert type(codec.decoder_for(tp)(raw)) is expected


def test_primitive_containers_are_not_copied() -> None:
    raw_list = [1, 2, 3]
    assert codec.decoder_for(list[int])(raw_list) is raw_list
    raw_dict = {"a": "x", "b": None}
    assert codec.decoder_for(dict[str, str | None])(raw_dict) is raw_dict


def test_decoders_are_compiled_once() -> None:
    assert codec.decoder_for(list[Account]) is codec.decoder_for(list[Account])


# --- decoding: legacy kombu<=5.2 strings (§4.2) ---------------------------------------------


@pytest.mark.parametrize(
    ("tp", "raw", "expected"),
    [
        (datetime, "2020-01-02T03:04:05Z", datetime(2020, 1, 2, 3, 4, 5, tzinfo=UTC)),
        (datetime, "2020-01-02T03:04:05.000006", datetime(2020, 1, 2, 3, 4, 5, 6)),
        (datetime, "2020-01-02T03:04:05+01:00", datetime(2020, 1, 2, 2, 4, 5, tzinfo=UTC)),
        (date, "2020-01-02T00:00:00", date(2020, 1, 2)),
        (date, "2020-01-02", date(2020, 1, 2)),
        (time, "03:04:05", time(3, 4, 5)),
        (Decimal, "1.50", Decimal("1.50")),
        (Decimal, 2, Decimal(2)),
        (Decimal, 0.1, Decimal("0.1")),
        (uuid.UUID, str(UID), UID),
        (uuid.UUID, UID.hex, UID),
        (uuid.UUID, {"__type__": "uuid", "__value__": {"hex": UID.hex, "version": 4}}, UID),
        (uuid.UUID, {"__type__": "uuid", "__value__": str(UID)}, UID),
        (date, {"__type__": "date", "__value__": "2020-01-02"}, date(2020, 1, 2)),
    ],
)
def test_legacy_and_variant_forms_are_accepted(tp: Any, raw: object, expected: object) -> None:
    decoded = codec.decoder_for(tp)(raw)
    assert decoded == expected
    assert type(decoded) is type(expected)


# --- decoding: error messages ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("tp", "raw", "message"),
    [
        (int, "x", "expected int, got str 'x'"),
        (int, True, "expected int, got bool True"),
        (int, 1.0, "expected int, got float 1.0"),
        (str, None, "expected str, got None"),
        (bool, 1, "expected bool, got int 1"),
        (float, "1.5", "expected float, got str '1.5'"),
        (None, 0, "expected None, got int 0"),
        (list[int], {"a": 1}, "expected list[int], got dict {'a': 1}"),
        (list[int], [1, "2"], "[1]: expected int, got str '2'"),
        (dict[str, int], {"a": "x"}, "['a']: expected int, got str 'x'"),
        (tuple[int, str], [1], "expected tuple[int, str], got list [1]"),
        (tuple[int, str], [1, 2], "[1]: expected str, got int 2"),
        (tuple[int, ...], [1, None], "[1]: expected int, got None"),
        (Literal["a", "b"], "c", "expected Literal['a', 'b'], got str 'c'"),
        (Literal[1], True, "expected Literal[1], got bool True"),
        (Color, "blue", "expected Color ('red', 'green'), got str 'blue'"),
        (Color, ["red"], "expected Color ('red', 'green'), got list ['red']"),
        (Level, "1", "expected Level (1, 2), got str '1'"),
        (int | str, None, "expected int | str, got None"),
        (Optional[Owner], [], "expected Owner | None, got list []"),  # noqa: UP045
        (Owner | None, {"name": 1}, "name: expected str, got int 1"),
        (Owner, {"tags": []}, "name: expected str, got nothing (the field is missing)"),
        (Owner, "bob", "expected Owner, got str 'bob'"),
        (
            Positive,
            {"value": 0},
            "expected Positive, got values it rejects (value must be positive)",
        ),
        (datetime, "yesterday", "expected datetime, got str 'yesterday'"),
        (datetime, {"__type__": "date", "__value__": "2020-01-02"}, "expected datetime, got dict"),
        (date, 20200102, "expected date, got int 20200102"),
        (Decimal, "one", "expected Decimal, got str 'one'"),
        (Decimal, True, "expected Decimal, got bool True"),
        (uuid.UUID, "not-a-uuid", "expected UUID, got str 'not-a-uuid'"),
        (bytes, "text", "expected bytes, got str 'text'"),
        (bytes, {"__type__": "base64", "__value__": "!!"}, "expected bytes, got dict"),
        (bytes, {"__type__": "bytes", "__value__": "\ud800"}, "expected bytes, got dict"),
        (bytes, {"__type__": "weird", "__value__": "x"}, "expected bytes, got dict"),
        (
            Account,
            {"id": 1, "owner": {"name": "b", "tags": ["x", "y", 3]}},
            "owner.tags[2]: expected str, got int 3",
        ),
        (list[Account], [{"id": "1"}], "[0].id: expected int, got str '1'"),
        (dict[str, list[Money]], {"k": [{"amount": "x"}]}, "['k'][0].amount: expected Decimal"),
    ],
)
def test_decode_errors(tp: Any, raw: object, message: str) -> None:
    with pytest.raises(codec.DecodeError) as caught:
        codec.decoder_for(tp)(raw)
    assert str(caught.value).startswith(message)


def test_decode_error_parts() -> None:
    with pytest.raises(codec.DecodeError) as caught:
        codec.decoder_for(Account)({"id": 1, "owner": {"name": "b", "tags": [1]}})
    error = caught.value
    assert (error.path, error.expected, error.got) == ("owner.tags[0]", "str", "int 1")
    assert error.at("account") == "account.owner.tags[0]"


def test_long_values_are_shortened_in_messages() -> None:
    with pytest.raises(codec.DecodeError) as caught:
        codec.decoder_for(int)("x" * 1000)
    assert len(str(caught.value)) < 80


@dataclass
class _Unresolvable:
    x: NotDefinedAnywhere  # type: ignore[name-defined]  # noqa: F821


@pytest.mark.parametrize(
    "tp",
    [set[int], object, list, dict, dict[int, str], Any, frozenset[str], complex, set[int] | None],
)
def test_unsupported_types_raise_type_error(tp: object) -> None:
    with pytest.raises(TypeError, match="rpcgen cannot decode"):
        codec.decoder_for(tp)


def test_unresolvable_annotations_raise_type_error() -> None:
    with pytest.raises(TypeError, match="cannot resolve the annotations of _Unresolvable"):
        codec.decoder_for(_Unresolvable)
    with pytest.raises(TypeError):  # a failed compile leaves nothing half-built behind
        codec.decoder_for(list[_Unresolvable])


@pytest.mark.parametrize(
    ("tp", "name"),
    [
        (int, "int"),
        (None, "None"),
        (type(None), "None"),
        (Optional[int], "int | None"),  # noqa: UP045
        (int | None, "int | None"),
        (list[Account], "list[Account]"),
        (dict[str, list[int]], "dict[str, list[int]]"),
        (tuple[int, ...], "tuple[int, ...]"),
        (tuple[int, str], "tuple[int, str]"),
        (tuple[()], "tuple[()]"),
        (Literal["a", 1], "Literal['a', 1]"),
        (Literal[Color.RED], "Literal[Color.RED]"),
        (Decimal, "Decimal"),
        (uuid.UUID, "UUID"),
        ("Account", "Account"),
    ],
)
def test_type_names(tp: object, name: str) -> None:
    assert codec.type_name(tp) == name


def test_concurrent_first_compiles_of_a_recursive_type_agree() -> None:
    # A fresh recursive class, so that no earlier test has compiled it.
    node = make_dataclass("Node", [("name", str), ("children", "list[Node]")])
    node.__module__ = __name__
    globals()["Node"] = node
    raw = {"name": "a", "children": [{"name": "b", "children": []}]}
    barrier = threading.Barrier(8)
    results: list[object] = []

    def compile_and_decode() -> None:
        barrier.wait()
        results.append(codec.decoder_for(list[node])([raw]))  # type: ignore[valid-type]

    threads = [threading.Thread(target=compile_and_decode) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    expected = [node("a", [node("b", [])])]
    assert results == [expected] * 8
