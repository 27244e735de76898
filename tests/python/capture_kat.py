"""Captures the known-answer data of tests/kat.rs from the real interpreters.

Re-run it (from the repository root, with pyenv's CPythons installed) whenever a
scenario is added; the output is checked in and the Rust test only reads it:

    python3 tests/python/capture_kat.py > tests/data/kat.txt

Without arguments it runs itself under CPython 2.7, 3.11, 3.12 and 3.13 (found under
$PYENV_ROOT or ~/.pyenv) with --emit and concatenates what they print. With --emit it
captures, under the running interpreter:

- handshakes: CPython's own deliver_challenge/answer_challenge, server role
  (deliver, then answer) and client role (answer, then deliver) in two threads, each
  on its own socketpair, with a relay between the pairs that records every byte in
  both directions. os.urandom is replaced by a function that returns a fixed nonce per
  thread, so the transcript is a pure function of the keys, nonces and digests.
- frame headers (3.13): what Connection._send_bytes writes for a payload length and
  what Connection._recv_bytes makes of a header, through a Connection whose _send and
  _recv are replaced (no 2 GiB buffers needed), plus struct.pack for u64::MAX, which
  len() cannot return.

Runs under 2.7 and 3.x: no f-strings, careful bytes.
"""
import binascii
import glob
import hashlib
import io
import os
import socket
import struct
import subprocess
import sys
import threading

from multiprocessing import connection as mpc

KEY = b'known answer key'
OTHER_KEY = b'a different key'
LONG_KEY = bytes(bytearray(range(200)))  # longer than any HMAC block: hashed first
DIGESTS = ['md5', 'sha256', 'sha384', 'sha3_256', 'sha3_384']
VERSIONS = ['2.7', '3.11', '3.12', '3.13']


def hexlify(data):
    return binascii.hexlify(data).decode('ascii')


def nonce(label, size):
    return hashlib.sha512(label.encode('ascii')).digest()[:size]


def make_connection(sock):
    # What Pipe() does; 2.7's Connection is the C type of _multiprocessing.
    try:
        from _multiprocessing import Connection
    except ImportError:
        Connection = mpc.Connection
    conn = Connection(os.dup(sock.fileno()))
    sock.close()
    return conn


def relay(source, sink, side, record, lock):
    """Copies source to sink until EOF, recording (sequence, side, bytes)."""
    while True:
        data = source.recv(65536)
        with lock:
            if data:
                record.append((len(record), side, data))
        if not data:
            sink.shutdown(socket.SHUT_WR)
            return
        sink.sendall(data)


def split_frames(stream):
    """(offset, frame) for each whole frame (header included) of a byte stream."""
    frames = []
    pos = 0
    while pos < len(stream):
        size, = struct.unpack('!i', stream[pos:pos + 4])
        end = pos + 4 + size
        if size < 0 or end > len(stream):
            raise ValueError('handshake frames are short and complete')
        frames.append((pos, stream[pos:end]))
        pos = end
    return frames


def transcript(record):
    """The frames of both directions, in the order they were first seen."""
    frames = []
    for side in ('server', 'client'):
        chunks = [(seq, data) for seq, s, data in record if s == side]
        stream = b''.join(data for _, data in chunks)
        starts = []
        offset = 0
        for seq, data in chunks:
            starts.append((offset, seq))
            offset += len(data)
        for pos, frame in split_frames(stream):
            seq = max(s for o, s in starts if o <= pos)
            frames.append((seq, pos, side, frame))
    frames.sort(key=lambda f: (f[0], f[1]))
    return [(side, frame) for _, _, side, frame in frames]


def run_side(results, name, steps):
    try:
        for step in steps:
            step()
        results[name] = 'ok'
    except mpc.AuthenticationError as error:
        results[name] = 'AuthenticationError: %s' % error


def handshake(name, server_key, client_key, digest):
    """One handshake; digest None means the interpreter's own default (no keyword)."""
    message_length = mpc.MESSAGE_LENGTH
    nonces = {
        'server': nonce('server nonce ' + name, message_length),
        'client': nonce('client nonce ' + name, message_length),
    }

    def fixed_urandom(size):
        value = nonces[threading.current_thread().name]
        assert size == len(value), (size, len(value))
        return value

    server_sock, server_relay = socket.socketpair()
    client_sock, client_relay = socket.socketpair()
    server = make_connection(server_sock)
    client = make_connection(client_sock)
    record = []
    lock = threading.Lock()
    relays = [
        threading.Thread(target=relay,
                         args=(server_relay, client_relay, 'server', record, lock)),
        threading.Thread(target=relay,
                         args=(client_relay, server_relay, 'client', record, lock)),
    ]
    kwargs = {} if digest is None else {'digest_name': digest}
    results = {}
    sides = [
        threading.Thread(name='server', target=run_side, args=(results, 'server', [
            lambda: mpc.deliver_challenge(server, server_key, **kwargs),
            lambda: mpc.answer_challenge(server, server_key),
        ])),
        threading.Thread(name='client', target=run_side, args=(results, 'client', [
            lambda: mpc.answer_challenge(client, client_key),
            lambda: mpc.deliver_challenge(client, client_key, **kwargs),
        ])),
    ]
    real_urandom = os.urandom
    os.urandom = fixed_urandom
    try:
        for thread in relays + sides:
            thread.start()
        for thread in sides:
            thread.join(30)
            assert not thread.is_alive(), 'handshake %s hangs' % name
    finally:
        os.urandom = real_urandom
    # A failed side leaves its peer waiting for a frame: closing ends the wait.
    server.close()
    client.close()
    for thread in relays:
        thread.join(30)
    server_relay.close()
    client_relay.close()

    lines = [
        '[handshake %s]' % name,
        'python = %s' % sys.version.split()[0],
        'server_key = %s' % hexlify(server_key),
        'client_key = %s' % hexlify(client_key),
        'digest = %s' % (digest or ('sha256' if message_length == 40 else 'legacy')),
        'server_nonce = %s' % hexlify(nonces['server']),
        'client_nonce = %s' % hexlify(nonces['client']),
        'server_result = %s' % results['server'],
        'client_result = %s' % results['client'],
    ]
    for side, frame in transcript(record):
        lines.append('frame = %s %s' % (side, hexlify(frame)))
    return lines


