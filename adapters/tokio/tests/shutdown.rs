//! The tokio Listener as a Stream of connections, and its graceful shutdown: no new
//! client once it began, a handshake in flight finishes (or times out), the socket
//! file is gone, then the stream ends.

use std::time::Duration;

use futures_util::StreamExt;
use mpconn_tokio::{
    Address, Client, Connection, Error, HandshakeConfig, Listener, ListenerOptions,
};
use tokio::net::UnixStream;

const KEY: &[u8] = b"shutdown test key";
const LIMIT: Duration = Duration::from_secs(20);

/// A client connected at the Unix `address` whose handshake is in flight: the listener
/// took it and sent its challenge, which waits unread.
async fn client_in_flight(address: &Address) -> UnixStream {
    let stream = UnixStream::connect(address.path().unwrap()).await.unwrap();
    stream.readable().await.unwrap();
    stream
}

#[tokio::test]
async fn the_stream_yields_each_authenticated_connection() {
    let listener = Listener::bind(None, Some(KEY)).await.unwrap();
    let address = listener.address().clone();
    for n in 0..5u8 {
        let address = address.clone();
        tokio::spawn(async move {
            let mut connection = Client::connect(&address, Some(KEY)).await?;
            connection.send_bytes(&[n]).await?;
            connection.recv_bytes(None).await // held open until the listener is done
        });
    }
    let mut received = Vec::new();
    let mut connections = listener.take(5);
    while let Some(connection) = tokio::time::timeout(LIMIT, connections.next())
        .await
        .unwrap()
    {
        let mut connection = connection.unwrap();
        received.extend(connection.recv_bytes(None).await.unwrap());
    }
    received.sort();
    assert_eq!(received, [0, 1, 2, 3, 4]);
}

#[tokio::test]
async fn the_stream_yields_a_failed_handshake_as_an_error_and_goes_on() {
    let mut listener = Listener::bind(None, Some(KEY)).await.unwrap();
    let address = listener.address().clone();
    let wrong = Client::connect(&address, Some(b"not the key")).await;
    assert!(wrong.unwrap_err().is_authentication());
    let error = listener.next().await.unwrap().unwrap_err();
    assert!(error.is_authentication(), "{error}");
    assert!(error.is_client_failure());
    let right = tokio::spawn(async move { Client::connect(&address, Some(KEY)).await });
    listener.next().await.unwrap().unwrap();
    right.await.unwrap().unwrap();
}

#[tokio::test]
async fn shutdown_lets_a_handshake_in_flight_finish_and_accepts_no_new_client() {
    let mut listener = Listener::bind(None, Some(KEY)).await.unwrap();
    let address = listener.address().clone();
    let path = address.path().unwrap().to_owned();
    let in_flight = client_in_flight(&address).await;

    let late = async {
        // The shutdown has begun: the socket file is gone and nobody else gets in.
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!path.exists(), "{} still there", path.display());
        assert!(Client::connect(&address, Some(KEY)).await.is_err());
        // The client in flight answers the challenge now, and is served.
        Connection::client(in_flight, Some(KEY), &HandshakeConfig::default()).await
    };
    let (rest, client) =
        tokio::time::timeout(LIMIT, async { tokio::join!(listener.shutdown(), late) })
            .await
            .expect("shutdown waits for the handshake in flight only");

    let mut client = client.unwrap();
    let mut served: Vec<_> = rest.into_iter().map(Result::unwrap).collect();
    assert_eq!(served.len(), 1);
    client.send_bytes(b"finished").await.unwrap();
    assert_eq!(served[0].recv_bytes(None).await.unwrap(), b"finished");
    assert!(matches!(
        listener.accept().await,
        Err(Error::ListenerClosed)
    ));
    assert!(listener.next().await.is_none());
}

#[tokio::test]
async fn shutdown_ends_a_silent_handshake_at_its_timeout() {
    let options = ListenerOptions::new()
        .authkey(Some(KEY))
        .handshake_timeout(Some(Duration::from_millis(300)));
    let mut listener = Listener::bind_with(None, &options).await.unwrap();
    let _silent = client_in_flight(listener.address()).await;
    let rest = tokio::time::timeout(LIMIT, listener.shutdown())
        .await
        .unwrap();
    assert_eq!(rest.len(), 1);
    let error = rest.into_iter().next().unwrap().unwrap_err();
    assert!(error.is_timeout(), "{error}");
    assert!(listener.next().await.is_none());
}

#[tokio::test]
async fn after_shutdown_a_tcp_listener_refuses_connections() {
    let mut listener = Listener::bind(Some(Address::tcp("127.0.0.1", 0)), Some(KEY))
        .await
        .unwrap();
    let Address::Tcp { host, port } = listener.address().clone() else {
        unreachable!("bound to TCP")
    };
    assert!(listener.shutdown().await.is_empty());
    let refused = tokio::net::TcpStream::connect((host.as_str(), port)).await;
    assert_eq!(
        refused.unwrap_err().kind(),
        std::io::ErrorKind::ConnectionRefused
    );
}
