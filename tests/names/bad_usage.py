"""Wrong uses of the ``shadows`` module: each marked line must be a mypy error of that code."""

from __future__ import annotations

from tests.names.out.shadows import (
    Kind,
    ShadowsAsyncClient,
    ShadowsAsyncServer,
    ShadowsClient,
    ShadowsEvents,
)


def sync_calls(client: ShadowsClient) -> None:
    client.close_("7")  # E: arg-type
    client.close(7)  # E: call-arg
    client.connect_("host")  # E: call-arg
    client.connect_("host", "5672")  # E: arg-type
    client.with_timeout_("slow")  # E: arg-type
    client.list(1)  # E: call-arg
    text: int = client.str("a")  # E: assignment
    client.lisst()  # E: attr-defined
    client.close_.call_async("7")  # E: arg-type
    client.Kind("special")  # E: arg-type
    client.filter([1], 2)  # E: call-arg


async def async_calls(client: ShadowsAsyncClient, events: ShadowsEvents) -> None:
    await client.close_("7")  # E: arg-type
    number: str = await client.int(1)  # E: assignment
    await client.connect_("host", "5672")  # E: arg-type
    events.close_event("7")  # E: arg-type
    events.with_timeout_event(Kind.PLAIN)
    events.with_timeout_event("plain")  # E: arg-type


class WrongAsyncServer(ShadowsAsyncServer):
    async def close_(self, account_id: str) -> str:  # E: override
        return account_id

    def connect_(self, host: str, port: int) -> str:  # E: override
        return host
