"""What a header table carries: ``travelled`` gives properties as the receiver would decode them."""

from __future__ import annotations

from typing import Any

from pika import spec as pika_spec
from rpcgen.runtime._amqp.transport import encode_properties
from rpcgen.runtime._codec import wire

__all__ = ["travelled"]

_Pika = Any  # pika ships no type hints


def travelled(props: _Pika) -> _Pika:
    """``props`` as the receiver would decode them from the wire.

    Plain headers (str, lists of str, ints that fit 64 bits: everything rpcgen and Nameko
    send) decode to what was sent, so they are passed on as they are; anything else goes
    through pika's encoder and decoder, which raise for what cannot be sent.
    """
    headers = props.headers
    if not headers or all(_plain(k, v) for k, v in headers.items()):
        return props
    decoded = pika_spec.BasicProperties()
    decoded.decode(encode_properties(props))
    return decoded


def _plain(key: str, value: object) -> bool:
    # A longer key may not fit a short string once UTF-8 encoded: let pika check it.
    return len(key) <= 127 and wire.is_plain_header_value(value)
