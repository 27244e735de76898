//! The adapters against each other on Windows, Rust to Rust (run under Wine by .ci/run):
//! every pairing of the mio listener (driven by mio's `echo_loop` example), std's and
//! tokio's with each one's client, over `AF_INET` and `AF_PIPE` (named pipes), with and
//! without an authkey, messages of 0 B to 1 MiB (past a pipe's buffer: read on through
//! `ERROR_MORE_DATA`), a wrong key failing both sides and the listener serving the next
//! client, a silent client that stalls no listener, and mio's pending limit renewing the
//! listener's registration. Each adapter's pipe messages are also read and written raw,
//! against CPython's `PipeConnection` format (one message per frame, no header): no
//! CPython for Windows runs here, so the format is pinned this way.

#![cfg(windows)]

// What mio's own tests drive its echo loop with (this test sits here, where every
// adapter is a dev-dependency, so that mpconn-mio's own tree holds no mpconn-std).
#[path = "../../mio/tests/common/mod.rs"]
mod common;
#[allow(dead_code)] // its main() is for `cargo run --example`, not for this test
#[path = "../../mio/examples/echo_loop.rs"]
mod echo_loop;

use std::sync::OnceLock;
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
    Tokio,
}
use Adapter::{Mio, Std, Tokio};

const ADAPTERS: [Adapter; 3] = [Mio, Std, Tokio];
const FAMILIES: [Family; 2] = [Family::Inet, Family::Pipe];

/// Every (family, listener, client), and how a failure names it.
fn cases() -> impl Iterator<Item = (Family, Adapter, Adapter, String)> {
    FAMILIES.into_iter().flat_map(|family| {
        ADAPTERS.into_iter().flat_map(move |listener| {
            ADAPTERS.map(|client| {
                let case = format!("{family}: {listener:?} listener, {client:?} client");
                (family, listener, client, case)
            })
        })
    })
}

/// The runtime of every tokio listener and client here.
fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
    })
}

fn sizes() -> impl Iterator<Item = Vec<u8>> {
    [0, 1, 64 * 1024, 1024 * 1024]
        .into_iter()
        .map(|n| (0..n).map(|i| (i % 251) as u8).collect())
}

/// A listener of any adapter echoing every message back.
enum Server {
    Mio(EchoThread),
    /// std's listener accepting a given number of clients, each echoed in a thread of
    /// its own: the outcome of each accept.
    Std(JoinHandle<Vec<Result<(), Error>>>),
    /// tokio's, the same in tasks.
    Tokio(tokio::task::JoinHandle<Vec<Result<(), Error>>>),
}

impl Server {
    /// Binds the default address of `family` (for `AF_INET` localhost, any free port;
    /// for `AF_PIPE` a fresh pipe) with `options`.
    fn start(
        adapter: Adapter,
        family: Family,
        options: ListenerOptions,
        clients: usize,
    ) -> (Address, Server) {
        let options = options.family(family);
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
            Tokio => runtime().block_on(async move {
                let mut listener = mpconn_tokio::Listener::bind_with(None, &options)
                    .await
                    .unwrap();
                let address = listener.address().clone();
                let accepting = tokio::spawn(async move {
                    let mut outcomes = Vec::new();
                    for _ in 0..clients {
                        let accepted = listener.accept().await.map(|mut conn| {
                            drop(tokio::spawn(async move {
                                while let Ok(message) = conn.recv_bytes(None).await {
                                    if conn.send_bytes(&message).await.is_err() {
                                        break;
                                    }
                                }
                            }))
                        });
                        outcomes.push(accepted);
                    }
                    outcomes
                });
                (address, Server::Tokio(accepting))
            }),
        }
    }

    /// Stops serving: (handshakes that passed, clients refused for a failed
    /// authentication, every other failure). std's and tokio's listeners stop once
    /// they accepted their clients.
    fn stop(self) -> (usize, usize, Vec<String>) {
        let outcomes = match self {
            Server::Mio(echo) => return tally(echo.stop()),
            Server::Std(accepting) => accepting.join().unwrap(),
            Server::Tokio(accepting) => runtime().block_on(accepting).unwrap(),
        };
        let mut counts = (0, 0, Vec::new());
        for outcome in outcomes {
            match outcome {
                Ok(()) => counts.0 += 1,
                Err(error) if error.is_authentication() => counts.1 += 1,
                Err(error) => counts.2.push(error.to_string()),
            }
        }
        counts
    }
}

