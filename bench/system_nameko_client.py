"""Baseline client: Nameko 2.14.1's `ClusterRpcProxy`; pipelined calls go through `call_async`.

<nameko venv>/bin/python bench/system_nameko_client.py --uri URI --server-pid PID [options]
"""

from __future__ import annotations

import argparse
from typing import Any

import workload
from nameko.standalone.rpc import ClusterRpcProxy  # type: ignore[import-not-found]
from system_nameko_service import SERVICE


class NamekoClient:
    def __init__(self, uri: str) -> None:
        self._proxy = ClusterRpcProxy({"AMQP_URI": uri})
        self._service: Any = getattr(self._proxy.start(), SERVICE)

    @classmethod
    def connect(cls, cfg: workload.Config, ns: argparse.Namespace) -> NamekoClient:
        return cls(cfg.uri)

    def compute(self) -> int:
        result: int = self._service.compute(1, 2)
        return result

    def echo(self, payload: str) -> str:
        result: str = self._service.echo(payload)
        return result

    def burst(self, n: int) -> None:
        for reply in [self._service.compute.call_async(1, 2) for _ in range(n)]:
            reply.result()

    def close(self) -> None:
        self._proxy.stop()


if __name__ == "__main__":
    workload.main_sync(NamekoClient.connect)
