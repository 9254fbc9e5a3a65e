"""A module generated here and now, from an IDL of events only (those of a Nameko service this
IDL does not implement), on a real broker: its ``CatalogEvents`` and ``CatalogAsyncEvents``
dispatch, a server of another service registers handlers through ``CatalogEvent``, and the wire
carries the ``@event`` name (not the Python method's) and the payload itself.

tests/integration/test_events_generated.py does the same with the committed ``generated.shop``.
"""

from __future__ import annotations

import asyncio
import importlib.util
import queue
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar

import pytest
import rpcgen.runtime as rt
from cgtools import CATALOG_IDL
from rpcgen.codegen.build import build
from rpcgen.runtime.testing import Vhost


@pytest.fixture
def catalog(write_idl: Callable[..., Path], tmp_path: Path) -> Iterator[ModuleType]:
    """The generated module, imported under a name of its own (its dataclass's annotations are
    resolved through ``sys.modules``, so it stays registered while the test runs)."""
    built = build(write_idl(catalog=CATALOG_IDL))
    assert built.errors == ()
    path = tmp_path / "catalog_events.py"
    path.write_text(built.files["catalog.py"], "utf-8")
    name = "rpcgen_test_generated_catalog"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(name, None)


def shelves(catalog: ModuleType) -> tuple[rt.Server, queue.Queue[tuple[str, object]]]:
    """A server of another service whose handlers are registered through ``CatalogEvent``."""
    seen: queue.Queue[tuple[str, object]] = queue.Queue()
    on = catalog.CatalogEvent

    class Shelves(rt.Server):
        service_name = "shelves"
        methods: ClassVar[Mapping[str, rt.Method[object]]] = {}

        @on.item_changed.handler("singleton")
        def restock(self, payload: Any) -> None:
            seen.put(("restock", payload))

        @on.counts.handler()
        async def recount(self, payload: Any) -> None:
            seen.put(("recount", payload))

    return Shelves(), seen


def test_generated_dispatchers_reach_handlers_registered_through_the_namespace(
    catalog: ModuleType, rabbit_vhost: Vhost
) -> None:
    server, seen = shelves(catalog)
    uri = rabbit_vhost.uri
    with rt.run_in_background(server, uri), rabbit_vhost.spy("catalog.events") as spy:
        with catalog.CatalogEvents.connect(uri) as events:
            events.item_changed(catalog.Notice("sku-1", 2))

        async def dispatch() -> None:
            async with catalog.CatalogAsyncEvents.connect(uri) as events:
                await events.counts({"sku-1": 2, "sku-2": 0})

        asyncio.run(dispatch())
        got = dict(seen.get(timeout=10) for _ in range(2))
        wire = [(m.routing_key, m.json()) for m in spy.get(2)]
    assert got == {"restock": catalog.Notice("sku-1", 2), "recount": {"sku-1": 2, "sku-2": 0}}
    assert wire == [
        ("item:changed", {"sku": "sku-1", "count": 2}),
        ("counts", {"sku-1": 2, "sku-2": 0}),
    ]
    assert rabbit_vhost.queue("evt-catalog-item:changed") is not None  # Nameko's singleton name