def header_block(length, header, decoded, how):
    return [
        '[header %d]' % length,
        'python = %s' % sys.version.split()[0],
        'encoded_by = %s' % how,
        'bytes = %s' % hexlify(header),
        'decoded_len = %d' % decoded,
    ]


class PayloadRequested(Exception):
    pass


def framing_classes():
    """Defined on demand: 2.7's C Connection cannot be subclassed (3.13 only)."""

    class Recorder(mpc.Connection):
        """A Connection whose byte-level I/O is a list: CPython's framing code, no socket."""

        def __init__(self, incoming=b''):
            mpc.Connection.__init__(self, os.open(os.devnull, os.O_RDONLY))
            self.sent = []
            self.incoming = incoming
            self.asked = None

        def _send(self, buf, write=None):
            # A stand-in payload has no bytes: only real bytes are recorded.
            if isinstance(buf, bytes):
                self.sent.append(buf)

        def _recv(self, size, read=None):
            if self.incoming:
                chunk, self.incoming = self.incoming[:size], self.incoming[size:]
                return io.BytesIO(chunk)
            self.asked = size
            raise PayloadRequested()

    class Claimed(object):
        """A payload that only has a length: all _send_bytes needs above 16384."""

        def __init__(self, length):
            self.length = length

        def __len__(self):
            return self.length

    return Recorder, Claimed


def headers():
    Recorder, Claimed = framing_classes()

    def decoded_length(header):
        """The payload length Connection._recv_bytes asks _recv for after header."""
        conn = Recorder(header)
        try:
            conn._recv_bytes()
        except PayloadRequested:
            pass
        conn.close()
        return conn.asked

    blocks = []
    for length in [0, 1, 16384, 16385, 0x7fffffff, 0x80000000]:
        conn = Recorder()
        small = length <= 16384
        conn._send_bytes(b'x' * length if small else Claimed(length))
        conn.close()
        written = b''.join(conn.sent)
        # Up to 16384 bytes header and payload go out in one write.
        header = written[:len(written) - length] if small else written
        blocks.append(header_block(length, header, decoded_length(header),
                                   'Connection._send_bytes'))
    # len() cannot return 2**64 - 1: this is the code _send_bytes runs for it.
    length = 2 ** 64 - 1
    header = struct.pack('!i', -1) + struct.pack('!Q', length)
    blocks.append(header_block(length, header, decoded_length(header), 'struct.pack'))
    # CPython reads a negative length other than -1 as an empty message (it asks
    # _recv for -2 bytes and gets none); mpconn refuses it (docs/protocol.md section 1).
    header = struct.pack('!i', -2)
    blocks.append(['[negative_header]', 'python = %s' % sys.version.split()[0],
                   'bytes = %s' % hexlify(header),
                   'cpython_reads_len = %d' % decoded_length(header)])
    return blocks


def emit():
    blocks = []
    version = sys.version_info[:2]
    label = '%d.%d' % version
    if version >= (3, 12):
        digests = DIGESTS if version >= (3, 13) else ['sha256']
        for digest in digests:
            blocks.append(handshake('%s-%s' % (label, digest), KEY, KEY, digest))
    else:
        blocks.append(handshake(label + '-legacy', KEY, KEY, None))
    blocks.append(handshake(label + '-wrong-key', KEY, OTHER_KEY, None))
    if version >= (3, 11):
        blocks.append(handshake(label + '-empty-key', b'', b'', None))
        blocks.append(handshake(label + '-long-key', LONG_KEY, LONG_KEY, None))
    if version >= (3, 13):
        blocks.extend(headers())
    out = sys.stdout
    for block in blocks:
        out.write('\n'.join(block) + '\n\n')


def interpreters():
    roots = [os.environ.get('PYENV_ROOT'), os.path.expanduser('~/.pyenv')]
    found = []
    for version in VERSIONS:
        for root in filter(None, roots):
            matches = sorted(glob.glob(os.path.join(
                root, 'versions', version + '.*', 'bin', 'python' + version)))
            if matches:
                found.append(matches[-1])
                break
        else:
            raise SystemExit('CPython %s not found under %s' % (version, roots))
    return found


def main():
    if sys.argv[1:] == ['--emit']:
        return emit()
    out = sys.stdout
    out.write('# Known answers for tests/kat.rs, captured from real CPython by\n'
              '# tests/python/capture_kat.py (see it for how to re-run). Do not edit.\n'
              '# Frames are whole frames (header included) in the order they crossed\n'
              '# the wire; keys and nonces are hex.\n\n')
    for python in interpreters():
        out.flush()
        output = subprocess.check_output([python, os.path.abspath(__file__), '--emit'])
        out.write(output.decode('ascii'))


if __name__ == '__main__':
    main()
