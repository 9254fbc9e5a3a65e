"""A deadline crosses a Nameko hop: rpcgen client -> Nameko ``greeter.hop`` -> rpcgen service.

The rpcgen caller allows 5 s. Nameko passes ``nameko.rpcgen_deadline_ms`` on like any context key,
so the rpcgen service behind it sees the caller's deadline, and the calls it makes get only what
remains of it (not their own 30 s): the inner call is cut short.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import rpcgen.runtime as rt
from rpcgen.runtime import context
from rpcgen.runtime.testing import Vhost

from tests.interop.harness import NamekoServices

StartNameko = Callable[..., NamekoServices]
CONTEXT = rt.Method("rrelay", "context", params=(), result=dict[str, float | list[str] | None])


class Behind(rt.Server):
    """The rpcgen service behind the Nameko hop: reports the deadline and its calls' budget."""

    service_name = "rrelay"
    methods = {"context": CONTEXT}  # noqa: RUF012

    def context(self) -> dict[str, Any]:
        ctx = rt.current_context()
        timeout, _deadline = context.budget(30.0)  # what a 30 s client call made here gets
        return {
            "deadline": None if ctx is None else ctx.deadline,
            "budget": timeout,
            "stack": [] if ctx is None else list(ctx.call_id_stack),
        }


def test_the_deadline_survives_a_nameko_hop_and_cuts_the_inner_budget(
    start_nameko: StartNameko, rabbit_vhost: Vhost
) -> None:
    start_nameko(env={"GREETER_HOP_TARGET": "rrelay"})
    with (
        rt.run_in_background(Behind(), rabbit_vhost.uri),
        rt.RawClient.connect(rabbit_vhost.uri, timeout=5.0) as client,
    ):
        sent_at = time.time()
        seen: Any = client.call("greeter", "hop", ["context"])
    # The rpcgen service two hops away knows when the first caller gives up ...
    assert seen["deadline"] is not None
    assert sent_at + 5.0 <= seen["deadline"] <= time.time() + 5.0
    # ... and a call it makes with a 30 s client gets at most what remains of those 5 s.
    assert 0 < seen["budget"] < 5.0
    assert [s.split(".")[0] for s in seen["stack"]][-2:] == ["greeter", "rrelay"]
