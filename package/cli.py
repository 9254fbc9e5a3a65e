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
    target: Annotated[
        str,
        typer.Argument(
            metavar="MODULE:OBJ",
            help="Your subclass of a generated <Name>Server (e.g. app:Impl), or a function "
            "returning an instance of one (e.g. app:make_server).",
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
            help="Requests held unacknowledged at once; default: --max-workers. A request "
            "holds its slot until its reply is confirmed, so a larger prefetch raises "
            "throughput (README, Performance).",
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
    """
    from rpcgen.runtime import Server, serve_main

    factory = _import_target(target)
    if isinstance(factory, type):
        if not issubclass(factory, Server):
            _fail(f"{target} is not a subclass of a generated <Name>Server")
        if inspect.isabstract(factory):
            missing = ", ".join(sorted(factory.__abstractmethods__))
            _fail(f"{target} does not implement: {missing}")
    elif not callable(factory):
        _fail(f"{target} is neither a server class nor a function returning a server")
    code = serve_main(
        _checked(factory, target, Server),
        amqp_uri=amqp_uri or None,
        max_workers=max_workers,
        prefetch=prefetch,
        queue_type=queue_type,
    )
    raise typer.Exit(code)


@app.command("diff")
def diff_command(
    old: Annotated[str, typer.Argument(help="The old IDL: a folder, or a git revision of NEW.")],
    new: Annotated[Path, typer.Argument(help="The new IDL folder.", exists=True, file_okay=False)],
    fmt: Annotated[
        str, typer.Option("--format", metavar="text|json", help="Output format.")
    ] = "text",
) -> None:
    """Report every change from OLD to NEW and whom it breaks; exit 1 if something breaks.

    Example: rpcgen diff main idl/   (idl/ as committed on main against the work tree)
    """
    from rpcgen.codegen.contract.changes import report
    from rpcgen.codegen.contract.diff import Side, diff
    from rpcgen.codegen.contract.sources import SourceError, load_folder, revision_folder

    if fmt not in ("text", "json"):
        raise typer.BadParameter("use text or json", param_hint="--format")
    try:
        new_side = Side(load_folder(new))
        if Path(old).is_dir():
            old_side = Side(load_folder(Path(old)))
        else:
            with revision_folder(old, new) as folder:
                old_side = Side(load_folder(folder))
    except SourceError as exc:
        typer.echo(f"rpcgen: {exc}", err=True)
        raise typer.Exit(2) from None
    changes = diff(old_side, new_side)
    typer.echo(report(changes, fmt))
    raise typer.Exit(1 if any(c.callers or c.servers for c in changes) else 0)


@app.command("export")
def export_command(
    idl_dir: Annotated[
        Path, typer.Argument(help="Folder of IDL modules.", exists=True, file_okay=False)
    ],
    fmt: Annotated[
        str,
        typer.Option(
            "--format", metavar="asyncapi|jsonschema", help="AsyncAPI 3.0 or JSON Schema 2020-12."
        ),
    ],
    out: Annotated[
        Path | None, typer.Option("--out", help="File to write; default: stdout.", dir_okay=False)
    ] = None,
) -> None:
    """Describe the wire contract of IDL_DIR as AsyncAPI 3.0 or JSON Schema 2020-12 (JSON).

    Example: rpcgen export idl/ --format asyncapi --out asyncapi.json
    """
    from rpcgen.codegen.contract import asyncapi, jsonschema
    from rpcgen.codegen.contract.sources import SourceError, load_folder

    writers = {"asyncapi": asyncapi.document, "jsonschema": jsonschema.document}
    if fmt not in writers:
        raise typer.BadParameter("use asyncapi or jsonschema", param_hint="--format")
    try:
        modules = load_folder(idl_dir)
    except SourceError as exc:
        _fail(str(exc))
    text = writers[fmt](modules, idl_dir.resolve().name)
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, "utf-8")
        typer.echo(f"rpcgen: wrote {out}", err=True)


@app.command("scaffold")
def scaffold_command(
    nameko_module: Annotated[
        Path,
        typer.Argument(help="A Nameko service module (read, never imported).", exists=True),
    ],
    out: Annotated[
        Path | None,
        typer.Option("--out", help="The draft IDL to write (not overwritten); default: stdout."),
    ] = None,
    module: Annotated[
        str | None,
        typer.Option(
            "--module",
            help="The module's dotted name on the Nameko side, for exc_path; default: its stem.",
        ),
    ] = None,
) -> None:
    """Write a draft IDL for the @rpc methods of a Nameko service module.

    Example: rpcgen scaffold services/orders.py --out idl/orders.py
    """
    from rpcgen.codegen.contract.scaffold import scaffold

    try:
        draft = scaffold(nameko_module.read_text("utf-8"), module or nameko_module.stem)
    except (ValueError, SyntaxError) as exc:
        _fail(f"{nameko_module}: {exc}")
    if out is None:
        typer.echo(draft.text, nl=False)
    elif out.exists():
        _fail(f"{out} exists; remove it or choose another --out")
    else:
        out.write_text(draft.text, "utf-8")
        typer.echo(f"rpcgen: wrote {out} ({', '.join(draft.services)})", err=True)
    if draft.placeholders:
        count, first = len(draft.placeholders), ", ".join(draft.placeholders[:3])
        more = ", ..." if count > 3 else ""
        typer.echo(
            f"rpcgen: {count} type(s) left as Unknown ({first}{more}): the source does not "
            "annotate them; replace each with the real type before rpcgen build",
            err=True,
        )
    if draft.undefined:
        names = ", ".join(sorted(draft.undefined))
        typer.echo(f"rpcgen: define or import in the draft: {names}", err=True)


@app.command(
    "call",
    # Arguments such as -1 are JSON values, not options.
    context_settings={"ignore_unknown_options": True},
)
def call_command(
    target: Annotated[
        str | None,
        typer.Argument(
            metavar="SERVICE.METHOD",
            help="The method to call (wire names); with --list, the service or method to list.",
            show_default=False,
        ),
    ] = None,
    arguments: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="ARG",
            help="One JSON value per argument: positional, or name=JSON for a keyword "
            "(strings in quotes: '\"bob\"').",
            show_default=False,
        ),
    ] = None,
    idl: Annotated[
        Path | None,
        typer.Option(
            "--idl",
            metavar="DIR",
            help="IDL folder: check the arguments against it before sending, re-raise its "
            "declared errors, check the result's type.",
            exists=True,
            file_okay=False,
            show_default=False,
        ),
    ] = None,
    list_methods: Annotated[
        bool, typer.Option("--list", help="List the IDL's services, methods and signatures.")
    ] = False,
    args_json: Annotated[
        str | None,
        typer.Option("--args", metavar="JSON", help="The positional arguments as one JSON array."),
    ] = None,
    kwargs_json: Annotated[
        str | None,
        typer.Option("--kwargs", metavar="JSON", help="The keyword arguments as one JSON object."),
    ] = None,
    timeout: Annotated[
        float,
        typer.Option("--timeout", min=0.001, help="Seconds to wait for the reply."),
    ] = 30.0,
    amqp_uri: Annotated[
        list[str] | None,
        typer.Option(
            "--amqp-uri",
            metavar="URI",
            help="amqp:// or amqps:// URI; repeat it for failover; "
            "default: $RPCGEN_AMQP_URI, else localhost.",
            show_default=False,
        ),
    ] = None,
    context: Annotated[
        list[str] | None,
        typer.Option(
            "--context",
            metavar="KEY=VALUE",
            help="Context data, sent as the nameko.KEY header (a string); repeatable.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Call SERVICE.METHOD once and print its result as JSON (as it arrived: kombu markers kept).

    Exit 0: a result. Exit 1: the service raised an error (its class and message are printed).

    Exit 2: usage, or arguments that do not fit the IDL (nothing is sent). Exit 3: no answer.

    Example: rpcgen call --idl idl/ hello_service.divide 7 b=2   (checked against idl/)

    Example: rpcgen call greeter.hello '"bob"' greeting='"hi"' --context language=en

    Example: rpcgen call --idl idl/ --list
    """
    from rpcgen.call import EXIT_USAGE, UsageError, call, load_contract

    if list_methods:
        if idl is None:
            raise typer.BadParameter("--list needs --idl DIR", param_hint="--list")
        try:
            typer.echo(load_contract(idl).listing(target))
        except UsageError as exc:
            typer.echo(f"rpcgen: {exc}", err=True)
            raise typer.Exit(EXIT_USAGE) from None
        return
    if target is None:
        raise typer.BadParameter("give SERVICE.METHOD (or --idl DIR --list)", param_hint="target")
    code = call(
        target,
        arguments or (),
        idl=idl,
        args_json=args_json,
        kwargs_json=kwargs_json,
        timeout=timeout,
        uris=amqp_uri,
        context=context or (),
    )
    raise typer.Exit(code)


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
