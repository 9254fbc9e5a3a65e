"""Import the IDL modules of a folder and build the model, collecting every problem in one pass."""

from __future__ import annotations

import dataclasses
import enum
import importlib.machinery
import importlib.util
import itertools
import keyword
import sys
import threading
import traceback
import typing
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from rpcgen.codegen.cycles import import_cycles, import_line
from rpcgen.codegen.errors import IdlError
from rpcgen.codegen.markers import SERVICE_ATTR
from rpcgen.codegen.model import (
    DataclassSpec,
    ErrorSpec,
    Import,
    ModuleSpec,
    ServiceSpec,
    TypedDictSpec,
    TypeRef,
)
from rpcgen.codegen.pyfmt import import_lines, relative_import_lines
from rpcgen.codegen.records import build_dataclass, build_enum, build_error, build_typeddict
from rpcgen.codegen.services import build_service
from rpcgen.codegen.source import Source, SourceIndex
from rpcgen.codegen.types import Scope

__all__ = ["LoadResult", "load"]

# Names every generated module binds itself; an IDL class may not take them.
_GENERATED_NAMES = frozenset(
    {"annotations", "abc", "dataclasses", "enum", "rt", "ClassVar", "Mapping"}
    | {"Literal", "TypedDict", "date", "datetime", "time", "Decimal", "UUID"}
    | {"str", "int", "float", "bool", "bytes", "list", "dict", "tuple", "object", "super"}
)
_serial = itertools.count()


@dataclass(frozen=True)
class LoadResult:
    """The model of every IDL module that loaded cleanly, and every problem found (sorted)."""

    modules: tuple[ModuleSpec, ...]
    errors: tuple[IdlError, ...]


def load(idl_dir: Path) -> LoadResult:
    """Read every ``*.py`` under ``idl_dir`` (except ``_*.py``), subpackages included.

    The folder is imported as a package named after it while it is read (``idl``, so that
    ``from idl.common import Money`` and ``from .common import Money`` both name the one class),
    then removed from ``sys.modules`` again.
    """
    found, errors = _idl_files(idl_dir)
    if not found and not errors:
        error = IdlError(str(idl_dir), 1, "", "", "no IDL modules (*.py) found; add one")
        return LoadResult((), (error,))
    modules: list[ModuleSpec] = []
    declared: list[tuple[str, str, str, int]] = []
    root = idl_dir.resolve().name
    with _LOCK, _package(idl_dir) as package:
        imported = {rel: _import(package, rel, path) for rel, path in found.items()}
        homes = _homes(package, imported)
        sources: dict[str, Source] = {}
        for rel, module in imported.items():
            path = found[rel]
            if isinstance(module, IdlError):
                errors.append(module)
                continue
            src = Source(
                module,
                str(path),
                SourceIndex.parse(path.read_text("utf-8")),
                _scope(module, str(path), rel, homes),
                dotted=rel,
            )
            spec = _build_module(src, f"{root}/{path.relative_to(idl_dir).as_posix()}")
            sources[rel] = src
            errors += src.problems
            declared += [
                (wire, str(path), cls.__name__, src.line(cls.__name__))
                for cls in _classify(module, src.index).services
                if isinstance(wire := cls.__dict__[SERVICE_ATTR], str)
            ]
            if not src.problems:
                modules.append(spec)
        errors += import_cycles(modules, sources)
    errors += _duplicate_services(declared)
    return LoadResult(tuple(modules), tuple(sorted(errors, key=IdlError.sort_key)))


def _idl_files(idl_dir: Path) -> tuple[dict[str, Path], list[IdlError]]:
    """The IDL modules under ``idl_dir`` by dotted name, and the files that cannot be one."""
    found: dict[str, Path] = {}
    errors: list[IdlError] = []
    for path in sorted(idl_dir.rglob("*.py")):
        parts = path.relative_to(idl_dir).with_suffix("").parts
        if any(part.startswith(("_", ".")) for part in parts):
            continue
        bad = [p for p in parts if not p.isidentifier() or keyword.iskeyword(p)]
        if bad:
            message = (
                "the file name is not a valid Python module name; rename it (e.g. my_service.py)"
                if bad[0] == parts[-1]
                else f"the folder name {bad[0]!r} is not a valid Python package name; rename it"
            )
            errors.append(IdlError(str(path), 1, "", "", message))
            continue
        found[".".join(parts)] = path
    return found, errors


_LOCK = threading.Lock()


@contextmanager
def _package(idl_dir: Path) -> Iterator[str]:
    """Register ``idl_dir`` as a package while it is read; yields the package's name.

    The name is the folder's, so that absolute imports between IDL modules work, unless another
    module already answers to it (``tests``, ``json``); then only relative imports can.
    """
    folder = str(idl_dir.resolve())
    name = idl_dir.resolve().name
    if not _free_name(name, folder):
        name = f"_rpcgen_idl_{next(_serial)}"
    mine = [k for k in sys.modules if k == name or k.startswith(f"{name}.")]
    saved = {k: sys.modules.pop(k) for k in mine}
    spec = importlib.machinery.ModuleSpec(name, None, is_package=True)
    spec.submodule_search_locations = [folder]
    sys.modules[name] = importlib.util.module_from_spec(spec)
    importlib.invalidate_caches()  # files written since the last load must be seen
    try:
        yield name
    finally:
        for key in [k for k in sys.modules if k == name or k.startswith(f"{name}.")]:
            del sys.modules[key]
        sys.modules.update(saved)


