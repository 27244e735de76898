//! Properties of the core that must hold for any input: framing round trips under any
//! split of the input, the two handshake roles against each other for any keys and
//! options, no panic on arbitrary bytes, and the same result whether a conversation is
//! fed one byte at a time or all at once.

use proptest::prelude::*;

use mpconn::connection::State as ConnState;
use mpconn::frame::{encode, Decoder};
use mpconn::handshake::{Handshake, State};
use mpconn::{
    AuthFailure, Connection, Digest, Error, HandshakeConfig, Receiver, RecvBuf, Role, Transport,
};
// Seeded: a conversation replays with the same nonces.
use mpconn_test_support::{pieces, SplitMix};

/// What a decoder made of a stream: the payloads, and the error that stopped it.
fn decode_pieces(decoder: &mut Decoder, input: &[&[u8]]) -> (Vec<Vec<u8>>, Option<Error>) {
    let mut frames = Vec::new();
    for piece in input {
        let mut rest = *piece;
        while !rest.is_empty() {
            match decoder.decode(rest) {
                Ok((used, frame)) => {
                    if let Some(frame) = frame {
                        frames.push(frame.into_vec());
                    }
                    rest = &rest[used..];
                }
                Err(error) => return (frames, Some(error)),
            }
        }
    }
    (frames, None)
}

/// Up to 5 payloads, mostly small, some past the read buffer (60-70 kB).
fn small_and_large_payloads() -> impl Strategy<Value = Vec<Vec<u8>>> {
    prop::collection::vec(
        prop_oneof![
            8 => prop::collection::vec(any::<u8>(), 0..2000),
            1 => prop::collection::vec(any::<u8>(), 60_000..70_000),
        ],
        0..6,
    )
}

/// One read of at most `max` of `bytes` into what `recv_buf` lent, as much as fits:
/// how many.
fn read_into(buf: RecvBuf<'_>, bytes: &[u8], max: usize) -> usize {
    buf.fill(&bytes[..bytes.len().min(max)])
}

/// [`decode_pieces`] as an adapter drives a [`Receiver`]: each piece arrives in reads
/// into whatever `recv_buf` lends (the buffer, or a large payload's own `Vec`), each
/// read at most `maxes` bytes (cycled, at least 1), and after each read every message
/// is taken.
fn receive_pieces(
    receiver: &mut Receiver,
    input: &[&[u8]],
    maxes: &[usize],
) -> (Vec<Vec<u8>>, Option<Error>) {
    let mut maxes = maxes.iter().cycle();
    let mut frames = Vec::new();
    for piece in input {
        let mut rest = *piece;
        while !rest.is_empty() {
            let max = (*maxes.next().unwrap()).max(1);
            let n = read_into(receiver.recv_buf(), rest, max);
            receiver.received(n).unwrap();
            rest = &rest[n..];
            loop {
                let ready = receiver.has_message();
                let next = receiver.next_message();
                assert_eq!(
                    ready,
                    !matches!(next, Ok(None)),
                    "has_message before {next:?}"
                );
                match next {
                    Ok(Some(frame)) => frames.push(frame.into_vec()),
                    Ok(None) => break,
                    Err(error) => return (frames, Some(error)),
                }
            }
        }
    }
    (frames, None)
}

fn digest() -> impl Strategy<Value = Digest> {
    prop::sample::select(Digest::ALL.to_vec())
}

fn config() -> impl Strategy<Value = HandshakeConfig> {
    (digest(), any::<bool>(), any::<bool>()).prop_map(|(digest, legacy, refuse_md5)| {
        HandshakeConfig::default()
            .digest(digest)
            .legacy(legacy)
            .refuse_md5(refuse_md5)
    })
}

/// Keys of every interesting length: empty, short, and longer than any HMAC block
/// (128 bytes for SHA-384), which HMAC hashes first.
fn key() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..200)
}

fn split_sizes() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(1usize..80, 1..8)
}

fn messages() -> impl Strategy<Value = Vec<Vec<u8>>> {
    prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 0..4)
}

/// Byte streams that are mostly well-formed frames, with garbage mixed in: pure random
/// bytes almost always start with a huge length and test nothing past the header.
fn frame_soup() -> impl Strategy<Value = Vec<u8>> {
    let item = prop_oneof![
        3 => prop::collection::vec(any::<u8>(), 0..300).prop_map(|payload| {
            let mut wire = Vec::new();
            encode(&payload, &mut wire);
            wire
        }),
        1 => prop::collection::vec(any::<u8>(), 0..40),
    ];
    prop::collection::vec(item, 0..6).prop_map(|items| items.concat())
}

