"""Broker addresses: where they come from, how pika gets them, and how they are printed.

Passwords never leave this module unmasked: everything printable goes through ``mask_uri``
or ``describe_error``.
"""

from __future__ import annotations

import os
import random
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit, urlunsplit

import pika
from pika import exceptions as pika_errors

__all__ = [
    "DEFAULT_URI",
    "URI_ENV",
    "Backoff",
    "describe_error",
    "mask_uri",
    "pika_parameters",
    "resolve_uris",
]

DEFAULT_URI = "amqp://guest:guest@localhost:5672/"
URI_ENV = "RPCGEN_AMQP_URI"
_SCHEMES = {"amqp": "amqp", "pyamqp": "amqp", "amqps": "amqps"}
_TLS_FILES = ("cafile", "certfile", "keyfile")  # our query parameters, not pika's


@dataclass(frozen=True)
class Backoff:
    """How a lost connection is re-established: rounds over every URI, ``delay(n)`` apart.

    Round ``n`` (from 1) waits ``min(initial * factor ** (n - 1), max)`` seconds, spread by
    ``jitter`` (each wait is multiplied by a random factor between ``1 - jitter`` and
    ``1 + jitter``, so that the clients of a restarted broker do not all come back in the same
    instant), then tries each URI once, starting with the one that was lost (a restarted node
    keeps its durable reply queue). ``attempts`` bounds the rounds (None: keep trying); after
    the last one the connection is given up and everything waiting on it fails with
    ``RpcConnectionError``.
    """

    initial: float = 0.1
    max: float = 5.0
    factor: float = 2.0
    attempts: int | None = None
    jitter: float = 0.2

    def __post_init__(self) -> None:
        if self.initial < 0 or self.max < 0 or self.factor < 1:
            raise ValueError("Backoff needs initial >= 0, max >= 0 and factor >= 1")
        if self.attempts is not None and self.attempts < 0:
            raise ValueError("Backoff.attempts must be None or >= 0")
        if not 0 <= self.jitter < 1:
            raise ValueError("Backoff.jitter must be >= 0 and < 1")

    def delay(self, attempt: int) -> float:
        """Seconds to wait before round ``attempt`` (1 for the first round after a loss)."""
        base = min(self.initial * self.factor ** min(attempt - 1, 64), self.max)
        if self.jitter:
            base *= random.uniform(1 - self.jitter, 1 + self.jitter)
        return float(base)


def resolve_uris(uri: str | Sequence[str] | None) -> list[str]:
    """The URIs to try in order: the argument, else ``$RPCGEN_AMQP_URI``, else the default."""
    if uri is None:
        uri = os.environ.get(URI_ENV) or DEFAULT_URI
    uris = [uri] if isinstance(uri, str) else list(uri)
    if not uris:
        raise ValueError("no AMQP URI given")
    return uris


def mask_uri(uri: str) -> str:
    """``uri`` with its password replaced by ``***``."""
    try:
        parts = urlsplit(uri)
    except ValueError:
        return "<unparsable AMQP URI>"
    userinfo, at, hostport = parts.netloc.rpartition("@")
    if not at or ":" not in userinfo:
        return uri  # no password in it
    user = userinfo.split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{hostport}"))


def scrub(text: str, uri: str) -> str:
    """``text`` with any occurrence of ``uri``'s password (as written or decoded) masked."""
    try:
        password = urlsplit(uri).password
    except ValueError:
        return text
    for secret in sorted({password or "", unquote(password or "")}, key=len, reverse=True):
        if secret:
            text = text.replace(secret, "***")
    return text


def pika_parameters(uri: str, *, heartbeat: int, connect_timeout: float, name: str) -> Any:
    """pika parameters for ``uri``: one attempt, Nameko's heartbeat, Celery-style ``//`` fixed.

    kombu reads ``host:5672//`` as the vhost ``/`` but pika would read ``''``; ``pyamqp://``
    (kombu's spelling) is accepted as ``amqp://``. An ``amqps://`` URI verifies the broker's
    certificate against the system's CAs, or against ``?cafile=/path/ca.pem``; ``certfile``
    and ``keyfile`` present a client certificate.
    """
    parts = urlsplit(uri)
    scheme = _SCHEMES.get(parts.scheme.lower())
    if scheme is None:
        raise ValueError(
            f"unsupported AMQP URI scheme {parts.scheme!r} in {mask_uri(uri)}: "
            "use amqp:// or amqps://"
        )
    path = "/%2F" if parts.path == "//" else parts.path
    query = parse_qs(parts.query, keep_blank_values=True)
    tls = {key: query.pop(key)[-1] for key in _TLS_FILES if key in query}
    rest = urlencode(query, doseq=True)
    try:
        params = pika.URLParameters(
            urlunsplit(parts._replace(scheme=scheme, path=path, query=rest))
        )
    except ValueError as exc:
        raise ValueError(f"invalid AMQP URI {mask_uri(uri)}: {scrub(str(exc), uri)}") from None
    if tls:
        if scheme != "amqps":
            raise ValueError(f"{', '.join(tls)} need an amqps:// URI: {mask_uri(uri)}")
        params.ssl_options = _ssl_options(tls, parts.hostname or "localhost")
    if "heartbeat" not in parse_qs(parts.query):
        params.heartbeat = heartbeat
    # One attempt: a refused login or vhost must surface at once, not after pika's retries.
    params.connection_attempts = 1
    params.socket_timeout = connect_timeout
    params.stack_timeout = connect_timeout
    params.client_properties = {"connection_name": name}
    return params


def _ssl_options(files: dict[str, str], hostname: str) -> Any:
    """TLS that trusts ``cafile`` (else the system's CAs), with an optional client certificate."""
    try:
        context = ssl.create_default_context(cafile=files.get("cafile"))
        if "certfile" in files:
            context.load_cert_chain(files["certfile"], files.get("keyfile"))
    except (OSError, ssl.SSLError) as exc:
        raise ValueError(f"cannot load the TLS files {files}: {exc}") from None
    return pika.SSLOptions(context, server_hostname=hostname)


def describe_error(uri: str, error: BaseException) -> str:
    """One line saying why connecting to ``uri`` failed, password masked."""
    where = mask_uri(uri)
    if isinstance(error, pika_errors.ProbableAuthenticationError | pika_errors.AuthenticationError):
        user = urlsplit(uri).username or "guest"
        return f"{where}: login refused for user {unquote(user)!r} (wrong user name or password?)"
    if isinstance(error, pika_errors.ProbableAccessDeniedError):
        return f"{where}: access to the virtual host refused (missing vhost or permissions?)"
    if isinstance(error, pika_errors.ConnectionClosedByBroker):
        return f"{where}: {scrub(error.reply_text, uri)} ({error.reply_code})"
    cause = _root_cause(error)
    return f"{where}: {scrub(f'{type(cause).__name__}: {cause}', uri)}"


def _root_cause(error: BaseException) -> BaseException:
    """The socket or DNS error that pika wraps in connector and workflow exceptions."""
    for _ in range(10):  # wrappers nest a few levels deep at most
        nested = getattr(error, "exceptions", None)
        inner = getattr(error, "exception", None)
        if nested:
            error = nested[-1]
        elif isinstance(inner, BaseException):
            error = inner
        elif error.args and isinstance(error.args[0], BaseException):
            error = error.args[0]
        else:
            break
    return error
