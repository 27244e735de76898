//! Cancellation safety of the tokio Connection: a `recv_bytes` or `send_bytes` future
//! dropped part-way (as `select!` does with the branch that lost) loses, splits or
//! duplicates no message.

use std::future::{ready, Future};
use std::time::Duration;

use mpconn::frame::encode;
use mpconn_tokio::Connection;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream};

const TEST_LIMIT: Duration = Duration::from_secs(30);

fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 253) as u8).collect()
}

/// Runs a test body, failing it if it hangs.
async fn within_limit(test: impl Future<Output = ()>) {
    tokio::time::timeout(TEST_LIMIT, test).await.unwrap();
}

/// Polls `future` once and drops it, as a `select!` does when its other branch is
/// ready at once; what it returned if that one poll finished it.
async fn cut_short<F: Future>(future: F) -> Option<F::Output> {
    tokio::select! {
        biased;
        out = future => Some(out),
        () = ready(()) => None,
    }
}

/// Polls `future` once, as [`cut_short`], and asserts that it had not finished (`why`
/// it could not have, for the message if it did).
async fn assert_cut_short<F: Future>(future: F, why: &str)
where
    F::Output: std::fmt::Debug,
{
    let out = cut_short(future).await;
    assert!(out.is_none(), "{why}: {out:?}");
}

/// Receives one message for each of `expected` and checks they arrive whole, in that
/// order (compared without printing them: some are megabytes).
async fn assert_receives<S: AsyncRead + AsyncWrite + Unpin>(
    connection: &mut Connection<S>,
    expected: &[&[u8]],
) {
    for (i, want) in expected.iter().enumerate() {
        let got = connection.recv_bytes(None).await.unwrap();
        assert!(
            got == *want,
            "message {i} arrived wrong: {} bytes, {} expected",
            got.len(),
            want.len()
        );
    }
}

/// Two established connections over an in-memory pipe of `capacity` bytes.
fn duplex_pair(capacity: usize) -> (Connection<DuplexStream>, Connection<DuplexStream>) {
    let (ours, theirs) = tokio::io::duplex(capacity);
    (
        Connection::established(ours),
        Connection::established(theirs),
    )
}

#[tokio::test]
async fn recv_bytes_dropped_mid_message_loses_nothing_and_the_next_call_gets_it_whole() {
    within_limit(async {
        let (ours, mut theirs) = tokio::io::duplex(4 << 20);
        let mut connection = Connection::established(ours);
        let message = pattern(1 << 20);
        let mut wire = Vec::new();
        encode(&message, &mut wire);
        encode(b"next", &mut wire);

        // Half the first frame is there: recv_bytes reads it all, then has to wait, and
        // the other branch wins.
        theirs.write_all(&wire[..wire.len() / 2]).await.unwrap();
        assert_cut_short(connection.recv_bytes(None), "a half message was returned").await;
        theirs.write_all(&wire[wire.len() / 2..]).await.unwrap();
        assert_receives(&mut connection, &[&message, b"next"]).await;
    })
    .await;
}

#[tokio::test]
async fn send_bytes_dropped_mid_write_keeps_the_rest_queued_and_order_is_kept() {
    within_limit(async {
        // A pipe far smaller than the message: the write has to stop part-way.
        let (mut connection, mut peer) = duplex_pair(4096);
        let big = pattern(300_000);

        assert_cut_short(connection.send_bytes(&big), "1 MB fit in a 4 KiB pipe").await;
        // The dropped future's message is still queued: the next send goes after it,
        // and the interrupted message arrives whole.
        tokio::join!(
            async { connection.send_bytes(b"after").await.unwrap() },
            async { assert_receives(&mut peer, &[&big, b"after"]).await },
        );
    })
    .await;
}

#[tokio::test]
async fn send_bytes_queues_the_message_when_called_even_if_never_polled() {
    within_limit(async {
        let (ours, mut theirs) = tokio::io::duplex(1024);
        let mut connection = Connection::established(ours);
        drop(connection.send_bytes(b"queued"));
        connection.flush().await.unwrap();
        let mut wire = [0; 10];
        theirs.read_exact(&mut wire).await.unwrap();
        assert_eq!(&wire, b"\x00\x00\x00\x06queued");
    })
    .await;
}