/// Handshake-shaped garbage: frames whose payloads start like handshake messages.
fn handshake_soup() -> impl Strategy<Value = Vec<u8>> {
    let payload = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..300),
        prop::collection::vec(any::<u8>(), 0..80)
            .prop_map(|tail| [b"#CHALLENGE#", &tail[..]].concat()),
        prop::collection::vec(any::<u8>(), 0..60).prop_map(|tail| [
            &b"#CHALLENGE#{sha256}"[..],
            &tail[..]
        ]
        .concat()),
        Just(b"#WELCOME#".to_vec()),
        Just(b"#FAILURE#".to_vec()),
        prop::collection::vec(any::<u8>(), 16..=20),
    ];
    let item = prop_oneof![
        4 => payload.prop_map(|payload| {
            let mut wire = Vec::new();
            encode(&payload, &mut wire);
            wire
        }),
        1 => prop::collection::vec(any::<u8>(), 0..20),
    ];
    prop::collection::vec(item, 0..5).prop_map(|items| items.concat())
}

/// Everything that crossed the wire and arrived, for comparing two runs.
#[derive(Debug, PartialEq, Eq)]
struct Transcript {
    server_to_client: Vec<u8>,
    client_to_server: Vec<u8>,
    server_received: Vec<Vec<u8>>,
    client_received: Vec<Vec<u8>>,
    server_outcome: Result<(), Error>,
    client_outcome: Result<(), Error>,
}

/// What reads from a message transport: a [`Receiver`] or a [`Connection`].
trait MessageSink {
    fn recv_buf(&mut self) -> RecvBuf<'_>;
    fn received(&mut self, n: usize);
    fn message_remaining(&mut self, left: u64);
    fn received_message_end(&mut self);
}

/// Both forward to their own methods of the same names, failing the test on an error.
macro_rules! message_sink {
    ($($ty:ident),*) => {$(
        impl MessageSink for $ty {
            fn recv_buf(&mut self) -> RecvBuf<'_> {
                $ty::recv_buf(self)
            }
            fn received(&mut self, n: usize) {
                $ty::received(self, n).unwrap();
            }
            fn message_remaining(&mut self, left: u64) {
                $ty::message_remaining(self, left).unwrap();
            }
            fn received_message_end(&mut self) {
                $ty::received_message_end(self).unwrap();
            }
        }
    )*};
}

message_sink!(Receiver, Connection);

/// One message into `sink` as an adapter reads a message-mode pipe: reads of at most
/// `sizes` bytes (cycled) into whatever `recv_buf` lends, the rest announced after the
/// first read when `announce` (as `PeekNamedPipe` tells after `ERROR_MORE_DATA`), then
/// its end. With `cut`, only the bytes of `message` arrive of a message `cut` long,
/// and no end: the pipe broke inside it.
fn read_message(
    sink: &mut impl MessageSink,
    message: &[u8],
    sizes: &[usize],
    announce: bool,
    cut: Option<usize>,
) {
    let whole = cut.unwrap_or(message.len());
    let mut sizes = sizes.iter().cycle();
    let mut rest = message;
    let mut first = true;
    while !rest.is_empty() {
        let max = (*sizes.next().unwrap()).max(1);
        let n = read_into(sink.recv_buf(), rest, max);
        sink.received(n);
        rest = &rest[n..];
        if first && announce && !rest.is_empty() {
            sink.message_remaining((whole - (message.len() - rest.len())) as u64);
        }
        first = false;
    }
    if cut.is_none() {
        sink.received_message_end();
    }
}

