//! `tests/python/async_peer.py`, the CPython side of the tokio and mio interop tests,
//! and the values both sides agree on.

use crate::peer::{Peer, Program};
use crate::python::{pythons_of, Python};

/// The script, built in so the tests do not depend on the working directory.
pub const SCRIPT: &str = include_str!("../../python/async_peer.py");

/// The interpreters the async adapters are tested against: the last legacy-only one
/// (2.7), the last one with MD5-only challenges (3.11) and a modern one (3.13).
pub const VERSIONS: [(u32, u32); 3] = [(2, 7), (3, 11), (3, 13)];

/// The sizes every good session exchanges: empty, tiny, CPython's header/payload
/// concatenation limit and one past it, and 1 MiB.
pub const SIZES: [usize; 5] = [0, 1, 16384, 16385, 1 << 20];

/// What a peer in the "pickles" role sends with `Connection.send`, in order, as
/// Python 3's `repr` writes each (`OBJECTS` in async_peer.py): the Rust side reads
/// each with `recv_value`, checks it against `mpconn::pickle::parse_literal` of this,
/// and sends it back with `send_value`.
pub const OBJECTS: [&str; 12] = [
    "None",
    "True",
    "-7",
    "1267650600228229401496703205376",
    "-0.0",
    "'text \u{e9}'",
    "b'raw\\x00bytes'",
    "bytearray(b'ba\\x00')",
    "[1, (2, 'a'), None]",
    "{'k': [1.5, None], 'n': {1, 2}}",
    "frozenset({3})",
    "{(1, 2): 'tuple key'}",
];

/// The key both sides share, and one that differs from it.
pub const KEY: &[u8] = b"async interop key";
/// A key that is not [`KEY`].
pub const WRONG_KEY: &[u8] = b"not the key";

/// The interpreters of [`VERSIONS`] found on this machine (all of them under CI).
pub fn pythons() -> Vec<Python> {
    pythons_of(&VERSIONS)
}

/// The same size-dependent pattern as `payload` in async_peer.py.
pub fn payload(n: usize) -> Vec<u8> {
    (0..n).map(|i| ((i + n % 251) % 251) as u8).collect()
}

/// Lower-case hex, as async_peer.py takes keys on its command line.
pub fn hex(key: &[u8]) -> String {
    key.iter().map(|b| format!("{b:02x}")).collect()
}

/// The greeting a peer in the "echo" role sends first.
pub fn greeting(python: &Python) -> Vec<u8> {
    format!("python {}.{}", python.version.0, python.version.1).into_bytes()
}

/// Starts async_peer.py under `python` with `args`.
pub fn spawn(python: &Python, args: &[&str]) -> Peer {
    Peer::spawn(python, Program::Code(SCRIPT), args)
}

/// The cases of a CPython listener that a client connects to with [`KEY`] over TCP,
/// then with [`WRONG_KEY`] over TCP and over Unix, then with [`KEY`] over Unix: it
/// reports `ok`, `auth-error`, `auth-error`, `ok`.
pub const GOOD_BAD_BAD_GOOD: &str = "tcp:good:echo,tcp:bad,unix:bad,unix:good:echo";

/// async_peer.py under `python` listening with [`KEY`] on a TCP and a Unix address and
/// playing `cases`: the peer and its addresses, TCP's first.
pub fn listen_tcp_and_unix(python: &Python, cases: &str) -> (Peer, [String; 2]) {
    let listeners = format!("tcp=tcp:{key},unix=unix:{key}", key = hex(KEY));
    let mut peer = spawn(python, &["listen", &listeners, cases]);
    let mut addresses = peer.addresses();
    let [tcp, unix] = ["tcp", "unix"].map(|name| addresses.remove(name).expect(name));
    (peer, [tcp, unix])
}
