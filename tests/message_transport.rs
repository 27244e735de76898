//! The message transport (`Transport::Messages`, Windows message-mode named pipes):
//! each message is one transport message without a header, in the handshake too. The
//! properties comparing it with the stream transport are in tests/properties.rs; these
//! are its edges, each stated once.

use mpconn::connection::State;
use mpconn::{Connection, Error, HandshakeConfig, Misuse, Receiver, RecvBuf, Sender, Transport};
use mpconn_test_support::Counter;

fn messages() -> Receiver {
    Receiver::new().with_transport(Transport::Messages)
}

/// Every message taken until `Ok(None)` or an error.
fn drain(receiver: &mut Receiver) -> (Vec<Vec<u8>>, Option<Error>) {
    let mut out = Vec::new();
    loop {
        match receiver.next_message() {
            Ok(Some(frame)) => out.push(frame.into_vec()),
            Ok(None) => return (out, None),
            Err(error) => return (out, Some(error)),
        }
    }
}

#[test]
fn empty_messages_and_messages_that_look_like_headers_arrive_as_sent() {
    let mut receiver = messages();
    for message in [&b""[..], b"\0\0\0\x05", b"\xff\xff\xff\xff", b"", b"x"] {
        receiver.feed_message(message).unwrap();
    }
    let (got, error) = drain(&mut receiver);
    assert_eq!(
        got,
        [&b""[..], b"\0\0\0\x05", b"\xff\xff\xff\xff", b"", b"x"]
    );
    assert_eq!(error, None);
}

#[test]
fn a_message_is_not_taken_before_its_end() {
    let mut receiver = messages();
    receiver.feed(b"part").unwrap();
    assert!(!receiver.has_message());
    assert!(!receiver.has_buffered_input());
    assert_eq!(receiver.next_message(), Ok(None));
    receiver.feed(b" two").unwrap();
    receiver.received_message_end().unwrap();
    assert_eq!(
        receiver.next_message().unwrap().as_deref(),
        Some(&b"part two"[..])
    );
}

#[test]
fn a_message_over_the_limit_is_refused_after_those_before_it_and_not_held() {
    let mut receiver = messages();
    receiver.set_max_len(Some(100));
    receiver.feed_message(b"first").unwrap();
    // 10 MB of one message, its length never announced: refused once past the limit.
    for _ in 0..1000 {
        receiver.feed(&[7; 10_000]).unwrap();
    }
    assert!(
        receiver.buffer_len() <= 64 * 1024,
        "{} bytes held",
        receiver.buffer_len()
    );
    receiver.received_message_end().unwrap();
    receiver.feed_message(b"after").unwrap();
    let (got, error) = drain(&mut receiver);
    assert_eq!(got, [b"first".to_vec()]);
    assert!(
        matches!(error, Some(Error::MessageTooLong { len, max: 100 }) if len > 100),
        "{error:?}"
    );
    assert_eq!(
        receiver.next_message().map(|_| ()),
        Err(error.unwrap()),
        "again"
    );
}

#[test]
fn an_announced_length_over_the_limit_fails_before_the_rest_is_read() {
    let mut receiver = messages();
    receiver.set_max_len(Some(1000));
    receiver.feed(&[1; 128]).unwrap(); // CPython's first read is 128 bytes
    receiver.message_remaining(5_000_000_000).unwrap();
    assert!(receiver.has_message());
    assert_eq!(
        receiver.next_message(),
        Err(Error::MessageTooLong {
            len: 5_000_000_128,
            max: 1000
        })
    );
}

#[test]
fn the_rest_of_a_large_announced_message_is_read_onto_its_own_vec() {
    let message: Vec<u8> = (0..1_000_000u32).map(|i| i as u8).collect();
    let mut receiver = messages();
    let mut rest = &message[..];
    let mut payload_reads = 0;
    let mut first = true;
    while !rest.is_empty() {
        let lent = receiver.recv_buf();
        payload_reads += usize::from(matches!(lent, RecvBuf::Payload { .. }));
        let n = lent.fill(rest);
        receiver.received(n).unwrap();
        rest = &rest[n..];
        if first {
            receiver.message_remaining(rest.len() as u64).unwrap();
            first = false;
        }
    }
    receiver.received_message_end().unwrap();
    assert!(payload_reads > 0);
    assert!(receiver.buffer_len() <= 64 * 1024);
    assert_eq!(
        receiver.next_message().unwrap().as_deref(),
        Some(&message[..])
    );
}

#[test]
fn the_end_of_the_pipe_inside_a_message_is_unexpected_and_between_messages_closed() {
    let mut receiver = messages();
    receiver.feed_message(b"whole").unwrap();
    receiver.feed(b"hal").unwrap();
    receiver.received_eof();
    let (got, error) = drain(&mut receiver);
    assert_eq!(got, [b"whole".to_vec()]);
    assert_eq!(error, Some(Error::UnexpectedEof { received: 3 }));

    let mut receiver = messages();
    receiver.feed_message(b"whole").unwrap();
    receiver.received_eof();
    assert_eq!(drain(&mut receiver).1, Some(Error::Closed));
}

