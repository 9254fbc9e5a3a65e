"""``rpcgen diff``: every change between two versions of an IDL, and whom it breaks.

Who is broken is decided on the wire, for peers already deployed:

- **breaks callers**: a caller built from OLD, talking to a server built from NEW, fails (the
  server refuses what it sends, or it cannot read what the server answers) or misreads an error.
- **breaks servers**: a server built from OLD, answering a caller built from NEW, fails (it refuses
  what the new caller sends, or answers what the new caller refuses). Additions a new caller
  reaches only through a new method or a new parameter with a default do not count: servers are
  deployed before their callers, and that is how a contract grows.
- **compatible**: neither.

Types follow variance. A parameter (and everything reachable from it: dataclass fields, enum
members) is produced by callers and consumed by servers; a result the reverse. With
``accepts(consumer, producer)`` (``compat.py``):

- parameter OLD -> NEW: breaks callers unless NEW accepts OLD (narrowing breaks callers), breaks
  servers unless OLD accepts NEW (widening, e.g. a new enum member, breaks servers);
- result OLD -> NEW: breaks callers unless OLD accepts NEW (widening, e.g. a new enum member,
  breaks callers), breaks servers unless NEW accepts OLD (narrowing breaks servers).

A record (Enum, dataclass, TypedDict) used in both directions gets both rules. Records ignore keys
they do not declare, so a new field is compatible unless the receiver requires it; a removed
field breaks the receiver that required it. Methods and parameters:

- removed service or method: breaks callers; added: compatible;
- new parameter without a default: breaks callers (and servers); with a default: compatible
  (generated callers, like Nameko's, send only the arguments the caller gave, so new callers
  that do not use it still reach old servers);
- removed parameter: breaks callers (they still send it); renamed: breaks callers and servers
  (Nameko callers may pass any argument by name, old ones the old name, new ones the new);
  reordered: breaks both; made keyword-only: breaks callers (rpcgen callers pass positional
  ones by position); keyword-only made positional: breaks servers;
- default removed: breaks callers that omit it; added: breaks servers (new callers may omit it,
  which old servers refuse); changed: compatible (callers that omit it get the server's
  default, which is now the new one), noted;
- declared errors: a new one in ``@raises`` breaks callers (old callers get it as RemoteError); a
  removed one is compatible; a changed ``exc_path`` of a declared error breaks callers and servers
  (Nameko callers rebuild errors by ``exc_path``: old callers do not know the new path, new
  callers not the old one); a changed base class is compatible (the wire is unchanged; code that
  catches the old base must change when it regenerates).

Events: the service dispatches them (its side, "servers") and handlers elsewhere consume them
(the contract's users, "callers"). A removed event breaks callers (their handlers never hear of it
again); an added one is compatible; a payload type follows the result rule (the dispatcher
produces it): widening breaks callers' handlers, narrowing breaks old dispatchers' events for new
handlers. Records reached from a payload (through fields, and through types shared between
modules of the IDL) follow the same rule, and each record change names the methods and events
that use it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from rpcgen.codegen.contract.changes import Change, type_why
from rpcgen.codegen.contract.compat import Compat
from rpcgen.codegen.contract.records_diff import record_changes
from rpcgen.codegen.contract.typetree import Records, parse
from rpcgen.codegen.model import MethodSpec, ModuleSpec, ParameterSpec, ServiceSpec

__all__ = ["Side", "diff"]


@dataclass(frozen=True)
class Side:
    """One version of the IDL: its modules, and each module's records."""

    modules: tuple[ModuleSpec, ...]

    def services(self) -> dict[str, tuple[ServiceSpec, Records]]:
        tree = {module.name: module for module in self.modules}
        return {
            svc.wire_name: (svc, Records(module, tree))
            for module in self.modules
            for svc in module.services
        }


def diff(old: Side, new: Side) -> list[Change]:
    """Every change from ``old`` to ``new``, services first, then records and errors."""
    changes: list[Change] = []
    old_services, new_services = old.services(), new.services()
    for name in old_services:
        if name not in new_services:
            changes.append(Change(name, "service removed", callers=True, why=_GONE))
    for name, (svc, _) in new_services.items():
        if name not in old_services:
            changes.append(Change(name, "service added", why="no existing peer uses it"))
            continue
        changes += _service(old_services[name], (svc, new_services[name][1]))
    changes += record_changes(old.modules, new.modules)
    return changes


_GONE = "existing callers get UnknownService or MethodNotFound"


def _service(
    old: tuple[ServiceSpec, Records], new: tuple[ServiceSpec, Records]
) -> Iterator[Change]:
    old_methods = {m.wire_name: m for m in old[0].methods}
    new_methods = {m.wire_name: m for m in new[0].methods}
    for name in old_methods.keys() - new_methods.keys():
        yield Change(f"{old[0].wire_name}.{name}", "method removed", callers=True, why=_GONE)
    for name, method in new_methods.items():
        where = f"{new[0].wire_name}.{name}"
        if name not in old_methods:
            yield Change(where, "method added", why="existing callers do not call it")
        else:
            yield from _method(where, (old_methods[name], old[1]), (method, new[1]))
    yield from _events(old, new)


