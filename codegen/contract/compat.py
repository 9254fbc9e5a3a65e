"""Whether a consumer of one type accepts every value a producer of another type sends.

This is the one relation ``diff`` classifies with. It follows what rpcgen's decoders accept
(``rpcgen.runtime`` validates every argument and result): ``bool`` is not an ``int``, an ``int``
is a ``float``, a ``Decimal`` also takes JSON numbers, records ignore keys they do not declare and
need every required field, an enum or a Literal takes its own wire values only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rpcgen.codegen.contract.typetree import Field, Records, Ty

__all__ = ["Compat"]

# consumer primitive -> producer primitives whose every value it takes
_PRIM_ACCEPTS: dict[str, frozenset[str]] = {
    "float": frozenset({"float", "int"}),
    "Decimal": frozenset({"Decimal", "int", "float"}),
}


@dataclass
class Compat:
    """``accepts(consumer, producer)`` with the consumer's and producer's record definitions.

    A record named the same on both sides counts as accepted here: the diff reports the record's
    own changes once, where it is defined, instead of at every use.
    """

    consumer: Records
    producer: Records
    same_names_match: bool = True
    _assumed: set[tuple[str, str]] = field(default_factory=set)

    def accepts(self, cons: Ty, prod: Ty) -> bool:
        if prod.kind == "union":
            return all(self.accepts(cons, option) for option in prod.args)
        if cons.kind == "union":
            return any(self.accepts(option, prod) for option in cons.args)
        if prod.kind == "literal":
            return all(self._takes_value(cons, self.producer.literal_wire(v)) for v in prod.values)
        if prod.kind == "ref" and prod.name in self.producer.enums:
            return all(self._takes_value(cons, v) for v in self.producer.enums[prod.name])
        if cons.kind == "prim" and prod.kind == "prim":
            return prod.name == cons.name or prod.name in _PRIM_ACCEPTS.get(cons.name, ())
        if cons.kind in ("list", "dict", "tuple...") and prod.kind == cons.kind:
            return self.accepts(cons.args[0], prod.args[0])
        if cons.kind == "tuple" and prod.kind == "tuple":
            return len(cons.args) == len(prod.args) and all(
                self.accepts(c, p) for c, p in zip(cons.args, prod.args, strict=True)
            )
        if cons.kind in ("tuple...", "list") and prod.kind in ("tuple", "list", "tuple..."):
            # Lists and tuples are both JSON arrays; a fixed tuple takes no array of any length.
            return all(self.accepts(cons.args[0], p) for p in prod.args)
        if cons.kind == "ref" and prod.kind == "ref":
            return self._records(cons.name, prod.name)
        return False

    def _takes_value(self, cons: Ty, value: object) -> bool:
        """Whether ``cons`` accepts the JSON value ``value`` (str, int, bool or None)."""
        if cons.kind == "union":
            return any(self._takes_value(option, value) for option in cons.args)
        if cons.kind == "literal":
            return any(_same(value, self.consumer.literal_wire(v)) for v in cons.values)
        if cons.kind == "ref" and cons.name in self.consumer.enums:
            return any(_same(value, v) for v in self.consumer.enums[cons.name])
        if cons.kind != "prim":
            return False
        kinds = {type(None): "None", bool: "bool", int: "int", str: "str"}
        kind = kinds.get(type(value), "")
        return cons.name == kind or kind in _PRIM_ACCEPTS.get(cons.name, ())

    def _records(self, cons: str, prod: str) -> bool:
        if cons == prod and self.same_names_match:
            return True
        key = (cons, prod)
        if key in self._assumed:  # a recursive record: assume the cycle holds
            return True
        self._assumed.add(key)
        cons_fields = self.consumer.fields.get(cons)
        prod_fields = self.producer.fields.get(prod)
        if cons_fields is None or prod_fields is None:
            return False  # an enum against a record, or two differently named enums
        return self.record_accepts(cons_fields, prod_fields)

    def record_accepts(self, cons: dict[str, Field], prod: dict[str, Field]) -> bool:
        """Every field the consumer requires is required of the producer, and each field fits."""
        return all(self.field_accepts(cons.get(name), prod.get(name)) for name in {*cons, *prod})

    def field_accepts(self, cons: Field | None, prod: Field | None) -> bool:
        """One field: ``None`` where that side does not declare it (ignored when received)."""
        if cons is None:
            return True
        if prod is None:
            return not cons.required
        if cons.required and not prod.required:
            return False
        return self.accepts(cons.type, prod.type)


def _same(a: object, b: object) -> bool:
    return type(a) is type(b) and a == b
