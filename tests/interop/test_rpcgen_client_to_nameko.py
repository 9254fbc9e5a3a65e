"""A generated rpcgen client calling real Nameko 2.14.1 services (tests/interop/nameko_side).

The client comes from ``rpcgen build tests/interop/idl`` (the ``interop_api`` fixture); the
services run under ``nameko run`` in this test's vhost.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import pytest
import rpcgen.runtime as rt
from rpcgen.runtime.testing import Vhost

from tests.interop import captures
from tests.interop.harness import NamekoServices
from tests.interop.samples import SAMPLES

UUID4 = captures.UUID4.pattern
CONTEXT = {"language": "en", "user_id": 5, "custom": "x"}


@pytest.fixture
def client(interop_api: ModuleType, greeter: NamekoServices, amqp_uri: str) -> Iterator[Any]:
    with interop_api.GreeterClient.connect(amqp_uri, timeout=15) as client:
        yield client


def test_results_and_arguments_of_every_type(client: Any) -> None:
    assert client.hello("bob") == "hello, bob"  # the default is sent explicitly
    assert client.hello("bob", greeting="hi") == "hi, bob"
    assert client.compute(2, 3) == 5
    assert client.samples() == SAMPLES
    assert client.echo(SAMPLES) == SAMPLES  # encoded by rpcgen, decoded and re-encoded by kombu
    # What the Nameko method received: the same Python values, types included.
    assert client.inspect(SAMPLES) == {"args": [repr(SAMPLES)], "kwargs": {}}


def test_declared_error_is_the_generated_class(interop_api: ModuleType, client: Any) -> None:
    with pytest.raises(interop_api.InsufficientFunds) as caught:
        client.withdraw(10, 20)
    assert isinstance(caught.value, rt.ServiceError)
    assert caught.value.args == ("balance 10 < 20", "10", "20")  # Nameko stringifies exc_args


def test_other_remote_errors(client: Any) -> None:
    with pytest.raises(rt.RemoteError) as unregistered:
        client.fail_unregistered("boom")
    err = unregistered.value
    assert (err.exc_type, err.exc_path, err.value) == (
        "NotRegistered",
        "greeter.NotRegistered",
        "boom",
    )
    assert str(err) == "NotRegistered boom"

    with pytest.raises(rt.RemoteError) as builtin:
        client.fail_builtin()
    assert builtin.value.exc_type == "ValueError"
    assert builtin.value.exc_args == ["bad", "42", "None", {"k": "1"}, ["97", "98"]]

    with pytest.raises(rt.RemoteError) as unserializable:  # Nameko does not register it either
        client.unserializable()
    assert unserializable.value.exc_type == "UnserializableValueError"
    assert unserializable.value.value == "Unserializable value: `{1, 2}`"


def test_protocol_errors(interop_api: ModuleType, client: Any, amqp_uri: str) -> None:
    with pytest.raises(rt.MethodNotFound, match="missing"):
        client.missing()
    with pytest.raises(rt.IncorrectSignature, match="positional argument"):
        client.strict(1, 2)
    with (
        interop_api.GhostClient.connect(amqp_uri, timeout=60) as ghost,
        pytest.raises(rt.UnknownService, match="ghost"),
    ):
        ghost.hello()  # fails at once from the mandatory publish, not after 60 s


def test_timeout_names_the_call(client: Any) -> None:
    with pytest.raises(rt.RpcTimeout, match=r"greeter\.sleep"):
        client.sleep.call_async(3.0).result(timeout=0.3)
    assert client.with_timeout(0.3).sleep(0.0) == 0.0


def test_call_async_many_in_flight(client: Any) -> None:
    futures = [client.compute.call_async(i, 1) for i in range(50)]
    assert [f.result() for f in futures] == [i + 1 for i in range(50)]


def test_context_data_and_call_id_stack(client: Any) -> None:
    with rt.context_data(**CONTEXT):
        direct = client.context()
        hopped = client.hop("context")
    # rpcgen's deadline reaches Nameko as one more context key, and Nameko passes it on.
    deadline = direct["context_data"].pop("rpcgen_deadline_ms")
    assert isinstance(deadline, int) and deadline / 1000 > time.time()
    assert hopped["context_data"].pop("rpcgen_deadline_ms") > deadline
    assert direct["context_data"] == CONTEXT
    caller_id, own_id = direct["call_id_stack"]
    assert re.fullmatch(rf"[\w-]+\.call\.{UUID4}", caller_id)
    assert re.fullmatch(rf"greeter\.context\.{UUID4}", own_id)
    assert hopped["context_data"] == CONTEXT
    assert [i.rsplit(".", 1)[0] for i in hopped["call_id_stack"][1:]] == [
        "greeter.hop",
        "relay.context",
    ]


def test_asyncio_client(interop_api: ModuleType, greeter: NamekoServices, amqp_uri: str) -> None:
    async def main() -> list[Any]:
        async with interop_api.GreeterAsyncClient.connect(amqp_uri, timeout=15) as client:
            return await asyncio.gather(
                client.hello("bob"), client.samples(), *(client.compute(i, i) for i in range(20))
            )

    hello, samples, *sums = asyncio.run(main())
    assert (hello, samples, sums) == ("hello, bob", SAMPLES, [2 * i for i in range(20)])


def test_requests_are_byte_identical_to_nameko_s(client: Any, rabbit_vhost: Vhost) -> None:
    """rpcgen's request bodies and properties against the captured Nameko ones (ids aside)."""
    spy = rabbit_vhost.spy("nameko-rpc", "#")
    calls: dict[str, Callable[[], object]] = {
        "compute": lambda: client.compute(1, 2),
        "hello_unicode": lambda: client.hello("b\u00f8b \U0001f600", "hi"),
        "echo_samples": lambda: client.echo(SAMPLES),
    }
    for name, call in calls.items():
        call()
        [request, reply] = captures.normalize(spy.get(2))
        golden = captures.load(name).messages[0]
        assert request["body"] == golden["body"], name
        assert (request["exchange"], request["routing_key"]) == (
            golden["exchange"],
            golden["routing_key"],
        )
        # Property for property; only the ids (and so the call-id stack's text) differ, and
        # rpcgen adds an expiration equal to the call's timeout (15 s) by design.
        mine, theirs = request["properties"], golden["properties"]
        assert mine.pop("expiration") == "15000"
        assert set(mine) == set(theirs), name
        for key in ("content_type", "content_encoding", "delivery_mode", "priority"):
            assert mine[key] == theirs[key], (name, key)
        # ... and the call's deadline in Unix ms, a context key Nameko passes on (wire.md §6.4).
        assert isinstance(mine["headers"].pop("nameko.rpcgen_deadline_ms"), int), name
        assert mine["headers"].keys() == theirs["headers"].keys(), name
        assert len(mine["headers"]["nameko.call_id_stack"]) == 1
        assert reply["body"] == captures.load(name).messages[1]["body"]  # Nameko's, for sanity
