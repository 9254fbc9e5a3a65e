"""The ``OnceStore`` contract (runtime/once.py), on ``LocalStore`` and on ``RedisStore`` against
the session's throwaway Redis server; then what each store adds (bounds, key layout, errors)."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator

import pytest
import redis
from rpcgen.redisstore import RedisStore
from rpcgen.runtime import Done, LocalStore, OnceStore
from rpcgen.runtime.once import Claim
from rpcgen.runtime.testing.broker import free_port

from tests.waiting import wait_until

BODY = b'{"result": 42, "error": null}'
LONG = 60.0  # a lease or window no test outlives


def fresh_key() -> str:
    """A key shaped like ``identity``'s: queue, reply_to and correlation id."""
    return f"rpc-svc\x00rpc.reply-{uuid.uuid4()}\x00{uuid.uuid4()}"


@pytest.fixture(params=["local", "redis"])
def store(request: pytest.FixtureRequest) -> Iterator[OnceStore]:
    if request.param == "local":
        yield LocalStore()
        return
    url = request.getfixturevalue("redis_url")
    redis_store = RedisStore(url, prefix=f"test:{uuid.uuid4()}:")
    try:
        yield redis_store
    finally:
        redis_store.close()


# -- the contract ----------------------------------------------------------------------------------


def test_a_new_key_is_claimed_once_then_running(store: OnceStore) -> None:
    key = fresh_key()
    assert store.claim(key, LONG) == "new"
    assert store.claim(key, LONG) == "running"
    assert store.claim(key, LONG) == "running"


def test_keys_are_independent(store: OnceStore) -> None:
    first, second = fresh_key(), fresh_key()
    assert store.claim(first, LONG) == "new"
    assert store.claim(second, LONG) == "new"
    store.done(first, BODY, LONG)
    assert store.claim(first, LONG) == Done(BODY)
    assert store.claim(second, LONG) == "running"


def test_done_answers_every_later_claim_with_the_body(store: OnceStore) -> None:
    key = fresh_key()
    assert store.claim(key, LONG) == "new"
    store.done(key, BODY, LONG)
    assert store.claim(key, LONG) == Done(BODY)
    assert store.claim(key, LONG) == Done(BODY)


def test_no_reply_an_empty_reply_and_a_body_stay_apart(store: OnceStore) -> None:
    outcomes: dict[str, bytes | None] = {fresh_key(): body for body in (None, b"", BODY)}
    for key, body in outcomes.items():
        assert store.claim(key, LONG) == "new"
        store.done(key, body, LONG)
    found = [store.claim(key, LONG) for key in outcomes]
    assert found == [Done(None), Done(b""), Done(BODY)]
    assert found[0] != found[1]


@pytest.mark.parametrize(
    "body",
    [bytes(range(256)) * 64, b"\x00", b"R", b"N", b"D", b"DR", b"\xff\xfe not utf-8"],
    ids=["all-bytes", "nul", "R", "N", "D", "DR", "not-utf8"],
)
def test_binary_bodies_round_trip(store: OnceStore, body: bytes) -> None:
    key = fresh_key()
    store.claim(key, LONG)
    store.done(key, body, LONG)
    assert store.claim(key, LONG) == Done(body)


def test_done_without_a_claim_is_remembered(store: OnceStore) -> None:
    key = fresh_key()
    store.done(key, BODY, LONG)
    assert store.claim(key, LONG) == Done(BODY)


def test_release_forgets_a_running_or_done_key(store: OnceStore) -> None:
    running, done = fresh_key(), fresh_key()
    store.claim(running, LONG)
    store.claim(done, LONG)
    store.done(done, BODY, LONG)
    store.release(running)
    store.release(done)
    assert store.claim(running, LONG) == "new"
    assert store.claim(done, LONG) == "new"
    store.release(fresh_key())  # an unknown key: nothing to forget, no error


def test_a_lease_that_runs_out_lets_the_next_claim_in(store: OnceStore) -> None:
    key = fresh_key()
    assert store.claim(key, 0.05) == "new"
    # Each poll that finds the mark still running changes nothing; the first after it ran out
    # claims the key, with a long lease this time.
    wait_until(lambda: store.claim(key, LONG) == "new", what="the lease to run out")
    assert store.claim(key, LONG) == "running"


def test_done_replaces_the_lease_with_the_window(store: OnceStore) -> None:
    settled, witness = fresh_key(), fresh_key()
    store.claim(settled, 0.05)
    store.done(settled, BODY, LONG)
    store.claim(witness, 0.05)  # claimed after ``settled`` with the same lease
    wait_until(lambda: store.claim(witness, LONG) == "new", what="the witness's lease to run out")
    assert store.claim(settled, LONG) == Done(BODY)  # its lease ran out too: the window holds it


def test_a_window_that_runs_out_forgets(store: OnceStore) -> None:
    key = fresh_key()
    store.claim(key, LONG)
    store.done(key, BODY, 0.05)
    wait_until(lambda: store.claim(key, LONG) == "new", what="the window to run out")
    assert store.claim(key, LONG) == "running"


