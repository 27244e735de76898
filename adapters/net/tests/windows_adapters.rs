//! The adapters against each other on Windows, Rust to Rust (run under Wine by .ci/run),
//! over `AF_INET`: the mio listener (driven by mio's `echo_loop` example) and client
//! against each other and against mpconn-std's, both ways, with and without an authkey, messages of 0 B to
//! 1 MiB, a wrong key failing both sides and the listener serving the next client, a
//! silent client that does not stall the listener, the pending limit renewing the
//! listener's registration; and tokio's listener and client against std's. `AF_PIPE` is refused by name: mio's `NamedPipe` cannot
//! keep CPython's message boundaries.

#![cfg(windows)]

// What mio's own tests drive its echo loop with (this test sits here, where every
// adapter is a dev-dependency, so that mpconn-mio's own tree holds no mpconn-std).
#[path = "../../mio/tests/common/mod.rs"]
mod common;
#[allow(dead_code)] // its main() is for `cargo run --example`, not for this test
#[path = "../../mio/examples/echo_loop.rs"]
mod echo_loop;

use std::io;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use common::{next_message, registered, tally, EchoThread};
use mpconn_mio::mio::Poll;
use mpconn_mio::{Address, Client, Error, Family, Listener, ListenerOptions};

const KEY: &[u8] = b"windows key";
/// A handshake timeout longer than any test here takes.
const LONG: Duration = Duration::from_secs(30);

/// Which adapter one end of a connection is.
#[derive(Debug, Clone, Copy)]
enum Adapter {
    Mio,
    Std,
}
use Adapter::{Mio, Std};

/// Every (listener, client) pairing with mio at one end at least.
const PAIRINGS: [(Adapter, Adapter); 3] = [(Mio, Mio), (Mio, Std), (Std, Mio)];

fn sizes() -> impl Iterator<Item = Vec<u8>> {
    [0, 1, 64 * 1024, 1024 * 1024]
        .into_iter()
        .map(|n| (0..n).map(|i| (i % 251) as u8).collect())
}

/// A listener of either adapter echoing every message back, in a thread of its own.
enum Server {
    Mio(EchoThread),
    /// std's listener accepting a given number of clients, each echoed in a thread of
    /// its own: the outcome of each accept.
    Std(JoinHandle<Vec<Result<(), Error>>>),
}

impl Server {
    /// Binds the default `AF_INET` address (localhost, any free port) with `options`.
    fn start(adapter: Adapter, options: ListenerOptions, clients: usize) -> (Address, Server) {
        let options = options.family(Family::Inet);
        match adapter {
            Mio => {
                let listener = Listener::bind_with(None, &options).unwrap();
                let address = listener.address().clone();
                let timeout = options.handshake_timeout.unwrap();
                let echo = EchoThread::with_handshake_timeout(listener, timeout);
                (address, Server::Mio(echo))
            }
            Std => {
                let mut listener = mpconn_std::Listener::bind_with(None, &options).unwrap();
                let address = listener.address().clone();
                let accepting = thread::spawn(move || {
                    let serve = |mut conn: mpconn_std::Connection| {
                        while let Ok(message) = conn.recv_bytes(None) {
                            if conn.send_bytes(&message).is_err() {
                                break;
                            }
                        }
                    };
                    let mut accept = || {
                        listener
                            .accept()
                            .map(|conn| drop(thread::spawn(move || serve(conn))))
                    };
                    (0..clients).map(|_| accept()).collect()
                });
                (address, Server::Std(accepting))
            }
        }
    }

    /// Stops serving: (handshakes that passed, clients refused for a failed
    /// authentication, every other failure). std's listener stops once it accepted
    /// its clients.
    fn stop(self) -> (usize, usize, Vec<String>) {
        match self {
            Server::Mio(echo) => tally(echo.stop()),
            Server::Std(accepting) => {
                let mut counts = (0, 0, Vec::new());
                for outcome in accepting.join().unwrap() {
                    match outcome {
                        Ok(()) => counts.0 += 1,
                        Err(error) if error.is_authentication() => counts.1 += 1,
                        Err(error) => counts.2.push(error.to_string()),
                    }
                }
                counts
            }
        }
    }
}

