//! The interop matrix of mpconn-std against every CPython on the machine (2.7, 3.6 to
//! 3.13): Rust `Listener` <- CPython `Client` and CPython `Listener` <- Rust `Client`,
//! over TCP, Unix sockets and (Linux) abstract names; without a key, with the right
//! key and with a wrong one (both sides must see the failure, and a Rust listener
//! must then serve the next client); messages of 0 B, 16384 B, 16385 B and 1 MiB each
//! way; pickled objects each way (CPython's default protocol, and 5 from 3.8 on;
//! back with protocol 2 for Python 2.7, 3 and 2 for Python 3);
//! a batch of messages flushed in one write; and EOF at the end.
//!
//! One CPython process per (version, direction, family) runs every case over several
//! connections (tests/python/std_peer.py); its side of each conversation is in
//! `suite()` there, ours in [`serve_suite`] here. Under `CI=true` a missing
//! interpreter is a failure (tests/support).

mod common;

use common::Python;
use common::{accept, check, pattern, script, Failures, Peer, Program, LIMIT};
use mpconn_std::pickle::{parse_literal, Protocol, Value};
use mpconn_std::{Address, Client, ClientOptions, Connection, Listener, ListenerOptions};

const SIZES: [usize; 4] = [0, 16384, 16385, 1 << 20];
const BATCH: usize = 50;
const KEY: &[u8] = b"interop key \x00\xff";

#[derive(Clone, Copy, Debug)]
enum Net {
    Tcp,
    Unix,
    Abstract,
}

/// `OBJECTS` in std_peer.py, in order, as Python's `repr` writes them.
const OBJECTS: [&str; 18] = [
    "None",
    "True",
    "False",
    "0",
    "-7",
    "1099511627776",
    "1.5",
    "'text \u{e9}'",
    "b'raw\\x00bytes'",
    "[1, 'two', None]",
    "(1, 'a', 2.5)",
    "{'k': [1, 2.5, None], 'n': 3}",
    "1267650600228229401496703205376",
    "-18446744073709551616",
    "{1, 2, 3}",
    "frozenset({'a'})",
    "bytearray(b'ba\\x00')",
    "{(1, 2): 'tuple key'}",
];

/// The values of `OBJECTS`, as our unpickler must read them from every CPython.
fn objects() -> Vec<Value> {
    OBJECTS
        .iter()
        .map(|text| parse_literal(text).unwrap_or_else(|e| panic!("{text}: {e}")))
        .collect()
}

