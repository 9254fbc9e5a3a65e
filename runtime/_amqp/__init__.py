"""The AMQP transport: one pika connection shared by clients, servers and threads.

Code outside this package imports only the names below (a test checks it), and no pika:

- ``Connection`` (``_transport.Transport`` on RabbitMQ), ``Backoff``, ``MAX_NACKS``, ``State``;
- ``as_received``: properties as a receiver decodes them (the in-memory transport's headers);
- ``URI_ENV``, ``mask_uri``.

Its modules:

- ``connection``: ``Connection``, the user's face, over ``_Core``, its insides.
- ``state``: the connection's one state and its transitions, each phase with a deadline.
- ``link``: connecting, declaring, reconnecting and closing (the state machine's actions).
- ``client_side``: requests out, confirms and returns, replies in, deadlines.
- ``confirms``: publisher-confirm bookkeeping of one channel.
- ``contract``: what a connection and the consumers on it may ask of each other.
- ``consumer``: a queue consumed on its own confirm channel, settled after its reply's confirm.
- ``driving``, ``ioloop``: how threads share the connection's non-blocking pika I/O loop.
- ``frames``: leaner socket I/O and one-piece publish frames.
- ``uris``: URI resolution, TLS, password masking, ``Backoff``.
- ``pikafix``: pika fixes installed when a ``Connection`` is created (never on import).
- ``pikatypes``: ``Pika``, the one name for pika's untyped objects.
"""

from rpcgen.runtime._amqp.client_side import MAX_NACKS
from rpcgen.runtime._amqp.connection import Connection
from rpcgen.runtime._amqp.frames import as_received
from rpcgen.runtime._amqp.state import State
from rpcgen.runtime._amqp.uris import URI_ENV, Backoff, mask_uri

__all__ = ["MAX_NACKS", "URI_ENV", "Backoff", "Connection", "State", "as_received", "mask_uri"]
