"""The AMQP core: one pika connection shared by clients, servers and threads.

- ``connection``: ``Connection``, the public face of the core (calls, consumers, closing).
- ``state``: the connection's one state and its transitions, each phase with a deadline.
- ``link``: connecting, declaring, reconnecting and closing (the state machine's actions).
- ``calling``: the client side: requests out, confirms and returns, replies in, deadlines.
- ``calls``: bookkeeping for calls in flight (pending calls, confirms, the deadline heap).
- ``contract``: what a connection and the consumers on it may ask of each other.
- ``topology``: the declare steps (exchange, queues, bindings, confirms, qos, consume), once.
- ``consumer``: a queue consumed on its own confirm channel, settled after its reply's confirm.
- ``driving``, ``ioloop``: how threads share the connection's non-blocking pika I/O loop.
- ``transport``: leaner socket I/O and one-piece publish frames.
- ``uris``: URI resolution, TLS, password masking, ``Backoff``.
- ``pikafix``: pika fixes installed when a ``Connection`` is created (never on import).
"""
