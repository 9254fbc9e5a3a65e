"""``rpcgen scaffold``: a draft IDL from a Nameko service module, read with ``ast``, never imported.

Each class with a ``name = "..."`` attribute and ``@rpc`` methods becomes an ``@service`` Protocol;
each ``@rpc`` method keeps its parameters, defaults, annotations and docstring. What the source
does not say is left as the placeholder ``Unknown`` (an alias of ``Any``, which ``rpcgen build``
refuses, naming the parameter and the types it can take), so nothing silently becomes untyped.
``@rpc(expected_exceptions=...)`` becomes ``@raises``; the error classes the module defines are
copied with ``@exc_path`` set to where Nameko sends them from.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

__all__ = ["PLACEHOLDER", "Draft", "scaffold"]

PLACEHOLDER = "Unknown"
# Names an annotation may use that the draft imports itself.
_KNOWN_IMPORTS = {
    "Any": "typing",
    "Literal": "typing",
    "Optional": "typing",
    "Union": "typing",
    "TypedDict": "typing",
    "datetime": "datetime",
    "date": "datetime",
    "time": "datetime",
    "Decimal": "decimal",
    "UUID": "uuid",
}
_BUILTINS = {"str", "int", "float", "bool", "bytes", "list", "dict", "tuple", "None"}


@dataclass
class Draft:
    """The draft's text, and what it could not fill in (for the command's summary)."""

    text: str
    services: list[str] = field(default_factory=list)
    placeholders: list[str] = field(default_factory=list)  # "Service.method(param)"
    names: set[str] = field(default_factory=set)  # every name the annotations use
    undefined: set[str] = field(default_factory=set)  # those the draft neither imports nor defines


def scaffold(source: str, module: str) -> Draft:
    """The draft IDL of the Nameko module ``module`` (its dotted name, for ``exc_path``)."""
    tree = ast.parse(source)
    errors = _errors(tree)
    draft = Draft("")
    body: list[str] = []
    for error in errors:
        body += _error(error, module)
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and (wire := _service_name(node)) is not None:
            body += _service(node, wire, draft)
    if not draft.services:
        raise ValueError("no Nameko service found: no class has a name = '...' and @rpc methods")
    imports = sorted(f"{_KNOWN_IMPORTS[n]}|{n}" for n in draft.names if n in _KNOWN_IMPORTS)
    own = {e.name for e in errors}
    draft.undefined = draft.names - _KNOWN_IMPORTS.keys() - _BUILTINS - own - {PLACEHOLDER}
    draft.text = _header(module, imports, draft) + "\n".join(body).rstrip() + "\n"
    return draft


def _header(module: str, imports: list[str], draft: Draft) -> str:
    lines = [
        f'"""Draft IDL of the Nameko module {module}, written by rpcgen scaffold: review it."""',
        "",
        "from __future__ import annotations",
        "",
    ]
    by_module: dict[str, list[str]] = {}
    for entry in imports:
        mod, name = entry.split("|")
        by_module.setdefault(mod, []).append(name)
    typing_names = sorted({*by_module.pop("typing", []), "Any", "Protocol"})
    for mod in sorted({*by_module, "typing"}):
        names = typing_names if mod == "typing" else sorted(by_module[mod])
        lines.append(f"from {mod} import {', '.join(names)}")
    lines += ["", "from rpcgen import exc_path, raises, service", "", ""]
    lines += [
        "# The Nameko source does not say these types: replace each Unknown with the real type.",
        "# `rpcgen build` refuses this module while any is left.",
        f"{PLACEHOLDER} = Any",
    ]
    if draft.undefined:
        missing = ", ".join(sorted(draft.undefined))
        lines.append(f"# Define (as dataclass, Enum or TypedDict) or import: {missing}")
    return "\n".join(lines) + "\n\n\n"


def _errors(tree: ast.Module) -> list[ast.ClassDef]:
    """Classes deriving from ``Exception`` (or ``*Error``), directly or through each other."""
    found: list[ast.ClassDef] = []
    names = {"Exception"}
    for node in tree.body:
        if not isinstance(node, ast.ClassDef):
            continue
        bases = {b.id for b in node.bases if isinstance(b, ast.Name)}
        if bases & names or any(b.endswith(("Error", "Exception")) for b in bases):
            found.append(node)
            names.add(node.name)
    return found


def _error(node: ast.ClassDef, module: str) -> list[str]:
    bases = ", ".join(ast.unparse(b) for b in node.bases)
    doc = ast.get_docstring(node) or f"{node.name}, raised by the Nameko service."
    return [
        f'@exc_path("{module}.{node.name}")',
        f"class {node.name}({bases}):",
        f"    {_docstring(doc, 4)}",
        "",
        "",
    ]


def _service_name(node: ast.ClassDef) -> str | None:
    for stmt in node.body:
        if (
            isinstance(stmt, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "name" for t in stmt.targets)
            and isinstance(stmt.value, ast.Constant)
            and isinstance(stmt.value.value, str)
        ):
            return stmt.value.value
    return None


def _rpc(node: ast.stmt) -> ast.expr | None:
    """The method's ``@rpc`` decorator (``rpc``, ``rpc(...)``, ``nameko.rpc.rpc``), if any."""
    if not isinstance(node, ast.FunctionDef):
        return None
    for deco in node.decorator_list:
        target = deco.func if isinstance(deco, ast.Call) else deco
        if (isinstance(target, ast.Name) and target.id == "rpc") or (
            isinstance(target, ast.Attribute) and target.attr == "rpc"
        ):
            return deco
    return None