#[tokio::test]
async fn split_halves_carry_bytes_read_and_bytes_queued_before_the_split() {
    within_limit(async {
        let (mut connection, mut peer) = duplex_pair(4096);

        // A queued, unwritten message and a half-read one, both in flight at the split.
        // (A large payload is borrowed by the future, so it must outlive the select.)
        let queued = pattern(100_000);
        assert_cut_short(connection.send_bytes(&queued), "it cannot fit").await;
        let mut wire = Vec::new();
        encode(b"across the split", &mut wire);
        peer.get_mut().write_all(&wire[..7]).await.unwrap();
        assert_cut_short(connection.recv_bytes(None), "only 7 bytes were there").await;

        let (mut rx, mut tx) = connection.into_split();
        let writer = tokio::spawn(async move {
            tx.send_bytes(b"from the write half").await.unwrap();
            tx
        });
        assert_receives(&mut peer, &[&queued, b"from the write half"]).await;
        peer.get_mut().write_all(&wire[7..]).await.unwrap();
        assert_eq!(rx.recv_bytes(None).await.unwrap(), b"across the split");
        writer.await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn large_send_dropped_before_its_first_poll_still_goes_out_whole() {
    within_limit(async {
        let (mut connection, mut peer) = duplex_pair(1 << 20);
        let big = pattern(100_000);
        drop(connection.send_bytes(&big));
        connection.send_bytes(b"after").await.unwrap();
        assert_receives(&mut peer, &[&big, b"after"]).await;
    })
    .await;
}

#[tokio::test]
async fn queued_rest_of_a_small_send_goes_before_a_cut_short_large_one_and_a_later_one() {
    within_limit(async {
        let (mut connection, mut peer) = duplex_pair(4096);
        let small = pattern(10_000);
        let big = pattern(300_000);
        for message in [&small, &big] {
            assert_cut_short(connection.send_bytes(message), "it cannot fit").await;
        }
        // The small message arrives whole, first, then the large one whole, then the
        // last.
        tokio::join!(
            async { connection.send_bytes(b"last").await.unwrap() },
            async { assert_receives(&mut peer, &[&small, &big, b"last"]).await },
        );
    })
    .await;
}

#[tokio::test]
async fn cut_short_large_send_over_a_socket_is_finished_by_the_next_send() {
    within_limit(async {
        let (ours, theirs) = tokio::net::UnixStream::pair().unwrap();
        let mut connection = Connection::established(ours);
        let mut peer = Connection::established(theirs);
        // Far more than a socket buffer: the vectored write stops part-way.
        let big = pattern(8 << 20);
        assert_cut_short(connection.send_bytes(&big), "8 MiB fit in a socket").await;
        let second = pattern(20_000);
        // The interrupted message arrives whole, then the next.
        tokio::join!(
            async { connection.send_bytes(&second).await.unwrap() },
            async { assert_receives(&mut peer, &[&big, &second]).await },
        );
    })
    .await;
}

#[tokio::test]
async fn split_after_a_cut_short_large_send_writes_its_rest_first() {
    within_limit(async {
        let (mut connection, mut peer) = duplex_pair(4096);
        let big = pattern(100_000);
        assert_cut_short(connection.send_bytes(&big), "it cannot fit").await;
        let (_rx, mut tx) = connection.into_split();
        let writer = tokio::spawn(async move {
            tx.send_bytes(b"from the write half").await.unwrap();
            tx
        });
        assert_receives(&mut peer, &[&big, b"from the write half"]).await;
        writer.await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn leaked_large_send_makes_later_sends_fail_instead_of_tearing_the_stream() {
    within_limit(async {
        let (ours, _theirs) = tokio::io::duplex(4096);
        let mut connection = Connection::established(ours);
        let big = pattern(100_000);
        let mut send = Box::pin(connection.send_bytes(&big));
        assert_cut_short(&mut send, "it cannot fit").await;
        std::mem::forget(send);
        let error = connection.send_bytes(b"x").await.unwrap_err();
        let io = std::io::Error::from(error);
        assert_eq!(io.kind(), std::io::ErrorKind::BrokenPipe);
        assert!(connection.flush().await.is_err());
    })
    .await;
}
