"""What a Nameko 2.14.1 caller sees from the greeter: each test runs against Nameko's service and
against rpcgen's (``greeter_service``), and both must look the same.
"""

from __future__ import annotations

import re

from tests.interop.harness import Call, NamekoClient
from tests.interop.samples import SAMPLES, SAMPLES_WIRE

UUID4 = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"


def test_results_of_every_type(greeter_service: str, nameko_client: NamekoClient) -> None:
    assert nameko_client.call("greeter", "hello", "bob").value == "hello, bob"
    assert nameko_client.call("greeter", "hello", name="bob", greeting="hi").value == "hi, bob"
    samples = nameko_client.call("greeter", "samples")
    assert samples.value["amount"] == {"__type__": "decimal", "__value__": "1.50"}
    assert samples.value["binary"] == {"__type__": "base64", "__value__": "AP/+"}
    for fragment in (
        "Decimal('1.50')",
        "UUID('12345678-1234-5678-1234-567812345678')",
        "datetime.datetime(2020, 1, 2, 3, 4, 5, 123456, tzinfo=datetime.timezone.utc)",
        "datetime.date(2020, 1, 2)",
        "datetime.time(3, 4, 5)",
        "b'caf\\xc3\\xa9'",
    ):
        assert fragment in samples.repr


def test_markers_in_arguments_arrive_as_python_types(
    greeter_service: str, nameko_client: NamekoClient
) -> None:
    seen = nameko_client.call("greeter", "inspect", SAMPLES_WIRE).value
    assert seen == {"args": [repr(SAMPLES)], "kwargs": {}}
    assert nameko_client.call("greeter", "echo", SAMPLES_WIRE).value == SAMPLES_WIRE


def test_errors_as_a_nameko_caller_sees_them(
    greeter_service: str, nameko_client: NamekoClient
) -> None:
    unregistered = nameko_client.call("greeter", "fail_unregistered", "boom")
    assert unregistered.error_class == "nameko.exceptions.RemoteError"
    assert unregistered.error["exc_type"] == "NotRegistered"
    assert unregistered.error["value"] == "boom"
    assert unregistered.error["str"] == "NotRegistered boom"

    missing = nameko_client.call("greeter", "nope")
    assert missing.error_class == "nameko.exceptions.MethodNotFound"
    assert missing.error["str"] == "nope"

    bad_args = nameko_client.call("greeter", "hello", "a", "b", "c")
    assert bad_args.error_class == "nameko.exceptions.IncorrectSignature"

    unknown = nameko_client.call("ghost", "hello")
    assert unknown.error_class == "nameko.exceptions.UnknownService"
    assert unknown.error["str"] == "Unknown service `ghost`"


def test_declared_error_is_rebuilt_by_a_nameko_caller(
    greeter_service: str, nameko_client: NamekoClient
) -> None:
    """The caller registered ``greeter.InsufficientFunds`` (the Nameko service's module): rpcgen's
    server sends that path, the IDL module's name (idl/greeter.py), although the generated class
    lives in ``interop_generated.greeter``."""
    registered = nameko_client.call("greeter", "withdraw", 10, 20)
    assert registered.error_class == "greeter.InsufficientFunds"
    assert registered.error["args"] == ["'balance 10 < 20'", "'10'", "'20'"]  # stringified


# The standalone proxy's call id: fixed per proxy in 2.x, new per call in 3.x (protocol §6.3).
STANDALONE_ID = {
    "2.14.1": rf"standalone_rpc_proxy\.call\.{UUID4}",
    "3.0.0rc11": rf"standalone_rpc_client\.{UUID4}\.{UUID4}",
}


def test_context_data_and_call_id_stack_through_a_hop(
    greeter_service: str, nameko_client: NamekoClient, nameko_version: str
) -> None:
    context = {"language": "en", "user_id": 5, "custom": "x"}
    direct = nameko_client.call("greeter", "context", context_data=context).value
    assert direct["context_data"] == context
    proxy_id, own_id = direct["call_id_stack"]
    assert re.fullmatch(STANDALONE_ID[nameko_version], proxy_id)
    assert re.fullmatch(f"greeter\\.context\\.{UUID4}", own_id)
    assert direct["call_id"] == own_id

    hopped = nameko_client.call("greeter", "hop", "context", context_data=context).value
    if greeter_service == "rpcgen":  # the rpcgen hop sends its call's deadline on (wire.md §6.4)
        assert isinstance(hopped["context_data"].pop("rpcgen_deadline_ms"), int)
    assert hopped["context_data"] == context
    proxy_id, hop_id, relay_id = hopped["call_id_stack"]
    assert re.fullmatch(STANDALONE_ID[nameko_version], proxy_id)
    assert re.fullmatch(f"greeter\\.hop\\.{UUID4}", hop_id)
    assert re.fullmatch(f"relay\\.context\\.{UUID4}", relay_id)


def test_call_async_and_service_proxy(greeter_service: str, nameko_client: NamekoClient) -> None:
    calls = [Call("compute", (i, 1)) for i in range(5)] + [Call("nope")]
    outcomes = nameko_client.call_async("greeter", calls)
    assert [o.value for o in outcomes[:5]] == [1, 2, 3, 4, 5]
    assert outcomes[5].error_class == "nameko.exceptions.MethodNotFound"
    assert nameko_client.call("greeter", "hello", "x", proxy="service").value == "hello, x"