def _service(node: ast.ClassDef, wire: str, draft: Draft) -> list[str]:
    methods = [m for m in node.body if isinstance(m, ast.FunctionDef) and _rpc(m) is not None]
    if not methods:
        return []
    draft.services.append(wire)
    out = [f'@service("{wire}")', f"class {node.name}(Protocol):"]
    doc = ast.get_docstring(node)
    out += [f"    {_docstring(doc, 4)}", ""] if doc else []
    for method in methods:
        out += _method(node.name, method, draft)
    return [*out, "", ""]


def _method(owner: str, node: ast.FunctionDef, draft: Draft) -> list[str]:
    deco = _rpc(node)
    out: list[str] = []
    if isinstance(deco, ast.Call):
        raised = [
            ast.unparse(e)
            for kw in deco.keywords
            if kw.arg == "expected_exceptions"
            for e in _items(kw.value)
        ]
        if raised:
            out.append(f"    @raises({', '.join(raised)})")
    params = _params(owner, node, draft)
    result = _annotation(node.returns, f"{owner}.{node.name}(return)", draft)
    out.append(f"    def {node.name}({', '.join(['self', *params])}) -> {result}:")
    doc = ast.get_docstring(node)
    out.append(f"        {_docstring(doc, 8)}" if doc else "        ...")
    return [*out, ""]


def _items(node: ast.expr) -> list[ast.expr]:
    return list(node.elts) if isinstance(node, (ast.Tuple, ast.List)) else [node]


def _params(owner: str, node: ast.FunctionDef, draft: Draft) -> list[str]:
    args = node.args
    out: list[str] = []
    positional = [*args.posonlyargs, *args.args][1:]  # without self
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(args.defaults))
    defaults += args.defaults
    for arg, default in zip(positional, defaults, strict=True):
        out.append(_param(owner, node.name, arg, default, draft))
    if args.vararg is not None:
        out.append("*" + _param(owner, node.name, args.vararg, None, draft))
    elif args.kwonlyargs:
        out.append("*")
    for arg, kw_default in zip(args.kwonlyargs, args.kw_defaults, strict=True):
        out.append(_param(owner, node.name, arg, kw_default, draft))
    if args.kwarg is not None:
        out.append("**" + _param(owner, node.name, args.kwarg, None, draft))
    return out


def _param(owner: str, method: str, arg: ast.arg, default: ast.expr | None, draft: Draft) -> str:
    text = f"{arg.arg}: {_annotation(arg.annotation, f'{owner}.{method}({arg.arg})', draft)}"
    return f"{text} = {ast.unparse(default)}" if default is not None else text


def _annotation(node: ast.expr | None, where: str, draft: Draft) -> str:
    if node is None:
        draft.placeholders.append(where)
        return PLACEHOLDER
    if isinstance(node, ast.Constant) and isinstance(node.value, str):  # "Order": a forward ref
        node = ast.parse(node.value, mode="eval").body
    draft.names |= {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
    return ast.unparse(node)


def _docstring(text: str, indent: int) -> str:
    body = text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    if "\n" not in body:
        return f'"""{body}"""'
    pad = " " * indent
    first, *rest = body.splitlines()
    return "\n".join(['"""' + first, *(f"{pad}{line}".rstrip() for line in rest), f'{pad}"""'])
