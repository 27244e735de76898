"""The CPython side of tests/core_interop.rs: one process, many connections.

Runs under every CPython the tests use (2.7 and 3.6 to 3.13), so no f-strings and
careful bytes. The Rust test starts it as

    python core_peer.py client HOST PORT CASE...   # Rust is the server (TCP)
    python core_peer.py server DIR CASE...         # Rust is the client (Unix sockets)

and then runs the same CASEs, in the same order, one connection each. In server mode
case number i listens on DIR/i.sock with a fresh multiprocessing.connection.Listener.
For each case that passes this prints "ok CASE"; the first failure prints a traceback
to stderr and exits with status 1.

The cases, as seen from here (the Rust test knows the other half):

  messages          authkey KEY; receive SIZES messages (pattern seed 1), send SIZES
                    messages (pattern seed 2), then expect EOFError (Rust closes)
  wrong_key         authkey KEY, Rust uses another key: expect CPython's
                    AuthenticationError ('digest sent was rejected' as a client,
                    'digest received was wrong' as a server)
  no_key            no authkey, no handshake; ping-pong
  empty_key         authkey b'' through deliver_challenge/answer_challenge: the
                    handshake runs; ping-pong
  empty_key_listener  (server mode) Listener(authkey=b''): CPython <= 3.12 checks
                    `if self._authkey:` and skips the handshake, 3.13 runs it; ping-pong
  rust_*            authkey KEY through a plain Listener/Client; the Rust side varies
                    its own configuration (legacy challenge, requested digest); ping-pong
  digest_NAME       (3.12+) no authkey on the Listener/Client, then CPython's own
                    deliver_challenge(conn, KEY, digest_name=NAME) and
                    answer_challenge(conn, KEY) in Listener/Client order; ping-pong

ping-pong: receive b'ping CASE', send b'pong CASE', close (Rust then sees EOF).
"""
import os
import sys
import traceback

from multiprocessing.connection import (
    AuthenticationError,
    Client,
    Listener,
    answer_challenge,
    deliver_challenge,
)

KEY = b'core interop key'
SIZES = [0, 1, 16384, 16385, 1024 * 1024]


def pattern(size, seed):
    """size bytes, byte i = (i * 31 + seed) % 251: the same in tests/core_interop.rs."""
    block = bytearray((i * 31 + seed) % 251 for i in range(251))
    return bytes((block * (size // 251 + 1))[:size])


def check_equal(what, got, expected):
    if got == expected:
        return
    first = next((i for i in range(min(len(got), len(expected)))
                  if got[i:i + 1] != expected[i:i + 1]), min(len(got), len(expected)))
    raise AssertionError('%s: got %d bytes, expected %d; first difference at %d'
                         % (what, len(got), len(expected), first))


def expect_eof(conn):
    try:
        extra = conn.recv_bytes()
    except EOFError:
        return
    raise AssertionError('expected EOFError, got a message of %d bytes' % len(extra))


def messages(conn):
    for size in SIZES:
        check_equal('message of %d bytes from Rust' % size, conn.recv_bytes(), pattern(size, 1))
    for size in SIZES:
        conn.send_bytes(pattern(size, 2))
    expect_eof(conn)


def ping_pong(conn, case):
    name = case.encode('ascii')
    check_equal('ping', conn.recv_bytes(), b'ping ' + name)
    conn.send_bytes(b'pong ' + name)


def expect_auth_error(connect, message):
    try:
        conn = connect()
    except AuthenticationError as error:
        if str(error) != message:
            raise AssertionError('AuthenticationError %r, expected %r' % (str(error), message))
        return
    conn.close()
    raise AssertionError('the handshake succeeded with a wrong key')


def run_case(case, open_conn, rejected, by_hand, special):
    """One case on either side: open_conn(authkey) connects or accepts, `rejected` is
    what a wrong key raises here, by_hand(conn, key, digest_name) runs this side's
    half of the handshake itself, and `special` maps the cases only this side has
    to how it opens them."""
    if case == 'wrong_key':
        return expect_auth_error(lambda: open_conn(KEY), rejected)
    if case == 'messages':
        conn = open_conn(KEY)
        messages(conn)
    else:
        if case == 'no_key':
            conn = open_conn()
        elif case in special:
            conn = special[case]()
        elif case.startswith('rust_'):
            conn = open_conn(KEY)
        elif case.startswith('digest_'):
            conn = open_conn()
            by_hand(conn, KEY, case[len('digest_'):])
        else:
            raise ValueError('unknown case %r' % case)
        ping_pong(conn, case)
    conn.close()


def client_by_hand(conn, key, digest_name):
    # What Client does, with a chosen digest for our challenge.
    answer_challenge(conn, key)
    deliver_challenge(conn, key, digest_name=digest_name)


def server_by_hand(conn, key, digest_name=None):
    # What Listener.accept does (a digest only where one is chosen: CPython before
    # 3.12 has no digest_name).
    kwargs = {'digest_name': digest_name} if digest_name else {}
    deliver_challenge(conn, key, **kwargs)
    answer_challenge(conn, key)


def run_client(address, case):
    def connect(authkey=None):
        return Client(address, authkey=authkey)

    special = {'empty_key': lambda: connect(b'')}
    return run_case(case, connect, 'digest sent was rejected', client_by_hand, special)


def run_server(path, case):
    listeners = []

    def accept(authkey=None):
        # One Listener per case: the authkey belongs to a Listener, not a connection.
        listener = Listener(path, family='AF_UNIX', backlog=4, authkey=authkey)
        listeners.append(listener)
        return listener.accept()

    def empty_key():
        # What Listener.accept does, with the empty key it skips before 3.13.
        conn = accept()
        server_by_hand(conn, b'')
        return conn

    special = {'empty_key': empty_key, 'empty_key_listener': lambda: accept(b'')}
    try:
        return run_case(case, accept, 'digest received was wrong', server_by_hand, special)
    finally:
        for listener in listeners:
            listener.close()


def main(argv):
    mode = argv[1]
    if mode == 'client':
        address = (argv[2], int(argv[3]))
        cases = argv[4:]
    elif mode == 'server':
        directory = argv[2]
        cases = argv[3:]
    else:
        raise SystemExit('usage: core_peer.py client HOST PORT CASE... | server DIR CASE...')
    for index, case in enumerate(cases):
        try:
            if mode == 'client':
                run_client(address, case)
            else:
                run_server(os.path.join(directory, '%d.sock' % index), case)
        except Exception:
            sys.stderr.write('case %d (%s) failed under CPython %s:\n'
                             % (index, case, sys.version.split()[0]))
            traceback.print_exc()
            sys.stdout.flush()
            return 1
        sys.stdout.write('ok %s\n' % case)
        sys.stdout.flush()
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
