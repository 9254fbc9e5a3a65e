"""``rpcgen serve``'s settings from flags, ``RPCGEN_*`` environment variables and a TOML file.

Precedence, highest first: a command-line flag, then the environment variable, then the
config file's ``[serve]`` table, then the default. The file is ``--config FILE``, else
``$RPCGEN_CONFIG``; without either no file is read. Each setting is declared once in
``SETTINGS`` (its name is the flag without ``--`` and with ``_`` for ``-``, the file's key, and
the environment variable upper-cased after ``RPCGEN_``), so the three sources cannot drift
apart. A bad value names where it came from (``config.toml: [serve] max_workers: ...``).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 installs the backport (pyproject's dependencies)
    import tomli as tomllib

__all__ = ["SETTINGS", "ServeSettings", "SettingsError", "resolve"]

CONFIG_ENV = "RPCGEN_CONFIG"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LOG_FORMATS = ("text", "json")


class SettingsError(ValueError):
    """A setting that cannot be used; the message says which source gave it."""


@dataclass(frozen=True)
class ServeSettings:
    """Every ``rpcgen serve`` setting, resolved."""

    amqp_uri: tuple[str, ...] | None = None  # None: $RPCGEN_AMQP_URI's own default, localhost
    exchange: str = "nameko-rpc"
    max_workers: int = 10
    prefetch: int | None = None
    max_concurrency: int | None = None  # None: the prefetch (ServiceRunner)
    queue_type: str | None = None
    log_level: str = "INFO"
    log_format: str = "text"
    startup_timeout: float = 60.0
    drain_timeout: float = 25.0
    http_port: int | None = None
    http_host: str = "0.0.0.0"
    metrics: bool = False
    once: bool = True
    once_store: str | None = None  # None: in this process (LocalStore); else a redis:// URL


def _uris(value: object) -> tuple[str, ...]:
    if isinstance(value, str):  # the environment: comma-separated for failover
        parts = [u.strip() for u in value.split(",")]
    elif isinstance(value, list | tuple) and all(isinstance(u, str) for u in value):
        parts = [str(u).strip() for u in value]
    else:
        raise ValueError("expected a URI or a list of URIs")
    if not parts or not all(parts):
        raise ValueError("expected a URI or a list of URIs, none empty")
    return tuple(parts)


def _text(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError("expected a non-empty string")
    return value


def _positive_int(value: object) -> int:
    if isinstance(value, str):
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError("expected a whole number of at least 1")
    return value


def _port(value: object) -> int:
    if isinstance(value, str):
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 65535:
        raise ValueError("expected a port number, 0 to 65535")
    return value


def _flag(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ValueError("expected true or false")


_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


def _redis_url(value: object) -> str:
    text = _text(value).strip()
    if not text.startswith(("redis://", "rediss://", "unix://")):
        raise ValueError("expected a redis://, rediss:// or unix:// URL")
    return text


def _seconds(value: object) -> float:
    if isinstance(value, str):
        value = float(value.strip())
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError("expected a number of seconds, 0 or more")
    return float(value)


def _choice(options: tuple[str, ...], upper: bool) -> Callable[[object], str]:
    def parse(value: object) -> str:
        text = _text(value)
        text = text.upper() if upper else text.lower()
        if text not in options:
            raise ValueError(f"expected one of {', '.join(options)}")
        return text

    return parse


SETTINGS: Mapping[str, Callable[[object], object]] = {
    "amqp_uri": _uris,
    "exchange": _text,
    "max_workers": _positive_int,
    "prefetch": _positive_int,
    "max_concurrency": _positive_int,
    "queue_type": _text,
    "log_level": _choice(LOG_LEVELS, upper=True),
    "log_format": _choice(LOG_FORMATS, upper=False),
    "startup_timeout": _seconds,
    "drain_timeout": _seconds,
    "http_port": _port,
    "http_host": _text,
    "metrics": _flag,
    "once": _flag,
    "once_store": _redis_url,
}
"""Each setting's name and parser (a parser raises ``ValueError`` with what it expected)."""

assert set(SETTINGS) == {f.name for f in fields(ServeSettings)}


def env_name(setting: str) -> str:
    return f"RPCGEN_{setting.upper()}"


def resolve(
    flags: Mapping[str, object | None],
    environ: Mapping[str, str],
    config: Path | None = None,
) -> ServeSettings:
    """The settings from ``flags`` (None: not given), ``environ`` and the config file.

    ``config`` is ``--config``; without it ``$RPCGEN_CONFIG`` names the file, if set.
    """
    if config is None and environ.get(CONFIG_ENV):
        config = Path(environ[CONFIG_ENV])
    from_file = _read_file(config) if config is not None else {}
    values: dict[str, object] = {}
    for name, parse in SETTINGS.items():
        flag = flags.get(name)
        if flag is not None:
            raw, source = flag, f"--{name.replace('_', '-')}"
        elif environ.get(env_name(name)):
            raw, source = environ[env_name(name)], f"${env_name(name)}"
        elif name in from_file:
            raw, source = from_file[name], f"{config}: [serve] {name}"
        else:
            continue
        try:
            values[name] = parse(raw)
        except ValueError as exc:
            raise SettingsError(f"{source}: {raw!r}: {_reason(exc)}") from None
    return ServeSettings(**values)  # type: ignore[arg-type]  # each parser gives its field's type


def _reason(exc: ValueError) -> str:
    text = str(exc)
    return text if text.startswith("expected") else f"not a number ({text})"


def _read_file(path: Path) -> dict[str, object]:
    try:
        with path.open("rb") as file:
            document = tomllib.load(file)
    except OSError as exc:
        raise SettingsError(f"cannot read the config file {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path}: not valid TOML: {exc}") from None
    unknown_tables = sorted(set(document) - {"serve"})
    if unknown_tables:
        raise SettingsError(
            f"{path}: unknown key {unknown_tables[0]!r}; settings go in the [serve] table"
        )
    table = document.get("serve", {})
    if not isinstance(table, dict):
        raise SettingsError(f"{path}: 'serve' must be a table ([serve])")
    for key in table:
        if key not in SETTINGS:
            known = ", ".join(SETTINGS)
            raise SettingsError(f"{path}: [serve] {key}: unknown setting; known: {known}")
    return dict(table)
