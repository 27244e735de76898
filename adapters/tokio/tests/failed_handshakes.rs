//! 12,000 failed handshakes (wrong digests, clients that close, answers that never
//! come whole) leave the tokio Listener's descriptors and memory flat. Alone in its
//! test binary: it counts this process's descriptors.

use mpconn_test_support::attack::assert_failed_handshakes_leave_fds_and_rss_flat;
use mpconn_tokio::{Address, Listener, ListenerOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_handshakes_leave_descriptors_and_memory_flat() {
    let mut listener = Listener::bind_with(
        Some(Address::tcp("127.0.0.1", 0)),
        &ListenerOptions::new().authkey(Some(b"the right key")),
    )
    .await
    .unwrap();
    let address = listener.address().to_string();
    tokio::spawn(async move {
        loop {
            if listener.accept().await.is_ok() {
                panic!("a failing client was accepted");
            }
        }
    });
    tokio::task::spawn_blocking(move || {
        assert_failed_handshakes_leave_fds_and_rss_flat("tokio Listener", &address, "self")
    })
    .await
    .unwrap();
}
