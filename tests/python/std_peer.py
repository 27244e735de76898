# The CPython side of the mpconn-std interop matrix (tests/std_interop.rs).
#
# Runs with every CPython from 2.7 to 3.13, so: no f-strings, no keyword-only
# arguments, bytes built with bytearray.
#
#   std_peer.py client KEYHEX NOKEY_ADDRESS KEY_ADDRESS
#       Connects to two Rust listeners (one without a key, one with KEYHEX).
#   std_peer.py listen KEYHEX FAMILY
#       Binds two CPython listeners (AF_INET, AF_UNIX or ABSTRACT), prints
#       "READY <nokey address> <key address>", and serves the Rust client.
#
# Either way the same conversations happen, in this order, and this side always
# speaks first:
#   1. no key:     the full suite (sizes, pickles, a batch, then EOF)
#   2. right key:  the full suite
#   3. wrong key:  both sides must see the handshake fail
#   4. right key:  a ping, to show the listener kept serving after the failure
# Addresses are spelt as mpconn's Address prints them: host:port, a path, @name.
# Prints "OK" and exits 0 when every check passed; a traceback and 1 otherwise.

import binascii
import os
import pickle
import signal
import sys

from multiprocessing.connection import Client, Listener

try:
    from multiprocessing import AuthenticationError
except ImportError:  # pragma: no cover
    from multiprocessing.connection import AuthenticationError

PY3 = sys.version_info[0] >= 3
SIZES = [0, 16384, 16385, 1 << 20]
BLOCK = bytes(bytearray(range(251)))
BATCH = 50

# The same values, in the same order, are in adapters/std/tests/interop.rs (OBJECTS,
# as Python literals).
OBJECTS = [
    None,
    True,
    False,
    0,
    -7,
    2 ** 40,
    1.5,
    u"text \u00e9",
    b"raw\x00bytes",
    [1, u"two", None],
    (1, u"a", 2.5),
    {u"k": [1, 2.5, None], u"n": 3},
    2 ** 100,
    -(2 ** 64),
    {1, 2, 3},
    frozenset([u"a"]),
    bytearray(b"ba\x00"),
    {(1, 2): u"tuple key"},
]


def pattern(n, seed):
    """n bytes, byte i = (i + seed) % 251: shifts and losses cannot hide."""
    block = BLOCK[seed:] + BLOCK[:seed]
    return (block * (n // 251 + 1))[:n]


def same(a, b):
    """Equal and of the same kind (int and long are one kind; bool is not int)."""
    ints = (int,) if PY3 else (int, long)  # noqa: F821 (Python 2 only)
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, ints) and isinstance(b, ints):
        return a == b
    if type(a) is not type(b):
        return False
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return set(a) == set(b) and all(same(a[k], b[k]) for k in a)
    return a == b


def check(ok, what):
    if not ok:
        raise AssertionError(what)


def suite(conn):
    for n in SIZES:
        conn.send_bytes(pattern(n, 1))
        reply = conn.recv_bytes()
        check(reply == pattern(n, 2), "reply to the %d-byte message" % n)
    # Rust answers each object once per pickle protocol it tests with this version:
    # 3 and 2 for Python 3, 2 for Python 2.7 (which reads no higher).
    for obj in OBJECTS:
        conn.send(obj)
        for _ in range(2 if PY3 else 1):
            back = conn.recv()
            check(same(back, obj), "pickle round trip of %r: got %r" % (obj, back))
    # Connection.send uses protocol 4 on 3.8+ (DEFAULT_PROTOCOL); 5 is what
    # pickle.HIGHEST_PROTOCOL gives there, and Rust must read it too. One way only.
    if sys.version_info >= (3, 8):
        for obj in OBJECTS:
            conn.send_bytes(pickle.dumps(obj, 5))
    for i in range(BATCH):
        got = conn.recv_bytes()
        check(got == ("batch-%d" % i).encode("ascii"), "batched message %d: %r" % (i, got))
    conn.send_bytes(b"bye")
    conn.close()


def ping(conn):
    conn.send_bytes(b"again")
    check(conn.recv_bytes() == b"again-ack", "ping reply")
    conn.close()


def parse_address(text):
    if text.startswith("@"):
        return "\0" + text[1:]
    if "/" not in text and ":" in text:
        host, port = text.rsplit(":", 1)
        return (host, int(port))
    return text


def show_address(address):
    if isinstance(address, tuple):
        return "%s:%d" % address[:2]
    if isinstance(address, bytes):  # an abstract name, on Python 3
        address = address.decode("latin-1")
    if address.startswith("\0"):
        return "@" + address[1:]
    return address


def run_client(key, nokey_address, key_address):
    suite(Client(nokey_address))
    print("suite without key done")
    suite(Client(key_address, authkey=key))
    print("suite with key done")
    try:
        Client(key_address, authkey=b"wrong" + key)
    except AuthenticationError as e:
        print("wrong key refused: %s" % e)
    else:
        raise AssertionError("a wrong key was accepted")
    ping(Client(key_address, authkey=key))
    print("ping after the failure done")


def run_listener(key, family):
    if family == "AF_INET":
        nokey = Listener(("127.0.0.1", 0))
        keyed = Listener(("127.0.0.1", 0), authkey=key)
    elif family == "ABSTRACT":
        tag = binascii.hexlify(os.urandom(6))
        if PY3:  # Python 2 wants a native str, not unicode
            tag = tag.decode("ascii")
        nokey = Listener("\0mpconn-test-%s-a" % tag)
        keyed = Listener("\0mpconn-test-%s-b" % tag, authkey=key)
    else:
        nokey = Listener(family="AF_UNIX")
        keyed = Listener(family="AF_UNIX", authkey=key)
    print("READY %s %s" % (show_address(nokey.address), show_address(keyed.address)))
    sys.stdout.flush()
    suite(nokey.accept())
    print("suite without key done")
    suite(keyed.accept())
    print("suite with key done")
    try:
        keyed.accept()
    except AuthenticationError as e:
        print("wrong key refused: %s" % e)
    else:
        raise AssertionError("a wrong key was accepted")
    ping(keyed.accept())
    print("ping after the failure done")
    for listener in (nokey, keyed):
        try:
            listener.close()
        except (ValueError, TypeError):
            # CPython before 3.9 tries to unlink an abstract name ("embedded null
            # byte"; TypeError on 2.7); the socket is closed by then.
            if family != "ABSTRACT":
                raise


def main():
    # Never outlive a test that went wrong (SIGALRM ends the process); the Rust side
    # also kills us, later.
    signal.alarm(120)
    mode, key = sys.argv[1], binascii.unhexlify(sys.argv[2])
    if mode == "client":
        run_client(key, parse_address(sys.argv[3]), parse_address(sys.argv[4]))
    else:
        run_listener(key, sys.argv[3])
    print("OK")


if __name__ == "__main__":
    main()
