//! The mio adapter against real CPython 2.7, 3.11 and 3.13: the `echo_loop` example
//! serving CPython clients (TCP, the default Unix socket, an abstract name), and the mio
//! Client calling CPython listeners, with the right and the wrong key both ways.

#[allow(dead_code)] // its main() is for `cargo run --example`, not for this test
#[path = "../examples/echo_loop.rs"]
mod echo_loop;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use echo_loop::{EchoLoop, Note};
use mpconn_mio::mio::{Events, Interest, Poll, Token};
use mpconn_mio::{Address, Client, Connection, Error, Listener};
use mpconn_test_support::async_peer::{self, greeting, hex, payload, KEY, SIZES, WRONG_KEY};
use mpconn_test_support::Python;

/// How long any one message may take to arrive.
const MESSAGE_LIMIT: Duration = Duration::from_secs(30);

/// An echo loop in a thread of its own, until `stop`; returns what it noted.
struct Server {
    address: Address,
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Vec<Note>>,
}

impl Server {
    fn start(address: Option<Address>) -> Server {
        let listener = Listener::bind(address, Some(KEY)).unwrap();
        let address = listener.address().clone();
        let stop = Arc::new(AtomicBool::new(false));
        let thread = std::thread::spawn({
            let stop = stop.clone();
            move || {
                let mut server = EchoLoop::new(listener, Duration::from_secs(20)).unwrap();
                let mut notes = Vec::new();
                server
                    .run_until(
                        Duration::from_millis(20),
                        || stop.load(Ordering::Relaxed),
                        |note| notes.push(note),
                    )
                    .unwrap();
                notes
            }
        });
        Server {
            address,
            stop,
            thread,
        }
    }

    /// Stops the loop; returns (handshakes that passed, clients dropped for a failed
    /// authentication, clients dropped for anything else).
    fn stop(self) -> (usize, usize, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        let notes = self.thread.join().unwrap();
        let mut established = 0;
        let mut refused = 0;
        let mut other = Vec::new();
        for note in notes {
            match note {
                Note::Established(_) => established += 1,
                // The listener names the client it refused, then says why.
                Note::Dropped(_, why)
                    if why.starts_with("authentication handshake with ")
                        && why.contains(": authentication failed") =>
                {
                    refused += 1
                }
                Note::Dropped(_, why) => other.push(why),
                Note::AcceptFailed(why) => other.push(why),
                Note::Accepted(..) | Note::Closed(_) => {}
            }
        }
        (established, refused, other)
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

/// Waits (never blocking in the connection itself) until one whole message is in.
fn next_message(poll: &mut Poll, connection: &mut Connection) -> Result<Vec<u8>, Error> {
    let deadline = Instant::now() + MESSAGE_LIMIT;
    let mut events = Events::with_capacity(8);
    loop {
        connection.flush()?;
        if let Some(message) = connection.recv_bytes(None)? {
            return Ok(message);
        }
        let left = deadline
            .checked_duration_since(Instant::now())
            .expect("no message in time");
        poll.poll(&mut events, Some(left))?;
    }
}

fn registered(mut connection: Connection) -> (Poll, Connection) {
    let poll = Poll::new().unwrap();
    poll.registry()
        .register(
            &mut connection,
            Token(0),
            Interest::READABLE | Interest::WRITABLE,
        )
        .unwrap();
    (poll, connection)
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

#[test]
fn mio_client_is_served_by_cpython_listeners_and_a_wrong_key_is_refused() {
    for python in async_peer::pythons() {
        let listeners = format!("tcp=tcp:{key},unix=unix:{key}", key = hex(KEY));
        let cases = "tcp:good:echo,tcp:bad,unix:bad,unix:good:echo";
        let mut peer = async_peer::spawn(&python, &["listen", &listeners, cases]);
        let addresses = peer.addresses();
        let tcp: Address = addresses["tcp"].parse().unwrap();
        let unix: Address = addresses["unix"].parse().unwrap();

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