/// Moves bytes between two connections, cut into `sizes` pieces, until both are quiet.
/// A side still handshaking when nothing more will come gets `received_eof()`, as if
/// the peer had closed (a real peer that failed closes its socket).
/// On [`Transport::Messages`], whole messages move, each read in `sizes` pieces (every
/// other one announced); the log holds them framed, as the stream would carry them.
fn pump(server: &mut Connection, client: &mut Connection, sizes: &[usize], log: &mut Transcript) {
    loop {
        if server.transport() == Transport::Messages {
            let to_client: Vec<_> = std::iter::from_fn(|| server.take_message()).collect();
            let to_server: Vec<_> = std::iter::from_fn(|| client.take_message()).collect();
            if to_client.is_empty() && to_server.is_empty() {
                break;
            }
            for (i, message) in to_client.iter().enumerate() {
                encode(message, &mut log.server_to_client);
                read_message(client, message, sizes, i % 2 == 0, None);
            }
            for (i, message) in to_server.iter().enumerate() {
                encode(message, &mut log.client_to_server);
                read_message(server, message, sizes, i % 2 == 1, None);
            }
            continue;
        }
        let to_client = server.take_output();
        let to_server = client.take_output();
        if to_client.is_empty() && to_server.is_empty() {
            break;
        }
        log.server_to_client.extend_from_slice(&to_client);
        log.client_to_server.extend_from_slice(&to_server);
        for piece in pieces(&to_client, sizes) {
            client.feed(piece).unwrap();
        }
        for piece in pieces(&to_server, sizes) {
            server.feed(piece).unwrap();
        }
    }
    for conn in [&mut *server, &mut *client] {
        if conn.is_handshaking() {
            conn.received_eof();
        }
    }
    log.server_outcome = outcome(server);
    log.client_outcome = outcome(client);
}

/// How a connection's handshake ended: `Ok` once established, else its error. Every
/// byte it wanted written was taken, so a failure must be reported as such by now.
fn outcome(conn: &Connection) -> Result<(), Error> {
    match conn.state() {
        ConnState::Established => Ok(()),
        ConnState::Failed(error) => Err(error.clone()),
        ConnState::Handshaking => panic!("still handshaking after the end of its input"),
    }
}

/// Every message a connection has received, taken in order.
fn messages_of(conn: &mut Connection) -> Vec<Vec<u8>> {
    let mut messages = Vec::new();
    while let Ok(Some(message)) = conn.next_message() {
        messages.push(message.into_vec());
    }
    messages
}

#[derive(Debug)]
struct Conversation {
    server_key: Option<Vec<u8>>,
    client_key: Option<Vec<u8>>,
    server_config: HandshakeConfig,
    client_config: HandshakeConfig,
    seed: u64,
    /// Sent before the handshake finishes, by server and by client.
    early: (Vec<Vec<u8>>, Vec<Vec<u8>>),
    /// Sent after it, by server and by client.
    late: (Vec<Vec<u8>>, Vec<Vec<u8>>),
}

impl Conversation {
    fn run(&self, sizes: &[usize]) -> Transcript {
        self.run_over(Transport::Stream, sizes)
    }

    fn run_over(&self, transport: Transport, sizes: &[usize]) -> Transcript {
        let mut rng = SplitMix::new(self.seed);
        let mut server =
            Connection::server(self.server_key.as_deref(), &self.server_config, &mut rng)
                .with_transport(transport);
        let mut client =
            Connection::client(self.client_key.as_deref(), &self.client_config, &mut rng)
                .with_transport(transport);
        for message in &self.early.0 {
            server.send(message).unwrap();
        }
        for message in &self.early.1 {
            client.send(message).unwrap();
        }
        let mut log = Transcript {
            server_to_client: Vec::new(),
            client_to_server: Vec::new(),
            server_received: Vec::new(),
            client_received: Vec::new(),
            server_outcome: Ok(()),
            client_outcome: Ok(()),
        };
        pump(&mut server, &mut client, sizes, &mut log);
        if server.is_established() && client.is_established() {
            for message in &self.late.0 {
                server.send(message).unwrap();
            }
            for message in &self.late.1 {
                client.send(message).unwrap();
            }
            pump(&mut server, &mut client, sizes, &mut log);
        }
        log.server_received = messages_of(&mut server);
        log.client_received = messages_of(&mut client);
        log
    }
}

fn uses_md5(config: &HandshakeConfig) -> bool {
    config.is_legacy() || config.requested_digest() == Digest::Md5
}

fn conversation() -> impl Strategy<Value = Conversation> {
    (
        prop::option::of(key()),
        0u8..3,
        (config(), config()),
        any::<u64>(),
        (messages(), messages()),
        (messages(), messages()),
    )
        .prop_map(
            |(server_key, client_key_kind, configs, seed, early, late)| {
                let client_key = match client_key_kind {
                    0 => server_key.clone(),
                    // A different key: never equal to the server's.
                    1 => server_key.clone().map(|mut key| {
                        key.push(0x5a);
                        key
                    }),
                    // None against Some (or Some(empty) against None): a setup mismatch.
                    _ => match &server_key {
                        Some(_) => None,
                        None => Some(Vec::new()),
                    },
                };
                Conversation {
                    server_key,
                    client_key,
                    server_config: configs.0,
                    client_config: configs.1,
                    seed,
                    early,
                    late,
                }
            },
        )
}

