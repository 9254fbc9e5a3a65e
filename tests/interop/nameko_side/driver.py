"""Calls services the way a Nameko user would, for the interop tests (JSON lines on stdio).

Run in a Nameko virtualenv (2.14.1 or 3.0.0rc11) from this folder: ``python driver.py``. The
first stdout line is ``{"nameko": "<version>"}``; then each stdin line is a job:

    {"uri": "amqp://...", "proxy": "cluster" | "service", "service": "greeter",
     "context_data": {...} | null, "timeout": 10, "mode": "sync" | "async",
     "calls": [{"method": "hello", "args": [...], "kwargs": {...}}, ...],
     "config": {"rpc_exchange": "..."}}   (optional: more Nameko config keys)

Arguments are decoded with kombu's JSON, so ``{"__type__": "decimal", "__value__": "1.5"}``
arrives as ``Decimal("1.5")``. All calls of a job share one proxy; in ``async`` mode every call is
sent with ``call_async`` before the first result is read. One stdout line answers each job:

    {"results": [{"ok": true, "result": <kombu JSON>, "repr": "..."}
                 | {"ok": false, "error": {"class": "nameko.exceptions.RemoteError", "str": ...,
                                           "args": [reprs], "exc_type": ..., "value": ...}}]}

Importing ``greeter`` registers its ``InsufficientFunds`` as a Nameko user's client would.
"""

import eventlet

eventlet.monkey_patch()

import importlib.metadata  # noqa: E402
import sys  # noqa: E402
import traceback  # noqa: E402

import greeter  # noqa: E402, F401  (registers greeter.InsufficientFunds for deserialization)
from kombu.utils import json as kombu_json  # noqa: E402
from nameko.standalone.rpc import ClusterRpcProxy, ServiceRpcProxy  # noqa: E402

VERSION = importlib.metadata.version("nameko")
NAMEKO_2 = VERSION.startswith("2.")


def describe_error(exc):
    return {
        "class": f"{type(exc).__module__}.{type(exc).__qualname__}",
        "str": str(exc),
        "args": [repr(a) for a in exc.args],
        "exc_type": getattr(exc, "exc_type", None),
        "value": getattr(exc, "value", None),
    }


def outcome(get_result):
    try:
        result = get_result()
    except Exception as exc:
        return {"ok": False, "error": describe_error(exc)}
    return {"ok": True, "result": result, "repr": repr(result)}


def open_proxy(job):
    options = {"context_data": job.get("context_data"), "timeout": job.get("timeout", 10)}
    # 2.x takes a config dict; 3.x reads a global config, or the URI as a publisher option.
    args = [{"AMQP_URI": job["uri"], **(job.get("config") or {})}] if NAMEKO_2 else []
    if not NAMEKO_2:
        options["uri"] = job["uri"]
    if job.get("proxy", "cluster") == "service":
        return ServiceRpcProxy(job["service"], *args, **options)
    return ClusterRpcProxy(*args, **options)


def run_job(job):
    if NAMEKO_2 or not job.get("config"):
        return run_proxy_job(job)
    import nameko

    with nameko.config.patch(job["config"]):  # 3.x reads rpc_exchange from its global config
        return run_proxy_job(job)


def run_proxy_job(job):
    with open_proxy(job) as proxy:
        target = (
            proxy if job.get("proxy", "cluster") == "service" else getattr(proxy, job["service"])
        )
        calls = job["calls"]
        if job.get("mode", "sync") == "async":
            replies = []
            for c in calls:
                try:
                    replies.append(
                        getattr(target, c["method"]).call_async(*c["args"], **c["kwargs"])
                    )
                except Exception as exc:  # e.g. UnknownService, raised when publishing
                    replies.append(exc)
            return [
                {"ok": False, "error": describe_error(r)}
                if isinstance(r, Exception)
                else outcome(r.result)
                for r in replies
            ]
        return [
            outcome(lambda c=c: getattr(target, c["method"])(*c["args"], **c["kwargs"]))
            for c in calls
        ]


def main():
    sys.stdout.write(kombu_json.dumps({"nameko": VERSION}) + "\n")
    sys.stdout.flush()
    for line in sys.stdin:
        try:
            answer = {"results": run_job(kombu_json.loads(line))}
        except Exception as exc:  # the job itself failed (bad URI, broker down, ...)
            answer = {"failed": describe_error(exc), "traceback": traceback.format_exc()}
        try:
            text = kombu_json.dumps(answer)
        except Exception as exc:
            text = kombu_json.dumps({"failed": describe_error(exc), "repr": repr(answer)})
        sys.stdout.write(text + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
