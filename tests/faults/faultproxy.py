"""A fault-injecting TCP proxy that speaks just enough AMQP 0-9-1 to strike at a chosen moment.

Put it between an rpcgen ``Connection`` and the broker and connect to ``proxy.uri(broker_uri)``
(the same URI with the proxy's port). It forwards bytes both ways, cutting them into AMQP
frames as they pass, so a test can arm a fault for a protocol moment::

    with FaultProxy.to(rabbit_vhost.uri) as proxy:
        proxy.arm(Fault.BLACKHOLE, When(QUEUE_DECLARE))       # the next connection only
        with pytest.raises(rt.RpcConnectionError):
            rt.Connection(proxy.uri(rabbit_vhost.uri), connect_timeout=2, reconnect=None)

Faults (``Fault``):

- ``RESET``: both sockets are closed with an RST (``SO_LINGER`` 0), as a crashed peer or a
  middlebox does; the frame that triggered it is not forwarded.
- ``BLACKHOLE``: nothing more is forwarded either way, from the triggering frame on, but both
  sockets stay open (a peer gone silent, a partition). What arrives is read and dropped; when
  the client closes its side the proxy closes both.
- ``STALL``: the triggering frame and everything after it, both ways, is held for ``seconds``
  and then forwarded in order.

A fault is armed ``When`` a frame matches (a method, which way it goes, the n-th such frame of
the connection, optionally only for one queue or exchange name), for the next connection the
proxy accepts (``Scope.NEXT``) or for every connection, live or future (``Scope.EVERY``).
``proxy.now(fault)`` strikes every live connection at once. ``arm`` returns an ``Armed`` whose
``fired`` event tells that it struck. Every method frame seen is recorded in ``proxy.frames``.

Frame layout (AMQP 0-9-1, section 4.2.3): type (1 byte), channel (2), size (4), payload,
``0xCE``; a method frame's payload starts with class id (2) and method id (2). The client
first sends the 8-byte protocol header ``AMQP\\x00\\x00\\x09\\x01``. Only the framing is parsed;
TLS cannot be seen through.

One thread runs every socket (a ``selectors`` loop); ``close()`` (or leaving the ``with``)
closes all sockets and joins it.

``AcceptThenReset`` is an endpoint of its own: it accepts every TCP connection and closes it
at once with an RST, as a TCP load balancer in front of a broker that is down does. A client
sees the connect succeed and the socket die before the first byte.
"""

from __future__ import annotations

import contextlib
import enum
import selectors
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

__all__ = [
    "BASIC_CONSUME",
    "BASIC_QOS",
    "CHANNEL_OPEN",
    "CONFIRM_SELECT",
    "CONNECTION_CLOSE",
    "CONNECTION_OPEN",
    "CONNECTION_OPEN_OK",
    "EXCHANGE_DECLARE",
    "PROTOCOL_HEADER",
    "QUEUE_BIND",
    "QUEUE_DECLARE",
    "AcceptThenReset",
    "Armed",
    "Direction",
    "Fault",
    "FaultProxy",
    "Frame",
    "FrameError",
    "FrameParser",
    "Scope",
    "When",
]

PROTOCOL_HEADER = b"AMQP\x00\x00\x09\x01"
FRAME_END = 0xCE
METHOD_FRAME = 1

Method = tuple[int, int]
CONNECTION_OPEN: Method = (10, 40)
CONNECTION_OPEN_OK: Method = (10, 41)
CONNECTION_CLOSE: Method = (10, 50)
CHANNEL_OPEN: Method = (20, 10)
EXCHANGE_DECLARE: Method = (40, 10)
QUEUE_DECLARE: Method = (50, 10)
QUEUE_BIND: Method = (50, 20)
BASIC_QOS: Method = (60, 10)
BASIC_CONSUME: Method = (60, 20)
CONFIRM_SELECT: Method = (85, 10)

# Methods whose arguments begin with a reserved short and then the queue or exchange name.
_NAMED = {EXCHANGE_DECLARE, QUEUE_DECLARE, QUEUE_BIND, BASIC_CONSUME, (50, 40), (50, 30)}
_HEADER = struct.Struct(">BHI")


class Direction(enum.Enum):
    TO_BROKER = "client -> broker"
    TO_CLIENT = "broker -> client"


