"""rpcgen's runtime: Nameko's RPC wire over pika, shared by sync, futures and asyncio clients and servers."""

from rpcgen.runtime.aio import AsyncClient
from rpcgen.runtime.client import BoundMethod, Client, RpcFuture
from rpcgen.runtime.errors import RpcError, ServiceError
from rpcgen.runtime.server import Server
from rpcgen.runtime.spec import Method, Param

__all__ = [
    "AsyncClient",
    "BoundMethod",
    "Client",
    "Method",
    "Param",
    "RpcError",
    "RpcFuture",
    "Server",
    "ServiceError",
]