/// A client of any adapter, used blocking: the mio one waits on a `Poll` of its own,
/// the tokio one on the shared runtime.
#[allow(clippy::large_enum_variant)] // a handful of them, in a test
enum Peer {
    Mio(Poll, mpconn_mio::Connection),
    Std(mpconn_std::Connection),
    Tokio(mpconn_tokio::Connection),
}

impl Peer {
    fn connect(adapter: Adapter, address: &Address, key: Option<&[u8]>) -> Result<Peer, Error> {
        Ok(match adapter {
            Mio => {
                let (poll, connection) = registered(Client::connect(address, key)?);
                Peer::Mio(poll, connection)
            }
            Std => Peer::Std(mpconn_std::Client::connect(address, key)?),
            Tokio => Peer::Tokio(runtime().block_on(mpconn_tokio::Client::connect(address, key))?),
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
            Peer::Tokio(connection) => runtime().block_on(async {
                connection.send_bytes(message).await?;
                connection.recv_bytes(None).await
            }),
        }
    }
}

/// A client of `address` that connects and says nothing, holding the connection open.
fn silent_client(address: &Address) -> Box<dyn Send> {
    match address.pipe_name() {
        Some(name) => {
            let deadline = Instant::now() + Duration::from_secs(20);
            Box::new(mpconn_net::pipe::PipeStream::connect(name, Some(deadline)).unwrap())
        }
        None => {
            Box::new(std::net::TcpStream::connect(address.to_socket_addrs().unwrap()[0]).unwrap())
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
fn every_pairing_over_both_families_with_and_without_a_key_carries_every_size_both_ways() {
    for (family, listener, client, case) in cases() {
        for key in [Some(KEY), None] {
            let case = format!("{case}, key {key:?}");
            let (address, server) = Server::start(listener, family, options(key, LONG), 1);
            assert_eq!(address.family(), family, "{case}");
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
    for (family, listener, client, case) in cases() {
        let (address, server) = Server::start(listener, family, options(Some(KEY), LONG), 2);
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
fn a_silent_client_stalls_no_listener() {
    for (family, listener, client, case) in cases() {
        let (address, server) = Server::start(listener, family, options(Some(KEY), LONG), 1);
        let silent = silent_client(&address);
        let start = Instant::now();
        let mut honest = Peer::connect(client, &address, Some(KEY)).unwrap();
        assert_eq!(honest.echo(b"served").unwrap(), b"served", "{case}");
        let waited = start.elapsed();
        assert!(
            waited < Duration::from_secs(10),
            "{case}: the honest client waited {waited:?} behind the silent one"
        );
        drop(honest);
        assert_eq!(server.stop().0, 1, "{case}");
        drop(silent);
    }
}

#[test]
fn at_the_pending_limit_a_client_waits_and_is_served_when_a_place_frees() {
    // One place, taken by a silent client for 300 ms: the honest client waits (in the
    // listen queue, or on a free pipe instance), and the loop hears of it again only
    // because the freed place renews the listener's registration (mio's readiness is
    // edge-triggered on Windows too).
    for family in FAMILIES {
        let timeout = Duration::from_millis(300);
        let options = options(Some(KEY), timeout).pending_limit(1);
        let (address, server) = Server::start(Mio, family, options, 2);
        let silent = silent_client(&address);
        let mut honest = Peer::connect(Mio, &address, Some(KEY)).unwrap();
        assert_eq!(honest.echo(b"late").unwrap(), b"late", "{family}");
        drop((honest, silent));
        let (served, refused, other) = server.stop();
        assert_eq!((served, refused), (1, 0), "{family}");
        assert!(
            other.len() == 1
                && other[0].starts_with("timed out during the authentication handshake"),
            "{family}: {other:?}"
        );
    }
}

#[test]
fn the_default_family_of_every_listener_is_af_pipe_as_cpython_s_on_windows() {
    let mio = Listener::bind(None, Some(KEY)).unwrap();
    let std = mpconn_std::Listener::bind(None, Some(KEY)).unwrap();
    let tokio = runtime()
        .block_on(mpconn_tokio::Listener::bind(None, Some(KEY)))
        .unwrap();
    for address in [mio.address(), std.address(), tokio.address()] {
        assert_eq!(address.family(), Family::Pipe, "{address}");
        assert!(address.to_string().starts_with(r"\\.\pipe\"), "{address}");
    }
    drop((mio, std));
    runtime().block_on(async move { drop(tokio) });
}

#[test]
fn every_adapter_speaks_cpython_s_pipe_messages_one_per_frame_without_a_header() {
    use mpconn_net::pipe::{PipeListener, PipeStream, Read};
    fn soon() -> Option<Instant> {
        Some(Instant::now() + Duration::from_secs(20))
    }
    /// One whole pipe message, as the bytes it holds.
    fn read(pipe: &PipeStream) -> Vec<u8> {
        let mut buf = vec![0; 256];
        match pipe.read(&mut buf, soon()).unwrap() {
            Read::Message(n) => buf[..n].to_vec(),
            other => panic!("not one whole pipe message: {other:?}"),
        }
    }
    for adapter in ADAPTERS {
        // A keyed listener's first pipe message: `#CHALLENGE#{sha256}` and the 40-byte
        // nonce, nothing in front, as CPython's PipeConnection sends it.
        // Two clients: this raw one, then the next.
        let (address, server) = Server::start(adapter, Family::Pipe, options(Some(KEY), LONG), 2);
        let raw = PipeStream::connect(address.pipe_name().unwrap(), soon()).unwrap();
        let challenge = read(&raw);
        assert!(
            challenge.starts_with(b"#CHALLENGE#{sha256}"),
            "{adapter:?}: {challenge:?}"
        );
        assert_eq!(
            challenge.len(),
            b"#CHALLENGE#{sha256}".len() + 40,
            "{adapter:?}"
        );
        drop(raw);
        // The raw client never answered: its handshake ends, and the listener's next
        // client is served.
        let mut next = Peer::connect(Std, &address, Some(KEY)).unwrap();
        let echoed = next.echo(b"next").map_err(|e| format!("{adapter:?}: {e}"));
        assert_eq!(echoed.unwrap(), b"next");
        drop(next);
        let (served, _, _) = server.stop();
        assert_eq!(served, 1, "{adapter:?}");

        // Without a key: a message is the bytes themselves, one pipe message, both ways.
        let (address, server) = Server::start(adapter, Family::Pipe, options(None, LONG), 1);
        let raw = PipeStream::connect(address.pipe_name().unwrap(), soon()).unwrap();
        raw.write_message(b"raw bytes", soon()).unwrap();
        assert_eq!(read(&raw), b"raw bytes", "{adapter:?} listener");
        raw.write_message(b"", soon()).unwrap();
        assert_eq!(read(&raw), b"", "{adapter:?} listener");
        drop(raw);
        server.stop();

        // The adapter's client, to a raw pipe listener: each message one pipe message,
        // the empty one too.
        let name = Address::fresh_pipe().unwrap();
        let listener = PipeListener::bind(name.pipe_name().unwrap()).unwrap();
        let accepting = thread::spawn(move || {
            let raw = listener.accept(soon()).unwrap();
            let mut got = Vec::new();
            for _ in 0..2 {
                got.push(read(&raw));
                raw.write_message(b"reply", soon()).unwrap();
            }
            got
        });
        let mut peer = Peer::connect(adapter, &name, None).unwrap();
        assert_eq!(
            peer.echo(b"client bytes").unwrap(),
            b"reply",
            "{adapter:?} client"
        );
        assert_eq!(peer.echo(b"").unwrap(), b"reply", "{adapter:?} client");
        assert_eq!(
            accepting.join().unwrap(),
            [b"client bytes".to_vec(), Vec::new()],
            "{adapter:?} client"
        );
    }
}
