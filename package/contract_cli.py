"""The commands that use the IDL as a contract: ``diff``, ``export``, ``scaffold`` and ``call``.

``rpcgen.cli`` adds them to the ``rpcgen`` command (``contract`` is a typer app whose commands
it copies); each imports what it needs inside its function.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, NoReturn

import typer

__all__ = ["contract"]

contract = typer.Typer()


@contract.command("diff")
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


@contract.command("export")
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


@contract.command("scaffold")
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
    idl: Annotated[
        Path | None,
        typer.Option(
            "--idl",
            help="An IDL folder whose services' handled events are not declared again.",
        ),
    ] = None,
) -> None:
    """Write a draft IDL for the @rpc methods of a Nameko service module.

    Example: rpcgen scaffold services/orders.py --out idl/orders.py
    """
    from rpcgen.codegen.contract.scaffold import scaffold

    try:
        draft = scaffold(
            nameko_module.read_text("utf-8"),
            module or nameko_module.stem,
            str(nameko_module),
            _declared_services(idl, out) if idl is not None else None,
        )
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
    for item in draft.skipped:
        typer.echo(f"rpcgen: {item}", err=True)


def _declared_services(idl: Path, out: Path | None) -> dict[str, str]:
    """``@service("name")`` -> file, for the IDL modules of ``idl`` (read, not imported)."""
    import ast

    found: dict[str, str] = {}
    for path in sorted(idl.rglob("*.py")):
        if out is not None and path.resolve() == out.resolve():
            continue
        try:
            tree = ast.parse(path.read_text("utf-8"))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if not isinstance(node, ast.ClassDef):
                continue
            for deco in node.decorator_list:
                if (
                    isinstance(deco, ast.Call)
                    and getattr(deco.func, "id", getattr(deco.func, "attr", "")) == "service"
                    and deco.args
                    and isinstance(deco.args[0], ast.Constant)
                    and isinstance(deco.args[0].value, str)
                ):
                    found.setdefault(deco.args[0].value, str(path))
    return found


@contract.command(
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
    exchange: Annotated[
        str | None,
        typer.Option(
            "--exchange",
            metavar="NAME",
            help="The RPC exchange (Nameko's rpc_exchange); default: $RPCGEN_EXCHANGE, "
            "else nameko-rpc.",
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
        exchange=exchange,
        context=context or (),
    )
    raise typer.Exit(code)


def _fail(message: str) -> NoReturn:
    typer.echo(f"rpcgen: {message}", err=True)
    raise typer.Exit(1)
