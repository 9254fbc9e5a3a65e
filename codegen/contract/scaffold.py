"""``rpcgen scaffold``: a draft IDL from a Nameko service module, read with ``ast``, never imported.

Each class with a ``name = "..."`` attribute and ``@rpc`` methods becomes an ``@service`` Protocol;
each ``@rpc`` method keeps its parameters, defaults, annotations and docstring. What the source
does not say is left as the placeholder ``Unknown`` (a class the draft defines, which
``rpcgen build`` refuses, naming the parameter and saying to replace it), so nothing silently
becomes untyped; a
method whose source returns no value is ``-> None``. Annotations keep the source's own imports
(``import datetime`` for ``datetime.date``, ``from typing import List``).

What it does not convert (``@timer``, ``@http`` and other entrypoints, ``RpcProxy``, dependency
providers) is listed in the draft and by the command, each with ``file:line``, the source's own
text and what to do instead.
``@rpc(expected_exceptions=...)`` becomes ``@raises``; the error classes the module defines are
copied with ``@exc_path`` set to where Nameko sends them from.

Events: a service's ``EventDispatcher`` calls (``self.dispatch("order_created", ...)``) become
``@event`` declarations of that service; ``@event_handler("orders", "order_created")`` methods
declare the source's events too (an events-only Protocol for a service of another module), with
the handler's payload annotation when it has one. Payload types are ``Unknown`` otherwise. When
an IDL already declares that service (``known``), the draft does not declare it again.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
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
    skipped: list[str] = field(default_factory=list)  # "file:line: what: not converted; do this"
    imports: dict[str, str] = field(default_factory=dict)  # name -> the source's import line


def scaffold(
    source: str, module: str, file: str = "", known: Mapping[str, str] | None = None
) -> Draft:
    """The draft IDL of the Nameko module ``module`` (its dotted name, for ``exc_path``).

    ``file`` names the source in the list of what was not converted; ``known`` maps the
    services an existing IDL declares to its file (their handled events are not redeclared).
    """
    tree = ast.parse(source)
    errors = _errors(tree)
    draft = Draft("")
    draft.imports = _source_imports(tree)
    known = known or {}
    body: list[str] = []
    for error in errors:
        body += _error(error, module)
    classes = [n for n in tree.body if isinstance(n, ast.ClassDef)]
    events = _events(classes, draft)
    for node in classes:
        if (wire := _service_name(node)) is not None:
            body += _service(node, wire, draft, events.pop(wire, {}))
            draft.skipped += _not_converted(node, file or f"{module}.py")
    for source, handled in sorted(events.items()):  # events of services defined elsewhere
        if source in known:
            body += [
                f"# The events of {source} this module handles ({', '.join(sorted(handled))}) "
                f"are declared in {known[source]}:",
                "# handle them there with @<Service>Event.<event>.handler().",
                "",
                "",
            ]
            continue
        draft.services.append(source)
        name = "".join(part.title() for part in source.replace("-", "_").split("_"))
        body += [f'@service("{source}")', f"class {name}Events(Protocol):"]
        body += [f'    """The events of {source} that this module handles."""', ""]
        body += [line for item in sorted(handled.items()) for line in _event(*item)] + ["", ""]
    if not draft.services:
        raise ValueError(
            "no Nameko service found: no class has a name = '...' and @rpc methods or events"
        )
    kept = {n for n in draft.names if n in draft.imports}
    imports = sorted(f"{_KNOWN_IMPORTS[n]}|{n}" for n in draft.names - kept if n in _KNOWN_IMPORTS)
    own = {e.name for e in errors}
    draft.undefined = draft.names - kept - _KNOWN_IMPORTS.keys() - _BUILTINS - own - {PLACEHOLDER}
    draft.imports = {n: draft.imports[n] for n in sorted(kept)}
    draft.placeholders = list(dict.fromkeys(draft.placeholders))  # one per event, not per handler
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
    typing_names = sorted({*by_module.pop("typing", []), "Protocol"})
    for mod in sorted({*by_module, "typing"}):
        names = typing_names if mod == "typing" else sorted(by_module[mod])
        lines.append(f"from {mod} import {', '.join(names)}")
    lines += sorted(set(draft.imports.values()))  # the source's own, for the names it uses
    lines += ["", "from rpcgen import event, exc_path, raises, service", "", ""]
    lines += [
        f"class {PLACEHOLDER}:",
        '    """Where the Nameko source does not say a type: replace each use with the real',
        '    type. `rpcgen build` refuses this module while any is left."""',
        "",
        "    __rpcgen_placeholder__ = True",
    ]
    if draft.undefined:
        missing = ", ".join(sorted(draft.undefined))
        lines += ["", "", f"# Define (as dataclass, Enum or TypedDict) or import: {missing}"]
    if draft.skipped:
        lines += ["", "", "# Not converted (an IDL declares only RPC methods and events):"]
        lines += [f"# - {item}" for item in draft.skipped]
    return "\n".join(lines) + "\n\n\n"


def _source_imports(tree: ast.Module) -> dict[str, str]:
    """Each name the module's top-level imports bind -> that import, alone on a line."""
    found: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.Import):
            for alias in node.names:
                bound = alias.asname or alias.name.split(".")[0]
                text = f"import {alias.name}" + (f" as {alias.asname}" if alias.asname else "")
                found[bound] = text if alias.asname or "." not in alias.name else f"import {bound}"
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                as_ = f" as {alias.asname}" if alias.asname else ""
                found[alias.asname or alias.name] = f"from {node.module} import {alias.name}{as_}"
    return found


