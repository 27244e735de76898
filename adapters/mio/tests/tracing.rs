//! With the `tracing` feature, the mio listener emits one event per accepted connection
//! (when its handshake succeeds) and per failed handshake, naming the client, with no
//! key material.

use std::time::{Duration, Instant};

use mpconn_mio::{Address, Client, Connection, Error, Listener};
use mpconn_test_support::events::Collector;

const KEY: &[u8] = b"tracing test key";
const LIMIT: Duration = Duration::from_secs(30);

/// Connects a client with `key` and drives both ends in this thread, without a poll,
/// until the listener's side is established or fails: its outcome and the peer.
fn handshake(listener: &mut Listener, key: &[u8]) -> (Result<Connection, Error>, String) {
    let mut client = Client::connect(listener.address(), Some(key)).unwrap();
    let deadline = Instant::now() + LIMIT;
    let mut server = loop {
        assert!(Instant::now() < deadline, "never accepted");
        if let Some(server) = listener.accept().unwrap() {
            break server;
        }
    };
    let peer = listener.last_accepted().unwrap().to_string();
    while server.is_handshaking() {
        assert!(Instant::now() < deadline, "stuck");
        let _ = client.recv_bytes(None);
        if let Err(error) = server.recv_bytes(None) {
            return (Err(error), peer);
        }
    }
    (Ok(server), peer)
}

#[test]
fn an_accepted_and_a_failed_client_are_one_event_each_with_the_peer_and_no_key() {
    let (collector, _guard) = Collector::installed();
    let mut listener = Listener::bind(Some(Address::tcp("127.0.0.1", 0)), Some(KEY)).unwrap();
    let address = listener.address().to_string();

    let (served, served_peer) = handshake(&mut listener, KEY);
    served.unwrap();
    let (failed, failed_peer) = handshake(&mut listener, b"wrong key");
    let error = failed.unwrap_err();
    assert!(error.is_authentication(), "{error}");

    collector.assert_served_and_failed(KEY, &address, &served_peer, &failed_peer, &error);
}
