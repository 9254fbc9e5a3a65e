"""rpcgen.runtime._amqp.frames: pika's real plaintext transport over a socketpair keeps every
byte in order; ``publish`` writes exactly the frames pika's ``basic_publish`` writes."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pika.adapters.utils.io_services_utils import _AsyncPlaintextTransport
from pika.channel import Channel as PikaChannel
from pika.connection import Connection as PikaConnection
from pika.exceptions import ShortStringTooLong
from pika.spec import BasicProperties
from rpcgen.runtime._amqp import frames as transport


class _Nbio:
    """Records pika's requests for write interest."""

    def __init__(self) -> None:
        self.writer_set = 0
        self.writer_removed = 0

    def set_reader(self, _fd: int, _cb: Any) -> None:
        pass

    def remove_reader(self, _fd: int) -> None:
        pass

    def set_writer(self, _fd: int, _cb: Any) -> None:
        self.writer_set += 1

    def remove_writer(self, _fd: int) -> None:
        self.writer_removed += 1


class _Protocol:
    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.eof = False

    def data_received(self, data: bytes) -> None:
        self.chunks.append(data)

    def eof_received(self) -> bool:
        self.eof = True
        return True


class _Pair:
    def __init__(self, ours: socket.socket, peer: socket.socket) -> None:
        self.peer = peer
        self.nbio = _Nbio()
        self.protocol = _Protocol()
        self.transport = _AsyncPlaintextTransport(ours, self.protocol, self.nbio)
        assert transport.install(SimpleNamespace(_transport=self.transport))

    def read_peer(self, n: int) -> bytes:
        got = bytearray()
        while len(got) < n:
            got += self.peer.recv(n - len(got))
        return bytes(got)


@pytest.fixture
def pair() -> Iterator[_Pair]:
    ours, peer = socket.socketpair()
    ours.setblocking(False)
    try:
        yield _Pair(ours, peer)
    finally:
        ours.close()
        peer.close()


def test_install_only_on_a_plaintext_transport(pair: _Pair) -> None:
    assert not transport.install(SimpleNamespace(_transport=None))
    assert not transport.install(SimpleNamespace(_transport=object()))
    write = pair.transport.write
    assert transport.install(SimpleNamespace(_transport=pair.transport))  # twice: no new layer
    assert pair.transport.write is write


def test_write_sends_at_once_without_write_interest(pair: _Pair) -> None:
    pair.transport.write(b"\x01\x00\x01frame")
    pair.transport.write(b"second")
    assert pair.read_peer(14) == b"\x01\x00\x01framesecond"
    assert pair.nbio.writer_set == 0
    assert pair.transport.get_write_buffer_size() == 0


def test_what_the_socket_does_not_take_is_queued_in_order(pair: _Pair) -> None:
    pair.transport._sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    first, second = os.urandom(3 * 1024 * 1024), os.urandom(1000)
    pair.transport.write(first)  # far more than the socket holds: the rest is buffered
    assert pair.transport.get_write_buffer_size() > 0
    assert pair.nbio.writer_set == 1
    pair.transport.write(second)  # must wait behind the queued rest, not jump the queue
    received = bytearray()
    total = len(first) + len(second)
    while len(received) < total:
        received += pair.peer.recv(1 << 20)
        if pair.transport._tx_buffers:
            pair.transport._on_socket_writable()  # what the loop does when writable
    assert bytes(received) == first + second
    assert pair.nbio.writer_removed == 1


def test_reads_deliver_every_byte_in_order(pair: _Pair) -> None:
    data = os.urandom(transport.RECV_BYTES * 3 + 17)
    pair.peer.sendall(data)
    while sum(map(len, pair.protocol.chunks)) < len(data):
        pair.transport._on_socket_readable()
    assert b"".join(pair.protocol.chunks) == data
    assert max(map(len, pair.protocol.chunks)) <= transport.RECV_BYTES


