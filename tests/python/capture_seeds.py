#!/usr/bin/env python3
"""Record real CPython handshakes and frames, and write them as fuzz seeds.

    python3 tests/python/capture_seeds.py [--out fuzz/seeds]

For each pair of interpreters (server, client) found (3.13, 3.11, 2.7), a CPython
`Listener(authkey=...)` serves a CPython `Client` through a TCP relay on 127.0.0.1
that records every byte each way, with the boundaries of each `recv`. The client
sends a few messages (empty, short, 300 bytes, 5000 bytes, a pickle) and the server
echoes them. The recordings become seeds in the input layout of each fuzz target
(documented in fuzz/src/<target>.rs):

- decoder/: each direction's stream, whole, cut where CPython's writes arrived, one
  byte at a time, and under the handshake's 256-byte limit;
- handshake_server/, handshake_client/: the CPython peer's handshake frames injected
  literally into our side, plus a cooperative run against our own peer per config;
- digest/: each real challenge with the real answer to it, under the real key.

Long headers (ff ff ff ff + u64, only for messages over 2 GiB) are written with the
same struct.pack CPython uses rather than recorded. Nonces are random, so every run
writes different seeds; the file names stay the same. Needs no third-party module.
"""

import argparse
import glob
import os
import socket
import struct
import subprocess
import sys
import threading

KEY = b"seed key"
WANTED = ["3.13", "3.11", "2.7"]
PAIRS = [("3.13", "3.13"), ("3.11", "3.11"), ("2.7", "2.7"),
         ("3.13", "3.11"), ("3.11", "3.13"), ("3.13", "2.7")]

SERVER = r"""
import sys
from multiprocessing.connection import Listener
listener = Listener(('127.0.0.1', 0), authkey=%r)
sys.stdout.write('%%d\n' %% listener.address[1])
sys.stdout.flush()
conn = listener.accept()
while True:
    try:
        message = conn.recv_bytes()
    except EOFError:
        break
    conn.send_bytes(message)
""" % (KEY,)

CLIENT = r"""
import sys
from multiprocessing.connection import Client
conn = Client(('127.0.0.1', int(sys.argv[1])), authkey=%r)
for message in [b'', b'x', b'hello', b'\0' * 300, b'y' * 5000]:
    conn.send_bytes(message)
    assert conn.recv_bytes() == message
conn.send({'spam': [1, 2.5, None]})
conn.recv()
conn.close()
""" % (KEY,)


def find_python(version):
    roots = [os.environ.get("PYENV_ROOT"), os.path.expanduser("~/.pyenv")]
    for root in filter(None, roots):
        for path in sorted(glob.glob(os.path.join(root, "versions", version + ".*",
                                                  "bin", "python" + version))):
            return path
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        path = os.path.join(directory, "python" + version)
        if os.access(path, os.X_OK):
            return path
    return None


def relay(source, sink, chunks):
    """Copies source to sink until EOF, recording each recv."""
    while True:
        data = source.recv(65536)
        if not data:
            try:
                sink.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            return
        chunks.append(data)
        sink.sendall(data)


