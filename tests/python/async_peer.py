# The CPython side of the tokio and mio adapters' interop tests (tests/tokio_*.rs,
# tests/mio_*.rs). Runs on CPython 2.7 and 3.x alike: no f-strings, bytes via bytearray.
#
#   async_peer.py listen  LISTENERS CASES
#       LISTENERS: name=family:key,...   family tcp|unix, key hex or "none"
#       Binds each (tcp on 127.0.0.1 port 0, unix at CPython's default address), prints
#       "ADDRESS name spelling" for each, then "READY", then runs CASES in order.
#       CASES: name:outcome[:role],...   an accept on listener `name`
#
#   async_peer.py connect TARGETS CASES
#       TARGETS: name=spelling,...       "host:port", a path, or "@abstract"
#       CASES: name:key:outcome[:role],...  a Client to target `name` with that key
#
# outcome: "good" (the handshake must pass) or "bad" (it must fail with
# AuthenticationError). role, for a good case:
#   echo   send b"python X.Y" first, then send back every message until EOF
#   drive  send messages of SIZES, each checked against its echo, then close
#   pickles  send each of OBJECTS with Connection.send (this version's default
#          protocol) and recv() it back: the same type and repr, then close
#
# Prints "CASE index ok|auth-error|error detail" per case and "DONE" at the end. Every
# wait is bounded: the whole process dies after ALARM seconds.
import binascii
import signal
import sys
import traceback

from multiprocessing import AuthenticationError
from multiprocessing.connection import Client, Listener

ALARM = 60
SIZES = [0, 1, 16384, 16385, 1 << 20]
BLOCK = bytes(bytearray(range(251)))


# The same objects, in the same order, as OBJECTS in tests/support/src/async_peer.rs
# (Python 3's repr of each).
OBJECTS = [
    None,
    True,
    -7,
    2 ** 100,
    -0.0,
    u"text \u00e9",
    b"raw\x00bytes",
    bytearray(b"ba\x00"),
    [1, (2, u"a"), None],
    {u"k": [1.5, None], u"n": set([1, 2])},
    frozenset([3]),
    {(1, 2): u"tuple key"},
]


def payload(n):
    # A size-dependent pattern, so that a message swapped for another is noticed.
    start = n % 251
    return (BLOCK * (n // 251 + 2))[start:start + n]


def say(*words):
    sys.stdout.write(" ".join(str(w) for w in words) + "\n")
    sys.stdout.flush()


def key_of(spec):
    if spec == "none":
        return None
    return binascii.unhexlify(spec)


def address_of(spelling):
    if spelling.startswith("@"):
        return "\0" + spelling[1:]
    if "/" not in spelling and ":" in spelling:
        host, port = spelling.rsplit(":", 1)
        return (host, int(port))
    return spelling


def spelling_of(address):
    if isinstance(address, tuple):
        return "%s:%d" % address
    return address


def echo(conn):
    conn.send_bytes(("python %d.%d" % sys.version_info[:2]).encode("ascii"))
    while True:
        try:
            message = conn.recv_bytes()
        except EOFError:
            return "ok"
        conn.send_bytes(message)


def drive(conn):
    for n in SIZES:
        sent = payload(n)
        conn.send_bytes(sent)
        got = conn.recv_bytes()
        if got != sent:
            return "error echo of %d bytes came back as %d different bytes" % (n, len(got))
    return "ok"


def pickles(conn):
    for obj in OBJECTS:
        conn.send(obj)
        back = conn.recv()
        if type(back) is not type(obj) or back != obj or repr(back) != repr(obj):
            return "error %r came back as %r" % (obj, back)
    return "ok"


def session(conn, role):
    try:
        if role == "echo":
            return echo(conn)
        if role == "pickles":
            return pickles(conn)
        return drive(conn)
    finally:
        conn.close()


def run_case(index, attempt, outcome, role):
    try:
        conn = attempt()
    except AuthenticationError as e:
        if outcome == "bad":
            say("CASE", index, "auth-error")
        else:
            say("CASE", index, "error unexpected AuthenticationError:", e)
        return
    except Exception as e:
        say("CASE", index, "error", repr(e))
        traceback.print_exc()
        return
    if outcome == "bad":
        conn.close()
        say("CASE", index, "error the handshake passed with the wrong key")
        return
    try:
        say("CASE", index, session(conn, role))
    except Exception as e:
        say("CASE", index, "error", repr(e))
        traceback.print_exc()


def listen(listeners_spec, cases_spec):
    listeners = {}
    for item in listeners_spec.split(","):
        name, rest = item.split("=", 1)
        family, key = rest.split(":", 1)
        if family == "tcp":
            listener = Listener(("127.0.0.1", 0), "AF_INET", authkey=key_of(key))
        else:
            listener = Listener(family="AF_UNIX", authkey=key_of(key))
        listeners[name] = listener
        say("ADDRESS", name, spelling_of(listener.address))
    say("READY")
    for index, case in enumerate(cases_spec.split(",")):
        parts = case.split(":")
        name, outcome = parts[0], parts[1]
        role = parts[2] if len(parts) > 2 else None
        run_case(index, listeners[name].accept, outcome, role)
    for listener in listeners.values():
        listener.close()


def connect(targets_spec, cases_spec):
    targets = {}
    for item in targets_spec.split(","):
        name, spelling = item.split("=", 1)
        targets[name] = address_of(spelling)
    for index, case in enumerate(cases_spec.split(",")):
        parts = case.split(":")
        name, key, outcome = parts[0], key_of(parts[1]), parts[2]
        role = parts[3] if len(parts) > 3 else None

        def attempt(address=targets[name], key=key):
            return Client(address, authkey=key)

        run_case(index, attempt, outcome, role)


def main():
    signal.alarm(ALARM)
    mode = sys.argv[1]
    if mode == "listen":
        listen(sys.argv[2], sys.argv[3])
    elif mode == "connect":
        connect(sys.argv[2], sys.argv[3])
    else:
        raise SystemExit("unknown mode %r" % mode)
    say("DONE")


main()
