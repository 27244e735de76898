//! The tokio Connection's reading rules, CPython's: EOF between messages and inside one
//! are different errors, a message over `max_len` fails the read side for good, and
//! several messages in one read come out one by one.

use std::time::Duration;

use mpconn::frame::encode;
use mpconn_tokio::{Connection, Error};
use tokio::io::{AsyncWriteExt, DuplexStream};

const TEST_LIMIT: Duration = Duration::from_secs(30);

async fn within<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(TEST_LIMIT, future).await.unwrap()
}

/// Two established connections over an in-memory pipe of `capacity` bytes.
fn duplex_pair(capacity: usize) -> (Connection<DuplexStream>, Connection<DuplexStream>) {
    let (ours, theirs) = tokio::io::duplex(capacity);
    (
        Connection::established(ours),
        Connection::established(theirs),
    )
}

/// What one `recv_bytes` gets from a peer that writes `writes` raw and closes (the
/// pipe holds all of it: nothing waits for the reader).
async fn recv_from_a_peer_that_writes_and_closes(writes: &[&[u8]]) -> Result<Vec<u8>, Error> {
    let (ours, mut theirs) = tokio::io::duplex(4 << 20);
    let mut connection = Connection::established(ours);
    for bytes in writes {
        theirs.write_all(bytes).await.unwrap();
    }
    drop(theirs);
    connection.recv_bytes(None).await
}

/// `recv_bytes` from a peer that writes `writes` and closes inside the message fails
/// with `UnexpectedEof`, counting the `received` bytes.
async fn assert_unexpected_eof_after(writes: &[&[u8]], received: u64) {
    match recv_from_a_peer_that_writes_and_closes(writes).await {
        Err(Error::Protocol(mpconn::Error::UnexpectedEof { received: n })) if n == received => {}
        other => panic!("expected UnexpectedEof {{ received: {received} }}, got {other:?}"),
    }
}

#[tokio::test]
async fn peer_closing_between_messages_is_eof() {
    within(async {
        let (mut connection, mut peer) = duplex_pair(1024);
        peer.send_bytes(b"last").await.unwrap();
        peer.close().await.unwrap();
        assert_eq!(connection.recv_bytes(None).await.unwrap(), b"last");
        let end = connection.recv_bytes(None).await.unwrap_err();
        assert!(end.is_eof(), "{end}");
    })
    .await
}

#[tokio::test]
async fn peer_closing_inside_a_message_is_unexpected_eof_not_eof() {
    within(assert_unexpected_eof_after(
        &[b"\x00\x00\x00\x10only part"],
        13,
    ))
    .await
}

#[tokio::test]
async fn peer_closing_inside_a_large_message_counts_every_byte_that_arrived() {
    // Large enough to be read straight onto the core's buffer.
    let header = (1u32 << 20).to_be_bytes();
    within(assert_unexpected_eof_after(
        &[&header, &[7; 300_000]],
        300_004,
    ))
    .await
}

#[tokio::test]
async fn message_over_max_len_is_refused_and_the_read_side_stays_unusable() {
    within(async {
        let (mut connection, mut peer) = duplex_pair(1024);
        peer.send_bytes(b"eleven byte").await.unwrap();
        peer.send_bytes(b"ok").await.unwrap();
        match connection.recv_bytes(Some(10)).await {
            Err(Error::Protocol(mpconn::Error::MessageTooLong { len: 11, max: 10 })) => {}
            other => panic!("unexpected {other:?}"),
        }
        // The payload is still on the wire: nothing after it can be read in step.
        assert!(connection.recv_bytes(None).await.is_err());
        // Writing still works, as in CPython.
        connection.send_bytes(b"still writable").await.unwrap();
        assert_eq!(peer.recv_bytes(None).await.unwrap(), b"still writable");
    })
    .await
}

#[tokio::test]
async fn messages_arriving_in_one_write_come_out_one_by_one() {
    within(async {
        let (ours, mut theirs) = tokio::io::duplex(1 << 20);
        let mut connection = Connection::established(ours);
        let mut wire = Vec::new();
        for message in [&b"one"[..], b"", &[7; 100_000], b"four"] {
            encode(message, &mut wire);
        }
        theirs.write_all(&wire).await.unwrap();
        assert_eq!(connection.recv_bytes(None).await.unwrap(), b"one");
        assert_eq!(connection.recv_bytes(None).await.unwrap(), b"");
        assert_eq!(connection.recv_bytes(None).await.unwrap(), vec![7; 100_000]);
        assert_eq!(connection.recv_bytes(None).await.unwrap(), b"four");
    })
    .await
}
