//! mpconn-tokio on Windows, under Wine (.ci/run): AF_INET with and without an authkey,
//! right and wrong keys, messages of 0 B to 1 MiB, a silent client that does not stall
//! the listener, and AF_PIPE refused with an error that says so (tokio's named pipes read through a buffer of mio's that hides
//! where a longer message ends; mpconn-std has AF_PIPE).

#![cfg(windows)]

use std::time::{Duration, Instant};

use mpconn_tokio::{Address, Client, Family, Listener, ListenerOptions};

const KEY: &[u8] = b"windows key";

fn sizes() -> Vec<Vec<u8>> {
    [0, 1, 64 * 1024, 1024 * 1024]
        .iter()
        .map(|&n| (0..n).map(|i| (i % 251) as u8).collect())
        .collect()
}

/// A tokio listener with `key` that echoes every message of every client.
async fn echo_listener(key: Option<&'static [u8]>) -> Address {
    let mut listener = Listener::bind(Some("127.0.0.1:0".parse().unwrap()), key)
        .await
        .unwrap();
    let address = listener.address().clone();
    tokio::spawn(async move {
        while let Ok(mut conn) = listener.accept().await {
            tokio::spawn(async move {
                while let Ok(message) = conn.recv_bytes(None).await {
                    if conn.send_bytes(&message).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    address
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn af_inet_with_and_without_a_key_carries_every_size_both_ways() {
    for key in [Some(KEY), None] {
        let address = echo_listener(key).await;
        let mut conn = Client::connect(&address, key).await.unwrap();
        for message in sizes() {
            conn.send_bytes(&message).await.unwrap();
            let echoed = conn.recv_bytes(None).await.unwrap();
            assert!(
                echoed == message,
                "key {}: {} bytes",
                key.is_some(),
                message.len()
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_key_fails_both_sides_and_a_silent_client_stalls_nobody() {
    let mut listener = Listener::bind(Some("127.0.0.1:0".parse().unwrap()), Some(KEY))
        .await
        .unwrap();
    let address = listener.address().clone();
    let silent = tokio::net::TcpStream::connect(address.to_socket_addrs().unwrap()[0])
        .await
        .unwrap();
    let start = Instant::now();
    let wrong = Client::connect(&address, Some(b"wrong")).await.unwrap_err();
    assert!(wrong.is_authentication(), "{wrong}");
    let refused = listener.accept().await.unwrap_err();
    assert!(refused.is_authentication(), "{refused}");
    let client = tokio::spawn({
        let address = address.clone();
        async move {
            let mut conn = Client::connect(&address, Some(KEY)).await.unwrap();
            conn.send_bytes(b"served").await.unwrap();
        }
    });
    let mut served = listener.accept().await.unwrap();
    assert_eq!(served.recv_bytes(None).await.unwrap(), b"served");
    client.await.unwrap();
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
    drop(silent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_address_is_af_inet_and_af_pipe_is_refused_by_name() {
    let listener = Listener::bind(None, None).await.unwrap();
    assert_eq!(listener.address().family(), Family::Inet);
    let pipe = Address::fresh_pipe().unwrap();
    let error = Client::connect(&pipe, None).await.unwrap_err();
    let shown = error.to_string();
    assert!(
        shown.contains(pipe.pipe_name().unwrap()) && shown.contains("AF_PIPE"),
        "{shown}"
    );
    let options = ListenerOptions::new().family(Family::Pipe);
    let error = Listener::bind_with(None, &options).await.unwrap_err();
    assert!(error.to_string().contains("AF_PIPE"), "{error}");
}
