"""Baseline server: a Nameko 2.14.1 service; the driver runs `nameko run system_nameko_service`.

Nameko's defaults throughout (10 workers, prefetch 10, persistent replies, confirms), so the figures
are what a stock Nameko deployment gets.
"""

from nameko.rpc import rpc  # type: ignore[import-not-found]

SERVICE = "nameko_bench"


class BenchService:
    name = SERVICE

    @rpc  # type: ignore[untyped-decorator]
    def compute(self, a: int, b: int) -> int:
        return a + b

    @rpc  # type: ignore[untyped-decorator]
    def echo(self, s: str) -> str:
        return s