def test_claim_is_atomic_under_concurrency(store: OnceStore) -> None:
    threads, rounds = 20, 10
    keys = [fresh_key() for _ in range(rounds)]
    results: list[list[Claim]] = [[] for _ in keys]
    barrier = threading.Barrier(threads)

    def claimer() -> None:
        for i, key in enumerate(keys):
            barrier.wait(timeout=30)
            results[i].append(store.claim(key, LONG))

    workers = [threading.Thread(target=claimer) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert not any(worker.is_alive() for worker in workers)
    for found in results:
        assert sorted(found, key=str) == ["new"] + ["running"] * (threads - 1)


# -- LocalStore: bounds and time, on its clock -----------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_local_lease_and_window_end_exactly_on_the_clock() -> None:
    clock = Clock()
    store = LocalStore(clock=clock)
    assert store.claim("a", 10) == "new"
    clock.now += 9.999
    assert store.claim("a", 10) == "running"
    clock.now += 0.001
    assert store.claim("a", 10) == "new"
    store.done("a", BODY, 5)
    clock.now += 4.999
    assert store.claim("a", 10) == Done(BODY)
    clock.now += 0.001
    assert store.claim("a", 10) == "new"


def test_local_max_entries_drops_the_oldest() -> None:
    store = LocalStore(max_entries=3, clock=Clock())
    for key in "abcd":
        assert store.claim(key, LONG) == "new"
    assert len(store) == 3
    assert [store.claim(key, LONG) for key in "bcd"] == ["running"] * 3
    assert store.claim("a", LONG) == "new"  # dropped; claiming it again drops "b"
    assert len(store) == 3
    assert store.claim("b", LONG) == "new"


def test_local_done_makes_a_key_the_newest() -> None:
    store = LocalStore(max_entries=2, clock=Clock())
    store.claim("a", LONG)
    store.claim("b", LONG)
    store.done("a", BODY, LONG)  # "a" is now newer than "b"
    store.claim("c", LONG)
    assert store.claim("a", LONG) == Done(BODY)
    assert store.claim("c", LONG) == "running"
    assert len(store) == 2  # "b" went first


def test_local_max_bytes_drops_the_oldest_replies() -> None:
    store = LocalStore(max_bytes=10, clock=Clock())
    store.done("a", b"123456", LONG)
    store.done("b", b"abcd", LONG)
    assert [store.claim(key, LONG) for key in "ab"] == [Done(b"123456"), Done(b"abcd")]
    store.done("c", b"xyz", LONG)  # 13 bytes: "a" goes
    assert store.claim("b", LONG) == Done(b"abcd")
    assert store.claim("c", LONG) == Done(b"xyz")
    assert store.claim("a", LONG) == "new"


def test_local_a_reply_larger_than_max_bytes_is_not_kept() -> None:
    store = LocalStore(max_bytes=4, clock=Clock())
    store.done("a", b"12345", LONG)
    assert len(store) == 0
    assert store.claim("a", LONG) == "new"


def test_local_expired_entries_are_dropped_from_the_front() -> None:
    clock = Clock()
    store = LocalStore(clock=clock)
    store.claim("a", 1)
    store.done("b", BODY, 1)
    clock.now += 1
    store.claim("c", LONG)
    assert len(store) == 1


def test_local_bounds_are_checked() -> None:
    with pytest.raises(ValueError, match="max_entries"):
        LocalStore(max_entries=0)
    with pytest.raises(ValueError, match="max_bytes"):
        LocalStore(max_bytes=-1)


# -- RedisStore: key layout, expiries, clients, errors ---------------------------------------------


def test_redis_keys_are_prefixed_and_expire_as_asked(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    prefix = f"test:{uuid.uuid4()}:"
    store = RedisStore(client, prefix=prefix)
    key = fresh_key()
    store.claim(key, 30)
    assert client.get(prefix + key) == b"R"
    assert 29_000 < client.pttl(prefix + key) <= 30_000
    store.done(key, BODY, 3600)
    assert client.get(prefix + key) == b"D" + BODY
    assert 3_599_000 < client.pttl(prefix + key) <= 3_600_000
    other = RedisStore(client, prefix=f"test:{uuid.uuid4()}:")
    assert other.claim(key, LONG) == "new"  # another prefix, another store
    store.close()
    assert client.ping()  # a client the caller gave is not closed by the store
    client.close()


def test_redis_refuses_a_client_that_decodes_responses(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    with pytest.raises(ValueError, match="decode_responses=False"):
        RedisStore(client)
    client.close()


def test_redis_down_raises_redis_own_error() -> None:
    store = RedisStore(f"redis://127.0.0.1:{free_port()}/0", timeout=5)  # nobody listens there
    with pytest.raises(redis.exceptions.ConnectionError):
        store.claim(fresh_key(), LONG)
    with pytest.raises(redis.exceptions.ConnectionError):
        store.done(fresh_key(), BODY, LONG)
    with pytest.raises(redis.exceptions.ConnectionError):
        store.release(fresh_key())
    store.close()


def test_redis_that_does_not_answer_raises_a_timeout() -> None:
    with socket.socket() as silent:  # accepts connections (the backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        store = RedisStore(f"redis://127.0.0.1:{silent.getsockname()[1]}/0", timeout=0.2)
        with pytest.raises(redis.exceptions.TimeoutError):
            store.claim(fresh_key(), LONG)
        store.close()


def test_redisstore_without_redis_py_names_the_extra() -> None:
    probe = "import sys; sys.modules['redis'] = None; import rpcgen.redisstore"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 1
    assert "ImportError: rpcgen.redisstore needs redis-py: pip install 'rpcgen[redis]'" in (
        done.stderr
    )
