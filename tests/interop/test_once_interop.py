"""Effectively once with Nameko peers (docs/reliability.md#effectively-once): a Nameko caller's
request redelivered after a lost ack runs once, by its correlation id, and the Nameko caller
gets the first run's reply; with ``once=False`` it runs twice, as a Nameko service would."""

from __future__ import annotations

import pytest
import rpcgen.runtime as rt
from rpcgen.runtime import Backoff
from rpcgen.runtime.testing import Vhost

from tests.faults.faultproxy import Direction, Fault, FaultProxy, When
from tests.faults.test_once import BASIC_PUBLISH, Counting
from tests.interop.harness import NamekoClient
from tests.waiting import wait_until

pytestmark = pytest.mark.timeout(120)


@pytest.mark.parametrize("once", [True, False], ids=["once", "no once"])
def test_a_nameko_callers_request_redelivered_after_a_lost_reply_runs_once(
    nameko_client: NamekoClient, rabbit_vhost: Vhost, once: bool
) -> None:
    impl = Counting()
    with FaultProxy.to(rabbit_vhost.uri) as proxy:
        # The server's connection breaks as it publishes the reply: the Nameko caller has
        # nothing yet, and the broker redelivers the unacked request after the reconnect.
        cut = proxy.arm(Fault.RESET, When(BASIC_PUBLISH, direction=Direction.TO_BROKER))
        server_uri = proxy.uri(rabbit_vhost.uri)
        fast = Backoff(initial=0.1, max=0.5)
        with rt.run_in_background(impl, server_uri, once=once, reconnect=fast) as runner:
            outcome = nameko_client.call("hello_service", "test", "nameko", timeout=30)
            assert cut.fired.is_set()
            assert outcome.ok, outcome.error
            wait_until(lambda: impl.runs == (1 if once else 2), what="the handler's runs")
            # The copy was answered with the first run's reply (#1), or ran again (#2).
            assert outcome.result == ("nameko #1" if once else "nameko #2")
            assert impl.runs == (1 if once else 2)
            assert runner.duplicates == (1 if once else 0)