class Fault(enum.Enum):
    RESET = "reset"
    BLACKHOLE = "blackhole"
    STALL = "stall"


class Scope(enum.Enum):
    NEXT = "the next connection accepted"
    EVERY = "every connection, live or future"


class FrameError(ValueError):
    """The bytes are not AMQP 0-9-1 frames (a bad frame end)."""


@dataclass(frozen=True)
class Frame:
    """One AMQP frame as it passed the proxy (``raw`` is every byte of it, end octet included)."""

    direction: Direction
    type: int
    channel: int
    payload: bytes
    raw: bytes = field(repr=False)

    @property
    def method(self) -> Method | None:
        """(class id, method id) of a method frame, else None."""
        if self.type != METHOD_FRAME or len(self.payload) < 4:
            return None
        class_id, method_id = struct.unpack_from(">HH", self.payload)
        return class_id, method_id

    @property
    def name(self) -> str | None:
        """The queue or exchange a declare, bind, consume, purge or delete names, else None."""
        if self.method not in _NAMED or len(self.payload) < 7:
            return None
        size = self.payload[6]
        return self.payload[7 : 7 + size].decode("utf-8", "replace")


class FrameParser:
    """Cuts one direction's byte stream into frames; ``feed`` returns the complete ones.

    The client's stream starts with the protocol header, which is passed through as a
    ``Frame`` of type 0 (``raw`` is the header) so that forwarding stays byte-exact.
    """

    def __init__(self, direction: Direction) -> None:
        self.direction = direction
        self._buffer = bytearray()
        self._header_pending = direction is Direction.TO_BROKER

    def feed(self, data: bytes) -> list[Frame]:
        self._buffer += data
        frames: list[Frame] = []
        if self._header_pending:
            if len(self._buffer) < len(PROTOCOL_HEADER):
                return frames
            raw = bytes(self._buffer[: len(PROTOCOL_HEADER)])
            if not raw.startswith(b"AMQP"):
                raise FrameError(f"{self.direction.value}: no protocol header: {raw!r}")
            del self._buffer[: len(PROTOCOL_HEADER)]
            self._header_pending = False
            frames.append(Frame(self.direction, 0, 0, raw, raw))
        while len(self._buffer) >= _HEADER.size:
            kind, channel, size = _HEADER.unpack_from(self._buffer)
            end = _HEADER.size + size
            if len(self._buffer) < end + 1:
                break
            if self._buffer[end] != FRAME_END:
                raise FrameError(
                    f"{self.direction.value}: frame end 0x{self._buffer[end]:02x}, not 0xce"
                )
            raw = bytes(self._buffer[: end + 1])
            del self._buffer[: end + 1]
            frames.append(Frame(self.direction, kind, channel, raw[_HEADER.size : end], raw))
        return frames


@dataclass(frozen=True)
class When:
    """The frame a fault strikes at: the ``nth`` frame of a connection that matches.

    ``method`` is (class id, method id); ``name`` narrows it to one queue or exchange (see
    ``Frame.name``); ``where`` is any further test on the frame.
    """

    method: Method
    direction: Direction = Direction.TO_BROKER
    nth: int = 1
    name: str | None = None
    where: Callable[[Frame], bool] | None = None

    def matches(self, frame: Frame) -> bool:
        return (
            frame.direction is self.direction
            and frame.method == self.method
            and (self.name is None or frame.name == self.name)
            and (self.where is None or self.where(frame))
        )


class Armed:
    """A fault waiting for its frame; ``fired`` is set once it struck (on any connection)."""

    def __init__(self, fault: Fault, when: When, scope: Scope, seconds: float) -> None:
        self.fault = fault
        self.when = when
        self.scope = scope
        self.seconds = seconds
        self.fired = threading.Event()
        self.strikes = 0  # how many connections it struck
        self._bound = False  # Scope.NEXT: taken by a connection already

    def wait(self, timeout: float) -> bool:
        return self.fired.wait(timeout)

    def __repr__(self) -> str:
        return f"Armed({self.fault.name} at {self.when.method} #{self.when.nth}, {self.scope.name})"


