//! mpconn-std on its own (Rust on both ends, or a raw socket playing a hostile or
//! silent peer): the listener's life cycle, timeouts, the receive-side semantics
//! CPython users rely on, one-way pipes, wait/poll and batching. Every blocking step
//! is bounded by a timeout so nothing here can hang.

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::thread;
use std::time::Duration;

use mpconn_std::{
    pipe, wait, Address, Client, ClientOptions, Connection, Error, Family, Listener,
    ListenerOptions,
};

const LIMIT: Duration = Duration::from_secs(30);

fn unix_path(listener: &Listener) -> PathBuf {
    listener
        .address()
        .path()
        .expect("a Unix socket path")
        .to_path_buf()
}

/// Accepts within [`LIMIT`].
fn accept(listener: &mut Listener) -> mpconn_std::Result<Connection> {
    assert!(
        !wait(&[&*listener], Some(LIMIT)).unwrap().is_empty(),
        "no client came"
    );
    listener.accept()
}

fn connect(address: &Address, key: Option<&[u8]>) -> mpconn_std::Result<Connection> {
    let options = ClientOptions::new().authkey(key).timeout(Some(LIMIT));
    let mut conn = Client::connect_with(address, &options)?;
    conn.set_timeout(Some(LIMIT))?;
    Ok(conn)
}

/// A connected pair over a real listener (with `key`), both ends with timeouts.
fn connected(key: Option<&[u8]>) -> (Connection, Connection) {
    let mut listener = Listener::bind(None, key).unwrap();
    let address = listener.address().clone();
    let key_owned = key.map(<[u8]>::to_vec);
    let client = thread::spawn(move || connect(&address, key_owned.as_deref()).unwrap());
    let mut server = accept(&mut listener).unwrap();
    server.set_timeout(Some(LIMIT)).unwrap();
    (server, client.join().unwrap())
}

/// The raw end of a Unix socketpair facing a real Connection: a peer that can send
/// anything at all.
fn raw_peer() -> (UnixStream, Connection) {
    let mut listener = Listener::bind(None, None).unwrap();
    let raw = UnixStream::connect(unix_path(&listener)).unwrap();
    raw.set_write_timeout(Some(LIMIT)).unwrap();
    let mut conn = accept(&mut listener).unwrap();
    conn.set_timeout(Some(LIMIT)).unwrap();
    (raw, conn)
}

#[test]
fn silent_client_times_out_and_the_listener_serves_the_next_one() {
    let options = ListenerOptions::new()
        .authkey(Some(b"key"))
        .handshake_timeout(Some(Duration::from_millis(200)));
    let mut listener = Listener::bind_with(None, &options).unwrap();
    let _silent = UnixStream::connect(unix_path(&listener)).unwrap();
    let error = accept(&mut listener).unwrap_err();
    assert!(error.is_timeout(), "{error}");
    let address = listener.address().clone();
    let client = thread::spawn(move || {
        let mut conn = connect(&address, Some(b"key")).unwrap();
        conn.send_bytes(b"served").unwrap();
    });
    let mut conn = accept(&mut listener).unwrap();
    assert_eq!(conn.recv_bytes(None).unwrap(), b"served");
    client.join().unwrap();
}

#[test]
fn client_that_leaves_during_the_handshake_fails_that_accept_only() {
    let mut listener = Listener::bind(None, Some(b"key")).unwrap();
    let path = unix_path(&listener);
    let quitter = thread::spawn(move || {
        // Take the whole challenge (unread bytes would make the close a reset), then
        // leave without answering.
        let mut raw = UnixStream::connect(path).unwrap();
        raw.set_read_timeout(Some(LIMIT)).unwrap();
        let mut header = [0u8; 4];
        std::io::Read::read_exact(&mut raw, &mut header).unwrap();
        let mut challenge = vec![0u8; u32::from_be_bytes(header) as usize];
        std::io::Read::read_exact(&mut raw, &mut challenge).unwrap();
        assert!(challenge.starts_with(b"#CHALLENGE#"));
    });
    let error = accept(&mut listener).unwrap_err();
    quitter.join().unwrap();
    assert_eq!(
        error.protocol(),
        Some(&mpconn::Error::HandshakeEof),
        "{error}"
    );
    let address = listener.address().clone();
    let client = thread::spawn(move || connect(&address, Some(b"key")).map(drop));
    accept(&mut listener).unwrap();
    client.join().unwrap().unwrap();
}