def test_a_short_read_stops_without_asking_again(pair: _Pair) -> None:
    calls = 0
    sock = pair.transport._sock
    real_recv = sock.recv

    class _Counting:
        def recv(self, n: int) -> bytes:
            nonlocal calls
            calls += 1
            data: bytes = real_recv(n)
            return data

    pair.transport._sock = _Counting()
    pair.peer.sendall(b"small")
    pair.transport._on_socket_readable()
    assert pair.protocol.chunks == [b"small"]
    assert calls == 1  # pika's own loop would recv again and get EAGAIN
    pair.transport._sock = sock


def test_end_of_stream_reaches_the_protocol(pair: _Pair) -> None:
    pair.peer.sendall(b"last")
    pair.peer.shutdown(socket.SHUT_WR)
    for _ in range(3):
        pair.transport._on_socket_readable()
    assert pair.protocol.chunks == [b"last"]
    assert pair.protocol.eof


# -- publish: the same bytes as pika's basic_publish ---------------------------------------------

_short_text = st.text(max_size=40)
_header_value: st.SearchStrategy[object] = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text() | st.binary(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=8,
)


@st.composite
def _properties(draw: st.DrawFn) -> BasicProperties:
    def maybe(strategy: st.SearchStrategy[Any]) -> Any:
        return draw(st.none() | strategy)

    return BasicProperties(
        content_type=maybe(_short_text),
        content_encoding=maybe(_short_text),
        headers=maybe(st.dictionaries(st.text(max_size=20), _header_value, max_size=4)),
        delivery_mode=maybe(st.integers(1, 2)),
        priority=maybe(st.integers(0, 9)),
        correlation_id=maybe(_short_text),
        reply_to=maybe(_short_text),
        expiration=maybe(st.integers(0, 10**9).map(str)),
        message_id=maybe(_short_text),
        timestamp=maybe(st.integers(0, 2**40)),
        type=maybe(_short_text),
        user_id=maybe(_short_text),
        app_id=maybe(_short_text),
        cluster_id=maybe(_short_text),
    )


@given(_properties())
def test_properties_encode_as_pika_encodes_them(props: BasicProperties) -> None:
    assert transport.encode_properties(props) == b"".join(props.encode())


class _Conn:
    """Just enough of a pika connection for its own _send_message and for transport.publish."""

    _send_method = PikaConnection._send_method
    _send_message = PikaConnection._send_message
    _output_marshaled_frames = PikaConnection._output_marshaled_frames

    def __init__(self, body_max: int) -> None:
        self._body_max_length = body_max
        self.bytes_sent = self.frames_sent = 0
        self.out: list[bytes] = []

    def _adapter_emit_data(self, data: bytes) -> None:
        self.out.append(bytes(data))


class _Channel:
    _send_method = PikaChannel._send_method
    basic_publish = PikaChannel.basic_publish

    def __init__(self, body_max: int) -> None:
        self.connection = _Conn(body_max)
        self.channel_number = 3

    def _raise_if_not_open(self) -> None:
        pass


@settings(max_examples=60)
@given(
    _properties(),
    st.binary(max_size=3000),
    st.sampled_from(["", "nameko-rpc"]),
    st.text(max_size=50),
    st.booleans(),
    st.integers(1, 1000),
)
def test_publish_writes_pika_s_frames(
    props: BasicProperties, body: bytes, exchange: str, key: str, mandatory: bool, body_max: int
) -> None:
    ours, theirs = _Channel(body_max), _Channel(body_max)
    transport.publish(ours, exchange, key, body, props, mandatory)
    theirs.basic_publish(exchange, key, body, props, mandatory)
    assert b"".join(ours.connection.out) == b"".join(theirs.connection.out)
    assert ours.connection.bytes_sent == theirs.connection.bytes_sent
    assert ours.connection.frames_sent == theirs.connection.frames_sent


def test_publish_refuses_what_pika_refuses() -> None:
    with pytest.raises(ShortStringTooLong):
        transport.publish(_Channel(100), "", "k" * 256, b"", BasicProperties())
    with pytest.raises(ShortStringTooLong):
        transport.encode_properties(BasicProperties(correlation_id="é" * 128))