/// A client of either adapter, used blocking: the mio one waits on a `Poll` of its own.
enum Peer {
    Mio(Poll, mpconn_mio::Connection),
    Std(mpconn_std::Connection),
}

impl Peer {
    fn connect(adapter: Adapter, address: &Address, key: Option<&[u8]>) -> Result<Peer, Error> {
        Ok(match adapter {
            Mio => {
                let (poll, connection) = registered(Client::connect(address, key)?);
                Peer::Mio(poll, connection)
            }
            Std => Peer::Std(mpconn_std::Client::connect(address, key)?),
        })
    }

    /// Sends `message` and waits for the reply.
    fn echo(&mut self, message: &[u8]) -> Result<Vec<u8>, Error> {
        match self {
            Peer::Mio(poll, connection) => {
                connection.send_bytes(message)?;
                next_message(poll, connection)
            }
            Peer::Std(connection) => {
                connection.send_bytes(message)?;
                connection.recv_bytes(None)
            }
        }
    }
}

/// Listener options with `key` and a handshake timeout the echo loop keeps too.
fn options(key: Option<&[u8]>, handshake_timeout: Duration) -> ListenerOptions {
    ListenerOptions::new()
        .authkey(key)
        .handshake_timeout(Some(handshake_timeout))
}

#[test]
fn every_pairing_with_and_without_a_key_carries_every_size_both_ways() {
    for (listener, client) in PAIRINGS {
        for key in [Some(KEY), None] {
            let case = format!("{listener:?} listener, {client:?} client, key {key:?}");
            let (address, server) = Server::start(listener, options(key, LONG), 1);
            let mut peer = Peer::connect(client, &address, key).unwrap();
            for message in sizes() {
                let echoed = peer.echo(&message).unwrap();
                assert!(echoed == message, "{case}: {} bytes", message.len());
            }
            drop(peer);
            let (_, refused, other) = server.stop();
            assert_eq!((refused, other), (0, vec![]), "{case}");
        }
    }
}

#[test]
fn a_wrong_key_fails_both_sides_and_the_listener_serves_the_next_client() {
    for (listener, client) in PAIRINGS {
        let case = format!("{listener:?} listener, {client:?} client");
        let (address, server) = Server::start(listener, options(Some(KEY), LONG), 2);
        let wrong = Peer::connect(client, &address, Some(b"wrong key"))
            .and_then(|mut peer| peer.echo(b"refused"))
            .unwrap_err();
        assert!(wrong.is_authentication(), "{case}: {wrong}");
        let mut right = Peer::connect(client, &address, Some(KEY)).unwrap();
        assert_eq!(right.echo(b"after").unwrap(), b"after", "{case}");
        drop(right);
        assert_eq!(
            server.stop(),
            (1, 1, vec![]),
            "{case}: (served, refused, other)"
        );
    }
}

#[test]
fn a_silent_client_does_not_stall_the_mio_listener() {
    for client in [Mio, Std] {
        let (address, server) = Server::start(Mio, options(Some(KEY), LONG), 2);
        // Connects and says nothing, holding the connection open.
        let silent = std::net::TcpStream::connect(address.to_socket_addrs().unwrap()[0]).unwrap();
        let start = Instant::now();
        let mut honest = Peer::connect(client, &address, Some(KEY)).unwrap();
        assert_eq!(honest.echo(b"served").unwrap(), b"served");
        let waited = start.elapsed();
        assert!(
            waited < Duration::from_secs(10),
            "{client:?} client: the honest client waited {waited:?} behind the silent one"
        );
        drop((honest, silent));
        server.stop();
    }
}

