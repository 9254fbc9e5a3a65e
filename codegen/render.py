"""Render the model into ``{relative path: text}`` with jinja; no I/O."""

from __future__ import annotations

from collections.abc import Sequence

import jinja2
from rpcgen.codegen.model import MethodSpec, ModuleSpec, ParamSpec
from rpcgen.codegen.pyfmt import Group, assign, docstring, fmt, group, py_str

__all__ = ["render"]


def render(modules: Sequence[ModuleSpec], source_dir: str = "idl") -> dict[str, str]:
    """The files of the ``generated`` package, keyed by path relative to it, sorted by path."""
    env = _environment()
    files = {
        "__init__.py": env.get_template("__init__.py.jinja").render(source_dir=source_dir),
        "py.typed": env.get_template("py.typed.jinja").render(),
    }
    module_template = env.get_template("module.py.jinja")
    for module in modules:
        files[f"{module.name}.py"] = module_template.render(module=module)
    return dict(sorted(files.items()))


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("rpcgen.templates", ""),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,  # Python source, not HTML
    )
    env.globals.update(fmt=fmt, group=group, assign=assign)
    env.filters.update(
        pystr=py_str,
        docstring=docstring,
        kwarg=_kwarg,
        param_object=_param_object,
        method_entry=_method_entry,
    )
    return env


def _kwarg(name: str) -> str:
    return f"{py_str(name)}: {name}"


def _param_object(param: ParamSpec) -> Group:
    """``rt.Param("name", type, ...)``, naming only the flags that differ from their defaults."""
    items = [py_str(param.name), param.type.expr]
    if param.keyword_only:
        items.append("keyword_only=True")
    if param.default is not None:
        items.append("has_default=True")
    return group("rt.Param(", items, ")")


def _method_entry(method: MethodSpec) -> str:
    return f"{py_str(method.wire_name)}: {method.const}"
