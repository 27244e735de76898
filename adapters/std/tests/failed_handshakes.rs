//! 12,000 failed handshakes (wrong digests, clients that close, answers that never
//! come whole) leave the std Listener's descriptors and memory flat. Alone in its
//! test binary: it counts this process's descriptors.

use mpconn_std::{Address, Listener, ListenerOptions};
use mpconn_test_support::attack::assert_failed_handshakes_leave_fds_and_rss_flat;

#[test]
fn failed_handshakes_leave_descriptors_and_memory_flat() {
    let mut listener = Listener::bind_with(
        Some(Address::tcp("127.0.0.1", 0)),
        &ListenerOptions::new().authkey(Some(b"the right key")),
    )
    .unwrap();
    let address = listener.address().to_string();
    std::thread::spawn(move || loop {
        match listener.accept() {
            Ok(_) => panic!("a failing client was accepted"),
            Err(e) if e.is_client_failure() => {}
            Err(e) => panic!("the listener itself failed: {e}"),
        }
    });
    assert_failed_handshakes_leave_fds_and_rss_flat("std Listener", &address, "self");
}
