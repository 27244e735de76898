//! mpconn-tokio on Windows, under Wine (.ci/run): AF_INET and AF_PIPE (named pipes)
//! with and without an authkey, right and wrong keys, messages of 0 B to 1 MiB (larger
//! than the pipe's buffer: read on through `ERROR_MORE_DATA`), a silent client that
//! does not stall the listener, the next client served after a failure, and on pipes
//! the bytes of each pipe message (CPython's `PipeConnection`: one message per frame, no
//! header; no CPython for Windows can run here, so the format is pinned this way),
//! cancelled receives and sends, and split halves.

#![cfg(windows)]

use std::time::{Duration, Instant};

use mpconn_net::pipe::{PipeStream, Read};
use mpconn_tokio::{Address, Client, Family, Listener};

const KEY: &[u8] = b"windows key";

fn sizes() -> Vec<Vec<u8>> {
    [0, 1, 64 * 1024, 1024 * 1024]
        .iter()
        .map(|&n| (0..n).map(|i| (i % 251) as u8).collect())
        .collect()
}

/// A fresh address of each family this adapter has on Windows.
fn addresses() -> [Address; 2] {
    [
        "127.0.0.1:0".parse().unwrap(),
        Address::fresh_pipe().unwrap(),
    ]
}

fn soon() -> Option<Instant> {
    Some(Instant::now() + Duration::from_secs(20))
}

