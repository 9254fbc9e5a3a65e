"""How long ``rpcgen build`` takes for large IDLs: N services x 20 methods, N = 100 and 1000.

Synthesises the IDL into a temporary folder (10 services per module by default, each module with
its own dataclasses, enum and error), then times the three pipeline stages separately: load
(import + inspect + check), render (jinja) and write (to an empty folder). Prints medians over
repetitions; asserts nothing. Run: ``python bench/codegen_bench.py [--services 100 1000]``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from rpcgen.codegen.load import load
from rpcgen.codegen.render import render
from rpcgen.codegen.write import write

METHODS_PER_SERVICE = 20

HEADER = '''"""Synthetic IDL module {index} for the codegen benchmark."""

from __future__ import annotations

import dataclasses
import enum
from datetime import datetime
from decimal import Decimal
from typing import Literal, Protocol
from uuid import UUID

from rpcgen import raises, service


class Kind{index}(str, enum.Enum):
    A = "a"
    B = "b"


@dataclasses.dataclass
class Item{index}:
    """A record."""

    id: UUID
    name: str
    price: Decimal
    kind: Kind{index} = Kind{index}.A
    tags: list[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class Page{index}:
    items: list[Item{index}]
    next: str | None = None


class NotFound{index}(Exception):
    """No such item."""
'''

METHODS = [
    "    def m{n}(self, a: int, b: str) -> int: ...\n",
    '    def m{n}(self, item: Item{i}, *, limit: int = 10) -> list[Item{i}]:\n        """Doc."""\n',
    "    def m{n}(self, ids: list[UUID], at: datetime | None = None) -> dict[str, Decimal]: ...\n",
    "    @raises(NotFound{i})\n"
    "    def m{n}(self, kind: Kind{i}, flag: bool = False) -> Item{i} | None: ...\n",
    '    def m{n}(self, order: Literal["asc", "desc"] = "asc") -> Page{i}: ...\n',
]


def synthesise(folder: Path, services: int, per_module: int) -> None:
    for index in range(0, services, per_module):
        parts = [HEADER.format(index=index)]
        for s in range(index, min(index + per_module, services)):
            parts.append(f'\n\n@service("svc_{s}")\nclass Service{s}(Protocol):\n')
            for n in range(METHODS_PER_SERVICE):
                parts.append(METHODS[n % len(METHODS)].format(n=n, i=index))
        (folder / f"mod_{index}.py").write_text("".join(parts), "utf-8")


def measure(services: int, per_module: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        idl, out = Path(tmp, "idl"), Path(tmp, "generated")
        idl.mkdir()
        synthesise(idl, services, per_module)
        t0 = time.perf_counter()
        loaded = load(idl)
        t1 = time.perf_counter()
        assert not loaded.errors, loaded.errors[:3]
        files = render(loaded.modules)
        t2 = time.perf_counter()
        write(files, out)
        t3 = time.perf_counter()
        size = sum(len(text) for text in files.values())
    return {
        "load": t1 - t0,
        "render": t2 - t1,
        "write": t3 - t2,
        "total": t3 - t0,
        "mb": size / 1e6,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--per-module", type=int, default=10, help="services per IDL module")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    measure(10, args.per_module)  # warm up imports and jinja's template cache
    print(f"rpcgen build: N services x {METHODS_PER_SERVICE} methods, {args.per_module}/module")
    print("| services | methods | load s | render s | write s | total s | ms/service | output MB |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n in args.services:
        runs = [measure(n, args.per_module) for _ in range(args.repeat)]
        med = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
        print(
            f"| {n} | {n * METHODS_PER_SERVICE} | {med['load']:.2f} | {med['render']:.2f} "
            f"| {med['write']:.2f} | {med['total']:.2f} | {1000 * med['total'] / n:.1f} "
            f"| {med['mb']:.1f} |"
        )


if __name__ == "__main__":
    main()
