"""A Nameko 3 caller traced by ``opentelemetry-instrumentation-nameko``: starts a root span and
calls one method with the standalone ``ClusterRpcClient``; prints the result as JSON.

    python traced_caller.py AMQP_URI SERVICE METHOD      (TRACED_SPANS_FILE set, see otel_setup)
"""

import eventlet

eventlet.monkey_patch()

import json  # noqa: E402
import sys  # noqa: E402

from nameko.standalone.rpc import ClusterRpcClient  # noqa: E402
from otel_setup import setup  # noqa: E402


def main():
    uri, service, method = sys.argv[1:4]
    provider = setup()
    tracer = provider.get_tracer("traced_caller")
    with (
        tracer.start_as_current_span("nameko caller"),
        ClusterRpcClient(uri=uri, timeout=20) as rpc,
    ):
        result = getattr(getattr(rpc, service), method)()
    provider.shutdown()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
