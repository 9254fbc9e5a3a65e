"""A Nameko 3 caller traced by ``opentelemetry-instrumentation-nameko``: starts a root span and
calls one method with the standalone ``ClusterRpcClient`` (prints the result as JSON), or
dispatches one event with the standalone ``event_dispatcher`` (payload ``{"n": 1}``).

    python traced_caller.py AMQP_URI call SERVICE METHOD      (TRACED_SPANS_FILE set, see
    python traced_caller.py AMQP_URI dispatch SERVICE EVENT    otel_setup)
"""

import eventlet

eventlet.monkey_patch()

import json  # noqa: E402
import sys  # noqa: E402

import nameko.standalone.events  # noqa: E402  (by module: instrument() wraps the function there)
from nameko.standalone.rpc import ClusterRpcClient  # noqa: E402
from otel_setup import setup  # noqa: E402


def main():
    uri, what, service, name = sys.argv[1:5]
    provider = setup()
    tracer = provider.get_tracer("traced_caller")
    with tracer.start_as_current_span("nameko caller"):
        if what == "call":
            with ClusterRpcClient(uri=uri, timeout=20) as rpc:
                result = getattr(getattr(rpc, service), name)()
        else:
            nameko.standalone.events.event_dispatcher(uri=uri)(service, name, {"n": 1})
            result = None
    provider.shutdown()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
