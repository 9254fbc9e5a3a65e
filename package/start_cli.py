"""The commands of a user's first hour: ``rpcgen broker`` (a throwaway RabbitMQ for development)
and ``rpcgen init`` (a new project that builds, serves and passes its own tests).

``rpcgen.cli`` adds them to the ``rpcgen`` command (``start`` is a typer app whose commands it
copies); each imports what it needs inside its function.
"""

from __future__ import annotations

import keyword
import re
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Annotated, NoReturn

import typer

__all__ = ["MISSING_RABBITMQ", "PROJECT_FILES", "project_names", "start", "write_project"]

start = typer.Typer()

#: What ``rpcgen broker`` says when Debian's rabbitmq-server is not installed ({server}: its path).
MISSING_RABBITMQ = """\
rpcgen: RabbitMQ is not installed ({server} is missing).
rpcgen broker runs a private node from Debian's (or Ubuntu's) rabbitmq-server package:
    sudo apt-get install rabbitmq-server
(the package's own system service is not used; `sudo systemctl disable --now rabbitmq-server`
stops it). With containers instead, run a broker yourself and point rpcgen at it:
    docker run --rm -p 5672:5672 -p 15672:15672 rabbitmq:3-management
    export RPCGEN_AMQP_URI=amqp://guest:guest@localhost:5672/"""


class _Stop(BaseException):
    """Raised in the main thread by SIGINT or SIGTERM: unwinds a boot or the wait alike."""


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise _Stop(signal.Signals(signum).name)


