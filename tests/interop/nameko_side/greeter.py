"""Nameko 2.14.1 services for the interop tests, run with ``nameko run greeter`` from this folder.

They run in the Nameko virtualenv, never inside the pytest process. ``greeter`` covers every
supported type, both kinds of error, context data and a hop to another service; ``relay`` is the
default hop target (``GREETER_HOP_TARGET`` names another, e.g. an rpcgen server).
"""

import os
import time

from nameko.exceptions import deserialize_to_instance
from nameko.extensions import DependencyProvider
from nameko.rpc import RpcProxy, rpc
from sample_values import SAMPLES

HOP_TARGET = os.environ.get("GREETER_HOP_TARGET", "relay")


@deserialize_to_instance
class InsufficientFunds(Exception):
    """Registered: a Nameko caller that imported this module rebuilds it from ``exc_args``."""


class NotRegistered(Exception):
    """Unregistered: a Nameko caller gets ``RemoteError``."""


class WorkerContext(DependencyProvider):
    """Injects the worker context itself, to echo context data and the call-id stack."""

    def get_dependency(self, worker_ctx):
        return worker_ctx


def context_of(ctx):
    data = {k: v for k, v in ctx.context_data.items() if k != "call_id_stack"}
    return {"context_data": data, "call_id_stack": ctx.call_id_stack, "call_id": ctx.call_id}


class Greeter:
    name = "greeter"

    ctx = WorkerContext()
    hop_proxy = RpcProxy(HOP_TARGET)

    @rpc
    def hello(self, name, greeting="hello"):
        return f"{greeting}, {name}"

    @rpc
    def compute(self, a, b):
        return a + b

    @rpc
    def echo(self, value):
        """Returns what arrived: kombu decoded the markers, and encodes them again."""
        return value

    @rpc
    def inspect(self, *args, **kwargs):
        """``repr`` of every argument as it arrived, so callers can check the decoded types."""
        return {"args": [repr(a) for a in args], "kwargs": {k: repr(v) for k, v in kwargs.items()}}

    @rpc
    def samples(self):
        return SAMPLES

    @rpc
    def withdraw(self, balance, amount):
        if amount > balance:
            raise InsufficientFunds(f"balance {balance} < {amount}", balance, amount)
        return balance - amount

    @rpc
    def fail_unregistered(self, message):
        raise NotRegistered(message)

    @rpc
    def fail_builtin(self):
        raise ValueError("bad", 42, None, {"k": 1}, b"ab")

    @rpc
    def unserializable(self):
        return {1, 2}  # a set: kombu cannot encode it

    @rpc
    def context(self):
        return context_of(self.ctx)

    @rpc
    def hop(self, method, *args, **kwargs):
        """Calls ``<HOP_TARGET>.<method>(*args, **kwargs)`` and returns its result."""
        return getattr(self.hop_proxy, method)(*args, **kwargs)

    @rpc
    def strict(self, a):
        """Takes one argument: the interop IDL declares two, to provoke IncorrectSignature."""
        return a

    @rpc
    def sleep(self, seconds):
        time.sleep(seconds)
        return seconds


class Relay:
    name = "relay"

    ctx = WorkerContext()

    @rpc
    def context(self):
        return context_of(self.ctx)

    @rpc
    def hello(self, name, greeting="hello"):
        return f"{greeting}, {name}"