# What a Nameko service may use that an IDL does not declare, and what to do instead.
_ENTRYPOINTS = {
    "timer": "run it as a task started in an @on_start hook of the server",
    "http": "serve HTTP with a web framework whose handlers call a generated client",
    "consume": "consume the queue with your own consumer started in an @on_start hook",
}
_PROXIES = {"RpcProxy", "ServiceRpc", "ClusterRpcProxy", "ClusterRpc"}


def _not_converted(node: ast.ClassDef, file: str) -> list[str]:
    out: list[str] = []
    for stmt in node.body:
        if isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Call):
            name = ", ".join(ast.unparse(t) for t in stmt.targets)
            text = f"{name} = {ast.unparse(stmt.value)}"
            where = f"{file}:{stmt.lineno}: {node.name}.{name}: {text}"
            if _called(stmt.value, "EventDispatcher"):
                continue  # its dispatches became @event declarations
            if any(_called(stmt.value, proxy) for proxy in _PROXIES):
                advice = "make a generated client of that service in an @on_start hook"
            else:
                advice = (
                    "a dependency provider: create what it provides in an @on_start hook "
                    "(rpcgen injects nothing)"
                )
            out.append(f"{where} is not converted; {advice}")
        if isinstance(stmt, ast.FunctionDef):
            for deco in stmt.decorator_list:
                target = deco.func if isinstance(deco, ast.Call) else deco
                word = target.id if isinstance(target, ast.Name) else getattr(target, "attr", "")
                if word in _ENTRYPOINTS:
                    where = f"{file}:{deco.lineno}: {node.name}.{stmt.name}"
                    out.append(
                        f"{where}: @{ast.unparse(deco)} is not converted; {_ENTRYPOINTS[word]}"
                    )
    return out


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


def _service(node: ast.ClassDef, wire: str, draft: Draft, events: dict[str, str]) -> list[str]:
    methods = [m for m in node.body if isinstance(m, ast.FunctionDef) and _rpc(m) is not None]
    if not methods and not events:
        return []
    draft.services.append(wire)
    out = [f'@service("{wire}")', f"class {node.name}(Protocol):"]
    doc = ast.get_docstring(node)
    out += [f"    {_docstring(doc, 4)}", ""] if doc else []
    for method in methods:
        out += _method(node.name, method, draft)
    for item in sorted(events.items()):
        out += _event(*item)
    return [*out, "", ""]


def _event(event_type: str, payload: str) -> list[str]:
    name = event_type if event_type.isidentifier() else "_".join(event_type.split("-"))
    return [
        f'    @event("{event_type}")',
        f"    def {name}(self, payload: {payload}) -> None: ...",
        "",
    ]


def _events(classes: list[ast.ClassDef], draft: Draft) -> dict[str, dict[str, str]]:
    """source service -> {event type: payload annotation}: dispatched and handled events."""
    found: dict[str, dict[str, str]] = {}
    for node in classes:
        wire = _service_name(node)
        dispatchers = {
            t.id
            for stmt in node.body
            if isinstance(stmt, ast.Assign) and _called(stmt.value, "EventDispatcher")
            for t in stmt.targets
            if isinstance(t, ast.Name)
        }
        for call in ast.walk(node):
            if (
                wire is not None
                and isinstance(call, ast.Call)
                and isinstance(call.func, ast.Attribute)
                and call.func.attr in dispatchers
                and call.args
                and isinstance(call.args[0], ast.Constant)
                and isinstance(call.args[0].value, str)
            ):
                event_type = call.args[0].value
                draft.placeholders.append(f"{wire}.{event_type}(payload)")
                found.setdefault(wire, {}).setdefault(event_type, PLACEHOLDER)
        for method in node.body:
            for source, event_type in _handled(method):
                args = method.args.args if isinstance(method, ast.FunctionDef) else []
                where = f"{source}.{event_type}(payload)"
                note = args[1].annotation if len(args) > 1 else None
                payload = _annotation(note, where, draft)
                events = found.setdefault(source, {})
                if events.get(event_type, PLACEHOLDER) == PLACEHOLDER:
                    events[event_type] = payload
    return found


def _called(node: ast.expr, name: str) -> bool:
    if not isinstance(node, ast.Call):
        return False
    func = node.func
    return (isinstance(func, ast.Name) and func.id == name) or (
        isinstance(func, ast.Attribute) and func.attr == name
    )


def _handled(node: ast.stmt) -> list[tuple[str, str]]:
    """``(source, event type)`` of each ``@event_handler("source", "type")`` on a method."""
    if not isinstance(node, ast.FunctionDef):
        return []
    found = []
    for deco in node.decorator_list:
        if not (_called(deco, "event_handler") and isinstance(deco, ast.Call)):
            continue
        names = [a.value for a in deco.args[:2] if isinstance(a, ast.Constant)]
        if len(names) == 2 and all(isinstance(n, str) for n in names):
            found.append((str(names[0]), str(names[1])))
    return found


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
    if node.returns is None and not _returns_a_value(node):
        result = "None"
    else:
        result = _annotation(node.returns, f"{owner}.{node.name}(return)", draft)
    out.append(f"    def {node.name}({', '.join(['self', *params])}) -> {result}:")
    doc = ast.get_docstring(node)
    out.append(f"        {_docstring(doc, 8)}" if doc else "        ...")
    return [*out, ""]


def _returns_a_value(node: ast.FunctionDef) -> bool:
    """Whether a ``return`` with a value (other than ``None``) is in the function's own body."""
    todo: list[ast.AST] = list(node.body)
    while todo:
        item = todo.pop()
        if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            continue
        if isinstance(item, (ast.Yield, ast.YieldFrom)):
            return True
        value = item.value if isinstance(item, ast.Return) else None
        if value is not None and not (isinstance(value, ast.Constant) and value.value is None):
            return True
        todo += list(ast.iter_child_nodes(item))
    return False


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
