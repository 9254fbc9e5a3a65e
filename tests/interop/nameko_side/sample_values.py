"""One value of every supported type, shared by the Nameko side and the rpcgen-side tests.

Stdlib only: ``nameko run greeter`` imports it from this folder in the Nameko venv, and the tests
import it as ``tests.interop.nameko_side.sample_values``.
"""

import uuid
from datetime import date, datetime, timezone
from datetime import time as time_of_day
from decimal import Decimal

# One value of every supported type; the keys are those of Samples in ../idl/greeter.py.
SAMPLES: dict[str, object] = {
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