def _free_name(name: str, folder: str) -> bool:
    """Whether ``name`` may stand for the IDL folder: no other module answers to it."""
    if not name.isidentifier() or keyword.iskeyword(name) or name in sys.stdlib_module_names:
        return False
    if name in {"rpcgen", "generated"}:
        return False
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return False
    if spec is None or spec.submodule_search_locations is None:
        return spec is None
    # A folder without __init__.py on sys.path (a namespace package, as the repository's own idl/
    # is from its root), or the IDL folder itself: the IDL folder may stand for it.
    return spec.origin is None or str(Path(spec.origin).resolve().parent) == folder


def _import(package: str, rel: str, path: Path) -> ModuleType | IdlError:
    """Import ``<package>.<rel>`` (and whatever IDL modules it imports), or say why not."""
    try:
        return importlib.import_module(f"{package}.{rel}")
    except (Exception, SystemExit) as exc:
        return _import_error(exc, path)


def _homes(package: str, imported: dict[str, ModuleType | IdlError]) -> dict[type, str]:
    """Each class an IDL module defines -> that module's dotted name in the tree."""
    homes: dict[type, str] = {}
    for rel, module in imported.items():
        if isinstance(module, ModuleType):
            for cls in vars(module).values():
                if isinstance(cls, type) and cls.__module__ == f"{package}.{rel}":
                    homes[cls] = rel
    return homes


@dataclass
class _Classes:
    """The classes a module defines, by kind, in source order."""

    services: list[type]
    enums: list[type[enum.Enum]]
    dataclasses: list[type]
    typeddicts: list[type]
    errors: list[type[Exception]]


def _classify(module: ModuleType, index: SourceIndex | None = None) -> _Classes:
    own = {id(v): v for v in vars(module).values() if isinstance(v, type)}
    classes = sorted(
        (c for c in own.values() if c.__module__ == module.__name__),
        key=lambda c: (index.lines.get((c.__name__, ""), 0) if index else 0, c.__name__),
    )
    out = _Classes([], [], [], [], [])
    for cls in classes:
        if SERVICE_ATTR in cls.__dict__:
            out.services.append(cls)
        elif issubclass(cls, Exception):
            out.errors.append(cls)
        elif issubclass(cls, enum.Enum):
            out.enums.append(cls)
        elif dataclasses.is_dataclass(cls):
            out.dataclasses.append(cls)
        elif typing.is_typeddict(cls):
            out.typeddicts.append(cls)
    return out


def _scope(module: ModuleType, file: str, rel: str, homes: dict[type, str]) -> Scope:
    """The module's own classes, and those of every other module of the tree, to import."""
    records: dict[type, str] = {}
    errors: set[type] = set()
    imports: dict[type, Import] = {}
    for cls, home in homes.items():
        if issubclass(cls, Exception):
            errors.add(cls)
        elif _is_record(cls):
            records[cls] = cls.__name__
        else:
            continue
        if home != rel:
            imports[cls] = Import(f".{home}", cls.__name__)
    return Scope(file, records, frozenset(errors), imports)


def _is_record(cls: type) -> bool:
    kind = issubclass(cls, enum.Enum) or dataclasses.is_dataclass(cls) or typing.is_typeddict(cls)
    return kind and SERVICE_ATTR not in cls.__dict__


def _build_module(src: Source, source: str) -> ModuleSpec:
    kinds = _classify(src.module, src.index)
    # The walrus targets differ because a comprehension's := binds in the enclosing scope.
    enums = [e for c in kinds.enums if (e := build_enum(c, src))]
    dcs = [d for c in kinds.dataclasses if (d := build_dataclass(c, src))]
    tds = [t for c in kinds.typeddicts if (t := build_typeddict(c, src))]
    errors = [err for c in kinds.errors if (err := build_error(c, src))]
    services = [s for c in kinds.services if (s := build_service(c, src))]
    if not (kinds.services or kinds.enums or kinds.dataclasses or kinds.typeddicts or kinds.errors):
        src.problem(
            "",
            "",
            "no @service class and no types to share; decorate a typing.Protocol class with "
            '@service("name"), or define the types other IDL modules import',
        )
    wanted = _imports(
        bool(enums),
        bool(dcs),
        bool(tds),
        _types(dcs, tds, services),
        any(svc.methods for svc in services),
        bool(errors or services),
    )
    wanted |= {(imp.module, imp.name) for imp in src.shared}
    shared = sorted((name, module[1:]) for module, name in wanted if module.startswith("."))
    spec = ModuleSpec(
        name=src.module_name,
        source=source,
        doc=src.doc(""),
        enums=tuple(enums),
        dataclasses=tuple(dcs),
        typeddicts=tuple(tds),
        errors=tuple(errors),
        services=tuple(services),
        imports=import_lines(pair for pair in wanted if not pair[0].startswith(".")),
        local_imports=relative_import_lines(src.module_name, shared),
        shared=tuple(shared),
    )
    _check_names(spec, src)
    _check_exc_paths(spec, src)
    return spec


