"""The Python text of the generated pieces whose layout depends on their width.

The model's properties call these, so that templates print finished lines and hold no layout
logic. Each function returns its text without the indentation of the first line (the template's
line supplies it) and with the rest laid out by ``pyfmt`` exactly as ``ruff format`` would.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from typing import TYPE_CHECKING

from rpcgen.codegen.pyfmt import LINE_LENGTH, Group, assign, docstring, fmt, group, py_str

if TYPE_CHECKING:
    from rpcgen.codegen.model import EventSpec, MethodSpec, ParameterSpec, ServiceSpec

__all__ = [
    "BODY",
    "MEMBER",
    "call",
    "class_attribute",
    "doc",
    "event_object",
    "event_signature",
    "method_doc",
    "method_object",
    "method_table",
    "signature",
]

MEMBER = 4  # the indentation of a class member
BODY = 8  # the indentation of a method's body


def signature(method: MethodSpec, head: str, with_self: bool, empty: bool) -> str:
    """``def name(params) -> result:``; ``empty`` adds `` ...`` (a body-less declaration)."""
    params = ["self", *method.decls] if with_self else list(method.decls)
    tail = f") -> {method.result.expr}:" + (" ..." if empty else "")
    return fmt(group(f"{head}(", params, tail), MEMBER)


def call(head: str, method: MethodSpec, first: Sequence[str] = ()) -> str:
    """``head(*first, (args,), {"kw": kw})``: a call in Nameko's ``(args, kwargs)`` form."""
    args = group("(", method.args, ")", is_tuple=True)
    kwargs = group("{", [f"{py_str(name)}: {name}" for name in method.kwargs], "}")
    return fmt(group(f"{head}(", [*first, args, kwargs], ")"), BODY)


def doc(text: str | None, indent: int) -> str | None:
    """A docstring at ``indent``, or None when there is no text."""
    return None if text is None else docstring(text, indent)


def method_doc(idl_doc: str | None, raises: Sequence[tuple[str, str]]) -> str | None:
    """A method's docstring: the IDL's, then a ``Raises:`` entry per declared error."""
    entries = [
        textwrap.fill(
            f"{name}: {summary}" if summary else name,
            width=LINE_LENGTH - BODY,
            initial_indent="    ",
            subsequent_indent="        ",
            break_long_words=False,
            break_on_hyphens=False,
        )
        for name, summary in raises
    ]
    section = "\n".join(["Raises:", *entries]) if entries else ""
    return doc(("\n\n".join(part for part in (idl_doc, section) if part)) or None, BODY)


def method_object(service: ServiceSpec, method: MethodSpec) -> str:
    """``_Svc_name: rt.Method[R] = rt.Method(...)``, the wire descriptor of one method."""
    value = group(
        "rt.Method(",
        [
            py_str(service.wire_name),
            py_str(method.wire_name),
            group("params=(", [_param_object(p) for p in method.params], ")", is_tuple=True),
            f"result={method.result.expr}",
            group("errors=(", method.errors, ")", is_tuple=True),
        ],
        ")",
        explode=True,
    )
    annotation = group("rt.Method[", [method.result.expr], "]", comma=False)
    return assign(method.const, value, 0, annotation)


def _param_object(param: ParameterSpec) -> Group:
    """``rt.Param("name", type, ...)``, naming only the flags that differ from their defaults."""
    items = [py_str(param.name), param.type.expr]
    if param.keyword_only:
        items.append("keyword_only=True")
    if param.default is not None:
        items.append("has_default=True")
    return group("rt.Param(", items, ")")


def method_table(service: ServiceSpec) -> str:
    """The ``methods`` of the server and the client, which their class bodies only declare."""
    entries = [f"{py_str(m.name)}: {m.const}" for m in service.methods]
    table = fmt(group(f"{service.server}.methods = {{", entries, "}", explode=True), 0)
    shared = group(f"{service.server}.methods", [], "")
    same = [
        assign(f"{owner}.methods", shared, 0) for owner in (service.async_server, service.client)
    ]
    return "\n".join([table, *same])


def class_attribute(target: str, value: str) -> str:
    """``target = value`` in a class body (``value`` is one unsplittable literal)."""
    return assign(target, group(value, [], ""), MEMBER)


def event_signature(head: str, payload: str) -> str:
    """``def name(self, payload: P) -> None:`` of a dispatcher method."""
    return fmt(group(f"{head}(", ["self", f"payload: {payload}"], ") -> None:"), MEMBER)


def event_object(event: EventSpec) -> str:
    """``_Svc_event_x: rt.Event[P] = rt.Event("svc", "x", P)``, the wire descriptor of an event."""
    value = group(
        "rt.Event(", [py_str(event.service), py_str(event.wire_name), event.payload.expr], ")"
    )
    annotation = group("rt.Event[", [event.payload.expr], "]", comma=False)
    return assign(event.const, value, 0, annotation)
