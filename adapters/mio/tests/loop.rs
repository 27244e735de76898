//! The mio `echo_loop` example under load: 50 clients at once, each pipelining messages
//! of mixed sizes (0 B to 1 MiB) while reading the echoes, all through one thread.
//! Every message must come back whole and in order, to the client that sent it.

mod common;
#[allow(dead_code)] // its main() is for `cargo run --example`, not for this test
#[path = "../examples/echo_loop.rs"]
mod echo_loop;

use std::time::Duration;

use common::EchoThread;
use echo_loop::Note;
use mpconn_tokio::{Address, Client, Error};

const KEY: &[u8] = b"fifty clients";
const CLIENTS: usize = 50;
/// Every client sends each size once, starting at a different place in the list, so
/// that at any moment the loop is moving big and small messages for different clients.
const SIZES: [usize; 11] = [
    0,
    1,
    7,
    100,
    4096,
    16384,
    16385,
    65535,
    65536,
    200_000,
    1 << 20,
];
const TEST_LIMIT: Duration = Duration::from_secs(120);

/// A message only this client, at this place in its sequence, sends.
fn message(client: usize, seq: usize, size: usize) -> Vec<u8> {
    let seed = client * 7 + seq * 131;
    (0..size).map(|i| ((i * 31 + seed) % 256) as u8).collect()
}

fn sizes_of(client: usize) -> impl Iterator<Item = (usize, usize)> {
    (0..SIZES.len()).map(move |seq| (seq, SIZES[(client + seq) % SIZES.len()]))
}

async fn client(address: Address, client: usize) -> Result<(), Error> {
    let connection = Client::connect(&address, Some(KEY)).await?;
    let (mut rx, mut tx) = connection.into_split();
    // The writer pipelines everything without waiting for an echo; the reader checks.
    let writer = tokio::spawn(async move {
        for (seq, size) in sizes_of(client) {
            tx.send_bytes(&message(client, seq, size)).await?;
        }
        Ok::<_, Error>(tx)
    });
    for (seq, size) in sizes_of(client) {
        let echo = rx.recv_bytes(None).await?;
        assert!(
            echo == message(client, seq, size),
            "client {client}: message {seq} ({size} bytes) came back as {} other bytes",
            echo.len()
        );
    }
    writer.await.unwrap()?.close().await
}

#[test]
fn fifty_clients_interleaving_mixed_sizes_get_every_message_back_whole_and_in_order() {
    fifty_clients(mpconn_mio::Address::tcp("127.0.0.1", 0));
}

/// The same over named pipes, where each client's halves read and write one pipe at
/// once, in two tasks, and every message is one pipe message.
#[cfg(windows)]
#[test]
fn fifty_pipe_clients_interleaving_mixed_sizes_get_every_message_back_whole_and_in_order() {
    fifty_clients(mpconn_mio::Address::fresh_pipe().unwrap());
}

fn fifty_clients(address: mpconn_mio::Address) {
    let listener = mpconn_mio::Listener::bind(Some(address), Some(KEY)).unwrap();
    let address = listener.address().clone();
    let server = EchoThread::start(listener);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let clients: Vec<_> = (0..CLIENTS)
            .map(|i| tokio::spawn(client(address.clone(), i)))
            .collect();
        tokio::time::timeout(TEST_LIMIT, async {
            for (i, handle) in clients.into_iter().enumerate() {
                if let Err(error) = handle.await.unwrap() {
                    panic!("client {i}: {error}");
                }
            }
        })
        .await
        .expect("the clients did not finish in time");
    });

    let notes = server.stop();
    let established = notes
        .iter()
        .filter(|note| matches!(note, Note::Established(_)))
        .count();
    let dropped: Vec<&Note> = notes
        .iter()
        .filter(|note| matches!(note, Note::Dropped(..) | Note::AcceptFailed(_)))
        .collect();
    assert_eq!(established, CLIENTS);
    assert!(dropped.is_empty(), "{dropped:?}");
}
