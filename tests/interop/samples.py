"""The values of nameko_side/greeter.py's SAMPLES, as Python values and in kombu's wire form."""

from __future__ import annotations

from typing import Any

from tests.interop.nameko_side.sample_values import SAMPLES as _SAMPLES

# What a typed rpcgen client decodes (the Samples TypedDict of idl/greeter.py).
SAMPLES: dict[str, Any] = dict(_SAMPLES)


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
