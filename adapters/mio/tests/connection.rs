//! The mio adapter's readiness contract: nothing ever blocks, `WouldBlock` is never an
//! error, a partial write keeps its place, and the listener cleans up after itself.

// Unix only: it runs over Unix socket pairs (tests/windows.rs covers Windows).
#![cfg(unix)]

use std::time::{Duration, Instant};

use mpconn_mio::mio::net::UnixStream;
use mpconn_mio::{Address, Client, Connection, Error, Listener};

const LIMIT: Duration = Duration::from_secs(30);

#[test]
fn accept_and_recv_with_nothing_waiting_return_none_rather_than_an_error() {
    let mut listener = Listener::bind(Some(Address::tcp("127.0.0.1", 0)), None).unwrap();
    assert!(listener.accept().unwrap().is_none());

    let (a, _b) = UnixStream::pair().unwrap();
    let mut connection = Connection::established(a);
    assert!(connection.recv_bytes(None).unwrap().is_none());
    connection.flush().unwrap();
    assert!(!connection.wants_write());
}

#[test]
fn a_message_larger_than_the_socket_buffer_keeps_its_place_across_partial_writes() {
    let (a, b) = UnixStream::pair().unwrap();
    let (mut sender, mut receiver) = (Connection::established(a), Connection::established(b));
    let big: Vec<u8> = (0..8 << 20).map(|i| (i % 251) as u8).collect();
    sender.send_bytes(&big).unwrap();
    sender.send_bytes(b"after").unwrap();
    assert!(sender.wants_write(), "8 MiB cannot fit in a socket buffer");

    // One thread, no poll: alternate until both messages are through.
    let deadline = Instant::now() + LIMIT;
    let mut received = Vec::new();
    while received.len() < 2 {
        assert!(Instant::now() < deadline, "stuck");
        sender.flush().unwrap();
        while let Some(message) = receiver.recv_bytes(None).unwrap() {
            received.push(message);
        }
    }
    assert!(received[0] == big);
    assert_eq!(received[1], b"after");
    assert!(!sender.wants_write());
}

#[test]
fn peer_closing_between_messages_is_eof_and_inside_one_is_unexpected_eof() {
    use std::io::Write;
    let (a, b) = UnixStream::pair().unwrap();
    let mut connection = Connection::established(a);
    let mut peer = Connection::established(b);
    peer.send_bytes(b"bye").unwrap();
    drop(peer);
    assert_eq!(connection.recv_bytes(None).unwrap().unwrap(), b"bye");
    assert!(connection.recv_bytes(None).unwrap_err().is_eof());

    let (a, mut b) = UnixStream::pair().unwrap();
    let mut connection = Connection::established(a);
    b.write_all(b"\x00\x00\x00\x09part").unwrap();
    drop(b);
    match connection.recv_bytes(None) {
        Err(Error::Protocol(mpconn::Error::UnexpectedEof { received: 8 })) => {}
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn handshake_runs_inside_recv_and_flush_and_held_messages_follow_it() {
    let mut listener = Listener::bind(None, Some(b"key")).unwrap();
    let mut client = Client::connect(listener.address(), Some(b"key")).unwrap();
    client.send_bytes(b"sent during the handshake").unwrap();
    let deadline = Instant::now() + LIMIT;
    let mut server = loop {
        assert!(Instant::now() < deadline, "no client to accept");
        if let Some(server) = listener.accept().unwrap() {
            break server;
        }
    };
    let message = loop {
        assert!(Instant::now() < deadline, "stuck in the handshake");
        client.flush().unwrap();
        assert!(client.recv_bytes(None).unwrap().is_none());
        server.flush().unwrap();
        if let Some(message) = server.recv_bytes(None).unwrap() {
            break message;
        }
    };
    assert!(server.is_established() && client.is_established());
    assert_eq!(message, b"sent during the handshake");
}

#[test]
fn closing_the_listener_removes_its_socket_file_and_private_directory() {
    let mut listener = Listener::bind(None, None).unwrap();
    let path = listener.address().path().unwrap().to_path_buf();
    assert!(path.exists());
    listener.close();
    assert!(!path.exists() && !path.parent().unwrap().exists());
    listener.close(); // idempotent
    assert!(matches!(listener.accept(), Err(Error::ListenerClosed)));

    let listener = Listener::bind(None, None).unwrap();
    let path = listener.address().path().unwrap().to_path_buf();
    drop(listener);
    assert!(!path.exists());
}
