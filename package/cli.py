"""The ``rpcgen`` command: ``rpcgen build`` generates code, ``rpcgen serve`` runs a server;
the other commands use the IDL as a contract (``codegen/contract``; ``rpcgen call``, which also
needs the runtime, in ``rpcgen.call``).

Each command imports what it needs inside its function, so that ``rpcgen build`` never imports
pika and ``rpcgen serve`` never imports jinja.
"""

from __future__ import annotations

import importlib
import inspect
import os
import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rpcgen.contract_cli import contract

__all__ = ["app", "main"]

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="Typed RPC over RabbitMQ, wire-compatible with Nameko.",
)


@app.command("build")
def build_command(
    idl_dir: Annotated[
        Path,
        typer.Argument(
            help="Folder of IDL modules (*.py) declaring @service Protocols.",
            exists=True,
            file_okay=False,
        ),
    ],
    out: Annotated[
        Path, typer.Option("--out", help="Folder of the generated package.", file_okay=False)
    ] = Path("generated"),
    check: Annotated[
        bool, typer.Option("--check", help="Write nothing; exit 1 with a diff if OUT is stale.")
    ] = False,
) -> None:
    """Generate typed clients and server skeletons from IDL_DIR into OUT."""
    from rpcgen.codegen.build import build
    from rpcgen.codegen.write import NotOwned, write
    from rpcgen.codegen.write import check as check_files

    result = build(idl_dir)
    if result.errors:
        for error in result.errors:
            typer.echo(str(error), err=True)
        count = len(result.errors)
        typer.echo(
            f"rpcgen: {count} problem{'s' * (count != 1)} in {idl_dir}; nothing written", err=True
        )
        raise typer.Exit(1)
    if check:
        if not check_files(result.files, out):
            typer.echo(f"rpcgen: {out} is stale; run: rpcgen build {idl_dir} --out {out}", err=True)
            raise typer.Exit(1)
        typer.echo(f"rpcgen: {out} is up to date", err=True)
        return
    try:
        changed = write(result.files, out)
    except NotOwned as exc:
        typer.echo(f"rpcgen: {exc}", err=True)
        raise typer.Exit(1) from None
    for rel in changed:
        typer.echo(f"  {out / rel}", err=True)
    summary = f"updated {len(changed)} file(s) in {out}" if changed else f"{out} is up to date"
    typer.echo(f"rpcgen: {summary}", err=True)


@app.command("serve")
def serve_command(
    targets: Annotated[
        list[str],
        typer.Argument(
            metavar="MODULE:OBJ...",
            help="Your subclass of a generated <Name>Server (e.g. app:Impl), or a function "
            "returning an instance of one (e.g. app:make_server); several serve several "
            "services in this process, on one connection.",
        ),
    ],
    amqp_uri: Annotated[
        list[str] | None,
        typer.Option(
            "--amqp-uri",
            metavar="URI",
            help="amqp:// or amqps:// URI; repeat it for failover (tried in turn); "
            "default: $RPCGEN_AMQP_URI, else localhost.",
            show_default=False,
        ),
    ] = None,
    max_workers: Annotated[
        int, typer.Option("--max-workers", min=1, help="Requests handled at once.")
    ] = 10,
    prefetch: Annotated[
        int | None,
        typer.Option(
            "--prefetch",
            min=1,
            help="Requests held unacknowledged at once; default: 10 x --max-workers. A "
            "request holds its slot until its reply is confirmed, so fast handlers need several "
            "each; a stalled server holds at most this many (docs: Performance).",
            show_default=False,
        ),
    ] = None,
    max_concurrency: Annotated[
        int | None,
        typer.Option(
            "--max-concurrency",
            min=1,
            help="async def handlers run at once (tasks on the server's event loop); default: "
            "the prefetch, which is 1000 for a server with async handlers.",
            show_default=False,
        ),
    ] = None,
    queue_type: Annotated[
        str | None,
        typer.Option(
            "--queue-type",
            metavar="TYPE",
            help="x-queue-type of the service queue, e.g. quorum; every peer of the service "
            "must declare it the same way.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Serve MODULE:OBJ until SIGTERM or SIGINT (then finish in-flight requests and exit 0).

    OBJ is your subclass of a generated <Name>Server, or a function that returns an instance
    of one (to read configuration or open resources first), e.g. `rpcgen serve app:make`.
    Several (`rpcgen serve a:A b:B`) run in one process on one connection, each with its own
    queues, prefetch and workers; a signal drains them all.
    """
    from rpcgen.runtime import Server, serve_main

    factories = []
    for target in targets:
        factory = _import_target(target)
        if isinstance(factory, type):
            if not issubclass(factory, Server):
                _fail(f"{target} is not a subclass of a generated <Name>Server")
            if inspect.isabstract(factory):
                missing = ", ".join(sorted(factory.__abstractmethods__))
                _fail(f"{target} does not implement: {missing}")
        elif not callable(factory):
            _fail(f"{target} is neither a server class nor a function returning a server")
        factories.append(_checked(factory, target, Server))
    code = serve_main(
        factories,
        amqp_uri=amqp_uri or None,
        max_workers=max_workers,
        prefetch=prefetch,
        queue_type=queue_type,
        max_concurrency=max_concurrency,
    )
    raise typer.Exit(code)


app.registered_commands += contract.registered_commands  # diff, export, scaffold, call


def _import_target(target: str) -> object:
    module_name, sep, qualname = target.partition(":")
    if not sep or not module_name or not qualname:
        raise typer.BadParameter("expected MODULE:CLASS, e.g. app.server:LedgerImpl")
    # Like ``python -m``: modules in the current folder are importable.
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        obj: object = importlib.import_module(module_name)
    except Exception as exc:  # the user's module: report, don't crash
        _fail(f"cannot import {module_name}: {type(exc).__name__}: {exc}")
    for part in qualname.split("."):
        if not hasattr(obj, part):
            _fail(f"{module_name} has no attribute {qualname}")
        obj = getattr(obj, part)
    return obj


def _fail(message: str) -> NoReturn:
    typer.echo(f"rpcgen: {message}", err=True)
    raise typer.Exit(1)


def main() -> None:
    app()


def _checked(factory: Any, target: str, base: type[Any]) -> Any:
    """``factory`` wrapped so that what it returns must be an instance of ``base``."""

    def make() -> Any:
        server = factory()
        if not isinstance(server, base):
            _fail(f"{target}() returned {type(server).__name__}, not a <Name>Server instance")
        return server

    return make
