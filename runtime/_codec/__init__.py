"""The codec: Nameko's wire bodies, names and headers, and typed encoding and decoding.

Pure (no pika, no I/O), so all of it is unit-tested without a broker.

- ``wire``: wire constants, queue and routing names, request/reply bodies, context headers.
- ``codec``: value-directed JSON encoding (kombu-compatible markers) and ``MethodCodec``.
- ``decoding``, ``typeinfo``, ``records``: validating decoders compiled once per type.
- ``kombu_types``: the ``__type__``/``__value__`` markers of datetime, Decimal, UUID, bytes, ...

See ``docs/wire.md`` for the wire facts these follow.
"""