def _events(old: tuple[ServiceSpec, Records], new: tuple[ServiceSpec, Records]) -> Iterator[Change]:
    old_events = {e.wire_name: e for e in old[0].events}
    new_events = {e.wire_name: e for e in new[0].events}
    for name in sorted(old_events.keys() - new_events.keys()):
        why = "existing handlers of it are never called again"
        yield Change(f"{old[0].wire_name}.events.{name}", "event removed", True, False, why)
    for name, event in new_events.items():
        where = f"{new[0].wire_name}.events.{name}"
        if name not in old_events:
            yield Change(where, "event added", why="no existing handler listens for it")
            continue
        otype, ntype = parse(old_events[name].payload), parse(event.payload)
        if str(otype) != str(ntype):
            callers = not Compat(old[1], new[1]).accepts(otype, ntype)
            servers = not Compat(new[1], old[1]).accepts(ntype, otype)
            why = type_why("result", callers, servers)
            yield Change(where, f"payload type {otype} -> {ntype}", callers, servers, why)


def _method(
    where: str, old: tuple[MethodSpec, Records], new: tuple[MethodSpec, Records]
) -> Iterator[Change]:
    (om, orecs), (nm, nrecs) = old, new
    yield from _params(where, old, new)
    otype, ntype = parse(om.result), parse(nm.result)
    if str(otype) != str(ntype):
        callers = not Compat(orecs, nrecs).accepts(otype, ntype)
        servers = not Compat(nrecs, orecs).accepts(ntype, otype)
        why = type_why("result", callers, servers)
        yield Change(where, f"result type {otype} -> {ntype}", callers, servers, why)
    yield from _errors(where, om, nm)


def _params(
    where: str, old: tuple[MethodSpec, Records], new: tuple[MethodSpec, Records]
) -> Iterator[Change]:
    (om, orecs), (nm, nrecs) = old, new
    oparams, nparams = {p.name: p for p in om.params}, {p.name: p for p in nm.params}
    renamed = _renamed(om, nm)
    for name, param in oparams.items():
        if name in nparams:
            continue
        if name in renamed:
            why = (
                "callers that pass it by name (Nameko callers may) get IncorrectSignature: "
                "old ones from new servers, new ones from old servers"
            )
            yield Change(where, f"parameter {name!r} renamed to {renamed[name]!r}", True, True, why)
            continue
        why = "existing callers still send it and get IncorrectSignature"
        servers = param.default is None
        if servers:
            why += "; old servers require it and new callers do not send it"
        yield Change(where, f"parameter {name!r} removed", True, servers, why)
    for name, param in nparams.items():
        if name in oparams:
            yield from _param(where, (oparams[name], orecs), (param, nrecs))
        elif name not in renamed.values():
            if param.default is None:
                why = "existing callers do not send it; old servers refuse it"
                yield Change(where, f"parameter {name!r} added without a default", True, True, why)
            else:
                why = "existing callers omit it and get the default"
                yield Change(
                    where, f"parameter {name!r} added with default {param.default}", why=why
                )
    old_order = [n for n in om.args if n in nparams and not nparams[n].keyword_only]
    new_order = [n for n in nm.args if n in oparams and not oparams[n].keyword_only]
    if old_order != new_order:
        why = "positional arguments now bind to other parameters"
        yield Change(
            where, f"positional parameters reordered: {old_order} -> {new_order}", True, True, why
        )


def _renamed(om: MethodSpec, nm: MethodSpec) -> dict[str, str]:
    """Positional parameters whose name alone changed: same place, same type, both unknown."""
    old_names, new_names = {p.name for p in om.params}, {p.name for p in nm.params}
    out: dict[str, str] = {}
    for o, n in zip(om.params, nm.params, strict=False):
        if o.keyword_only or n.keyword_only:
            break
        if o.name not in new_names and n.name not in old_names and o.type == n.type:
            out[o.name] = n.name
    return out


def _param(
    where: str, old: tuple[ParameterSpec, Records], new: tuple[ParameterSpec, Records]
) -> Iterator[Change]:
    (op, orecs), (np, nrecs) = old, new
    label = f"parameter {op.name!r}"
    otype, ntype = parse(op.type), parse(np.type)
    if str(otype) != str(ntype):
        callers = not Compat(nrecs, orecs).accepts(ntype, otype)
        servers = not Compat(orecs, nrecs).accepts(otype, ntype)
        why = type_why("param", callers, servers)
        yield Change(where, f"{label} type {otype} -> {ntype}", callers, servers, why)
    if op.default is not None and np.default is None:
        why = "callers that omit it get IncorrectSignature"
        yield Change(where, f"{label} lost its default {op.default}", True, False, why)
    elif op.default is None and np.default is not None:
        why = "new callers that omit it get IncorrectSignature from old servers"
        yield Change(where, f"{label} got the default {np.default}", False, True, why)
    elif op.default != np.default:
        why = "callers that omit it get the server's default: the new one from new servers"
        yield Change(where, f"{label} default {op.default} -> {np.default}", why=why)
    if op.keyword_only != np.keyword_only:
        if np.keyword_only:
            why = "existing callers send it positionally and get IncorrectSignature"
            yield Change(where, f"{label} made keyword-only", True, False, why)
        else:
            why = "new callers send it positionally, which old servers refuse"
            yield Change(where, f"{label} made positional", False, True, why)


def _errors(where: str, om: MethodSpec, nm: MethodSpec) -> Iterator[Change]:
    for name in sorted(set(nm.errors) - set(om.errors)):
        why = "existing callers do not handle it (they get it as RemoteError)"
        yield Change(where, f"declared error {name} added", True, False, why)
    for name in sorted(set(om.errors) - set(nm.errors)):
        why = "old servers may still raise it; callers see it as RemoteError"
        yield Change(where, f"declared error {name} removed", why=why)
