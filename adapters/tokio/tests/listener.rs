//! The tokio Listener under load: handshakes run side by side, so one client that
//! connects and says nothing neither delays the others nor stays forever.

use std::time::Duration;

use mpconn_tokio::{Address, Client, During, Error, Listener, ListenerOptions};
use tokio::io::AsyncReadExt;

const KEY: &[u8] = b"load test key";
const HONEST: usize = 100;
/// Short, to keep the test quick; long enough for 100 debug-build handshakes.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(3);
const TEST_LIMIT: Duration = Duration::from_secs(60);

/// What the accepting side saw, in the order `accept` returned it.
#[derive(Debug, PartialEq)]
enum Accepted {
    Served,
    TimedOut,
}

async fn silent_and_honest_clients(address: Option<Address>) {
    let options = ListenerOptions::new()
        .authkey(Some(KEY))
        .handshake_timeout(Some(HANDSHAKE_TIMEOUT));
    let mut listener = Listener::bind_with(address, &options).await.unwrap();
    let address = listener.address().clone();

    // The silent client connects first and never answers the challenge.
    let mut silent: Box<dyn tokio::io::AsyncRead + Unpin + Send> = match &address {
        Address::Tcp { host, port } => Box::new(
            tokio::net::TcpStream::connect((host.as_str(), *port))
                .await
                .unwrap(),
        ),
        other => Box::new(
            tokio::net::UnixStream::connect(other.path().unwrap())
                .await
                .unwrap(),
        ),
    };

    let server = tokio::spawn(async move {
        let mut seen = Vec::new();
        while seen.len() < HONEST + 1 {
            match listener.accept().await {
                Ok(mut connection) => {
                    seen.push(Accepted::Served);
                    tokio::spawn(async move {
                        while let Ok(message) = connection.recv_bytes(None).await {
                            connection.send_bytes(&message).await?;
                        }
                        Ok::<_, Error>(())
                    });
                }
                Err(error) if error.is_timeout() => {
                    assert!(matches!(
                        error,
                        Error::Timeout {
                            during: During::Handshake,
                            ..
                        }
                    ));
                    seen.push(Accepted::TimedOut);
                }
                Err(other) => panic!("unexpected accept error: {other}"),
            }
        }
        seen
    });

    // Then 100 honest clients, all at once.
    let clients: Vec<_> = (0..HONEST)
        .map(|i| {
            let address = address.clone();
            tokio::spawn(async move {
                let mut connection = Client::connect(&address, Some(KEY)).await?;
                let message = format!("client {i}").into_bytes();
                connection.send_bytes(&message).await?;
                let echo = connection.recv_bytes(None).await?;
                assert_eq!(echo, message);
                Ok::<_, Error>(())
            })
        })
        .collect();
    for client in clients {
        client.await.unwrap().unwrap();
    }

    // The silent client sees its connection dropped: the challenge, then end of stream.
    let mut received = Vec::new();
    silent.read_to_end(&mut received).await.unwrap();
    assert!(
        received.starts_with(b"\x00\x00\x00"),
        "a challenge frame came first"
    );
    assert!(received.windows(11).any(|w| w == b"#CHALLENGE#"));

    let seen = server.await.unwrap();
    let mut expected: Vec<Accepted> = (0..HONEST).map(|_| Accepted::Served).collect();
    expected.push(Accepted::TimedOut);
    // Every honest client was accepted before the silent one's timeout came up, though
    // the silent one connected first: it delayed nobody.
    assert_eq!(seen, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_client_is_dropped_at_the_timeout_while_100_honest_tcp_clients_are_served() {
    tokio::time::timeout(
        TEST_LIMIT,
        silent_and_honest_clients(Some(Address::tcp("127.0.0.1", 0))),
    )
    .await
    .expect("the test did not finish in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_client_is_dropped_at_the_timeout_while_100_honest_unix_clients_are_served() {
    tokio::time::timeout(TEST_LIMIT, silent_and_honest_clients(None))
        .await
        .expect("the test did not finish in time");
}

#[tokio::test]
async fn closing_the_listener_removes_its_socket_file_and_private_directory() {
    let mut listener = Listener::bind(None, Some(KEY)).await.unwrap();
    let path = listener.address().path().unwrap().to_path_buf();
    let dir = path.parent().unwrap().to_path_buf();
    assert!(path.exists());
    listener.close();
    assert!(!path.exists() && !dir.exists());
    listener.close(); // idempotent
    assert!(matches!(
        listener.accept().await,
        Err(Error::ListenerClosed)
    ));

    let listener = Listener::bind(None, None).await.unwrap();
    let path = listener.address().path().unwrap().to_path_buf();
    drop(listener);
    assert!(!path.exists());
}

#[tokio::test]
async fn failed_handshake_is_reported_for_that_client_and_the_listener_goes_on() {
    let address = Address::tcp("127.0.0.1", 0);
    let mut listener = Listener::bind(Some(address), Some(KEY)).await.unwrap();
    let address = listener.address().clone();
    let wrong = tokio::spawn({
        let address = address.clone();
        async move { Client::connect(&address, Some(b"wrong")).await }
    });
    let refused = listener.accept().await.unwrap_err();
    assert!(refused.is_authentication(), "{refused}");
    assert!(wrong.await.unwrap().unwrap_err().is_authentication());

    let right = tokio::spawn(async move { Client::connect(&address, Some(KEY)).await });
    let mut connection = listener.accept().await.unwrap();
    let mut client = right.await.unwrap().unwrap();
    client.send_bytes(b"after a refusal").await.unwrap();
    assert_eq!(
        connection.recv_bytes(None).await.unwrap(),
        b"after a refusal"
    );
}
