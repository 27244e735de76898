//! The mio adapter against real CPython 2.7, 3.11 and 3.13: the `echo_loop` example
//! serving CPython clients (TCP, the default Unix socket, an abstract name), and the mio
//! Client calling CPython listeners, with the right and the wrong key both ways, and
//! pickled objects to and fro (`recv_value` / `send_value`).

mod common;
#[allow(dead_code)] // its main() is for `cargo run --example`, not for this test
#[path = "../examples/echo_loop.rs"]
mod echo_loop;

use common::{next, next_message, registered, tally, EchoThread, MESSAGE_LIMIT};
use mpconn_mio::mio::{Events, Poll};
use mpconn_mio::pickle::{parse_literal, Protocol, Value};
use mpconn_mio::{Address, Client, Connection, Error, Listener};
use mpconn_test_support::async_peer::{
    self, greeting, hex, payload, KEY, OBJECTS, SIZES, WRONG_KEY,
};
use mpconn_test_support::Python;

/// An echo loop in a thread of its own, until `stop`; returns what it noted.
struct Server {
    address: Address,
    thread: EchoThread,
}

impl Server {
    fn start(address: Option<Address>) -> Server {
        let listener = Listener::bind(address, Some(KEY)).unwrap();
        Server {
            address: listener.address().clone(),
            thread: EchoThread::start(listener),
        }
    }

    /// Stops the loop; returns (handshakes that passed, clients dropped for a failed
    /// authentication, clients dropped for anything else).
    fn stop(self) -> (usize, usize, Vec<String>) {
        tally(self.thread.stop())
    }
}

#[test]
fn cpython_clients_are_served_by_the_mio_echo_loop_and_wrong_keys_are_refused() {
    for python in async_peer::pythons() {
        let name = format!(
            "mpconn-mio-test-{}-{}.{}",
            std::process::id(),
            python.version.0,
            python.version.1
        );
        let tcp = Server::start(Some(Address::tcp("127.0.0.1", 0)));
        let unix = Server::start(None);
        let abstract_ = Server::start(Some(Address::abstract_name(&name)));
        let targets = format!(
            "tcp={},unix={},abstract={}",
            tcp.address, unix.address, abstract_.address
        );
        let (key, wrong) = (hex(KEY), hex(WRONG_KEY));
        let cases = format!(
            "tcp:{key}:good:drive,tcp:{wrong}:bad,unix:{wrong}:bad,unix:{key}:good:drive,\
             abstract:{key}:good:drive"
        );
        let peer = async_peer::spawn(&python, &["connect", &targets, &cases]);
        peer.expect_cases(&["ok", "auth-error", "auth-error", "ok", "ok"]);

        let label = python.label();
        assert_eq!(tcp.stop(), (1, 1, vec![]), "{label}: TCP");
        assert_eq!(unix.stop(), (1, 1, vec![]), "{label}: Unix");
        assert_eq!(abstract_.stop(), (1, 0, vec![]), "{label}: abstract");
    }
}

/// Waits until one whole message is in, unpickled as a dynamic value.
fn next_value(poll: &mut Poll, connection: &mut Connection) -> Result<Value, Error> {
    next(poll, connection, Connection::recv_value)
}

/// The Rust side of a session with a peer in the "echo" role.
fn drive(connection: Connection, python: &Python) {
    let label = python.label();
    let (mut poll, mut connection) = registered(connection);
    let hello = next_message(&mut poll, &mut connection).unwrap();
    assert_eq!(hello, greeting(python), "{label}: greeting");
    for n in SIZES {
        connection.send_bytes(&payload(n)).unwrap();
        let echo = next_message(&mut poll, &mut connection).unwrap();
        assert!(echo == payload(n), "{label}: the {n}-byte echo differs");
    }
    // Dropping the connection closes it; the peer's EOFError ends its loop.
}

/// The Rust side of a session with a peer in the "pickles" role: each object read with
/// `recv_value` as what it is, and sent back with `send_value` in a protocol that
/// version reads (2 for Python 2.7).
fn echo_pickles(connection: Connection, python: &Python) {
    let label = python.label();
    let protocol = match python.version.0 {
        2 => Protocol::V2,
        _ => Protocol::default(),
    };
    let (mut poll, mut connection) = registered(connection);
    for text in OBJECTS {
        let expected = parse_literal(text).unwrap();
        let got = next_value(&mut poll, &mut connection).unwrap();
        assert_eq!(got, expected, "{label}: {got} for {text}");
        connection.send_value_with(&got, protocol).unwrap();
    }
    while connection.wants_write() {
        let mut events = Events::with_capacity(8);
        poll.poll(&mut events, Some(MESSAGE_LIMIT)).unwrap();
        connection.flush().unwrap();
    }
}

#[test]
fn cpython_objects_round_trip_through_the_mio_client() {
    for python in async_peer::pythons() {
        let cases = "tcp:good:pickles,unix:good:pickles";
        let (peer, addresses) = async_peer::listen_tcp_and_unix(&python, cases);
        for address in addresses {
            let address: Address = address.parse().unwrap();
            echo_pickles(Client::connect(&address, Some(KEY)).unwrap(), &python);
        }
        peer.expect_cases(&["ok", "ok"]);
    }
}

#[test]
fn mio_client_is_served_by_cpython_listeners_and_a_wrong_key_is_refused() {
    for python in async_peer::pythons() {
        let (peer, [tcp, unix]) =
            async_peer::listen_tcp_and_unix(&python, async_peer::GOOD_BAD_BAD_GOOD);
        let [tcp, unix]: [Address; 2] = [tcp, unix].map(|a| a.parse().unwrap());

        drive(Client::connect(&tcp, Some(KEY)).unwrap(), &python);
        for address in [&tcp, &unix] {
            let (mut poll, mut connection) =
                registered(Client::connect(address, Some(WRONG_KEY)).unwrap());
            let refused = next_message(&mut poll, &mut connection).unwrap_err();
            assert!(refused.is_authentication(), "{}: {refused}", python.label());
        }
        drive(Client::connect(&unix, Some(KEY)).unwrap(), &python);

        peer.expect_cases(&["ok", "auth-error", "auth-error", "ok"]);
    }
}
