"""The transport seam holds: pika lives in ``_amqp/`` only, and the rest reaches the AMQP
transport through its package face (``rpcgen.runtime._amqp.__all__``), never its modules.

Every import statement of every module is read from the source (those under ``TYPE_CHECKING``
and inside functions too), so a violation is found without running anything.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import rpcgen.runtime as rt
import rpcgen.runtime._amqp as amqp

ROOT = Path(__file__).resolve().parents[2]
AMQP = "rpcgen.runtime._amqp"

# testing/vhost.py's Spy and consumer probe are a second AMQP client, independent of the
# transport under test (what they see of a real broker must not depend on rpcgen's own code).
RAW_AMQP_PEERS = {"runtime/testing/vhost.py"}


def _modules() -> list[Path]:
    found = []
    for folder in ("runtime", "package", "codegen"):
        found += sorted((ROOT / folder).rglob("*.py"))
    return found


def _imports(source: str) -> list[tuple[int, str, list[str]]]:
    """``(line, module, names)`` for each import in ``source`` (names empty for ``import m``)."""
    tree = ast.parse(source)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module is not None and node.level == 0:
            found.append((node.lineno, node.module, [alias.name for alias in node.names]))
    return found


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _violations(rel: str, source: str) -> list[str]:
    """What breaks the rules in the module at ``rel`` (a path from the repository root)."""
    if rel.startswith("runtime/_amqp/"):
        return []
    in_memory = rel.startswith("runtime/_memory/")
    bad = []
    for line, module, names in _imports(source):
        where = f"{rel}:{line}: {module}"
        if (module == "pika" or module.startswith("pika.")) and rel not in RAW_AMQP_PEERS:
            bad.append(f"{where}: pika outside _amqp/")
        elif module == "rpcgen.runtime" and "_amqp" in names:
            bad.append(f"{where}: import the face's names from {AMQP} instead")
        elif module.startswith(AMQP + "."):
            bad.append(f"{where}: an _amqp internal (use {AMQP}'s face)")
        elif module == AMQP and in_memory:
            bad.append(f"{where}: the in-memory transport imports nothing from _amqp")
        elif module == AMQP:
            bad += [f"{where}.{n}: not in its __all__" for n in names if n not in amqp.__all__]
    return bad


def test_pika_and_amqp_internals_stay_inside_amqp() -> None:
    modules = _modules()
    assert any(_rel(p) == "runtime/_memory/connection.py" for p in modules)  # the walk found them
    bad = [v for path in modules for v in _violations(_rel(path), path.read_text())]
    assert bad == []


def test_the_seam_module_is_pure() -> None:
    source = (ROOT / "runtime/_transport.py").read_text()
    imported = {module for _, module, _ in _imports(source)}
    assert not {m for m in imported if m.startswith(("pika", AMQP, "rpcgen.runtime._memory"))}


def test_redis_py_is_imported_by_rpcgen_redisstore_only() -> None:
    importers = {
        _rel(path)
        for path in _modules()
        for _, module, _ in _imports(path.read_text())
        if module == "redis" or module.startswith("redis.")
    }
    assert importers == {"package/redisstore.py"}


@pytest.mark.parametrize(
    "source, why",
    [
        ("import pika\n", "pika outside _amqp/"),
        ("from rpcgen.runtime._amqp.link import Link\n", "an _amqp internal"),
        ("from rpcgen.runtime._amqp import Link\n", "not in its __all__"),
        ("from rpcgen.runtime import _amqp\n", "import the face's names"),
    ],
)
def test_the_check_finds_each_kind_of_violation(source: str, why: str) -> None:
    (found,) = _violations("runtime/probe.py", source)
    assert why in found
    assert _violations("runtime/_amqp/probe.py", source) == []  # anything goes inside _amqp/


def test_the_memory_transport_may_not_use_the_face_either() -> None:
    source = "from rpcgen.runtime._amqp import Connection\n"
    assert _violations("runtime/probe.py", source) == []
    assert _violations("runtime/_memory/probe.py", source) == [
        "runtime/_memory/probe.py:1: rpcgen.runtime._amqp: "
        "the in-memory transport imports nothing from _amqp"
    ]


def test_a_connection_shows_its_users_api_only() -> None:
    """What consumers and the link ask of a connection lives on its private insides."""
    public = {name for name in dir(rt.Connection) if not name.startswith("_")}
    user = {"uri", "exchange", "state", "is_open", "is_connected", "reply_queue", "reply_to"}
    user |= {"max_message_bytes", "close"}
    transport = {"call", "dispatch", "forget", "drive", "consume"}  # ``_transport.Transport``
    assert public == user | transport


# pika's own private members that rpcgen's frame layer tunes on purpose (frames.py says why),
# and namedtuple's ``_replace``, public despite its underscore.
FOREIGN_PRIVATES = {
    "runtime/_amqp/frames.py": {
        "_tx_buffers",
        "_sock",
        "_protocol",
        "_state",
        "_STATE_ACTIVE",
        "_raise_if_not_open",
        "_body_max_length",
    },
    "runtime/_amqp/uris.py": {"_replace"},
}


def _defined_names(tree: ast.AST) -> set[str]:
    """Every name a module defines or assigns (functions, classes, attributes, slots)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            names.add(node.attr)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            names.add(node.value)  # __slots__ entries
    return names


def _private_reaches(rel: str, source: str) -> list[str]:
    """``x._name`` (``x`` not ``self``, ``cls`` or ``super()``) where this module defines no
    ``_name``: a reach into another module's private member."""
    tree = ast.parse(source)
    own = _defined_names(tree) | FOREIGN_PRIVATES.get(rel, set())
    bad = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute) or not node.attr.startswith("_"):
            continue
        if node.attr.startswith("__") or node.attr in own:
            continue
        target = node.value
        if isinstance(target, ast.Name) and target.id in ("self", "cls"):
            continue
        if isinstance(target, ast.Call) and getattr(target.func, "id", None) == "super":
            continue
        bad.append(f"{rel}:{node.lineno}: {ast.unparse(node)}")
    return bad


def test_no_module_reaches_into_another_modules_private_members() -> None:
    bad = [v for path in _modules() for v in _private_reaches(_rel(path), path.read_text())]
    assert bad == []


def test_the_private_check_finds_a_reach() -> None:
    source = "def f(conn):\n    return conn._core.link\n"
    assert _private_reaches("runtime/probe.py", source) == ["runtime/probe.py:2: conn._core"]
    own = "class A:\n    def __init__(self):\n        self._core = 1\n\ndef f(a):\n    a._core\n"
    assert _private_reaches("runtime/probe.py", own) == []  # the module's own member
