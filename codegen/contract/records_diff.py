"""The record and error part of ``rpcgen diff``: Enums, dataclasses, TypedDicts and error classes.

A record's changes are judged by where the services use it (``diff.py`` has the rules): reached
from a parameter it is produced by callers, from a result by servers, possibly both.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from rpcgen.codegen.contract.changes import Change, type_why
from rpcgen.codegen.contract.compat import Compat
from rpcgen.codegen.contract.typetree import Field, Records, Ty, parse
from rpcgen.codegen.model import ModuleSpec

__all__ = ["record_changes"]

IN, OUT = "param", "result"


def record_changes(old: Iterable[ModuleSpec], new: Iterable[ModuleSpec]) -> Iterator[Change]:
    old_mods, new_mods = {m.name: m for m in old}, {m.name: m for m in new}
    old_uses, new_uses = _uses(old_mods), _uses(new_mods)
    for name, module in new_mods.items():
        if name in old_mods:
            yield from _module((old_mods[name], old_mods), (module, new_mods), old_uses, new_uses)


Uses = dict[tuple[str, str], dict[str, set[str]]]


Tree = tuple[ModuleSpec, dict[str, ModuleSpec]]


def _module(old_tree: Tree, new_tree: Tree, old_uses: Uses, new_uses: Uses) -> Iterator[Change]:
    (old, old_mods), (new, new_mods) = old_tree, new_tree
    orecs, nrecs = Records(old, old_mods), Records(new, new_mods)

    def uses(name: str) -> dict[str, set[str]]:
        merged: dict[str, set[str]] = {}
        for table in (old_uses, new_uses):
            for direction, users in table.get((new.name, name), {}).items():
                merged.setdefault(direction, set()).update(users)
        return merged

    own = {n for n, home in nrecs.homes.items() if home == new.name}
    own |= {n for n, home in orecs.homes.items() if home == old.name}
    for name in orecs.enums.keys() & nrecs.enums.keys() & own:
        yield from _enum(f"{new.name}.{name}", orecs, nrecs, name, uses(name))
    for name in orecs.fields.keys() & nrecs.fields.keys() & own:
        yield from _record(f"{new.name}.{name}", orecs, nrecs, name, uses(name))
    for kind, old_names, new_names in (
        ("enum", orecs.enums, nrecs.enums),
        ("data type", orecs.fields, nrecs.fields),
    ):
        for name in sorted((old_names.keys() - new_names.keys()) & own):
            yield Change(f"{new.name}.{name}", f"{kind} removed", why=_UNUSED_NOW)
        for name in sorted((new_names.keys() - old_names.keys()) & own):
            yield Change(f"{new.name}.{name}", f"{kind} added", why="existing peers do not use it")
    yield from _error_classes(old, new)


_UNUSED_NOW = "nothing uses it any more (changed uses are reported at the method or event)"


def _uses(modules: dict[str, ModuleSpec]) -> Uses:
    """(defining module, record) -> direction (param, result) -> the methods and events that
    send it that way, through fields and through the modules that share it."""
    found: Uses = {}
    records = {name: Records(module) for name, module in modules.items()}

    def visit(module: str, ty: Ty, direction: str, user: str) -> None:
        if ty.kind == "ref":
            home = (
                dict(modules[module].shared).get(ty.name, module) if module in modules else module
            )
            users = found.setdefault((home, ty.name), {}).setdefault(direction, set())
            if user in users:
                return
            users.add(user)
            fields = records[home].fields.get(ty.name, {}) if home in records else {}
            for field in fields.values():
                visit(home, field.type, direction, user)
        for arg in ty.args:  # a Literal of enum members does not take new members
            visit(module, arg, direction, user)

    for module in modules.values():
        for svc in module.services:
            for method in svc.methods:
                user = f"{svc.wire_name}.{method.wire_name}"
                visit(module.name, parse(method.result), OUT, user)
                for param in method.params:
                    visit(module.name, parse(param.type), IN, user)
            for event in svc.events:
                # The dispatcher sends a payload as a server sends a result.
                user = f"{svc.wire_name}.events.{event.wire_name}"
                visit(module.name, parse(event.payload), OUT, user)
    return found


def _verdict(
    uses: dict[str, set[str]], keeps_old: bool, keeps_new: bool, where: str, what: str
) -> Change:
    """``keeps_old``: NEW receivers accept what OLD senders send; ``keeps_new``: the reverse."""
    if not uses:
        return Change(where, what, why="nothing uses it")
    callers = servers = False
    whys = []
    # A parameter's sender is the caller; a result's (or an event's) sender is the server.
    for direction, hits in (
        (IN, (not keeps_old, not keeps_new)),
        (OUT, (not keeps_new, not keeps_old)),
    ):
        if direction in uses:
            callers, servers = callers or hits[0], servers or hits[1]
            whys.append(f"in {direction}s: {type_why(direction, *hits)}")
    users = sorted(set().union(*uses.values()))
    whys.append(f"used by {', '.join(users)}")
    return Change(where, what, callers, servers, "; ".join(whys))


def _enum(
    where: str, orecs: Records, nrecs: Records, name: str, uses: dict[str, set[str]]
) -> Iterator[Change]:
    old_values, new_values = set(orecs.enums[name]), set(nrecs.enums[name])
    old_members = {v: m for m, v in orecs.members[name].items()}
    new_members = {v: m for m, v in nrecs.members[name].items()}
    for value in sorted(old_values - new_values, key=repr):
        what = f"member {old_members[value]} = {value!r} removed"
        yield _verdict(uses, False, True, where, what)
    for value in sorted(new_values - old_values, key=repr):
        what = f"member {new_members[value]} = {value!r} added"
        yield _verdict(uses, True, False, where, what)
    for value in sorted(old_values & new_values, key=repr):
        if old_members[value] != new_members[value]:
            what = f"member {old_members[value]} renamed to {new_members[value]} (value {value!r})"
            yield Change(where, what, why="the wire value is unchanged; Python code must rename it")


def _record(
    where: str, orecs: Records, nrecs: Records, name: str, uses: dict[str, set[str]]
) -> Iterator[Change]:
    ofields, nfields = orecs.fields[name], nrecs.fields[name]
    for field in [*ofields, *(f for f in nfields if f not in ofields)]:
        old, new = ofields.get(field), nfields.get(field)
        what = _field_change(field, old, new)
        if what is None:
            continue
        keeps_old = Compat(nrecs, orecs).field_accepts(new, old)
        keeps_new = Compat(orecs, nrecs).field_accepts(old, new)
        yield _verdict(uses, keeps_old, keeps_new, f"{where}.{field}", what)


def _field_change(name: str, old: Field | None, new: Field | None) -> str | None:
    if old is None and new is not None:
        return f"field added ({'required' if new.required else 'optional'}: {new.type})"
    if new is None and old is not None:
        return f"field removed (was {'required' if old.required else 'optional'}: {old.type})"
    assert old is not None and new is not None
    parts = []
    if str(old.type) != str(new.type):
        parts.append(f"type {old.type} -> {new.type}")
    if old.required != new.required:
        parts.append("now required" if new.required else "now optional")
    return f"field {', '.join(parts)}" if parts else None


def _error_classes(old: ModuleSpec, new: ModuleSpec) -> Iterator[Change]:
    old_errors, new_errors = {e.name: e for e in old.errors}, {e.name: e for e in new.errors}
    declared = {
        n for m in (old, new) for s in m.services for meth in s.methods for n in meth.errors
    }
    for name in old_errors.keys() & new_errors.keys():
        oe, ne = old_errors[name], new_errors[name]
        where = f"{new.name}.{name}"
        used = name in declared
        if oe.exc_path != ne.exc_path:
            why = (
                "callers that match errors by exc_path (Nameko callers do) no longer recognise "
                "it: old callers from new servers, new callers from old servers"
                if used
                else "no method declares it"
            )
            yield Change(where, f"exc_path {oe.exc_path} -> {ne.exc_path}", used, used, why)
        if oe.base != ne.base:
            why = (
                f"the wire is unchanged; code that catches {oe.base} must change when it "
                "regenerates"
            )
            yield Change(where, f"base class {oe.base} -> {ne.base}", why=why)
    for name in sorted(old_errors.keys() - new_errors.keys()):
        yield Change(f"{new.name}.{name}", "error class removed", why=_UNUSED_NOW)
    for name in sorted(new_errors.keys() - old_errors.keys()):
        yield Change(f"{new.name}.{name}", "error class added", why="no existing peer expects it")
