"""One trace across rpcgen and a real Nameko 3 service traced by
``opentelemetry-instrumentation-nameko`` (its own virtualenv, ``.venv-nameko-otel``; see
tests/interop/nameko_side/otel_setup.py), both ways:

- rpcgen client -> Nameko ``traced.hop`` -> rpcgen ``rtail.whoami``;
- Nameko standalone caller -> rpcgen ``rtail.relay`` -> Nameko ``traced.whoami``;

and across an uninstrumented Nameko 2.14.1 hop, which passes ``nameko.traceparent`` on as it
passes any context data.

The rpcgen spans come from the in-memory exporter, the Nameko ones from the JSON lines its process
writes; every span must share the trace id and name the right parent.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import rpcgen.runtime as rt
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind
from rpcgen.runtime.testing import Vhost
from rpcgen.runtime.testing.plugin import skip_or_fail

from generated.shop import OrderCreated, OrdersEvents
from tests.interop.harness import (
    NAMEKO_SIDE,
    ROOT,
    NamekoServices,
    find_nameko_python,
    nameko_greeter_running,
    nameko_running,
)
from tests.otel.recording import Spans, parent_id, span_id, trace_id
from tests.waiting import wait_until

ANNOUNCED = rt.Event("traced", "announced", dict[str, int])
WHOAMI = rt.Method("rtail", "whoami", params=(), result=dict[str, str | None])
RELAY = rt.Method("rtail", "relay", params=(), result=dict[str, str | None])


class Tail(rt.Server):
    """rpcgen's ``rtail``: ``whoami`` reports the trace context it got; ``relay`` asks Nameko's
    ``traced.whoami`` and returns its answer with its own; ``on_announced`` handles Nameko's
    ``traced.announced`` event."""

    service_name = "rtail"
    methods = {"whoami": WHOAMI, "relay": RELAY}  # noqa: RUF012

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self.announced: queue.Queue[dict[str, int]] = queue.Queue()

    def whoami(self) -> dict[str, str | None]:
        ctx = rt.current_context()
        received = None if ctx is None else ctx.data.get("traceparent")
        return {"traceparent": None if received is None else str(received)}

    @ANNOUNCED.handler()
    def on_announced(self, payload: dict[str, int]) -> None:
        self.announced.put(payload)

    def relay(self) -> dict[str, str | None]:
        with rt.RawClient.connect(self.uri, timeout=20) as client:
            behind: Any = client.call("traced", "whoami", [])
        return {**self.whoami(), "behind": behind["traceparent"]}


def _otel_python() -> Path | None:
    candidates = [
        os.environ.get("RPCGEN_NAMEKO_OTEL_PYTHON", ""),
        str(ROOT / ".venv-nameko-otel/bin/python"),
    ]
    return next((Path(c) for c in candidates if c and Path(c).exists()), None)


@pytest.fixture(scope="module")
def nameko_otel_python() -> Path:
    python = _otel_python()
    if python is None:
        reason = (
            "no .venv-nameko-otel (Nameko 3 with opentelemetry-instrumentation-nameko): "
            "run scripts/test"
        )
        # Built by scripts/test next to .venv-nameko3; both depend on Nameko 3's pre-release.
        skip_or_fail(reason, required_in_ci=find_nameko_python("3.0.0rc11") is not None)
    return python


@pytest.fixture
def spans_file(tmp_path: Path) -> Path:
    return tmp_path / "nameko-spans.jsonl"


@pytest.fixture
def traced(
    nameko_otel_python: Path, rabbit_vhost: Vhost, tmp_path: Path, spans_file: Path
) -> Iterator[NamekoServices]:
    with nameko_running(
        nameko_otel_python,
        rabbit_vhost,
        tmp_path,
        module="traced",
        services=("traced",),
        env={"TRACED_SPANS_FILE": str(spans_file), "TRACED_HOP_TARGET": "rtail"},
    ) as services:
        yield services


def nameko_spans(path: Path, want: set[str], timeout: float = 15.0) -> dict[str, dict[str, Any]]:
    """The Nameko process's spans by name, once all of ``want`` are there."""

    def found() -> dict[str, dict[str, Any]]:
        lines = path.read_text().splitlines() if path.exists() else []
        return {span["name"]: span for span in map(json.loads, lines)}

    def all_there() -> dict[str, dict[str, Any]]:
        spans = found()
        return spans if want <= set(spans) else {}

    return wait_until(
        all_there,
        timeout,
        what=f"the spans {sorted(want)}",
        describe=lambda: sorted(found()),
    )