def capture(server_python, client_python):
    """One session: (client-to-server recvs, server-to-client recvs)."""
    server = subprocess.Popen([server_python, "-u", "-c", SERVER],
                              stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
    try:
        port = int(server.stdout.readline())
        front = socket.socket()
        front.bind(("127.0.0.1", 0))
        front.listen(1)
        client = subprocess.Popen([client_python, "-u", "-c", CLIENT,
                                   str(front.getsockname()[1])],
                                  stdin=subprocess.DEVNULL)
        front.settimeout(30)
        from_client, _ = front.accept()
        to_server = socket.create_connection(("127.0.0.1", port), timeout=30)
        from_client.settimeout(30)
        c2s, s2c = [], []
        threads = [threading.Thread(target=relay, args=(from_client, to_server, c2s)),
                   threading.Thread(target=relay, args=(to_server, from_client, s2c))]
        for thread in threads:
            thread.start()
        if client.wait(timeout=60) != 0:
            raise RuntimeError("client failed")
        for thread in threads:
            thread.join(timeout=30)
        if server.wait(timeout=30) != 0:
            raise RuntimeError("server failed")
        return c2s, s2c
    finally:
        for process in (server,):
            if process.poll() is None:
                process.kill()


def frames(stream):
    """Splits a byte stream into whole frames (header included)."""
    out, pos = [], 0
    while pos + 4 <= len(stream):
        (n,) = struct.unpack("!i", stream[pos:pos + 4])
        header = 4
        if n == -1:
            (n,) = struct.unpack("!Q", stream[pos + 4:pos + 12])
            header = 12
        end = pos + header + n
        out.append(stream[pos:end])
        pos = end
    return out


def handshake_frames(stream):
    """The first three frames: the handshake, for either role."""
    return frames(stream)[:3]


def decoder_seed(stream, flags=0, limit=0, new=0, at=0, cuts=(), reads=()):
    cuts = list(cuts)[:15]
    seed = (struct.pack("!BIIBB", flags, limit, new, at, len(cuts))
            + b"".join(struct.pack("!H", min(c, 0xffff)) for c in cuts))
    if flags & 16:
        # Reads in place: (max, fill) each; flag 64 appends them through extend_payload.
        reads = list(reads)[:15]
        seed += struct.pack("!B", len(reads)) + b"".join(
            struct.pack("!HH", max_, fill) for max_, fill in reads)
    return seed + stream


def handshake_seed(ours, theirs, ops, key=KEY):
    return struct.pack("!BBB", ours, theirs, len(key)) + key + ops


def literal_ops(frames_in):
    """Inject each frame literally, handing our output to the peer in between."""
    ops = b""
    for frame in frames_in:
        for start in range(0, len(frame), 255):
            piece = frame[start:start + 255]
            ops += b"\x01" + struct.pack("!B", len(piece)) + piece
        ops += b"\x03"
    return ops


def write(out, target, name, data):
    directory = os.path.join(out, target)
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, name), "wb") as f:
        f.write(data[:4096])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    here = os.path.dirname(os.path.abspath(__file__))
    parser.add_argument("--out", default=os.path.join(here, "..", "..", "fuzz", "seeds"))
    args = parser.parse_args()
    out = os.path.normpath(args.out)

    pythons = {v: find_python(v) for v in WANTED}
    missing = [v for v in ("3.13", "3.11") if not pythons[v]]
    if missing:
        sys.exit("capture_seeds: CPython %s not found" % ", ".join(missing))

    for server_version, client_version in PAIRS:
        server_python, client_python = pythons[server_version], pythons[client_version]
        if not (server_python and client_python):
            print("skip %s -> %s (not installed)" % (client_version, server_version))
            continue
        c2s_chunks, s2c_chunks = capture(server_python, client_python)
        c2s, s2c = b"".join(c2s_chunks), b"".join(s2c_chunks)
        tag = "cpython%s-server-cpython%s-client" % (server_version.replace(".", ""),
                                                      client_version.replace(".", ""))
        print("%s: %d bytes client->server, %d bytes server->client"
              % (tag, len(c2s), len(s2c)))

        for direction, stream, chunks in (("c2s", c2s, c2s_chunks), ("s2c", s2c, s2c_chunks)):
            base = "%s-%s" % (tag, direction)
            write(out, "decoder", base + "-whole", decoder_seed(stream))
            write(out, "decoder", base + "-as-received",
                  decoder_seed(stream, cuts=[len(c) for c in chunks]))
            write(out, "decoder", base + "-bytewise", decoder_seed(stream[:600], cuts=[1]))
            handshake = b"".join(handshake_frames(stream))
            write(out, "decoder", base + "-handshake-limit-256",
                  decoder_seed(handshake, flags=1, limit=256))
            # The rest of the stream after the handshake, its first messages only.
            messages = stream[len(handshake):]
            write(out, "decoder", base + "-messages-limit-299",
                  decoder_seed(messages[:400], flags=1, limit=299, cuts=[5, 0]))

        # Our server against the CPython client's frames, and our client against the
        # CPython server's (config 0 is sha256, 8 legacy: what 3.11 and 2.7 send).
        ours = 8 if server_version != "3.13" else 0
        write(out, "handshake_server", tag,
              handshake_seed(ours, ours, b"\x03" + literal_ops(handshake_frames(c2s))))
        write(out, "handshake_client", tag,
              handshake_seed(ours, ours, literal_ops(handshake_frames(s2c))))

        # digest: each real challenge with the real answer to it.
        c2s_frames, s2c_frames = frames(c2s), frames(s2c)
        exchanges = [(s2c_frames[0], c2s_frames[0]),   # server challenge, client answer
                     (c2s_frames[1], s2c_frames[2])]   # client challenge, server answer
        for i, (challenge, answer) in enumerate(exchanges):
            challenge, answer = challenge[4 + len(b"#CHALLENGE#"):], answer[4:]
            write(out, "digest", "%s-exchange%d" % (tag, i),
                  struct.pack("!B", len(KEY)) + KEY + struct.pack("!B", len(challenge))
                  + challenge + answer)

    # Cooperative handshakes against our own peer: every config pairing that matters.
    honest = {"server": b"\x03\x00\x00\x03\x00\x00\x03\x00\x00\x03",
              "client": b"\x00\x00\x03\x00\x00\x03\x00\x00\x03\x00\x00"}
    for ours, theirs, name in ((0, 0, "sha256"), (1, 1, "sha384"), (2, 2, "sha3_256"),
                               (8, 8, "legacy"), (8, 0, "legacy-vs-modern"),
                               (0, 8, "modern-vs-legacy"), (16, 8, "refuse-md5"),
                               (0, 32, "other-key"), (4, 4, "md5-prefixed")):
        for role, ops in honest.items():
            write(out, "handshake_" + role, "cooperative-" + name,
                  handshake_seed(ours, theirs, ops))

    # Long headers, written the way CPython >= 3.8 writes them above 2 GiB.
    long_header = struct.pack("!i", -1) + struct.pack("!Q", 5) + b"hello"
    write(out, "decoder", "long-header-short-length", decoder_seed(long_header))
    write(out, "decoder", "long-header-2GiB-claimed",
          decoder_seed(struct.pack("!i", -1) + struct.pack("!Q", 0x80000000) + b"abc"))
    write(out, "decoder", "long-header-over-limit",
          decoder_seed(struct.pack("!i", -1) + struct.pack("!Q", 2 ** 64 - 1),
                       flags=1, limit=0x7fffffff))
    write(out, "decoder", "limit-lowered-mid-payload",
          decoder_seed(struct.pack("!i", 10) + b"0123456789", flags=2 | 4, new=3, at=1,
                       cuts=[6, 0]))
    # A payload longer than the seed, read in place (flag 16) or appended (16 | 64).
    large = struct.pack("!i", 70000) + bytes(i % 251 for i in range(3000))
    reads = [(4096, 1000), (65535, 65535), (0, 0), (3, 2)]
    write(out, "decoder", "large-payload-read-in-place",
          decoder_seed(large, flags=16, cuts=[4, 1000, 0], reads=reads))
    write(out, "decoder", "large-payload-extended",
          decoder_seed(large, flags=16 | 64, cuts=[4, 1000, 0], reads=reads))


if __name__ == "__main__":
    main()
