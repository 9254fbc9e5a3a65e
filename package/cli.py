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
from rpcgen._clihelp import TidyGroup
from rpcgen.contract_cli import contract
from rpcgen.start_cli import start

__all__ = ["app", "main"]

app = typer.Typer(
    cls=TidyGroup,  # plain --help screens (rpcgen._clihelp)
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
            "$RPCGEN_AMQP_URI (comma-separated for failover); default: localhost.",
            show_default=False,
        ),
    ] = None,
    exchange: Annotated[
        str | None,
        typer.Option(
            "--exchange",
            metavar="NAME",
            help="The RPC exchange (Nameko's rpc_exchange); $RPCGEN_EXCHANGE; default: nameko-rpc.",
            show_default=False,
        ),
    ] = None,
    max_workers: Annotated[
        int | None,
        typer.Option(
            "--max-workers",
            help="Requests handled at once; $RPCGEN_MAX_WORKERS; default: 10.",
            show_default=False,
        ),
    ] = None,
    prefetch: Annotated[
        int | None,
        typer.Option(
            "--prefetch",
            help="Requests held unacknowledged at once; $RPCGEN_PREFETCH; default: 10 x "
            "--max-workers. A request holds its slot until its reply is confirmed, so fast "
            "handlers need several each; a stalled server holds at most this many "
            "(docs: Performance).",
            show_default=False,
        ),
    ] = None,
    max_concurrency: Annotated[
        int | None,
        typer.Option(
            "--max-concurrency",
            help="async def handlers run at once (tasks on the server's event loop); "
            "$RPCGEN_MAX_CONCURRENCY; default: the prefetch, which is 1000 for a server with "
            "async handlers.",
            show_default=False,
        ),
    ] = None,
    queue_type: Annotated[
        str | None,
        typer.Option(
            "--queue-type",
            metavar="TYPE",
            help="x-queue-type of the service queue, e.g. quorum; every peer of the service "
            "must declare it the same way; $RPCGEN_QUEUE_TYPE.",
            show_default=False,
        ),
    ] = None,
    startup_timeout: Annotated[
        float | None,
        typer.Option(
            "--startup-timeout",
            metavar="SECONDS",
            help="How long to keep trying a broker that is not up yet (with backoff), then "
            "exit 1; $RPCGEN_STARTUP_TIMEOUT; default: 60.",
            show_default=False,
        ),
    ] = None,
    drain_timeout: Annotated[
        float | None,
        typer.Option(
            "--drain-timeout",
            metavar="SECONDS",
            help="After SIGTERM, how long running handlers may finish (requests not started "
            "are handed back at once); then what still runs is handed back and the exit "
            "status is 3. $RPCGEN_DRAIN_TIMEOUT; default: 25 (fits a 30 s grace period).",
            show_default=False,
        ),
    ] = None,
    log_level: Annotated[
        str | None,
        typer.Option(
            "--log-level",
            metavar="LEVEL",
            help="DEBUG, INFO, WARNING, ERROR; $RPCGEN_LOG_LEVEL; default: INFO. Ignored when "
            "the application configures logging itself.",
            show_default=False,
        ),
    ] = None,
    log_format: Annotated[
        str | None,
        typer.Option(
            "--log-format",
            metavar="FORMAT",
            help="text, or json (one object per line); $RPCGEN_LOG_FORMAT; default: text.",
            show_default=False,
        ),
    ] = None,
    http_port: Annotated[
        int | None,
        typer.Option(
            "--http-port",
            metavar="PORT",
            help="Serve /healthz (liveness) and /readyz (readiness) on this port; "
            "$RPCGEN_HTTP_PORT; default: none.",
            show_default=False,
        ),
    ] = None,
    http_host: Annotated[
        str | None,
        typer.Option(
            "--http-host",
            metavar="ADDRESS",
            help="The address --http-port listens on; $RPCGEN_HTTP_HOST; default: 0.0.0.0.",
            show_default=False,
        ),
    ] = None,
    metrics: Annotated[
        bool | None,
        typer.Option(
            "--metrics/--no-metrics",
            help="Serve Prometheus metrics on /metrics of --http-port (needs "
            "rpcgen[prometheus]); $RPCGEN_METRICS; default: off.",
            show_default=False,
        ),
    ] = None,
    once: Annotated[
        bool | None,
        typer.Option(
            "--once/--no-once",
            help="Settle a request or event that arrives again (a redelivery, a resend) "
            "without running its handler twice; $RPCGEN_ONCE; default: on (docs: Reliability).",
            show_default=False,
        ),
    ] = None,
    once_store: Annotated[
        str | None,
        typer.Option(
            "--once-store",
            metavar="URL",
            help="Keep --once's ids in Redis (redis://host:6379/0; needs rpcgen[redis]), shared "
            "by every instance of the service; $RPCGEN_ONCE_STORE; default: in this process.",
            show_default=False,
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            metavar="FILE",
            help="A TOML file whose [serve] table sets any of these options; $RPCGEN_CONFIG. "
            "A flag beats $RPCGEN_<OPTION>, which beats the file.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Serve MODULE:OBJ until SIGTERM or SIGINT, then drain: exit 0, or 3 if cut short.

    OBJ is your subclass of a generated <Name>Server, or a function that returns an instance
    of one (to read configuration or open resources first), e.g. `rpcgen serve app:make`.
    Several (`rpcgen serve a:A b:B`) run in one process on one connection, each with its own
    queues, prefetch and workers; a signal drains them all.
    """
    from rpcgen.runtime import Server, serve_main
    from rpcgen.settings import SettingsError, resolve

    flags = {
        "amqp_uri": amqp_uri or None,
        "exchange": exchange,
        "max_workers": max_workers,
        "prefetch": prefetch,
        "max_concurrency": max_concurrency,
        "queue_type": queue_type,
        "startup_timeout": startup_timeout,
        "drain_timeout": drain_timeout,
        "log_level": log_level,
        "log_format": log_format,
        "http_port": http_port,
        "http_host": http_host,
        "metrics": metrics,
        "once": once,
        "once_store": once_store,
    }
    try:
        settings = resolve(flags, os.environ, config)
    except SettingsError as exc:
        _fail(str(exc), code=2)
    routes = _metrics_routes() if settings.metrics else {}
    if routes and settings.http_port is None:
        _fail("--metrics needs --http-port (the port /metrics is served on)", code=2)
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
        amqp_uri=list(settings.amqp_uri) if settings.amqp_uri else None,
        max_workers=settings.max_workers,
        prefetch=settings.prefetch,
        max_concurrency=settings.max_concurrency,
        queue_type=settings.queue_type,
        exchange=settings.exchange,
        startup_timeout=settings.startup_timeout,
        drain_timeout=settings.drain_timeout,
        log_level=settings.log_level,
        log_format=settings.log_format,
        http_port=settings.http_port,
        http_host=settings.http_host,
        http_routes=routes,
        once=_once(settings.once, settings.once_store),
    )
    raise typer.Exit(code)


def _once(on: bool, store_url: str | None) -> Any:
    """``serve``'s ``once``: off, on in this process, or on with a ``RedisStore``."""
    if not on or store_url is None:
        return on
    try:
        from rpcgen.redisstore import RedisStore
    except ImportError as exc:
        _fail(f"--once-store needs redis-py: pip install 'rpcgen[redis]' ({exc})", 2)
    from rpcgen.runtime import Once

    return Once(RedisStore(store_url))


def _metrics_routes() -> dict[str, Any]:
    """``/metrics`` with rpcgen's Prometheus metrics, installed now."""
    try:
        from rpcgen.prometheus import instrument, render
    except ImportError as exc:
        _fail(f"--metrics needs prometheus_client: pip install 'rpcgen[prometheus]' ({exc})", 2)
    instrument()
    return {"/metrics": render}


app.registered_commands += contract.registered_commands  # diff, export, scaffold, call
app.registered_commands += start.registered_commands  # broker, init


def _print_version(value: bool) -> None:
    if value:
        from rpcgen import __version__

        typer.echo(f"rpcgen {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_print_version,
            is_eager=True,
            help="Print rpcgen's version and exit.",
        ),
    ] = False,
) -> None:
    """Typed RPC over RabbitMQ, wire-compatible with Nameko."""


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


def _fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(f"rpcgen: {message}", err=True)
    raise typer.Exit(code)


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
