"""Render the model into ``{relative path: text}`` with jinja; no I/O.

Templates print text the model computed (see ``model``); the environment has no filters or
layout helpers on purpose.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Sequence

import jinja2
from rpcgen.codegen.model import ModuleSpec
from rpcgen.codegen.unshadow import unshadow

__all__ = ["API_LEVEL", "generator_version", "render"]

# The runtime API level the templates' code needs (see rpcgen.runtime.generated_api, whose
# API_LEVEL a test keeps equal to this). Not imported from there: building must not import the
# runtime (and pika).
API_LEVEL = 2


def generator_version() -> str:
    """The installed rpcgen's version, recorded in every generated module."""
    return importlib.metadata.version("rpcgen")


def render(modules: Sequence[ModuleSpec], source_dir: str = "idl") -> dict[str, str]:
    """The files of the ``generated`` package, keyed by path relative to it, sorted by path."""
    env = _environment()
    version = generator_version()
    files = {
        "__init__.py": env.get_template("__init__.py.jinja").render(
            source_dir=source_dir, rpcgen_version=version
        ),
        "py.typed": env.get_template("py.typed.jinja").render(),
    }
    module_template = env.get_template("module.py.jinja")
    init_template = env.get_template("__init__.py.jinja")
    for module in modules:
        text = module_template.render(module=module, rpcgen_version=version, api_level=API_LEVEL)
        files[module.path] = unshadow(text)
        # Each subpackage of the IDL tree is a regular package of the generated one.
        parts = module.name.split(".")[:-1]
        for depth in range(1, len(parts) + 1):
            folder = "/".join(parts[:depth])
            files[f"{folder}/__init__.py"] = init_template.render(
                source_dir=f"{source_dir}/{folder}", rpcgen_version=version
            )
    return dict(sorted(files.items()))


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("rpcgen.templates", ""),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,  # Python source, not HTML
    )