def _types(
    dcs: list[DataclassSpec], tds: list[TypedDictSpec], services: list[ServiceSpec]
) -> Iterator[TypeRef]:
    records: list[DataclassSpec | TypedDictSpec] = [*dcs, *tds]
    for record in records:
        yield from (field.type for field in record.fields)
    for svc in services:
        for method in svc.methods:
            yield method.result
            yield from (param.type for param in method.params)
        yield from (event.payload for event in svc.events)


def _imports(
    enums: bool,
    dataclasses: bool,
    typeddicts: bool,
    types: Iterator[TypeRef],
    rpc: bool = True,
    classvar: bool = True,
) -> set[tuple[str, str]]:
    needed = {("typing", "ClassVar")} if classvar else set()
    needed |= {("abc", ""), ("collections.abc", "Mapping")} if rpc else set()
    needed |= {("enum", "")} if enums else set()
    needed |= {("dataclasses", "")} if dataclasses else set()
    needed |= {("typing", "TypedDict")} if typeddicts else set()
    needed |= {(imp.module, imp.name) for ref in types for imp in ref.imports}
    return needed


def _check_names(spec: ModuleSpec, src: Source) -> None:
    """Every module-level name the generated module defines must be unique and not an import's."""
    seen = set(_GENERATED_NAMES)
    named = [(record.name, record.name) for record in spec.records]
    homes: dict[str, str] = {}
    for name, home in spec.shared:
        if name in homes:
            src.problem(
                name,
                "",
                f"the generated module would import {name!r} from both {homes[name]} and {home}; "
                "rename one of the classes",
                import_line(src, home),
            )
        homes[name] = home
    named += [(name, name) for name in homes]
    for svc in spec.services:
        named += [(svc.name, n) for n in svc.generated_classes]
        named += [(svc.name, n) for m in svc.methods for n in (m.const,)]
        named += [(svc.name, e.const) for e in svc.events]
    for owner, name in named:
        if name in seen:
            src.problem(
                owner,
                "",
                f"the generated module would define {name!r} twice (or shadow an import it "
                "needs); rename the class",
            )
        seen.add(name)


def _check_exc_paths(spec: ModuleSpec, src: Source) -> None:
    """Two errors under one ``exc_path`` would be one error to a Nameko caller."""
    first: dict[str, ErrorSpec] = {}
    for error in spec.errors:
        other = first.setdefault(error.exc_path, error)
        if other is not error:
            src.problem(
                error.name,
                "",
                f"exc_path {error.exc_path!r} is already the path of {other.name} at "
                f"{src.file}:{other.line}; give each error its own path with @exc_path",
            )


def _duplicate_services(declared: list[tuple[str, str, str, int]]) -> list[IdlError]:
    """Each (wire name, file, class, line) of every module, whether or not it built cleanly."""
    first: dict[str, tuple[str, str, int]] = {}
    errors: list[IdlError] = []
    for wire, file, name, line in declared:
        if wire not in first:
            first[wire] = (file, name, line)
            continue
        other_file, other, other_line = first[wire]
        errors.append(
            IdlError(
                file,
                line,
                name,
                "",
                f"service name {wire!r} is already used by {other} at {other_file}:{other_line}; "
                "give each service a unique name",
            )
        )
    return errors


@contextmanager
def _imported(path: Path) -> Iterator[ModuleType | IdlError]:
    """Import ``path`` as a throwaway module; yields the module, or the import failure."""
    # A fresh name per load, so that two loads in one process never share a module.
    name = f"_rpcgen_idl_{path.stem}_{next(_serial)}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # Registered while we read it: dataclasses and get_type_hints look modules up here.
    sys.modules[name] = module
    try:
        try:
            spec.loader.exec_module(module)
        except (Exception, SystemExit) as exc:
            yield _import_error(exc, path)
        else:
            yield module
    finally:
        sys.modules.pop(name, None)


def _import_error(exc: BaseException, path: Path) -> IdlError:
    """The traceback's last line, at the deepest line of the IDL file it passed through."""
    here = path.resolve()
    line = 1
    if isinstance(exc, SyntaxError) and exc.filename and Path(exc.filename).resolve() == here:
        line = exc.lineno or 1
    else:
        tb = traceback.extract_tb(exc.__traceback__)
        frames = [f for f in tb if Path(f.filename).resolve() == here]
        if frames:
            line = frames[-1].lineno or 1
    last = traceback.format_exception_only(type(exc), exc)[-1].strip()
    advice = "fix the module so that it imports"
    if isinstance(exc, TypeError) and "'function' object is not subscriptable" in str(exc):
        # ``def list(self) -> ...`` then ``-> list[str]``: the class body's ``list`` is the method.
        advice = (
            "a method named like a type (list, dict, ...) shadows it in the rest of the class "
            "body; add 'from __future__ import annotations' at the top of the file"
        )
    return IdlError(str(path), line, "", "", f"import failed: {last}; {advice}")