#[test]
fn wrong_key_fails_on_both_sides_and_the_listener_goes_on() {
    let mut listener = Listener::bind(None, Some(b"right")).unwrap();
    let address = listener.address().clone();
    let client = thread::spawn(move || {
        let wrong = connect(&address, Some(b"wrong")).unwrap_err();
        let right = connect(&address, Some(b"right")).map(drop);
        (wrong, right)
    });
    assert!(accept(&mut listener).unwrap_err().is_authentication());
    accept(&mut listener).unwrap();
    let (wrong, right) = client.join().unwrap();
    assert!(wrong.is_authentication(), "{wrong}");
    assert_eq!(
        wrong.protocol(),
        Some(&mpconn::Error::Authentication(
            mpconn::AuthFailure::DigestRejected
        ))
    );
    right.unwrap();
}

#[test]
fn socket_file_and_private_directory_are_gone_after_close() {
    let mut listener = Listener::bind(None, None).unwrap();
    let path = unix_path(&listener);
    let dir = path.parent().unwrap().to_path_buf();
    assert!(path.exists());
    listener.close();
    listener.close(); // idempotent
    assert!(!path.exists() && !dir.exists());
    assert!(matches!(listener.accept(), Err(Error::ListenerClosed)));
}

#[test]
fn socket_file_is_gone_after_drop() {
    let dir = std::env::temp_dir().join(format!("mpconn-drop-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("given.sock");
    let listener = Listener::bind(Some(Address::unix(&path)), None).unwrap();
    assert_eq!(listener.address(), &Address::unix(&path));
    assert!(path.exists());
    drop(listener);
    assert!(!path.exists());
    // A directory the caller made is the caller's: only the socket file goes.
    assert!(dir.exists());
    std::fs::remove_dir(dir).unwrap();
}

#[test]
fn binding_over_an_existing_socket_file_fails_as_in_cpython() {
    let listener = Listener::bind(None, None).unwrap();
    let error = Listener::bind(Some(listener.address().clone()), None).unwrap_err();
    match error {
        Error::Io { source, .. } => assert_eq!(source.kind(), std::io::ErrorKind::AddrInUse),
        other => panic!("expected AddrInUse, got {other}"),
    }
}

#[cfg(target_os = "linux")]
#[test]
fn abstract_names_serve_clients_and_leave_no_file() {
    let name = format!("mpconn-std-behaviour-{}", std::process::id());
    let mut listener = Listener::bind(Some(Address::abstract_name(&name)), None).unwrap();
    assert_eq!(listener.address().to_string(), format!("@{name}"));
    assert_eq!(listener.address().family(), Family::Unix);
    let address: Address = format!("@{name}").parse().unwrap();
    let client = thread::spawn(move || connect(&address, None).unwrap().send_bytes(b"hi"));
    assert_eq!(
        accept(&mut listener).unwrap().recv_bytes(None).unwrap(),
        b"hi"
    );
    client.join().unwrap().unwrap();
    assert!(!PathBuf::from(&name).exists());
    drop(listener);
    // The name is free again once the listener is gone.
    Listener::bind(Some(Address::abstract_name(&name)), None).unwrap();
}

#[test]
fn tcp_listener_reports_its_real_port_and_the_last_peer() {
    let options = ListenerOptions::new().family(Family::Inet);
    let mut listener = Listener::bind_with(None, &options).unwrap();
    let Address::Tcp { host, port } = listener.address().clone() else {
        panic!("expected a TCP address, got {}", listener.address());
    };
    assert_eq!(host, "127.0.0.1");
    assert_ne!(port, 0);
    assert!(listener.last_accepted().is_none());
    let address = listener.address().clone();
    let client = thread::spawn(move || connect(&address, None).map(drop));
    accept(&mut listener).unwrap();
    client.join().unwrap().unwrap();
    match listener.last_accepted() {
        Some(Address::Tcp { host, port: peer }) => {
            assert_eq!(host, "127.0.0.1");
            assert_ne!(*peer, port);
        }
        other => panic!("expected the client's TCP address, got {other:?}"),
    }
}

#[test]
fn an_address_of_another_family_than_asked_is_refused() {
    let options = ListenerOptions::new().family(Family::Inet);
    let error = Listener::bind_with(Some(Address::unix("/tmp/x.sock")), &options).unwrap_err();
    assert!(error.to_string().contains("AF_INET"), "{error}");
}

#[test]
fn messages_sent_right_after_the_handshake_are_not_lost() {
    // The client's messages may share a read with the handshake's last frame.
    let (mut server, mut client) = connected(Some(b"k"));
    for i in 0..100u32 {
        client.queue_bytes(&i.to_be_bytes()).unwrap();
    }
    client.flush().unwrap();
    for i in 0..100u32 {
        assert_eq!(server.recv_bytes(None).unwrap(), i.to_be_bytes());
    }
}

#[test]
fn message_over_the_limit_fails_and_the_read_side_stays_failed() {
    let (mut a, mut b) = pipe(true).unwrap();
    a.send_bytes(b"12345").unwrap();
    a.send_bytes(b"1").unwrap();
    let error = b.recv_bytes(Some(4)).unwrap_err();
    assert_eq!(
        error.protocol(),
        Some(&mpconn::Error::MessageTooLong { len: 5, max: 4 })
    );
    assert!(error.to_string().contains("bad message length"), "{error}");
    // CPython: the stream is out of step, so even a small message is refused now.
    assert!(b.recv_bytes(None).is_err());
}

#[test]
fn message_within_the_limit_is_received() {
    let (mut a, mut b) = pipe(true).unwrap();
    a.send_bytes(b"1234").unwrap();
    assert_eq!(b.recv_bytes(Some(4)).unwrap(), b"1234");
}

#[test]
fn buffer_too_short_carries_the_whole_message_and_the_connection_goes_on() {
    let (mut a, mut b) = pipe(true).unwrap();
    let big = vec![7u8; 100_000];
    a.send_bytes(&big).unwrap();
    a.send_bytes(b"next").unwrap();
    let mut buf = [0u8; 10];
    match b.recv_bytes_into(&mut buf) {
        Err(Error::BufferTooShort { message }) => assert_eq!(message, big),
        other => panic!("expected BufferTooShort, got {other:?}"),
    }
    assert_eq!(b.recv_bytes_into(&mut buf).unwrap(), 4);
    assert_eq!(&buf[..4], b"next");
}

#[test]
fn eof_between_messages_is_eof_error() {
    let (mut raw, mut conn) = raw_peer();
    raw.write_all(b"\0\0\0\x02hi").unwrap();
    drop(raw);
    assert_eq!(conn.recv_bytes(None).unwrap(), b"hi");
    let error = conn.recv_bytes(None).unwrap_err();
    assert!(error.is_eof(), "{error}");
}

/// `error` is the core's end of file inside a message after `received` bytes of it.
fn assert_unexpected_eof(error: &mpconn_std::Error, received: u64) {
    let expected = mpconn::Error::UnexpectedEof { received };
    assert_eq!(error.protocol(), Some(&expected), "{error}");
}

#[test]
fn eof_inside_a_message_is_a_distinct_error() {
    let (mut raw, mut conn) = raw_peer();
    raw.write_all(b"\0\0\0\x10only part").unwrap();
    drop(raw);
    let error = conn.recv_bytes(None).unwrap_err();
    assert!(!error.is_eof());
    assert_unexpected_eof(&error, 13);
    assert!(error.to_string().contains("end of file during message"));
}

#[test]
fn a_huge_declared_length_costs_nothing_until_bytes_arrive() {
    let (mut raw, mut conn) = raw_peer();
    raw.write_all(mpconn::frame::Header::new(u64::MAX).as_bytes())
        .unwrap();
    raw.write_all(b"a few bytes").unwrap();
    drop(raw);
    let error = conn.recv_bytes(None).unwrap_err();
    assert_unexpected_eof(&error, 23);
}

#[test]
fn a_negative_length_is_a_protocol_error() {
    let (mut raw, mut conn) = raw_peer();
    raw.write_all(&(-5i32).to_be_bytes()).unwrap();
    let error = conn.recv_bytes(None).unwrap_err();
    assert_eq!(error.protocol(), Some(&mpconn::Error::NegativeLength(-5)));
}

#[test]
fn one_way_pipe_refuses_the_wrong_direction() {
    let (mut reader, mut writer) = pipe(false).unwrap();
    assert!(reader.readable() && !reader.writable());
    assert!(writer.writable() && !writer.readable());
    let error = reader.send_bytes(b"x").unwrap_err();
    assert!(error.to_string().contains("read-only"), "{error}");
    let error = writer.recv_bytes(None).unwrap_err();
    assert!(error.to_string().contains("write-only"), "{error}");
    assert!(writer.poll(Some(Duration::ZERO)).is_err());
    let big = vec![1u8; 200_000];
    let sender = thread::spawn(move || writer.send_bytes(&big));
    assert_eq!(reader.recv_bytes(None).unwrap().len(), 200_000);
    sender.join().unwrap().unwrap();
    assert!(reader.recv_bytes(None).unwrap_err().is_eof());
}

#[test]
fn poll_sees_nothing_then_a_message() {
    let (mut a, b) = pipe(true).unwrap();
    assert!(!b.poll(Some(Duration::ZERO)).unwrap());
    a.send_bytes(b"x").unwrap();
    assert!(b.poll(Some(LIMIT)).unwrap());
}

#[test]
fn wait_counts_messages_already_buffered_as_ready() {
    let (mut a, mut b) = pipe(true).unwrap();
    let (_c, d) = pipe(true).unwrap();
    // Both messages arrive in one read; after the first is taken the socket is
    // empty, yet the second is there to receive.
    a.queue_bytes(b"one").unwrap();
    a.queue_bytes(b"two").unwrap();
    a.flush().unwrap();
    assert_eq!(wait(&[&b, &d], Some(LIMIT)).unwrap(), vec![0]);
    assert_eq!(b.recv_bytes(None).unwrap(), b"one");
    assert_eq!(wait(&[&d, &b], Some(Duration::ZERO)).unwrap(), vec![1]);
    assert!(b.poll(Some(Duration::ZERO)).unwrap());
    assert_eq!(b.recv_bytes(None).unwrap(), b"two");
    assert!(wait(&[&b, &d], Some(Duration::ZERO)).unwrap().is_empty());
}

#[test]
fn wait_reports_a_closed_peer_as_ready() {
    let (a, b) = pipe(true).unwrap();
    drop(a);
    assert_eq!(wait(&[&b], Some(LIMIT)).unwrap(), vec![0]);
}

#[test]
fn queued_messages_keep_their_order_around_a_large_direct_send() {
    let (mut a, mut b) = connected(None);
    let large = vec![9u8; 1 << 20];
    a.queue_bytes(b"before").unwrap();
    assert_eq!(a.queued_len(), 4 + 6);
    let reader = thread::spawn(move || {
        let got: Vec<Vec<u8>> = (0..3).map(|_| b.recv_bytes(None).unwrap()).collect();
        got
    });
    a.send_bytes(&large).unwrap();
    assert_eq!(a.queued_len(), 0);
    a.send_bytes(b"after").unwrap();
    let got = reader.join().unwrap();
    assert_eq!(got[0], b"before");
    assert_eq!(got[1], large);
    assert_eq!(got[2], b"after");
}

#[test]
fn close_flushes_queued_messages_and_drop_does_not() {
    let (mut a, mut b) = pipe(true).unwrap();
    a.queue_bytes(b"kept").unwrap();
    a.close().unwrap();
    assert_eq!(b.recv_bytes(None).unwrap(), b"kept");
    assert!(b.recv_bytes(None).unwrap_err().is_eof());

    let (mut a, mut b) = pipe(true).unwrap();
    a.queue_bytes(b"lost").unwrap();
    drop(a);
    assert!(b.recv_bytes(None).unwrap_err().is_eof());
}

#[test]
fn receive_timeout_keeps_the_partial_message_for_a_retry() {
    let (mut raw, mut conn) = raw_peer();
    conn.set_timeout(Some(Duration::from_millis(100))).unwrap();
    raw.write_all(b"\0\0\0\x06hal").unwrap();
    assert!(conn.recv_bytes(None).unwrap_err().is_timeout());
    raw.write_all(b"ves").unwrap();
    conn.set_timeout(Some(LIMIT)).unwrap();
    assert_eq!(conn.recv_bytes(None).unwrap(), b"halves");
}

/// A payload long enough to be read straight into the core's buffer, not through the
/// connection's read buffer.
fn large_payload(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

#[test]
fn eof_inside_a_large_message_counts_every_byte_that_arrived() {
    let (mut raw, mut conn) = raw_peer();
    let writer = std::thread::spawn(move || {
        raw.write_all(&(1u32 << 20).to_be_bytes()).unwrap();
        raw.write_all(&large_payload(300_000)).unwrap();
    });
    let error = conn.recv_bytes(None).unwrap_err();
    writer.join().unwrap();
    assert_unexpected_eof(&error, 300_004);
}

#[test]
fn receive_timeout_inside_a_large_message_keeps_what_arrived_for_a_retry() {
    let (mut raw, mut conn) = raw_peer();
    let payload = large_payload(200_000);
    conn.set_timeout(Some(Duration::from_millis(100))).unwrap();
    raw.write_all(&(payload.len() as u32).to_be_bytes())
        .unwrap();
    raw.write_all(&payload[..100_000]).unwrap();
    assert!(conn.recv_bytes(None).unwrap_err().is_timeout());
    raw.write_all(&payload[100_000..]).unwrap();
    conn.set_timeout(Some(LIMIT)).unwrap();
    assert!(conn.recv_bytes(None).unwrap() == payload);
}

#[test]
fn incoming_yields_one_connection_per_client() {
    let mut listener = Listener::bind(None, Some(b"")).unwrap(); // an empty key is a key
    let address = listener.address().clone();
    let clients = thread::spawn(move || {
        for i in 0..3u8 {
            let mut conn = Client::connect(&address, Some(b"")).unwrap();
            conn.send_bytes(&[i]).unwrap();
        }
    });
    for i in 0..3 {
        assert!(!wait(&[&listener], Some(LIMIT)).unwrap().is_empty());
        let mut conn = listener.incoming().next().unwrap().unwrap();
        conn.set_timeout(Some(LIMIT)).unwrap();
        assert_eq!(conn.recv_bytes(None).unwrap(), [i as u8]);
    }
    clients.join().unwrap();
}

#[test]
fn small_sends_that_time_out_stay_queued_and_arrive_after_a_flush() {
    let (mut a, mut b) = pipe(true).unwrap();
    a.set_timeout(Some(Duration::from_millis(50))).unwrap();
    // Nobody reads: sooner or later the socket buffer is full and a send times out.
    let mut sent = 0u32;
    let error = loop {
        let mut message = vec![0u8; 16 * 1024];
        message[..4].copy_from_slice(&sent.to_be_bytes());
        match a.send_bytes(&message) {
            Ok(()) => sent += 1,
            Err(error) => break error,
        }
        assert!(sent < 100_000, "the socket never filled up");
    };
    assert!(error.is_timeout(), "{error}");
    assert!(a.queued_len() > 0);
    let total = sent + 1; // the one that timed out is queued, not lost
    let reader = thread::spawn(move || {
        b.set_timeout(Some(LIMIT)).unwrap();
        for i in 0..total {
            let message = b.recv_bytes(None).unwrap();
            assert_eq!(message.len(), 16 * 1024);
            assert_eq!(message[..4], i.to_be_bytes());
        }
    });
    a.set_timeout(Some(LIMIT)).unwrap();
    a.flush().unwrap();
    reader.join().unwrap();
}

#[test]
fn a_large_send_that_times_out_part_way_stays_queued_and_arrives_after_a_flush() {
    let (mut a, mut b) = pipe(true).unwrap();
    a.set_timeout(Some(Duration::from_millis(50))).unwrap();
    let message: Vec<u8> = (0..64u32 << 20).map(|i| (i % 251) as u8).collect();
    // Nobody reads: the socket buffer fills part-way through the message.
    let error = a.send_bytes(&message).unwrap_err();
    assert!(error.is_timeout(), "{error}");
    assert!(a.queued_len() > 0 && a.queued_len() < 4 + message.len());
    let reader = thread::spawn(move || {
        b.set_timeout(Some(LIMIT)).unwrap();
        let first = b.recv_bytes(None).unwrap();
        (first, b.recv_bytes(None).unwrap())
    });
    a.set_timeout(Some(LIMIT)).unwrap();
    a.send_bytes(b"x").unwrap(); // after the rest of the first, in step
    let (first, second) = reader.join().unwrap();
    assert!(first == message, "the message arrived whole");
    assert_eq!(second, b"x");
}

#[test]
fn a_large_send_that_fails_part_way_leaves_the_write_side_out_of_step() {
    let (mut a, mut b) = pipe(true).unwrap();
    a.set_timeout(Some(LIMIT)).unwrap();
    let reader = thread::spawn(move || {
        // Part of the frame arrives, then the peer is gone.
        b.set_timeout(Some(LIMIT)).unwrap();
        assert!(b.poll(Some(LIMIT)).unwrap());
    });
    let error = a.send_bytes(&vec![0u8; 64 << 20]).unwrap_err();
    reader.join().unwrap();
    assert!(error.io_kind().is_some(), "{error}");
    let error = a.send_bytes(b"x").unwrap_err();
    assert!(error.to_string().contains("out of step"), "{error}");
}
