"""The connection settings are defined once: ``ConnectionOptions`` matches ``Connection``."""

from __future__ import annotations

import inspect
import typing

import rpcgen.runtime as rt
from rpcgen.runtime.options import ConnectionOptions


def test_connection_options_are_exactly_the_connections_settings() -> None:
    params = inspect.signature(rt.Connection).parameters
    settings = {n for n, p in params.items() if p.kind is p.KEYWORD_ONLY} - {"reply_queue"}
    assert set(typing.get_type_hints(ConnectionOptions)) == settings


def test_every_helper_takes_the_options_and_nothing_else_of_the_connection() -> None:
    for helper in (rt.Client.connect, rt.AsyncClient.connect, rt.AsyncConnection.open,
                   rt.ServiceRunner, rt.run_in_background, rt.serve):  # fmt: skip
        params = inspect.signature(helper).parameters
        assert params["options"].kind is inspect.Parameter.VAR_KEYWORD, helper
        assert not {"exchange", "client_name", "reconnect"} & set(params), helper