@start.command("broker")
def broker_command(
    port: Annotated[
        int | None,
        typer.Option(
            "--port",
            metavar="PORT",
            min=1,
            max=65535,
            help="AMQP port (5672: rpcgen's default URI); default: a free one.",
            show_default=False,
        ),
    ] = None,
    management: Annotated[
        bool,
        typer.Option(
            "--management/--no-management",
            help="Enable the management plugin (web UI and HTTP API; boots a few seconds slower).",
        ),
    ] = True,
) -> None:
    """Run a throwaway RabbitMQ node for development until Ctrl-C or SIGTERM, then delete it.

    The node runs from the installed rabbitmq-server package, on loopback, with a data folder
    of its own; its URI is printed once it accepts connections.

    Example: rpcgen broker --port 5672   (then serve and call without --amqp-uri)
    """
    from rpcgen.runtime.testing import node as nodes

    server = nodes.SBIN / "rabbitmq-server"
    if not server.exists():
        typer.echo(MISSING_RABBITMQ.format(server=server), err=True)
        raise typer.Exit(1)
    previous = {sig: signal.signal(sig, _raise_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    rabbit: nodes.RabbitNode | None = None
    code = 0
    try:
        typer.echo("rpcgen: starting a throwaway RabbitMQ node ...", err=True)
        rabbit = nodes.RabbitNode(management=management, amqp_port=port)
        typer.echo(f"AMQP URI:    {rabbit.uri}")
        if rabbit.mgmt_port is not None:
            typer.echo(f"management:  http://127.0.0.1:{rabbit.mgmt_port}/ (guest / guest)")
        typer.echo(f"data:        {rabbit.dir}")
        typer.echo(f"Use it:      export RPCGEN_AMQP_URI={rabbit.uri}")
        typer.echo("Ctrl-C stops the node and deletes its data.")
        sys.stdout.flush()
        idle = threading.Event()  # never set: its wait is a sleep that a signal interrupts
        while rabbit.running:
            idle.wait(1.0)
        try:
            tail = "\n".join(rabbit.log_path.read_text(errors="replace").splitlines()[-20:])
        except OSError as exc:
            tail = f"(no log: {exc})"
        typer.echo(f"rpcgen: the RabbitMQ node exited on its own; its log ends:\n{tail}", err=True)
        code = 1
    except _Stop as stop:
        typer.echo(f"rpcgen: {stop}: stopping the node", err=True)
    except nodes.BrokerError as exc:
        typer.echo(f"rpcgen: the RabbitMQ node did not start: {exc}", err=True)
        code = 1
    finally:
        # A second Ctrl-C must not interrupt the clean-up: ignore both until it is done.
        for sig in previous:
            signal.signal(sig, signal.SIG_IGN)
        if rabbit is not None:
            rabbit.close()
            typer.echo(f"rpcgen: node stopped; {rabbit.dir} deleted", err=True)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    raise typer.Exit(code)


#: Where each template of ``templates/project/`` goes in the new project ({name}: its package).
PROJECT_FILES = {
    "pyproject.toml.jinja": "pyproject.toml",
    "README.md.jinja": "README.md",
    "gitignore.jinja": ".gitignore",
    "idl.py.jinja": "idl/{name}.py",
    "package_init.py.jinja": "{name}/__init__.py",
    "service.py.jinja": "{name}/service.py",
    "conftest.py.jinja": "tests/conftest.py",
    "test_service.py.jinja": "tests/test_{name}.py",
}

# Names the new project's own folders, modules and imports already use.
_TAKEN = {"generated", "idl", "tests", "rpcgen", "test", "conftest"}


def project_names(folder: Path, name: str | None) -> tuple[str, str]:
    """The package and service name (``my_shop``) and the class name (``MyShop``) for a new
    project in ``folder``: ``name``, else the folder's name, made a lower-case identifier.

    Raises ValueError, saying what to pass instead, when no usable name comes out.
    """
    raw = name if name is not None else folder.resolve().name
    ident = re.sub(r"[^0-9a-z]+", "_", raw.lower()).strip("_")
    problem = None
    if not ident or ident[0].isdigit():
        problem = "is not a Python identifier"
    elif keyword.iskeyword(ident):
        problem = "is a Python keyword"
    elif ident in _TAKEN or ident in sys.stdlib_module_names:
        problem = "would shadow a module the project imports"
    if problem:
        raise ValueError(f"the name {ident or raw!r} {problem}; choose another with --name NAME")
    camel = "".join(part.capitalize() for part in ident.split("_"))
    return ident, camel


def write_project(folder: Path, name: str, camel: str) -> list[Path]:
    """Write the project's sources (not ``generated/``) into ``folder``; the paths written."""
    from importlib.resources import files

    import jinja2
    from rpcgen import __version__

    root = files("rpcgen.templates") / "project"
    env = jinja2.Environment(
        keep_trailing_newline=True, undefined=jinja2.StrictUndefined, autoescape=False
    )
    values = {
        "name": name,
        "camel": camel,
        "project": name.replace("_", "-"),
        "rpcgen_version": __version__,
    }
    written = []
    for template, target in PROJECT_FILES.items():
        text = env.from_string((root / template).read_text(encoding="utf-8")).render(values)
        path = folder / target.format(name=name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


@start.command("init")
def init_command(
    folder: Annotated[
        Path,
        typer.Argument(
            metavar="DIR", help="The new project's folder: it must not exist or be empty."
        ),
    ],
    name: Annotated[
        str | None,
        typer.Option(
            "--name",
            metavar="NAME",
            help="The service and package name; default: DIR's name, as an identifier.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Write a new, working project into DIR and build it.

    The project: pyproject.toml, an IDL with one service and one event (idl/), its
    implementation, tests that run in memory and on RabbitMQ (tests/), and a README.

    Example: rpcgen init greeter && cd greeter && pytest -m "not broker"
    """
    from rpcgen.codegen.build import build
    from rpcgen.codegen.write import write

    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        _fail(f"{folder} exists and is not an empty folder; nothing written")
    try:
        ident, camel = project_names(folder, name)
    except ValueError as exc:
        _fail(str(exc))
    written = write_project(folder, ident, camel)
    result = build(folder / "idl")
    if result.errors:  # the templates' own IDL: a bug of rpcgen, not of the user
        for error in result.errors:
            typer.echo(str(error), err=True)
        _fail("the new project's IDL does not build; please report this")
    generated = folder / "generated"
    written += [generated / rel for rel in write(result.files, generated)]
    for path in written:
        typer.echo(f"  {path}", err=True)
    typer.echo(
        f"rpcgen: wrote the {ident} service into {folder}. Next:\n"
        f"  cd {folder}\n"
        f"  pytest -m 'not broker'                # its tests, in memory\n"
        f"  rpcgen serve {ident}.service:{camel}   # serve it (rpcgen broker runs a RabbitMQ)\n"
        f"README.md says more.",
        err=True,
    )


def _fail(message: str) -> NoReturn:
    typer.echo(f"rpcgen: {message}", err=True)
    raise typer.Exit(1)
