"""``unshadow`` on small modules: only shadowed uses change, and line numbers stay ``ast``'s."""

from __future__ import annotations

import ast

from rpcgen.codegen.unshadow import unshadow

MODULE = '''\
from __future__ import annotations

from typing import ClassVar


class Svc:
    """A docstring with a form feed \x0c and a line separator \u2028 in it."""

    name: ClassVar[str] = "svc"

    def list(self) -> list[str]: ...

    def names(self) -> list[str]: ...
'''


def test_only_the_shadowed_uses_are_aliased() -> None:
    out = unshadow(MODULE)
    ast.parse(out)
    assert "def list(self) -> _rpcgen_list[str]: ..." in out
    assert "def names(self) -> _rpcgen_list[str]: ..." in out
    assert 'name: ClassVar[str] = "svc"' in out  # nothing named ClassVar or str in the class
    assert "from builtins import list as _rpcgen_list\n" in out
    assert "\x0c and a line separator \u2028 in it." in out  # the docstring is untouched


def test_a_module_without_clashes_is_unchanged() -> None:
    source = MODULE.replace("def list(", "def items(")
    assert unshadow(source) == source