#[test]
fn at_the_pending_limit_a_client_waits_in_the_queue_and_is_served_when_a_place_frees() {
    // One place, taken by a silent client for 300 ms: the honest client waits in the
    // listen queue, and the loop hears of it again only because the freed place renews
    // the listener's registration (mio's readiness is edge-triggered on Windows too).
    let timeout = Duration::from_millis(300);
    let (address, server) = Server::start(Mio, options(Some(KEY), timeout).pending_limit(1), 2);
    let silent = std::net::TcpStream::connect(address.to_socket_addrs().unwrap()[0]).unwrap();
    let mut honest = Peer::connect(Mio, &address, Some(KEY)).unwrap();
    assert_eq!(honest.echo(b"late").unwrap(), b"late");
    drop((honest, silent));
    let (served, refused, other) = server.stop();
    assert_eq!((served, refused), (1, 0));
    assert!(
        other.len() == 1 && other[0].starts_with("timed out during the authentication handshake"),
        "{other:?}"
    );
}

#[test]
fn af_pipe_is_refused_with_an_error_that_names_the_address() {
    let pipe = format!(r"\\.\pipe\mpconn-mio-{}", std::process::id());
    let address: Address = pipe.parse().unwrap();
    let as_pipe = ListenerOptions::new().family(Family::Pipe);
    let refusals = [
        (
            Listener::bind(Some(address.clone()), Some(KEY)).err(),
            format!("bind to {pipe}"),
        ),
        (
            Client::connect(&address, Some(KEY)).err(),
            format!("connect to {pipe}"),
        ),
        // CPython's default family on Windows, for a listener without an address.
        (Listener::bind(None, Some(KEY)).err(), "bind".to_string()),
        (
            Listener::bind_with(None, &as_pipe).err(),
            "bind".to_string(),
        ),
    ];
    for (error, during) in refusals {
        let error = error.expect("AF_PIPE refused");
        assert!(
            matches!(&error, Error::Io { source, .. } if source.kind() == io::ErrorKind::Unsupported),
            "{error:?}"
        );
        assert_eq!(
            error.to_string(),
            format!("{during}: AF_PIPE is not supported on this system")
        );
    }
}

#[test]
fn tokio_and_std_carry_every_size_both_ways() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // A tokio listener echoing, an std client.
    let address = runtime.block_on(async {
        let mut listener =
            mpconn_tokio::Listener::bind(Some("127.0.0.1:0".parse().unwrap()), Some(KEY))
                .await
                .unwrap();
        let address = listener.address().clone();
        tokio::spawn(async move {
            let mut conn = listener.accept().await.unwrap();
            while let Ok(message) = conn.recv_bytes(None).await {
                if conn.send_bytes(&message).await.is_err() {
                    break;
                }
            }
        });
        address
    });
    let client = thread::spawn(move || {
        let mut conn = mpconn_std::Client::connect(&address, Some(KEY)).unwrap();
        for message in sizes() {
            conn.send_bytes(&message).unwrap();
            assert!(
                conn.recv_bytes(None).unwrap() == message,
                "{} bytes",
                message.len()
            );
        }
    });
    // The runtime serves while the std client runs.
    runtime.block_on(async {
        while !client.is_finished() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    });
    client.join().unwrap();
    // An std listener echoing, a tokio client.
    let (address, server) = Server::start(Std, options(Some(KEY), LONG), 1);
    runtime.block_on(async {
        let mut conn = mpconn_tokio::Client::connect(&address, Some(KEY))
            .await
            .unwrap();
        for message in sizes() {
            conn.send_bytes(&message).await.unwrap();
            let echoed = conn.recv_bytes(None).await.unwrap();
            assert!(echoed == message, "{} bytes", message.len());
        }
    });
    let (passed, refused, other) = server.stop();
    assert_eq!((passed, refused, other), (1, 0, vec![]));
}