proptest! {
    #[test]
    fn frames_round_trip_for_any_payloads_and_any_input_split(
        payloads in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..2000), 0..8),
        sizes in split_sizes(),
    ) {
        let mut wire = Vec::new();
        for payload in &payloads {
            encode(payload, &mut wire);
        }
        let whole = decode_pieces(&mut Decoder::new(), &[&wire]);
        let split = decode_pieces(&mut Decoder::new(), &pieces(&wire, &sizes));
        prop_assert_eq!(&whole, &(payloads, None));
        prop_assert_eq!(whole, split);
    }

    #[test]
    fn a_receiver_driven_through_recv_buf_yields_the_frames_errors_and_end_of_plain_decode(
        payloads in small_and_large_payloads(),
        cut in any::<prop::sample::Index>(),
        max_len in prop::option::of(0u64..3000),
        sizes in prop::collection::vec(1usize..5000, 1..8),
        maxes in prop::collection::vec(0usize..100_000, 1..8),
    ) {
        let mut wire = Vec::new();
        for payload in &payloads {
            encode(payload, &mut wire);
        }
        // Sometimes the stream ends inside a frame.
        let whole = cut.index(4) != 0;
        let wire = if whole { &wire[..] } else { &wire[..cut.index(wire.len() + 1)] };
        let split = pieces(wire, &sizes);
        let mut decoder = max_len.map_or_else(Decoder::new, Decoder::with_max_len);
        let plain = decode_pieces(&mut decoder, &split);
        let mut receiver = Receiver::new();
        receiver.set_max_len(max_len);
        let received = receive_pieces(&mut receiver, &split, &maxes);
        prop_assert_eq!(&plain, &received);
        prop_assert_eq!(receiver.is_mid_message(), !decoder.is_idle() && !decoder.is_failed());
        receiver.received_eof();
        let end = receiver.next_message().map(|frame| frame.map(|f| f.into_vec()));
        prop_assert_eq!(end, Err(decoder.eof()));
        match (max_len, received.1) {
            (_, None) if whole => prop_assert_eq!(&received.0, &payloads),
            (_, None) => prop_assert!(payloads.starts_with(&received.0)),
            (Some(max), Some(error)) => {
                let len = payloads.iter().map(|p| p.len() as u64).find(|&len| len > max);
                prop_assert_eq!(error, Error::MessageTooLong { len: len.unwrap(), max });
            }
            (None, Some(error)) => prop_assert!(false, "no limit, yet {:?}", error),
        }
    }

    #[test]
    fn decoder_on_arbitrary_bytes_never_panics_and_ignores_splits(
        input in prop_oneof![frame_soup(), prop::collection::vec(any::<u8>(), 0..600)],
        max_len in prop::option::of(0u64..400),
        sizes in split_sizes(),
    ) {
        let new = || max_len.map_or_else(Decoder::new, Decoder::with_max_len);
        let whole = decode_pieces(&mut new(), &[&input]);
        let mut decoder = new();
        let split = decode_pieces(&mut decoder, &pieces(&input, &sizes));
        prop_assert_eq!(&whole, &split);
        if let Some(error) = split.1 {
            prop_assert!(
                matches!(error, Error::MessageTooLong { .. } | Error::NegativeLength(_)),
                "{:?}",
                error
            );
            // Finished for good: out of step after an error.
            prop_assert!(decoder.is_failed());
            prop_assert_eq!(decoder.decode(b"\0\0\0\0"), Err(error));
        }
        let _ = decoder.eof();
    }

    #[test]
    fn either_handshake_role_on_arbitrary_bytes_never_panics_and_ignores_splits(
        server in any::<bool>(),
        key in key(),
        config in config(),
        seed in any::<u64>(),
        input in prop_oneof![handshake_soup(), prop::collection::vec(any::<u8>(), 0..300)],
        sizes in split_sizes(),
    ) {
        let role = if server { Role::Server } else { Role::Client };
        let run = |input: &[&[u8]]| {
            let mut handshake = Handshake::new(role, &key, &config, &mut SplitMix::new(seed));
            let mut output = handshake.take_output();
            let mut outcome = Ok(());
            for piece in input {
                outcome = handshake.feed(piece).map(drop);
                output.extend(handshake.take_output());
                if outcome.is_err() || handshake.is_done() {
                    break;
                }
            }
            let state = handshake.state().clone();
            let eof = handshake.eof();
            (outcome, state, output, eof)
        };
        let whole = run(&[&input]);
        let split = run(&pieces(&input, &sizes));
        prop_assert_eq!(&whole, &split);
        let (outcome, state, output, _) = split;
        // Random bytes cannot carry a valid MAC for a fresh nonce.
        prop_assert_ne!(state, State::Done);
        if let Err(error) = outcome {
            prop_assert!(matches!(
                error,
                Error::Authentication(_) | Error::MessageTooLong { len: 257.., max: 256 }
                    | Error::NegativeLength(_)
            ), "{:?}", error);
        }
        // Whatever happened, only whole handshake frames went out, each at most 256
        // bytes (CPython reads every handshake frame with recv_bytes(256)); a server
        // always sent its challenge.
        let mut decoder = Decoder::with_max_len(256);
        let (frames, error) = decode_pieces(&mut decoder, &[&output]);
        prop_assert!(error.is_none() && decoder.is_idle(), "{:?}", error);
        prop_assert!(!server || !frames.is_empty());
    }

    #[test]
    fn handshake_roles_agree_exactly_when_keys_and_md5_policies_allow(
        conversation in conversation(),
        sizes in split_sizes(),
    ) {
        let c = &conversation;
        let log = c.run(&sizes);
        let md5_in_play = uses_md5(&c.server_config) || uses_md5(&c.client_config);
        let md5_refused = c.server_config.refuses_md5() || c.client_config.refuses_md5();
        let should_succeed = c.server_key == c.client_key
            && (c.server_key.is_none() || !(md5_in_play && md5_refused));
        if c.server_key.is_some() != c.client_key.is_some() {
            // One side expects a handshake the other will not run. The keyed side
            // fails or waits; it never sees a message in place of a handshake frame.
            let keyed = if c.server_key.is_some() {
                (&log.server_outcome, &log.server_received)
            } else {
                (&log.client_outcome, &log.client_received)
            };
            prop_assert!(keyed.0.is_err(), "{:?}", log);
            prop_assert!(keyed.1.is_empty());
        } else if should_succeed {
            prop_assert_eq!(&log.server_outcome, &Ok(()));
            prop_assert_eq!(&log.client_outcome, &Ok(()));
            let server_got: Vec<_> = c.early.1.iter().chain(&c.late.1).cloned().collect();
            let client_got: Vec<_> = c.early.0.iter().chain(&c.late.0).cloned().collect();
            prop_assert_eq!(&log.server_received, &server_got);
            prop_assert_eq!(&log.client_received, &client_got);
        } else {
            prop_assert!(log.server_outcome.is_err() && log.client_outcome.is_err(), "{:?}", log);
            prop_assert!(log.server_received.is_empty() && log.client_received.is_empty());
            if !md5_refused {
                // Wrong key: we check the peer's MAC first, then it hears #FAILURE#.
                prop_assert_eq!(
                    &log.server_outcome,
                    &Err(Error::Authentication(AuthFailure::WrongDigest))
                );
                prop_assert_eq!(
                    &log.client_outcome,
                    &Err(Error::Authentication(AuthFailure::DigestRejected))
                );
            }
        }
    }

    #[test]
    fn a_conversation_fed_byte_by_byte_or_all_at_once_is_the_same(
        conversation in conversation(),
        sizes in split_sizes(),
    ) {
        let all_at_once = conversation.run(&[usize::MAX]);
        prop_assert_eq!(&conversation.run(&[1]), &all_at_once);
        prop_assert_eq!(&conversation.run(&sizes), &all_at_once);
    }

    #[test]
    fn a_conversation_over_the_message_transport_is_the_stream_one_without_headers(
        conversation in conversation(),
        sizes in split_sizes(),
    ) {
        // The same nonces, keys and messages: the pipe messages are exactly the
        // stream's frames less their headers, and both ends see the same.
        let stream = conversation.run(&[usize::MAX]);
        prop_assert_eq!(&conversation.run_over(Transport::Messages, &[usize::MAX]), &stream);
        let mut split = conversation.run_over(Transport::Messages, &sizes);
        // A handshake message too long is refused as soon as it passes 256 bytes, not
        // at the length a header would declare.
        for (outcome, on_stream) in [
            (&mut split.server_outcome, &stream.server_outcome),
            (&mut split.client_outcome, &stream.client_outcome),
        ] {
            if let (
                Err(Error::MessageTooLong { len, max }),
                Err(Error::MessageTooLong { len: declared, max: m }),
            ) = (&mut *outcome, on_stream)
            {
                prop_assert!(max == m && *len > *max && *len <= *declared, "{} past {}", len, declared);
                *len = *declared;
            }
        }
        prop_assert_eq!(&split, &stream);
    }

    #[test]
    fn a_message_receiver_yields_what_a_stream_receiver_yields_of_the_same_frames(
        payloads in small_and_large_payloads(),
        announce in prop::collection::vec(any::<bool>(), 1..8),
        cut in any::<prop::sample::Index>(),
        max_len in prop::option::of(0u64..3000),
        sizes in prop::collection::vec(1usize..100_000, 1..8),
    ) {
        // The last message is sometimes cut: the pipe broke inside it (never before
        // its first byte, which would be no message at all).
        let cut_at = payloads
            .last()
            .filter(|last| last.len() > 1 && cut.index(3) == 0)
            .map(|last| 2 + cut.index(last.len() - 1));
        let mut wire = Vec::new();
        for payload in &payloads {
            encode(payload, &mut wire);
        }
        if let Some(at) = cut_at {
            let last = payloads.last().unwrap();
            wire.truncate(wire.len() - last.len() + at - 1);
        }
        let mut stream = Receiver::new();
        stream.set_max_len(max_len);
        let (stream_messages, stream_error) = receive_pieces(&mut stream, &[&wire], &[usize::MAX]);
        let stream_error = stream_error.or_else(|| {
            stream.received_eof();
            stream.next_message().err()
        });

        let mut receiver = Receiver::new().with_transport(Transport::Messages);
        receiver.set_max_len(max_len);
        let (mut messages, mut error) = (Vec::new(), None);
        for (i, payload) in payloads.iter().enumerate() {
            let last = i + 1 == payloads.len();
            let (payload, cut) = match cut_at {
                Some(at) if last => (&payload[..at - 1], Some(payload.len())),
                _ => (&payload[..], None),
            };
            let announced = announce[i % announce.len()];
            read_message(&mut receiver, payload, &sizes, announced, cut);
            if let Some(max) = max_len {
                // Memory follows the limit, not what the peer sends.
                let bound = (max as usize + 8).max(receiver.policy().max) * 2 + 100_000;
                prop_assert!(receiver.buffer_len() <= bound, "{} > {}", receiver.buffer_len(), bound);
            }
            loop {
                let ready = receiver.has_message();
                let next = receiver.next_message();
                prop_assert_eq!(ready, !matches!(next, Ok(None)), "has_message before {:?}", next);
                match next {
                    Ok(Some(frame)) => messages.push(frame.into_vec()),
                    Ok(None) => break,
                    Err(e) => {
                        error = Some(e);
                        break;
                    }
                }
            }
            if error.is_some() {
                break;
            }
        }
        if error.is_none() {
            receiver.received_eof();
            error = receiver.next_message().err();
        }
        prop_assert_eq!(&messages, &stream_messages);
        // The errors agree, but for what only a header tells: a length not announced
        // is known up to the bytes read when it passed the limit, and the header's
        // bytes count toward what arrived before the end on the stream.
        match (error, stream_error) {
            (Some(Error::MessageTooLong { len, max }), Some(Error::MessageTooLong { len: declared, max: m })) => {
                prop_assert_eq!(max, m);
                prop_assert!(len > max && len <= declared, "{} not in ({}, {}]", len, max, declared);
            }
            (Some(Error::UnexpectedEof { received }), Some(Error::UnexpectedEof { received: on_stream })) => {
                prop_assert!(received == on_stream || received + 4 == on_stream, "{} vs {}", received, on_stream);
            }
            (Some(Error::UnexpectedEof { .. }), Some(Error::MessageTooLong { .. }))
                if cut_at.is_some() =>
            {
                // Cut before the limit was passed, and no header said it would be
                // (what a cut message announced is what was left of its cut part).
            }
            (error, stream_error) => prop_assert_eq!(error, stream_error),
        }
    }
}