/// A tokio listener on `address` with `key` that echoes every message of every client.
async fn echo_listener(address: Address, key: Option<&'static [u8]>) -> Address {
    let mut listener = Listener::bind(Some(address), key).await.unwrap();
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
async fn both_families_with_and_without_a_key_carry_every_size_both_ways() {
    for key in [Some(KEY), None] {
        for address in addresses() {
            let address = echo_listener(address, key).await;
            let mut conn = Client::connect(&address, key).await.unwrap();
            for message in sizes() {
                conn.send_bytes(&message).await.unwrap();
                let echoed = conn.recv_bytes(None).await.unwrap();
                assert!(
                    echoed == message,
                    "{address}, key {}: {} bytes",
                    key.is_some(),
                    message.len()
                );
            }
        }
    }
}

/// A client of `address` that connects and says nothing.
async fn silent_client(address: &Address) -> Box<dyn Send> {
    match address.pipe_name() {
        Some(name) => Box::new(PipeStream::connect(name, soon()).unwrap()),
        None => Box::new(
            tokio::net::TcpStream::connect(address.to_socket_addrs().unwrap()[0])
                .await
                .unwrap(),
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_key_fails_both_sides_and_a_silent_client_stalls_nobody() {
    for address in addresses() {
        let mut listener = Listener::bind(Some(address), Some(KEY)).await.unwrap();
        let address = listener.address().clone();
        let silent = silent_client(&address).await;
        let start = Instant::now();
        let wrong = Client::connect(&address, Some(b"wrong")).await.unwrap_err();
        assert!(wrong.is_authentication(), "{address}: {wrong}");
        let refused = listener.accept().await.unwrap_err();
        assert!(refused.is_authentication(), "{address}: {refused}");
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
            "{address}: {:?}",
            start.elapsed()
        );
        drop(silent);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_address_is_af_pipe_as_cpython_s_is_on_windows() {
    let mut listener = Listener::bind(None, Some(KEY)).await.unwrap();
    let address = listener.address().clone();
    assert_eq!(address.family(), Family::Pipe);
    assert!(address.to_string().starts_with(r"\\.\pipe\"), "{address}");
    let client = tokio::spawn(async move {
        let mut conn = Client::connect(&address, Some(KEY)).await.unwrap();
        conn.send_bytes(b"over the default").await.unwrap();
        conn
    });
    let mut served = listener.accept().await.unwrap();
    assert_eq!(served.recv_bytes(None).await.unwrap(), b"over the default");
    drop(client.await.unwrap());
    assert!(served.recv_bytes(None).await.unwrap_err().is_eof());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipe_messages_are_cpython_s_one_per_frame_without_a_header() {
    // The challenge of a keyed listener: `#CHALLENGE#{sha256}` and the nonce, one pipe
    // message, nothing in front.
    let listener = Listener::bind(Some(Address::fresh_pipe().unwrap()), Some(KEY))
        .await
        .unwrap();
    let name = listener.address().pipe_name().unwrap().to_string();
    let raw = tokio::task::spawn_blocking(move || {
        let raw = PipeStream::connect(&name, soon()).unwrap();
        let mut buf = [0; 256];
        let read = raw.read(&mut buf, soon()).unwrap();
        (read, buf)
    })
    .await
    .unwrap();
    let (Read::Message(n), buf) = raw else {
        panic!("{:?}", raw.0)
    };
    assert!(
        buf[..n].starts_with(b"#CHALLENGE#{sha256}"),
        "{:?}",
        &buf[..n]
    );
    assert_eq!(n, b"#CHALLENGE#{sha256}".len() + 40);

    // Without a key: what each side writes is the message itself.
    let mut listener = Listener::bind(Some(Address::fresh_pipe().unwrap()), None)
        .await
        .unwrap();
    let name = listener.address().pipe_name().unwrap().to_string();
    let raw = tokio::task::spawn_blocking(move || {
        let raw = PipeStream::connect(&name, soon()).unwrap();
        raw.write_message(b"from a raw pipe", soon()).unwrap();
        let mut buf = vec![0; 70_000];
        let read = raw.read(&mut buf, soon()).unwrap();
        (read, buf)
    });
    let mut served = listener.accept().await.unwrap();
    assert_eq!(served.recv_bytes(None).await.unwrap(), b"from a raw pipe");
    let reply: Vec<u8> = (0..65_536u32).map(|i| (i % 7) as u8).collect();
    served.send_bytes(&reply).await.unwrap();
    let (read, buf) = raw.await.unwrap();
    assert_eq!(read, Read::Message(reply.len()));
    assert!(buf[..reply.len()] == reply[..]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelled_receives_and_sends_on_a_pipe_lose_nothing_and_halves_work() {
    let mut listener = Listener::bind(Some(Address::fresh_pipe().unwrap()), Some(KEY))
        .await
        .unwrap();
    let address = listener.address().clone();
    let (client, served) = tokio::join!(Client::connect(&address, Some(KEY)), listener.accept());
    let (mut client, mut served) = (client.unwrap(), served.unwrap());
    // Receives given up while nothing has come: the read they started stays the pipe's.
    for _ in 0..3 {
        tokio::select! {
            got = served.recv_bytes(None) => panic!("nothing was sent: {got:?}"),
            _ = tokio::time::sleep(Duration::from_millis(20)) => {}
        }
    }
    let big = sizes().pop().unwrap();
    // A send given up part-way (the peer is not reading): its message stays queued and
    // goes out, once, with the next flush.
    tokio::select! {
        sent = client.send_bytes(&big) => panic!("1 MiB went into the pipe unread: {sent:?}"),
        _ = tokio::time::sleep(Duration::from_millis(50)) => {}
    }
    let receiving = tokio::spawn(async move {
        let first = served.recv_bytes(None).await.unwrap();
        let second = served.recv_bytes(None).await.unwrap();
        (served, first, second)
    });
    client.flush().await.unwrap();
    client.send_bytes(b"after").await.unwrap();
    let (mut served, first, second) = receiving.await.unwrap();
    assert!(first == big, "{} bytes", first.len());
    assert_eq!(second, b"after");
    // Queued messages, an empty one first: each is one pipe message, the empty one too.
    client.queue_bytes(b"").unwrap();
    client.queue_bytes(b"x").unwrap();
    client.flush().await.unwrap();
    assert_eq!(served.recv_bytes(None).await.unwrap(), b"");
    assert_eq!(served.recv_bytes(None).await.unwrap(), b"x");

    // Split: each half in its own task, over the same pipe.
    let (mut rx, mut tx) = served.into_split();
    let echo = tokio::spawn(async move {
        for _ in 0..2 {
            let message = rx.recv_bytes(None).await.unwrap();
            tx.send_bytes(&message).await.unwrap();
        }
    });
    for message in [&b"one"[..], &big] {
        client.send_bytes(message).await.unwrap();
        assert!(client.recv_bytes(None).await.unwrap() == message);
    }
    echo.await.unwrap();
    assert!(
        client.into_framed().is_err(),
        "a pipe has no header for a codec"
    );
}
