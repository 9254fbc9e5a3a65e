"""JSON Schema for what travels on the wire: every IDL data type, the kombu markers, and each
method's request and reply bodies.

Schemas describe what rpcgen sends (``rpcgen.runtime`` encodes; the tests check its bytes against
these schemas). Receivers are more lenient than the schemas: records ignore keys they do not
declare, and ``datetime``/``date``/``time``/``Decimal``/``UUID`` also take kombu<=5.2's plain
strings (``Decimal`` JSON numbers too). The same generator writes Draft 2020-12 (``rpcgen export
--format jsonschema``) and the Draft-07 dialect AsyncAPI 3.0 documents embed: they differ only in
how a fixed-length tuple is spelled.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Sequence
from typing import Any

from rpcgen.codegen.contract.typetree import EnumValue, Records, Ty, parse
from rpcgen.codegen.model import DataclassSpec, MethodSpec, ModuleSpec, ServiceSpec, TypedDictSpec

__all__ = ["DRAFT_2020_12", "Schemas", "component_key", "document"]

DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"
Schema = dict[str, Any]

_SCALARS: dict[str, Schema] = {
    "str": {"type": "string"},
    "int": {"type": "integer"},
    "float": {"type": "number"},
    "bool": {"type": "boolean"},
    "None": {"type": "null"},
}
_TIME = r"[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{6})?([+-][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{6})?)?)?"
_DATE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
_TEXT_PATTERNS = {
    "datetime": f"^{_DATE}[T ]{_TIME}$",
    "date": f"^{_DATE}$",
    "time": f"^{_TIME}$",
    "decimal": r"^[+-]?(([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?|NaN|sNaN|Infinity)$",
    "bytes": None,
    "base64": r"^([A-Za-z0-9+/]{4})*([A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$",
}
_KOMBU = {"datetime": "datetime", "date": "date", "time": "time", "Decimal": "decimal"}


def component_key(*parts: str) -> str:
    """A schema's name from the wire names it describes, joined by dots: what AsyncAPI allows in
    a component key (``^[a-zA-Z0-9.\\-_]+$``) for every legal name, and one key per name. A
    character other than an ASCII letter, digit or ``_`` (``:``, a dot inside an event name,
    ``-`` itself) is written ``-<hex code>-``: ``stock:low`` is ``stock-3a-low``."""
    return ".".join(_escape(part) for part in parts)


def _escape(part: str) -> str:
    kept = (c if c.isascii() and (c.isalnum() or c == "_") else f"-{ord(c):x}-" for c in part)
    return "".join(kept)


def _marker(tag: str, value: Schema, description: str) -> Schema:
    return {
        "description": description,
        "type": "object",
        "properties": {"__type__": {"const": tag}, "__value__": value},
        "required": ["__type__", "__value__"],
        "additionalProperties": False,
    }


def _text(tag: str) -> Schema:
    pattern = _TEXT_PATTERNS[tag]
    return {"type": "string", **({"pattern": pattern} if pattern else {})}


def kombu_schemas() -> dict[str, Schema]:
    """The kombu>=5.3 markers of the special types, as rpcgen and current Nameko write them."""
    out = {
        name: _marker(tag, _text(tag), f"{name}: kombu marker, value in ISO 8601 / str() form")
        for name, tag in _KOMBU.items()
    }
    uuid_value = {
        "type": "object",
        "properties": {"hex": {"type": "string", "pattern": "^[0-9a-f]{32}$"}},
        "required": ["hex"],
    }
    out["UUID"] = _marker("uuid", uuid_value, "UUID: kombu marker, 32 lowercase hex digits")
    out["bytes"] = {
        "description": "bytes: UTF-8 text as a 'bytes' marker, anything else as 'base64'",
        "anyOf": [
            _marker("bytes", _text("bytes"), "bytes that are valid UTF-8"),
            _marker("base64", _text("base64"), "bytes that are not valid UTF-8"),
        ],
    }
    return out


class Schemas:
    """Schemas of one IDL folder; ``ref`` is where named schemas live (``#/$defs/``)."""

    def __init__(self, modules: Sequence[ModuleSpec], ref: str, draft07: bool = False) -> None:
        self.modules = tuple(modules)
        self.ref = ref
        self.draft07 = draft07

    def definitions(self) -> dict[str, Schema]:
        """Every named schema: ``kombu.<type>``, ``<module>.<Record>``, and per method
        ``<service>.<method>.request`` / ``.reply``, and per event ``<service>.events.<event>``."""
        defs = {f"kombu.{name}": schema for name, schema in kombu_schemas().items()}
        tree = {module.name: module for module in self.modules}
        for module in self.modules:
            recs = Records(module, tree)
            defs |= {f"{module.name}.{name}": s for name, s in self._records(module, recs).items()}
            for svc in module.services:
                for method in svc.methods:
                    base = component_key(svc.wire_name, method.wire_name)
                    defs[f"{base}.request"] = self.request(method, recs)
                    defs[f"{base}.reply"] = self.reply(svc, method, recs)
                for event in svc.events:  # the body is the payload itself
                    payload = self.type(parse(event.payload), recs)
                    key = component_key(svc.wire_name, "events", event.wire_name)
                    defs[key] = _doc(event.doc, payload)
        return defs

    def type(self, ty: Ty, recs: Records) -> Schema:
        if ty.kind == "prim":
            return (
                dict(_SCALARS[ty.name]) if ty.name in _SCALARS else self._named(f"kombu.{ty.name}")
            )
        if ty.kind == "ref":
            # A type shared from another module of the tree is that module's one schema.
            return self._named(f"{recs.homes.get(ty.name, recs.module)}.{ty.name}")
        if ty.kind == "union":
            return {"anyOf": [self.type(arg, recs) for arg in ty.args]}
        if ty.kind == "literal":
            values = [recs.literal_wire(v) for v in ty.values]
            return {"const": values[0]} if len(values) == 1 else {"enum": values}
        if ty.kind in ("list", "tuple..."):
            return {"type": "array", "items": self.type(ty.args[0], recs)}
        if ty.kind == "dict":
            return {"type": "object", "additionalProperties": self.type(ty.args[0], recs)}
        return self.tuple([self.type(arg, recs) for arg in ty.args], len(ty.args))

    def tuple(self, items: list[Schema], required: int) -> Schema:
        """A JSON array of ``items`` by position, the first ``required`` of them present."""
        out: Schema = {"type": "array", "minItems": required, "maxItems": len(items)}
        if items and self.draft07:
            out |= {"items": items, "additionalItems": False}
        elif items:
            out |= {"prefixItems": items, "items": False}
        return out

    def _named(self, name: str) -> Schema:
        return {"$ref": f"{self.ref}{name}"}

    def _records(self, module: ModuleSpec, recs: Records) -> dict[str, Schema]:
        out: dict[str, Schema] = {}
        for enum in module.enums:
            out[enum.name] = _doc(
                enum.doc, {"title": enum.name, "enum": list(recs.enums[enum.name])}
            )
        records: list[DataclassSpec | TypedDictSpec] = [*module.dataclasses, *module.typeddicts]
        for rec in records:
            props: Schema = {}
            for name, field in recs.fields[rec.name].items():
                props[name] = self.type(field.type, recs)
            spec = {f.name: f.default for f in rec.fields}
            for name, text in spec.items():
                if (value := _default(text, recs)) is not _NO_DEFAULT:
                    props[name] = {**props[name], "default": value}
            required = [n for n, f in recs.fields[rec.name].items() if f.required]
            body = {"title": rec.name, "type": "object", "properties": props, "required": required}
            out[rec.name] = _doc(rec.doc, body)
        return out

    def request(self, method: MethodSpec, recs: Records) -> Schema:
        """``{"args": [...], "kwargs": {...}}`` as the server accepts it.

        One branch per number of positional arguments: the first ``n`` positional parameters in
        ``args``, every later one (and every keyword-only one) by name in ``kwargs``, those with
        a default free to be left out (generated callers leave out what the caller did not give).
        """
        positional = [p for p in method.params if not p.keyword_only]
        keyword = [p for p in method.params if p.keyword_only]
        branches: list[Schema] = []
        for given in range(len(positional) + 1):
            by_name = [*positional[given:], *keyword]
            items = [self.type(parse(p.type), recs) for p in positional[:given]]
            args = self.tuple(items, given)
            kwargs = {
                "type": "object",
                "properties": {p.name: self.type(parse(p.type), recs) for p in by_name},
                "required": [p.name for p in by_name if p.default is None],
                "additionalProperties": False,
            }
            branches.append({"properties": {"args": args, "kwargs": kwargs}})
        return _doc(
            "Positional parameters travel in args, keyword-only ones in kwargs; a caller may "
            "pass any positional parameter after the ones in args by name in kwargs, and leave "
            "out any parameter that has a default.",
            {
                "type": "object",
                "required": ["args", "kwargs"],
                **({"oneOf": branches} if len(branches) > 1 else branches[0]),
            },
        )

    def reply(self, svc: ServiceSpec, method: MethodSpec, recs: Records) -> Schema:
        """``{"result": ..., "error": null}`` or ``{"result": null, "error": {...}}``."""
        paths = self._exc_paths(recs.module)
        declared = [_error(name, paths[name]) for name in method.errors]
        any_error = _error("", "")
        ok = {
            "properties": {
                "result": self.type(parse(method.result), recs),
                "error": {"type": "null"},
            }
        }
        failed = {
            "properties": {"result": {"type": "null"}, "error": {"anyOf": [*declared, any_error]}}
        }
        return _doc(
            f"Reply of {svc.wire_name}.{method.wire_name}; declared errors: "
            f"{', '.join(paths[n] for n in method.errors) or 'none'}",
            {"type": "object", "required": ["result", "error"], "oneOf": [ok, failed]},
        )

    def _exc_paths(self, module: str) -> dict[str, str]:
        """The errors ``module`` can name (its own, then those it shares) -> their paths."""
        tree = {m.name: m for m in self.modules}
        spec = tree[module]
        paths = {name: tree[home] for name, home in spec.shared if home in tree}
        out = {
            name: e.exc_path for name, home in paths.items() for e in home.errors if e.name == name
        }
        return out | {e.name: e.exc_path for e in spec.errors}


def _error(name: str, path: str) -> Schema:
    """Nameko's serialized exception; with ``path``, one declared error."""
    props: Schema = {
        "exc_type": {"type": "string"},
        "exc_path": {"type": "string"},
        "exc_args": {"type": "array"},
        "value": {"type": "string"},
    }
    if path:
        props["exc_path"] = {"const": path}
    schema: Schema = {"type": "object", "properties": props, "required": list(props)}
    return {"title": name, **schema} if name else {"title": "any remote error", **schema}


_NO_DEFAULT = object()


def _default(text: str | None, recs: Records) -> object:
    """The JSON value of a rendered default, or ``_NO_DEFAULT``."""
    if text is None or text.startswith("dataclasses.field("):
        return _NO_DEFAULT
    if "." in text and text.split(".", 1)[0] in recs.enums:
        enum, member = text.split(".", 1)
        return recs.enum_value(EnumValue(enum, member))
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return _NO_DEFAULT


def _doc(doc: str | None, schema: Schema) -> Schema:
    return {**schema, "description": doc} if doc else schema


def document(modules: Sequence[ModuleSpec], name: str) -> str:
    """``rpcgen export --format jsonschema``: one Draft 2020-12 document with every schema."""
    schemas = Schemas(modules, "#/$defs/")
    doc = {
        "$schema": DRAFT_2020_12,
        "$id": f"urn:rpcgen:{name}",
        "title": f"Wire types of the rpcgen IDL {name}",
        "$defs": schemas.definitions(),
    }
    return json.dumps(doc, indent=2) + "\n"
