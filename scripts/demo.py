"""The end-to-end demo, run by scripts/demo after ``rpcgen build idl/``.

So far it shows what the build produced. TODO (lands with the runtime, issue 3): start a
throwaway broker (``rpcgen.runtime.rabbitnode.RabbitNode``), serve ``hello_service`` from a
skeleton implementation, call it through the sync, future and asyncio clients, show a declared
error crossing the wire, and clean up.
"""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def show_build() -> None:
    print("generated/:")
    for path in sorted((ROOT / "generated").glob("*.py")):
        print(f"  {path.relative_to(ROOT)}")
    hello = importlib.import_module("generated.hello")
    client = hello.HelloServiceClient
    print(f"\n{client.__name__} (service {client.service_name!r}):")
    for name in hello.HelloServiceServer.methods:
        sig = inspect.signature(getattr(hello.HelloServiceServer, name), eval_str=True)
        params = list(sig.parameters.values())[1:]  # without self
        print(f"  client.{name}{sig.replace(parameters=params)}")


def main() -> None:
    show_build()
    print("\nNot yet: serving hello_service on a throwaway broker and calling it (issue 3).")


if __name__ == "__main__":
    main()
