"""Logging for servers: ``JsonFormatter`` (one JSON object per line) and ``configure``.

Records logged while a handler runs carry the request's service, method and call id (read
from the call context, ``context.current_context()``), in the JSON output as ``service``,
``method`` and ``call_id`` and in the text output after the message. ``configure`` is what
``rpcgen serve`` calls, and only when the application left the root logger without handlers:
an application's own logging set-up wins. Importing this module configures nothing.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone

from rpcgen.runtime import context

__all__ = ["CallContextFilter", "JsonFormatter", "configure"]

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s%(rpcgen_call)s"


def _call_fields() -> tuple[str, str, str] | None:
    """The current request's ``(service, method, call_id)``, or None outside a handler."""
    ctx = context.current_context()
    if ctx is None:
        return None
    call_id = ctx.call_id
    service, _, rest = call_id.partition(".")
    method = rest.partition(".")[0]
    return service, method, call_id


class CallContextFilter(logging.Filter):
    """Adds ``service``, ``method`` and ``call_id`` (None outside a handler) to each record,
    and ``rpcgen_call`` (`` [call_id]`` or empty) for text formats; never drops a record."""

    def __init__(self, service: str | None = None) -> None:
        super().__init__()
        self.service = service

    def filter(self, record: logging.LogRecord) -> bool:
        fields = _call_fields()
        service, method, call_id = fields if fields is not None else (self.service, None, None)
        record.service = service
        record.method = method
        record.call_id = call_id
        record.rpcgen_call = f" [{call_id}]" if call_id else ""
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ``time`` (ISO 8601, UTC), ``level``, ``logger``,
    ``message``, ``service``, ``method``, ``call_id``, and ``exception`` (the traceback) when
    the record has one."""

    def format(self, record: logging.LogRecord) -> str:
        fields = _call_fields()
        service, method, call_id = fields if fields is not None else (None, None, None)
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "service": getattr(record, "service", None) or service,
            "method": getattr(record, "method", None) or method,
            "call_id": getattr(record, "call_id", None) or call_id,
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def configure(level: str = "INFO", fmt: str = "text", service: str | None = None) -> bool:
    """Log to stderr at ``level`` as ``fmt`` (``text`` or ``json``), unless the root logger
    already has a handler (the application configured logging: it wins). Returns whether it
    configured anything. pika's INFO is connection chatter, so pika logs from WARNING."""
    root = logging.getLogger()
    if root.handlers:
        return False
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(CallContextFilter(service))
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    elif fmt == "text":
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    else:
        raise ValueError(f"unknown log format {fmt!r}: expected text or json")
    root.addHandler(handler)
    root.setLevel(level.upper())
    logging.getLogger("pika").setLevel(logging.WARNING)
    return True