/// The pickle protocols we answer with: Python 2.7 reads up to 2; Python 3 gets 3
/// (our default) and 2.
fn protocols(python: &Python) -> Vec<Protocol> {
    if python.version.0 == 2 {
        vec![Protocol::V2]
    } else {
        vec![Protocol::V3, Protocol::V2]
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Receives one pickle and checks it is `expected`; errors name `what` it is, if
/// anything.
fn recv_expected(conn: &mut Connection, expected: &Value, what: &str) -> Result<(), String> {
    let (unpickling, prefix) = match what {
        "" => (String::new(), String::new()),
        what => (format!("{what} "), format!("{what}: ")),
    };
    let got = conn
        .recv_value()
        .map_err(|e| format!("unpickling {unpickling}{expected}: {e}"))?;
    check(got == *expected, || {
        format!("{prefix}expected {expected}, got {got}")
    })
}

/// Our side of `suite()` in std_peer.py: CPython speaks first every time.
fn serve_suite(conn: &mut Connection, python: &Python) -> Result<(), String> {
    conn.set_timeout(Some(LIMIT)).map_err(|e| e.to_string())?;
    for n in SIZES {
        let got = conn
            .recv_bytes(None)
            .map_err(|e| format!("receiving the {n}-byte message: {e}"))?;
        check(got == pattern(n, 1), || {
            format!("the {n}-byte message arrived wrong ({} bytes)", got.len())
        })?;
        conn.send_bytes(&pattern(n, 2))
            .map_err(|e| format!("sending {n} bytes: {e}"))?;
    }
    for expected in objects() {
        recv_expected(conn, &expected, "")?;
        for protocol in protocols(python) {
            conn.send_value_with(&expected, protocol)
                .map_err(|e| format!("pickling {expected}: {e}"))?;
        }
    }
    if python.has_long_frames() {
        // CPython 3.8+ also sends each object as a protocol 5 pickle (send_bytes).
        for expected in objects() {
            recv_expected(conn, &expected, "protocol 5")?;
        }
    }
    for i in 0..BATCH {
        conn.queue_bytes(format!("batch-{i}").as_bytes())
            .map_err(|e| e.to_string())?;
    }
    conn.flush()
        .map_err(|e| format!("flushing the batch: {e}"))?;
    let bye = conn.recv_bytes(None).map_err(|e| format!("bye: {e}"))?;
    check(bye == b"bye", || format!("expected bye, got {bye:?}"))?;
    expect_eof(conn)
}

fn ping(conn: &mut Connection) -> Result<(), String> {
    conn.set_timeout(Some(LIMIT)).map_err(|e| e.to_string())?;
    let got = conn.recv_bytes(None).map_err(|e| format!("ping: {e}"))?;
    check(got == b"again", || format!("expected again, got {got:?}"))?;
    conn.send_bytes(b"again-ack").map_err(|e| e.to_string())?;
    expect_eof(conn)
}

fn expect_eof(conn: &mut Connection) -> Result<(), String> {
    match conn.recv_bytes(None) {
        Err(e) if e.is_eof() => Ok(()),
        other => Err(format!("expected EOF after the peer closed, got {other:?}")),
    }
}

fn unique_name(tag: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("mpconn-std-test-{}-{tag}-{n}", std::process::id())
}

fn bind(net: Net, authkey: Option<&[u8]>) -> Listener {
    let options = ListenerOptions::new()
        .authkey(authkey)
        .handshake_timeout(Some(LIMIT));
    let address = match net {
        Net::Tcp => Some(Address::tcp("127.0.0.1", 0)),
        Net::Unix => None,
        Net::Abstract => Some(Address::abstract_name(unique_name("listener"))),
    };
    Listener::bind_with(address, &options).expect("bind on loopback")
}

/// Rust listeners (one without a key, one with) serve a CPython client.
fn rust_listener_case(python: &Python, net: Net) -> Result<(), String> {
    let mut nokey = bind(net, None);
    let mut keyed = bind(net, Some(KEY));
    let mut peer = Peer::spawn(
        python,
        Program::File(script("std_peer.py")),
        &[
            "client",
            &hex(KEY),
            &nokey.address().to_string(),
            &keyed.address().to_string(),
        ],
    );
    let ours = (|| -> Result<(), String> {
        let mut conn = accept(&mut nokey).map_err(|e| format!("accept (no key): {e}"))?;
        serve_suite(&mut conn, python).map_err(|e| format!("no key: {e}"))?;
        let mut conn = accept(&mut keyed).map_err(|e| format!("accept (key): {e}"))?;
        serve_suite(&mut conn, python).map_err(|e| format!("right key: {e}"))?;
        match accept(&mut keyed) {
            Err(e) if e.is_authentication() => {}
            Err(e) => {
                return Err(format!(
                    "wrong key: expected an authentication error, got {e}"
                ))
            }
            Ok(_) => return Err("wrong key: the handshake succeeded".into()),
        }
        let mut conn = accept(&mut keyed).map_err(|e| format!("accept after the failure: {e}"))?;
        ping(&mut conn).map_err(|e| format!("after the failure: {e}"))
    })();
    finish(peer_after(ours, &mut peer), peer)
}

/// A Rust client talks to CPython listeners (one without a key, one with).
fn rust_client_case(python: &Python, net: Net) -> Result<(), String> {
    let family = match net {
        Net::Tcp => "AF_INET",
        Net::Unix => "AF_UNIX",
        Net::Abstract => "ABSTRACT",
    };
    let mut peer = Peer::spawn(
        python,
        Program::File(script("std_peer.py")),
        &["listen", &hex(KEY), family],
    );
    let ours = (|| -> Result<(), String> {
        let ready = peer.line()?;
        let mut words = ready.split(' ');
        let (Some("READY"), Some(nokey), Some(keyed)) = (words.next(), words.next(), words.next())
        else {
            return Err(format!("expected READY and two addresses, got {ready:?}"));
        };
        let nokey: Address = nokey.parse().map_err(|e| format!("{nokey}: {e}"))?;
        let keyed: Address = keyed.parse().map_err(|e| format!("{keyed}: {e}"))?;
        let options = ClientOptions::new().timeout(Some(LIMIT));
        let with_key = options.clone().authkey(Some(KEY));
        let mut conn =
            Client::connect_with(&nokey, &options).map_err(|e| format!("connect (no key): {e}"))?;
        serve_suite(&mut conn, python).map_err(|e| format!("no key: {e}"))?;
        let mut conn =
            Client::connect_with(&keyed, &with_key).map_err(|e| format!("connect (key): {e}"))?;
        serve_suite(&mut conn, python).map_err(|e| format!("right key: {e}"))?;
        match Client::connect_with(&keyed, &options.clone().authkey(Some(b"not the key"))) {
            Err(e) if e.is_authentication() => {}
            Err(e) => {
                return Err(format!(
                    "wrong key: expected an authentication error, got {e}"
                ))
            }
            Ok(_) => return Err("wrong key: the handshake succeeded".into()),
        }
        let mut conn = Client::connect_with(&keyed, &with_key)
            .map_err(|e| format!("connect after the failure: {e}"))?;
        ping(&mut conn).map_err(|e| format!("after the failure: {e}"))
    })();
    finish(peer_after(ours, &mut peer), peer)
}

/// On our failure, the peer is stopped at once rather than waited for.
fn peer_after(ours: Result<(), String>, peer: &mut Peer) -> Result<(), String> {
    if ours.is_err() {
        let _ = peer.process.child().kill();
    }
    ours
}

/// Combines our verdict with the peer's: it must also have seen the wrong key fail.
fn finish(ours: Result<(), String>, peer: Peer) -> Result<(), String> {
    let theirs = peer.finish();
    match (ours, theirs) {
        (Ok(()), Ok(lines)) => {
            check(
                lines.iter().any(|l| l.starts_with("wrong key refused")),
                || format!("CPython did not report the wrong key: {lines:?}"),
            )?;
            check(lines.last().map(String::as_str) == Some("OK"), || {
                format!("CPython did not finish: {lines:?}")
            })
        }
        (Ok(()), Err(theirs)) => Err(theirs),
        (Err(ours), Ok(_)) => Err(ours),
        (Err(ours), Err(theirs)) => Err(format!("{ours}\n{theirs}")),
    }
}

fn every_python(case: fn(&Python, Net) -> Result<(), String>, net: Net) {
    let mut failures = Failures::default();
    for python in common::pythons() {
        let label = format!("{} over {net:?}", python.label());
        failures.record(&label, case(&python, net));
    }
    failures.assert_none();
}

/// One test a case and address family, each over every CPython.
macro_rules! per_family {
    ($($test:ident: $case:ident over $net:ident;)*) => {$(
        #[test]
        fn $test() {
            every_python($case, Net::$net);
        }
    )*};
}

per_family! {
    rust_listener_serves_every_cpython_client_over_tcp: rust_listener_case over Tcp;
    rust_listener_serves_every_cpython_client_over_unix_sockets: rust_listener_case over Unix;
    rust_client_talks_to_every_cpython_listener_over_tcp: rust_client_case over Tcp;
    rust_client_talks_to_every_cpython_listener_over_unix_sockets: rust_client_case over Unix;
}

#[cfg(target_os = "linux")]
#[test]
fn abstract_names_work_both_ways_with_every_cpython() {
    let mut failures = Failures::default();
    for python in common::pythons() {
        let label = python.label();
        failures.record(
            &format!("{label}: Rust listener"),
            rust_listener_case(&python, Net::Abstract),
        );
        failures.record(
            &format!("{label}: CPython listener"),
            rust_client_case(&python, Net::Abstract),
        );
    }
    failures.assert_none();
}
