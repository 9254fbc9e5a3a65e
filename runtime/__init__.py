"""The rpcgen runtime: typed clients (sync, futures, asyncio) and servers on Nameko's RPC wire.

Everything generated code and users need is importable from here.
"""

from rpcgen.runtime._amqp import Backoff, Connection, mask_uri
from rpcgen.runtime._connect import open_connection
from rpcgen.runtime._transport import DEFAULT_TIMEOUT, Transport
from rpcgen.runtime.aio import AsyncClient, AsyncConnection
from rpcgen.runtime.client import Client, RemoteMethod, RpcFuture, remote
from rpcgen.runtime.context import CallContext, context_data, current_context
from rpcgen.runtime.errors import (
    BadRequest,
    IncorrectSignature,
    MalformedReply,
    MalformedRequest,
    MethodNotFound,
    PayloadTooLarge,
    RemoteError,
    ReplyQueueExpired,
    ResultTypeError,
    RetryableError,
    RpcConnectionError,
    RpcError,
    RpcTimeout,
    ServiceError,
    UnknownService,
    UnserializableValueError,
)
from rpcgen.runtime.generated_api import IncompatibleRuntime, omit_defaults, require_api
from rpcgen.runtime.hooks import on_start, on_stop
from rpcgen.runtime.middleware import HandlerCall, Middleware, current_call
from rpcgen.runtime.once import Done, LocalStore, Once, OnceStore
from rpcgen.runtime.options import ConnectionOptions
from rpcgen.runtime.raw import RawClient
from rpcgen.runtime.server import ASYNC_PREFETCH, PREFETCH_PER_WORKER, Server, ServiceRunner
from rpcgen.runtime.serving import run_in_background, serve, serve_main
from rpcgen.runtime.spec import OMITTED, Event, EventHandler, HandlerType, Method, Param

__all__ = [
    "ASYNC_PREFETCH",
    "DEFAULT_TIMEOUT",
    "OMITTED",
    "PREFETCH_PER_WORKER",
    "AsyncClient",
    "AsyncConnection",
    "Backoff",
    "BadRequest",
    "CallContext",
    "Client",
    "Connection",
    "ConnectionOptions",
    "Done",
    "Event",
    "EventHandler",
    "HandlerCall",
    "HandlerType",
    "IncompatibleRuntime",
    "IncorrectSignature",
    "LocalStore",
    "MalformedReply",
    "MalformedRequest",
    "Method",
    "MethodNotFound",
    "Middleware",
    "Once",
    "OnceStore",
    "Param",
    "PayloadTooLarge",
    "RawClient",
    "RemoteError",
    "RemoteMethod",
    "ReplyQueueExpired",
    "ResultTypeError",
    "RetryableError",
    "RpcConnectionError",
    "RpcError",
    "RpcFuture",
    "RpcTimeout",
    "Server",
    "ServiceError",
    "ServiceRunner",
    "Transport",
    "UnknownService",
    "UnserializableValueError",
    "context_data",
    "current_call",
    "current_context",
    "mask_uri",
    "omit_defaults",
    "on_start",
    "on_stop",
    "open_connection",
    "remote",
    "require_api",
    "run_in_background",
    "serve",
    "serve_main",
]
