"""CPython's own multiprocessing.connection, measured the way benches/e2e.rs measures
mpconn and the raw socket, so the figures sit in one table.

    python3.13 benches/cpython_baseline.py [--secs 0.5] [workload ...]

Prints one line per workload: `name value unit`. Every workload runs over a Unix
socket between this process (the measuring side: client / sender) and a forked child
(the Listener: server / receiver), each on its own core on a 2-core machine. Each runs
for about --secs seconds and the figure covers the whole exchange, until the far side
has confirmed it received everything.

Workloads (the same names as in e2e.rs):
  pingpong_64     round trips/s: send_bytes(64 B), the server echoes, recv_bytes
  stream_64       messages/s: send_bytes(64 B) one way (CPython has no batching)
  stream_1mib     MB/s (10^6 bytes): send_bytes(1 MiB) one way
  handshake       handshakes/s: Client(authkey=...) then close, one at a time
  handshake_c64   handshakes/s: 64 client threads connecting at once, one Listener
"""

import os
import signal
import struct
import sys
import tempfile
import threading
import time
from multiprocessing.connection import Client, Listener

AUTHKEY = b"benchmark authkey"
SMALL = b"x" * 64
BIG = b"x" * (1 << 20)
# An empty message ends a stream: every payload the streams send is non-empty.
END = b""
CONCURRENT = 64


def serve(listener, workload):
    """The child: the Listener side of one workload."""
    if workload.startswith("handshake"):
        while True:
            try:
                listener.accept().close()
            except Exception:
                # A client that went away mid-handshake at the end of the run.
                pass
    conn = listener.accept()
    if workload == "pingpong_64":
        try:
            while True:
                conn.send_bytes(conn.recv_bytes())
        except EOFError:
            return
    # A stream: count until the end marker, then confirm the count.
    count = 0
    while conn.recv_bytes():
        count += 1
    conn.send_bytes(struct.pack("!Q", count))
    try:
        conn.recv_bytes()
    except EOFError:
        pass


def pingpong(conn, secs):
    n = 0
    start = time.perf_counter()
    deadline = start + secs
    while True:
        for _ in range(64):
            conn.send_bytes(SMALL)
            conn.recv_bytes()
        n += 64
        now = time.perf_counter()
        if now >= deadline:
            return n / (now - start)


def stream(conn, secs, payload, batch):
    sent = 0
    start = time.perf_counter()
    deadline = start + secs
    while time.perf_counter() < deadline:
        for _ in range(batch):
            conn.send_bytes(payload)
        sent += batch
    conn.send_bytes(END)
    (received,) = struct.unpack("!Q", conn.recv_bytes())
    elapsed = time.perf_counter() - start
    assert received == sent, (received, sent)
    return sent / elapsed


def handshakes(address, secs, threads):
    counts = [0] * threads
    start = time.perf_counter()
    deadline = start + secs

    def client(i):
        while time.perf_counter() < deadline:
            Client(address, authkey=AUTHKEY).close()
            counts[i] += 1

    if threads == 1:
        client(0)
    else:
        workers = [threading.Thread(target=client, args=(i,)) for i in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    return sum(counts) / (time.perf_counter() - start)


def run(workload, secs):
    directory = tempfile.mkdtemp(prefix="mpconn-bench-")
    address = os.path.join(directory, "s")
    authkey = AUTHKEY if workload.startswith("handshake") else None
    backlog = CONCURRENT * 2 if workload == "handshake_c64" else 1
    listener = Listener(address, "AF_UNIX", backlog=backlog, authkey=authkey)
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            serve(listener, workload)
        except BaseException:
            code = 1
        os._exit(code)
    try:
        if workload == "pingpong_64":
            with Client(address) as conn:
                return pingpong(conn, secs), "round trips/s"
        if workload == "stream_64":
            with Client(address) as conn:
                return stream(conn, secs, SMALL, 256), "msgs/s"
        if workload == "stream_1mib":
            with Client(address) as conn:
                rate = stream(conn, secs, BIG, 1)
                return rate * len(BIG) / 1e6, "MB/s"
        if workload == "handshake":
            return handshakes(address, secs, 1), "handshakes/s"
        if workload == "handshake_c64":
            return handshakes(address, secs, CONCURRENT), "handshakes/s"
        raise SystemExit("unknown workload %r" % workload)
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        listener.close()
        os.rmdir(directory)


WORKLOADS = ["pingpong_64", "stream_64", "stream_1mib", "handshake", "handshake_c64"]


def main(argv):
    secs = 0.5
    if argv[:1] == ["--secs"]:
        secs = float(argv[1])
        argv = argv[2:]
    for workload in argv or WORKLOADS:
        value, unit = run(workload, secs)
        print("%s %.6g %s" % (workload, value, unit), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
