#!/usr/bin/env bash
# See it work: `mpconn listen --echo` (Rust) serves a CPython 3.13 client, with an
# authkey, over a fresh Unix socket; then `mpconn send --pickle` sends a pickle to a
# CPython Listener and shows its reply. Prints what each side saw, then stops everything.
#
#     bash examples/demo.sh
#
# Needs cargo and CPython 3.13 (found through pyenv, then PATH; PYTHON=... overrides).
set -euo pipefail
cd "$(dirname "$0")/.."

# The tool is a binary of the mpconn-std crate (its default features include pickle);
# this builds it if needed (a no-op after `cargo build --workspace`).
echo "demo: building the mpconn command-line tool (cargo build -p mpconn-std --bin mpconn;"
echo "      about a minute the first time, quiet)..."
cargo build --quiet -p mpconn-std --bin mpconn
target_dir="${CARGO_TARGET_DIR:-$(pwd)/target}"
mpconn="$target_dir/debug/mpconn"

python="${PYTHON:-}"
if [ -z "$python" ]; then
  for candidate in "$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")"/versions/3.13*/bin/python3.13 \
    "$(command -v python3.13 || true)"; do
    if [ -x "$candidate" ]; then python="$candidate"; break; fi
  done
fi
if [ -z "$python" ]; then
  echo "demo: CPython 3.13 not found (pyenv or PATH); set PYTHON=/path/to/python3" >&2
  exit 1
fi

work="$(mktemp -d)"
listener_pid=""
cleanup() {
  if [ -n "$listener_pid" ]; then kill "$listener_pid" 2>/dev/null || true; wait "$listener_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# The key travels in the environment, never on a command line.
export MPCONN_AUTHKEY="demo secret $RANDOM$RANDOM"

# --clients 1: serve one client, then exit and remove the socket file.
"$mpconn" listen --echo --clients 1 >"$work/out" 2>"$work/err" &
listener_pid=$!
for _ in $(seq 100); do
  [ -s "$work/out" ] && break
  sleep 0.1
done
address="$(head -n 1 "$work/out")"
if [ -z "$address" ]; then
  echo "demo: mpconn listen did not start:" >&2
  cat "$work/err" >&2
  exit 1
fi
echo "\$ mpconn listen --echo      # MPCONN_AUTHKEY set"
echo "$address"
echo
echo "\$ $(basename "$python") -c 'Client(address, authkey=...)'   # a wrong key, then the right one"
"$python" -c '
import os, sys
from multiprocessing import AuthenticationError
from multiprocessing.connection import Client
address, key = sys.argv[1], os.environb[b"MPCONN_AUTHKEY"]
try:
    Client(address, authkey=b"not the key")
except AuthenticationError as e:
    print("wrong key refused:", e)
with Client(address, authkey=key) as conn:
    for message in [b"hello from CPython", b"\x00\x01 binary is fine"]:
        conn.send_bytes(message)
        print("echoed back:", conn.recv_bytes())
    conn.send({"pickles": (1, 2.5, None)})
    print("a pickle echoed back:", conn.recv())
' "$address"

# The listener leaves on its own after its one client; bounded wait all the same.
for _ in $(seq 100); do
  kill -0 "$listener_pid" 2>/dev/null || break
  sleep 0.1
done
wait "$listener_pid"
listener_pid=""
echo
echo "--- what mpconn listen printed (one line per message; stdout)"
tail -n +2 "$work/out"
echo "--- and reported (stderr)"
cat "$work/err"
if [ -e "$address" ]; then
  echo "demo: $address was left behind" >&2
  exit 1
fi
echo "--- the socket file is gone"

# A pickle round trip: the Rust client sends [1, 2, 3] pickled (CPython's
# Connection.send) to a CPython Listener, which appends 4 and sends it back.
echo
echo "\$ $(basename "$python") -c 'Listener(path, authkey=...)'   # recv() a value, send() value + [4]"
echo "\$ mpconn send PATH --pickle '[1, 2, 3]' --echo"
"$python" -c '
import os, sys
from multiprocessing.connection import Listener
with Listener(sys.argv[1], authkey=os.environb[b"MPCONN_AUTHKEY"]) as listener:
    with listener.accept() as conn:
        value = conn.recv()
        print("CPython received:", value, flush=True)
        conn.send(value + [4])
' "$work/cpython.sock" &
listener_pid=$!
for _ in $(seq 100); do
  [ -S "$work/cpython.sock" ] && break
  sleep 0.1
done
reply="$("$mpconn" send "$work/cpython.sock" --pickle '[1, 2, 3]' --echo)"
wait "$listener_pid"
listener_pid=""
echo "mpconn got back: $reply"
echo "--- all stopped"