def nameko_caller(python: Path, spans_file: Path, *args: str) -> Any:
    """Run traced_caller.py with ``args``; what it printed."""
    done = subprocess.run(
        [str(python), "-W", "ignore", "traced_caller.py", *args],
        cwd=NAMEKO_SIDE,
        env={**os.environ, "TRACED_SPANS_FILE": str(spans_file)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def ours(spans: list[ReadableSpan], name: str, kind: SpanKind) -> ReadableSpan:
    (found,) = [s for s in spans if s.name == name and s.kind == kind]
    return found


def test_an_rpcgen_trace_crosses_an_instrumented_nameko_service(
    rabbit_vhost: Vhost, traced: NamekoServices, spans_file: Path, spans: Spans
) -> None:
    uri = rabbit_vhost.uri
    with (
        rt.run_in_background(Tail(uri), uri),
        rt.RawClient.connect(uri, timeout=20) as client,
        spans.tracer.start_as_current_span("checkout") as root,
    ):
        seen: Any = client.call("traced", "hop", [])
    got = spans.wait_for(3)
    nameko = nameko_spans(spans_file, {"traced.hop", "RPC to rtail.whoami"})
    trace = root.get_span_context().trace_id
    hop_client = ours(got, "traced/hop", SpanKind.CLIENT)
    whoami_server = ours(got, "rtail/whoami", SpanKind.SERVER)
    hop_server, whoami_client = nameko["traced.hop"], nameko["RPC to rtail.whoami"]

    assert parent_id(hop_client) == root.get_span_context().span_id
    # Nameko's entrypoint span continues the rpcgen client's span ...
    assert (hop_server["kind"], hop_server["trace_id"]) == ("SERVER", f"{trace:032x}")
    assert hop_server["parent_id"] == f"{span_id(hop_client):016x}"
    assert seen["received"].startswith(f"00-{trace:032x}-{span_id(hop_client):016x}-")
    # ... its call out is a child of it, and the rpcgen server behind continues that call.
    assert (whoami_client["kind"], whoami_client["trace_id"]) == ("CLIENT", f"{trace:032x}")
    assert whoami_client["parent_id"] == hop_server["span_id"]
    assert trace_id(whoami_server) == trace
    assert f"{parent_id(whoami_server):016x}" == whoami_client["span_id"]
    assert seen["behind"]["traceparent"].split("-")[2] == whoami_client["span_id"]


def test_a_nameko_trace_crosses_an_rpcgen_service(
    rabbit_vhost: Vhost,
    traced: NamekoServices,
    nameko_otel_python: Path,
    spans_file: Path,
    spans: Spans,
) -> None:
    uri = rabbit_vhost.uri
    with rt.run_in_background(Tail(uri), uri):
        seen = nameko_caller(nameko_otel_python, spans_file, uri, "call", "rtail", "relay")
    got = spans.wait_for(2)
    nameko = nameko_spans(spans_file, {"nameko caller", "RPC to rtail.relay", "traced.whoami"})
    root, relay_client, whoami_server = (
        nameko["nameko caller"],
        nameko["RPC to rtail.relay"],
        nameko["traced.whoami"],
    )
    relay_server = ours(got, "rtail/relay", SpanKind.SERVER)
    whoami_client = ours(got, "traced/whoami", SpanKind.CLIENT)
    trace = root["trace_id"]

    assert relay_client["parent_id"] == root["span_id"]
    assert f"{trace_id(relay_server):032x}" == trace
    assert f"{parent_id(relay_server):016x}" == relay_client["span_id"]
    assert seen["traceparent"].split("-")[2] == relay_client["span_id"]
    assert parent_id(whoami_client) == span_id(relay_server)
    assert whoami_server["trace_id"] == trace
    assert whoami_server["parent_id"] == f"{span_id(whoami_client):016x}"


def test_an_uninstrumented_nameko_hop_passes_the_trace_context_on(
    rabbit_vhost: Vhost, tmp_path: Path, spans: Spans
) -> None:
    uri = rabbit_vhost.uri
    with (
        nameko_greeter_running(rabbit_vhost, tmp_path, env={"GREETER_HOP_TARGET": "rtail"}),
        rt.run_in_background(Tail(uri), uri),
        rt.RawClient.connect(uri, timeout=20) as client,
    ):
        seen: Any = client.call("greeter", "hop", ["whoami"])
    got = spans.wait_for(2)
    hop_client = ours(got, "greeter/hop", SpanKind.CLIENT)
    whoami_server = ours(got, "rtail/whoami", SpanKind.SERVER)
    # Nameko made no span: the rpcgen server continues the rpcgen caller's span directly.
    assert trace_id(whoami_server) == trace_id(hop_client)
    assert parent_id(whoami_server) == span_id(hop_client)
    assert seen["traceparent"].split("-")[2] == f"{span_id(hop_client):016x}"


def test_events_cross_both_ways_in_one_trace(
    rabbit_vhost: Vhost, traced: NamekoServices, spans_file: Path, spans: Spans
) -> None:
    uri = rabbit_vhost.uri
    nameko_queue = "evt-orders-order_created--traced.on_order"
    wait_until(lambda: rabbit_vhost.consumer_count(nameko_queue), 30, what=nameko_queue)
    tail = Tail(uri)
    with (
        rt.run_in_background(tail, uri),
        spans.tracer.start_as_current_span("checkout") as root,
    ):
        # rpcgen dispatches, Nameko handles ...
        with OrdersEvents.connect(uri, timeout=20) as events:
            events.order_created(OrderCreated(1, "sku-1", 2))
        # ... Nameko dispatches (inside an RPC worker), rpcgen handles.
        with rt.RawClient.connect(uri, timeout=20) as client:
            client.call("traced", "announce", [3])
        assert tail.announced.get(timeout=20) == {"n": 3}
    trace = root.get_span_context().trace_id
    got = spans.wait_for(4)
    nameko = nameko_spans(
        spans_file, {"traced.on_order", "traced.announce", "Dispatch event traced.announced"}
    )
    publish = ours(got, "publish orders.order_created", SpanKind.PRODUCER)
    on_order = nameko["traced.on_order"]
    assert (on_order["kind"], on_order["trace_id"]) == ("CONSUMER", f"{trace:032x}")
    assert on_order["parent_id"] == f"{span_id(publish):016x}"

    announce_client = ours(got, "traced/announce", SpanKind.CLIENT)
    announce_server, dispatch = nameko["traced.announce"], nameko["Dispatch event traced.announced"]
    process = ours(got, "process traced.announced", SpanKind.CONSUMER)
    assert announce_server["parent_id"] == f"{span_id(announce_client):016x}"
    assert (dispatch["kind"], dispatch["parent_id"]) == ("PRODUCER", announce_server["span_id"])
    assert trace_id(process) == trace
    assert f"{parent_id(process):016x}" == dispatch["span_id"]


def test_nameko_standalone_event_dispatcher_parents_the_rpcgen_handler(
    rabbit_vhost: Vhost, nameko_otel_python: Path, spans_file: Path, spans: Spans
) -> None:
    """The standalone dispatcher sends the context as plain ``traceparent`` headers (no
    ``nameko.`` prefix: they are its publisher's headers); rpcgen reads those too."""
    uri = rabbit_vhost.uri
    tail = Tail(uri)
    with rt.run_in_background(tail, uri):
        nameko_caller(nameko_otel_python, spans_file, uri, "dispatch", "traced", "announced")
        assert tail.announced.get(timeout=20) == {"n": 1}
    got = spans.wait_for(1)
    nameko = nameko_spans(spans_file, {"nameko caller", "Dispatch event traced.announced"})
    dispatch = nameko["Dispatch event traced.announced"]
    assert dispatch["parent_id"] == nameko["nameko caller"]["span_id"]
    process = ours(got, "process traced.announced", SpanKind.CONSUMER)
    assert f"{trace_id(process):032x}" == dispatch["trace_id"]
    assert f"{parent_id(process):016x}" == dispatch["span_id"]
