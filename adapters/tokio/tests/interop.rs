//! The tokio adapter against real CPython 2.7, 3.11 and 3.13: Listener and Client both
//! ways with the right and the wrong key, `Framed` over TCP and Unix sockets, and
//! pickled objects both ways (`recv_value` / `send_value`).
//!
//! One Python process per (version, direction); async_peer.py runs the cases in order
//! and reports each one, and the Rust side checks its own view of every case too.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use mpconn_test_support::async_peer::{
    self, greeting, hex, payload, KEY, OBJECTS, SIZES, WRONG_KEY,
};
use mpconn_test_support::Python;
use mpconn_tokio::pickle::{parse_literal, Protocol};
use mpconn_tokio::{Address, Client, Connection, FrameCodec, HandshakeConfig, Listener};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::codec::Framed;

/// A bound on each whole test, so that nothing here can hang CI.
const TEST_LIMIT: Duration = Duration::from_secs(120);

async fn within<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(TEST_LIMIT, future)
        .await
        .expect("the test did not finish in time")
}

/// The Rust side of a session with a peer in the "echo" role: its greeting first, then
/// every size out and back, then a clean close (the peer's EOFError ends its loop).
async fn drive<S: AsyncRead + AsyncWrite + Unpin>(mut connection: Connection<S>, python: &Python) {
    let label = python.label();
    let hello = connection.recv_bytes(None).await.unwrap();
    assert_eq!(hello, greeting(python), "{label}: greeting");
    for n in SIZES {
        connection.send_bytes(&payload(n)).await.unwrap();
        let echo = connection.recv_bytes(None).await.unwrap();
        assert!(echo == payload(n), "{label}: the {n}-byte echo differs");
    }
    connection.close().await.unwrap();
}

/// The Rust side of a session with a peer in the "pickles" role: each object read with
/// `recv_value` as what it is, and sent back with `send_value` in a protocol that
/// version reads (2 for Python 2.7).
async fn echo_pickles<S: AsyncRead + AsyncWrite + Unpin>(
    mut connection: Connection<S>,
    python: &Python,
) {
    let label = python.label();
    let protocol = match python.version.0 {
        2 => Protocol::V2,
        _ => Protocol::default(),
    };
    for text in OBJECTS {
        let expected = parse_literal(text).unwrap();
        let got = connection.recv_value().await.unwrap();
        assert_eq!(got, expected, "{label}: {got} for {text}");
        connection.send_value_with(&got, protocol).await.unwrap();
    }
    connection.close().await.unwrap();
}