#[test]
fn message_calls_are_misuse_on_a_stream_and_a_wrong_announced_length_is_out_of_step() {
    let mut stream = Receiver::new();
    assert_eq!(stream.received_message_end(), Err(Misuse::NotMessages));
    assert_eq!(stream.message_remaining(3), Err(Misuse::NotMessages));

    let mut receiver = messages();
    receiver.feed(b"ab").unwrap();
    receiver.message_remaining(3).unwrap();
    assert_eq!(
        receiver.received_message_end(),
        Err(Misuse::MessageLengthMismatch {
            announced: 3,
            received: 0
        })
    );
    assert_eq!(receiver.next_message(), Err(Error::OutOfStep));

    let mut receiver = messages();
    receiver.feed(b"ab").unwrap();
    receiver.message_remaining(1).unwrap();
    // recv_buf lends no more than was announced.
    let RecvBuf::Buffer(room) = receiver.recv_buf() else {
        panic!("a buffer")
    };
    assert_eq!(room.len(), 1);
}

#[test]
fn the_sender_writes_each_message_alone_and_direct_sends_after_the_queue() {
    let mut sender = Sender::with_transport(Transport::Messages);
    sender.send(b"one").unwrap();
    let big = vec![9; 100_000];
    let mut send = sender.send_direct(&big).unwrap();
    // The queued message first, alone; then the payload, without a header.
    assert_eq!(send.slices(), [&b"one"[..], &[][..], &[][..]]);
    send.advance(3);
    assert_eq!(send.slices(), [&[][..], &[][..], &big[..]]);
    send.advance(big.len());
    assert!(send.is_done());
    drop(send);
    assert!(!sender.wants_write());

    // Dropped before any of it went out: queued whole, as a message of its own.
    let send = sender.send_direct(&big).unwrap();
    assert_eq!(send.slices()[2].len(), big.len());
    drop(send);
    sender.send(b"next").unwrap();
    assert_eq!(sender.take_message(), Some(big.clone()));
    assert_eq!(sender.take_message(), Some(b"next".to_vec()));

    // Cut part-way: the rest cannot be the same message any more.
    let mut send = sender.send_direct(&big).unwrap();
    send.advance(10);
    drop(send);
    assert_eq!(sender.send(b"x"), Err(Error::OutOfStep));
}

#[test]
fn a_handshake_message_past_256_bytes_fails_the_handshake_as_it_arrives() {
    let config = HandshakeConfig::default();
    let mut server = Connection::server(Some(b"key"), &config, &mut Counter(1))
        .with_transport(Transport::Messages);
    server.take_message().unwrap(); // the challenge
    server.feed(&[0; 200]).unwrap();
    assert!(server.is_handshaking());
    server.feed(&[0; 200]).unwrap();
    assert_eq!(
        server.error(),
        Some(&Error::MessageTooLong { len: 400, max: 256 })
    );
    // The rest of that message is not held.
    for _ in 0..100 {
        server.feed(&[0; 10_000]).unwrap();
    }
    assert!(server.receiver().buffer_len() <= 64 * 1024);
    // As on a stream (CPython's recv_bytes(256) raises): nothing more is written.
    assert_eq!(server.take_message(), None);
    assert!(matches!(server.state(), State::Failed(_)));
}

#[test]
fn a_keyed_handshake_over_messages_carries_no_headers() {
    let config = HandshakeConfig::default();
    let mut server = Connection::server(Some(b"key"), &config, &mut Counter(1))
        .with_transport(Transport::Messages);
    let mut client = Connection::client(Some(b"key"), &config, &mut Counter(2))
        .with_transport(Transport::Messages);
    client.send(b"early").unwrap();
    let mut to_server = Vec::new();
    let mut to_client = Vec::new();
    while server.wants_write() || client.wants_write() {
        while let Some(message) = server.take_message() {
            client.feed_message(&message).unwrap();
            to_client.push(message);
        }
        while let Some(message) = client.take_message() {
            server.feed_message(&message).unwrap();
            to_server.push(message);
        }
    }
    assert!(server.is_established() && client.is_established());
    // CPython's PipeConnection: one pipe message per handshake message, as is.
    assert!(to_client[0].starts_with(b"#CHALLENGE#{sha256}"));
    assert_eq!(to_client[1], b"#WELCOME#");
    assert!(to_server[0].starts_with(b"{sha256}"));
    assert!(to_server[1].starts_with(b"#CHALLENGE#{sha256}"));
    assert_eq!(to_server.last().unwrap(), b"early");
    assert_eq!(
        server.next_message().unwrap().as_deref(),
        Some(&b"early"[..])
    );
}
