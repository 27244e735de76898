//! 12,000 failed handshakes (wrong digests, clients that close, answers that never
//! come whole) leave the mio Listener, driven by the `echo_loop` example, with flat
//! descriptors and memory. Alone in its test binary: it counts this process's
//! descriptors.

// Unix only: it counts descriptors and memory in /proc (mpconn_test_support::attack).
#![cfg(unix)]

#[allow(dead_code)] // its main() is for `cargo run --example`, not for this test
#[path = "../examples/echo_loop.rs"]
mod echo_loop;

use std::time::Duration;

use echo_loop::{EchoLoop, Note};
use mpconn_mio::{Address, Listener, ListenerOptions};
use mpconn_test_support::attack::assert_failed_handshakes_leave_fds_and_rss_flat;

#[test]
fn failed_handshakes_leave_descriptors_and_memory_flat() {
    let listener = Listener::bind_with(
        Some(Address::tcp("127.0.0.1", 0)),
        &ListenerOptions::new().authkey(Some(b"the right key")),
    )
    .unwrap();
    let address = listener.address().to_string();
    std::thread::spawn(move || {
        let mut server = EchoLoop::new(listener, Duration::from_secs(20)).unwrap();
        server.run_until(
            Duration::from_millis(100),
            || false,
            |note| {
                assert!(
                    !matches!(note, Note::Established(_)),
                    "a failing client was accepted"
                )
            },
        )
    });
    assert_failed_handshakes_leave_fds_and_rss_flat("mio Listener", &address, "self");
}