/// A listener on a fresh loopback port that asks for [`KEY`].
async fn keyed_tcp_listener() -> Listener {
    let address = Address::tcp("127.0.0.1", 0);
    Listener::bind(Some(address), Some(KEY)).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cpython_objects_round_trip_through_the_tokio_listener_and_client() {
    within(async {
        for python in async_peer::pythons() {
            // CPython's clients send to our listener...
            let mut tcp = keyed_tcp_listener().await;
            let targets = format!("tcp={}", tcp.address());
            let cases = format!("tcp:{}:good:pickles", hex(KEY));
            let peer = async_peer::spawn(&python, &["connect", &targets, &cases]);
            echo_pickles(tcp.accept().await.unwrap(), &python).await;
            peer.expect_cases(&["ok"]);

            // ... and CPython's listeners to our client.
            let listeners = format!("unix=unix:{}", hex(KEY));
            let mut peer = async_peer::spawn(&python, &["listen", &listeners, "unix:good:pickles"]);
            let unix: Address = peer.addresses()["unix"].parse().unwrap();
            echo_pickles(Client::connect(&unix, Some(KEY)).await.unwrap(), &python).await;
            peer.expect_cases(&["ok"]);
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cpython_clients_are_served_by_the_tokio_listener_and_wrong_keys_are_refused() {
    within(async {
        for python in async_peer::pythons() {
            let mut tcp = keyed_tcp_listener().await;
            let mut unix = Listener::bind(None, Some(KEY)).await.unwrap();
            let name = format!(
                "mpconn-tokio-test-{}-{}.{}",
                std::process::id(),
                python.version.0,
                python.version.1
            );
            let mut abstract_ = Listener::bind(Some(Address::abstract_name(&name)), Some(KEY))
                .await
                .unwrap();
            let targets = format!(
                "tcp={},unix={},abstract={}",
                tcp.address(),
                unix.address(),
                abstract_.address()
            );
            let (key, wrong) = (hex(KEY), hex(WRONG_KEY));
            let cases = format!(
                "tcp:{key}:good:echo,tcp:{wrong}:bad,unix:{wrong}:bad,unix:{key}:good:echo,\
                 abstract:{key}:good:echo"
            );
            let peer = async_peer::spawn(&python, &["connect", &targets, &cases]);

            drive(tcp.accept().await.unwrap(), &python).await;
            let refused = tcp.accept().await.unwrap_err();
            assert!(refused.is_authentication(), "{}: {refused}", python.label());
            assert!(matches!(tcp.last_accepted(), Some(Address::Tcp { .. })));
            let refused = unix.accept().await.unwrap_err();
            assert!(refused.is_authentication(), "{}: {refused}", python.label());
            drive(unix.accept().await.unwrap(), &python).await;
            drive(abstract_.accept().await.unwrap(), &python).await;

            peer.expect_cases(&["ok", "auth-error", "auth-error", "ok", "ok"]);
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_client_is_served_by_cpython_listeners_and_a_wrong_key_is_refused() {
    within(async {
        for python in async_peer::pythons() {
            let (peer, [tcp, unix]) =
                async_peer::listen_tcp_and_unix(&python, async_peer::GOOD_BAD_BAD_GOOD);
            let [tcp, unix]: [Address; 2] = [tcp, unix].map(|a| a.parse().unwrap());

            drive(Client::connect(&tcp, Some(KEY)).await.unwrap(), &python).await;
            for address in [&tcp, &unix] {
                let refused = Client::connect(address, Some(WRONG_KEY)).await.unwrap_err();
                assert!(refused.is_authentication(), "{}: {refused}", python.label());
            }
            drive(Client::connect(&unix, Some(KEY)).await.unwrap(), &python).await;

            peer.expect_cases(&["ok", "auth-error", "auth-error", "ok"]);
        }
    })
    .await
}

/// The same exchange as [`drive`], through `Framed`'s `Stream` and `Sink`.
async fn drive_framed<S: AsyncRead + AsyncWrite + Unpin>(
    mut framed: Framed<S, FrameCodec>,
    python: &Python,
) {
    let label = python.label();
    let hello = framed.next().await.expect("a greeting").unwrap();
    assert_eq!(hello, greeting(python), "{label}: greeting");
    for n in SIZES {
        framed.send(&payload(n)[..]).await.unwrap();
        let echo = framed.next().await.expect("an echo").unwrap();
        assert!(echo == payload(n), "{label}: the {n}-byte echo differs");
    }
    framed.close().await.unwrap(); // shuts down the write side: the peer sees EOF
    assert!(
        framed.next().await.is_none(),
        "{label}: nothing after the echoes"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn framed_codec_round_trips_with_cpython_over_tcp_and_unix_sockets() {
    within(async {
        for python in async_peer::pythons() {
            // TCP without a key: Framed straight on a TcpStream. Unix with a key: the
            // handshake through Connection, then into_framed.
            let listeners = format!("tcp=tcp:none,unix=unix:{}", hex(KEY));
            let cases = "tcp:good:echo,unix:good:echo";
            let mut peer = async_peer::spawn(&python, &["listen", &listeners, cases]);
            let addresses = peer.addresses();

            let tcp = addresses["tcp"].parse::<std::net::SocketAddr>().unwrap();
            let stream = tokio::net::TcpStream::connect(tcp).await.unwrap();
            drive_framed(Framed::new(stream, FrameCodec::new()), &python).await;

            let stream = tokio::net::UnixStream::connect(&addresses["unix"])
                .await
                .unwrap();
            let config = HandshakeConfig::default();
            let connection = Connection::client(stream, Some(KEY), &config)
                .await
                .unwrap();
            let framed = connection.into_framed().expect("no message is half read");
            drive_framed(framed, &python).await;

            peer.expect_cases(&["ok", "ok"]);
        }
    })
    .await
}