class _Link:
    """One proxied connection: the client's socket, the broker's, and what each still owes."""

    def __init__(self, index: int, client: socket.socket, broker: socket.socket) -> None:
        self.index = index
        self.socks = {Direction.TO_BROKER: client, Direction.TO_CLIENT: broker}  # read from
        self.parsers = {d: FrameParser(d) for d in Direction}
        self.out = {d: bytearray() for d in Direction}  # to write, by the direction it goes
        self.held: list[Frame] = []  # during a stall, in arrival order
        self.stalled_until = 0.0
        self.blackholed = False
        self.raw = False  # the framing was lost: bytes pass through unparsed
        self.eof: set[Direction] = set()
        self.armings: list[Armed] = []
        self.counts: dict[int, int] = {}  # id(armed) -> matching frames seen
        self._bound: set[int] = set()  # id of every arming ever bound here
        self.closed = False

    def bind(self, armed: Armed) -> None:
        if id(armed) not in self._bound:
            self._bound.add(id(armed))
            self.armings.append(armed)

    def target(self, direction: Direction) -> socket.socket:
        """The socket a frame going ``direction`` is written to."""
        return self.socks[_other(direction)]


class FaultProxy:
    """A TCP proxy on 127.0.0.1 to ``upstream`` (host, port) that injects faults; see the module."""

    def __init__(self, upstream: tuple[str, int], *, connect_timeout: float = 5.0) -> None:
        self.upstream = upstream
        self.connect_timeout = connect_timeout
        self.frames: list[tuple[int, Direction, int, Method]] = []  # (link, dir, channel, method)
        self.connections = 0  # accepted so far
        self._lock = threading.Lock()
        self._armings: list[Armed] = []
        self._links: list[_Link] = []
        self._commands: list[Callable[[], None]] = []
        self._selector = selectors.DefaultSelector()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.setblocking(False)
        self.port: int = self._listener.getsockname()[1]
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._selector.register(self._listener, selectors.EVENT_READ, None)
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._stop = False
        self._closed = False
        self._thread = threading.Thread(
            target=self._run, name=f"faultproxy:{self.port}", daemon=True
        )
        self._thread.start()

    @classmethod
    def to(cls, broker_uri: str) -> FaultProxy:
        """A proxy in front of the broker of an ``amqp://`` URI."""
        parts = urlsplit(broker_uri)
        return cls((parts.hostname or "127.0.0.1", parts.port or 5672))

    def uri(self, broker_uri: str) -> str:
        """``broker_uri`` with host and port replaced by the proxy's."""
        parts = urlsplit(broker_uri)
        userinfo = parts.netloc.rpartition("@")[0]
        netloc = f"{userinfo}@127.0.0.1:{self.port}" if userinfo else f"127.0.0.1:{self.port}"
        return urlunsplit(parts._replace(netloc=netloc))

    # -- the test's controls ----------------------------------------------------------------------

    def arm(
        self, fault: Fault, when: When, *, scope: Scope = Scope.NEXT, seconds: float = 0.0
    ) -> Armed:
        """Strike with ``fault`` at ``when`` (``seconds``: the length of a STALL)."""
        if fault is Fault.STALL and seconds <= 0:
            raise ValueError("a STALL needs seconds > 0")
        if when.nth < 1:
            raise ValueError("nth counts from 1")
        armed = Armed(fault, when, scope, seconds)
        with self._lock:
            self._armings.append(armed)

            def bind_live() -> None:
                for link in self._links:
                    if not link.closed:
                        link.bind(armed)

            if scope is Scope.EVERY:
                self._commands.append(bind_live)
        self._wake()
        return armed

    def disarm(self) -> None:
        """Forget every armed fault that has not struck (one in progress, a stall, goes on)."""
        with self._lock:
            self._armings.clear()
            self._commands.append(self._disarm_links)
        self._wake()

    def now(self, fault: Fault, *, seconds: float = 0.0) -> int:
        """Strike every live connection at once; returns how many were struck."""
        done = threading.Event()
        struck: list[int] = []

        def strike() -> None:
            live = [link for link in self._links if not link.closed]
            for link in live:
                self._strike(link, fault, seconds)
            struck.append(len(live))
            done.set()

        with self._lock:
            self._commands.append(strike)
        self._wake()
        if not done.wait(10):
            raise RuntimeError("the proxy's thread did not answer")
        return struck[0]

    @property
    def live(self) -> int:
        """Connections currently open through the proxy."""
        with self._lock:
            return sum(1 for link in self._links if not link.closed)

    def methods(self, direction: Direction = Direction.TO_BROKER) -> list[Method]:
        """Every method seen going ``direction``, in order, over all connections."""
        with self._lock:
            return [m for _link, d, _ch, m in self.frames if d is direction]

    def close(self) -> None:
        """Close every socket (plainly, no RST) and stop the thread; a second call does nothing."""
        if self._closed:
            return
        self._closed = True
        if self._thread.is_alive():
            self._stop = True
            self._wake()
            self._thread.join(10)
        for link in self._links:
            self._close_link(link, reset=False)
        self._selector.close()
        self._listener.close()
        self._wake_r.close()
        self._wake_w.close()

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the loop ---------------------------------------------------------------------------------

    def _wake(self) -> None:
        with contextlib.suppress(OSError):  # closed, or the buffer is full of wake-ups already
            self._wake_w.send(b"x")

    def _run(self) -> None:
        while not self._stop:
            timeout = self._next_deadline()
            for key, events in self._selector.select(timeout):
                sock = key.fileobj
                if sock is self._listener:
                    self._accept()
                elif sock is self._wake_r:
                    self._drain_wake()
                else:
                    link, direction = key.data
                    if link.closed:
                        continue
                    if events & selectors.EVENT_WRITE:  # the socket ``direction`` is read from
                        self._write(link, _other(direction))
                    if events & selectors.EVENT_READ and not link.closed:
                        self._read(link, direction)
            with self._lock:
                commands, self._commands = self._commands, []
            for command in commands:
                command()
            self._release_stalls()

    def _next_deadline(self) -> float | None:
        stalls = [link.stalled_until for link in self._links if link.held and not link.closed]
        if not stalls:
            return None
        return max(0.0, min(stalls) - time.monotonic())

    def _drain_wake(self) -> None:
        try:
            while self._wake_r.recv(4096):
                pass
        except BlockingIOError:
            pass

    def _accept(self) -> None:
        try:
            client, _addr = self._listener.accept()
        except BlockingIOError:
            return
        try:
            broker = socket.create_connection(self.upstream, timeout=self.connect_timeout)
        except OSError:
            _reset(client)
            return
        for sock in (client, broker):
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._lock:
            link = _Link(self.connections, client, broker)
            self.connections += 1
            for armed in self._armings:
                if armed.scope is Scope.EVERY:
                    link.bind(armed)
                elif not armed._bound:
                    armed._bound = True
                    link.bind(armed)
            self._links.append(link)
        for direction, sock in link.socks.items():
            self._selector.register(sock, selectors.EVENT_READ, (link, direction))

    def _disarm_links(self) -> None:
        for link in self._links:
            link.armings.clear()

    def _read(self, link: _Link, direction: Direction) -> None:
        sock = link.socks[direction]
        try:
            data = sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._on_eof(link, direction)
            return
        if link.blackholed:
            return
        if link.raw:
            self._forward(link, direction, data)
            return
        try:
            frames = link.parsers[direction].feed(data)
        except FrameError:
            link.raw = True  # not AMQP (TLS, garbage): no faults at frames, bytes pass
            self._forward(link, direction, data)
            return
        for frame in frames:
            if link.closed or link.blackholed:
                return
            self._on_frame(link, frame)

    def _on_frame(self, link: _Link, frame: Frame) -> None:
        method = frame.method
        if method is not None:
            with self._lock:
                self.frames.append((link.index, frame.direction, frame.channel, method))
        for armed in list(link.armings):
            if not armed.when.matches(frame):
                continue
            seen = link.counts.get(id(armed), 0) + 1
            link.counts[id(armed)] = seen
            if seen != armed.when.nth:
                continue
            link.armings.remove(armed)
            armed.strikes += 1
            armed.fired.set()
            self._strike(link, armed.fault, armed.seconds)
            if link.closed or link.blackholed:
                return  # the frame is not forwarded
        if link.held:
            link.held.append(frame)
        else:
            self._forward(link, frame.direction, frame.raw)

    def _strike(self, link: _Link, fault: Fault, seconds: float) -> None:
        if fault is Fault.RESET:
            self._close_link(link, reset=True)
        elif fault is Fault.BLACKHOLE:
            link.blackholed = True
            link.held.clear()
            for direction in Direction:
                link.out[direction].clear()
                self._watch(link, direction, writing=False)
        else:
            link.stalled_until = max(link.stalled_until, time.monotonic() + seconds)
            if not link.held:
                # A marker so that ``held`` is non-empty: frames from here on queue behind it.
                link.held.append(Frame(Direction.TO_BROKER, -1, 0, b"", b""))

    def _release_stalls(self) -> None:
        now = time.monotonic()
        for link in self._links:
            if link.held and not link.closed and link.stalled_until <= now:
                held, link.held = link.held, []
                for frame in held:
                    if frame.type != -1:
                        self._forward(link, frame.direction, frame.raw)

    def _forward(self, link: _Link, direction: Direction, data: bytes) -> None:
        link.out[direction] += data
        self._write(link, direction)

    def _write(self, link: _Link, direction: Direction) -> None:
        """Send what is owed in ``direction``; watch for writability while some is left."""
        out = link.out[direction]
        if out:
            try:
                sent = link.target(direction).send(out)
                del out[:sent]
            except BlockingIOError:
                pass
            except OSError:
                self._close_link(link, reset=True)
                return
        self._watch(link, direction, writing=bool(out))
        if not out and link.eof:
            self._maybe_finish(link)

    def _watch(self, link: _Link, direction: Direction, *, writing: bool) -> None:
        """Register ``direction``'s target socket for reads (until its EOF) and, if ``writing``,
        writes."""
        sock = link.target(direction)
        reader = _other(direction)  # the direction read from that socket: the key's data
        events = 0 if reader in link.eof else selectors.EVENT_READ
        if writing:
            events |= selectors.EVENT_WRITE
        key = self._selector.get_map().get(sock)
        if key is None and events:
            self._selector.register(sock, events, (link, reader))
        elif key is not None and not events:
            self._selector.unregister(sock)
        elif key is not None and key.events != events:
            self._selector.modify(sock, events, (link, reader))

    def _on_eof(self, link: _Link, direction: Direction) -> None:
        if link.blackholed and direction is Direction.TO_BROKER:
            self._close_link(link, reset=False)  # the client hung up: both go
            return
        link.eof.add(direction)
        if link.blackholed:  # the broker gave up: the client still hears nothing
            self._watch(link, _other(direction), writing=False)
            return
        self._watch(link, _other(direction), writing=bool(link.out[_other(direction)]))
        self._maybe_finish(link)

    def _maybe_finish(self, link: _Link) -> None:
        """After an EOF, close both once what is owed to the other side is written."""
        if not link.held and not any(link.out.values()):
            self._close_link(link, reset=False)

    def _close_link(self, link: _Link, *, reset: bool) -> None:
        if link.closed:
            return
        link.closed = True
        link.held.clear()
        for sock in link.socks.values():
            if sock.fileno() != -1 and sock in self._selector.get_map():
                self._selector.unregister(sock)
            if reset:
                _reset(sock)
            else:
                sock.close()


class AcceptThenReset:
    """Listens on 127.0.0.1, accepts each connection and resets it at once (see the module)."""

    def __init__(self) -> None:
        self.accepted = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.port: int = self._listener.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"accept-then-reset:{self.port}", daemon=True
        )
        self._thread.start()

    def uri(self, broker_uri: str) -> str:
        """``broker_uri`` with host and port replaced by this endpoint's."""
        parts = urlsplit(broker_uri)
        userinfo = parts.netloc.rpartition("@")[0]
        netloc = f"{userinfo}@127.0.0.1:{self.port}" if userinfo else f"127.0.0.1:{self.port}"
        return urlunsplit(parts._replace(netloc=netloc))

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                sock, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepted += 1
            _reset(sock)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self._listener.close()

    def __enter__(self) -> AcceptThenReset:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _other(direction: Direction) -> Direction:
    return Direction.TO_CLIENT if direction is Direction.TO_BROKER else Direction.TO_BROKER


def _reset(sock: socket.socket) -> None:
    """Close with an RST instead of a FIN."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()
