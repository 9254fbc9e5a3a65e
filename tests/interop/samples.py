"""The values of nameko_side/greeter.py's SAMPLES, as Python values and in kombu's wire form."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timezone
from datetime import time as time_of_day
from decimal import Decimal
from typing import Any

# What a typed rpcgen client decodes (the Samples TypedDict of idl/greeter.py).
SAMPLES: dict[str, Any] = {
    "text": "caf\u00e9 \U0001f600",
    "count": 42,
    "big": 10**30,
    "ratio": 2.5,
    "flag": True,
    "nothing": None,
    "items": [1, "two", [3.0]],
    "nested": {"a": {"b": [None, False]}},
    "when": datetime(2020, 1, 2, 3, 4, 5, 123456, tzinfo=timezone.utc),
    "naive_when": datetime(2020, 1, 2, 3, 4, 5),
    "day": date(2020, 1, 2),
    "clock": time_of_day(3, 4, 5),
    "amount": Decimal("1.50"),
    "ident": uuid.UUID("12345678-1234-5678-1234-567812345678"),
    "utf8_bytes": b"caf\xc3\xa9",
    "binary": b"\x00\xff\xfe",
}


def _marker(kind: str, value: object) -> dict[str, object]:
    return {"__type__": kind, "__value__": value}


# The same values as JSON with kombu's markers (what the Nameko driver takes as arguments).
SAMPLES_WIRE: dict[str, Any] = {
    **{
        k: v for k, v in SAMPLES.items() if isinstance(v, (str, int, float, list, dict, type(None)))
    },
    "when": _marker("datetime", "2020-01-02T03:04:05.123456+00:00"),
    "naive_when": _marker("datetime", "2020-01-02T03:04:05"),
    "day": _marker("date", "2020-01-02"),
    "clock": _marker("time", "03:04:05"),
    "amount": _marker("decimal", "1.50"),
    "ident": _marker("uuid", {"hex": "12345678123456781234567812345678"}),
    "utf8_bytes": _marker("bytes", "caf\u00e9"),
    "binary": _marker("base64", "AP/+"),
}
