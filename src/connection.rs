//! A sans-IO connection: the handshake (when there is an authkey), then framed
//! messages both ways.
//!
//! The caller owns the I/O. It hands over what arrived ([`Connection::feed`] or, for
//! one frame at a time with zero copies, [`Connection::decode`]), writes what the
//! connection wants written ([`Connection::pending_output`] /
//! [`Connection::consume_output`]), queues messages ([`Connection::send`]) and takes
//! them ([`Connection::next_message`]). A loop that feeds one byte at a time and a loop
//! that feeds everything at once see the same messages and the same output.

use alloc::collections::VecDeque;
use alloc::vec::Vec;

use rand_core::CryptoRng;

use crate::error::Error;
use crate::frame::{self, Decoder, Extended, Frame};
use crate::handshake::{Handshake, HandshakeConfig, Role};

/// Where a connection stands.
#[derive(Debug)]
enum Phase {
    /// The authentication handshake is running. Messages sent meanwhile are held.
    Handshaking { handshake: Handshake, held: Vec<u8> },
    /// Messages flow both ways.
    Established,
    /// The handshake failed with this error (the output may still hold `#FAILURE#`).
    Failed(Error),
}

/// One end of a `multiprocessing.connection` connection, without the I/O.
///
/// See the [crate documentation](crate) for a complete loop.
#[derive(Debug)]
pub struct Connection {
    phase: Phase,
    decoder: Decoder,
    out: Vec<u8>,
    /// Bytes of `out` already written by the caller.
    out_start: usize,
    inbox: Inbox,
}

impl Connection {
    /// A connection with no handshake (CPython's `authkey=None`), such as one end of a
    /// `Pipe`: established from the start.
    pub fn established() -> Connection {
        Connection {
            phase: Phase::Established,
            decoder: Decoder::new(),
            out: Vec::new(),
            out_start: 0,
            inbox: Inbox::default(),
        }
    }

    /// The accepting side (`Listener.accept`): with an authkey it delivers a challenge,
    /// then answers one; without, it is established at once. Even an empty key runs the
    /// handshake, as in CPython.
    pub fn server<R: CryptoRng + ?Sized>(
        authkey: Option<&[u8]>,
        config: &HandshakeConfig,
        rng: &mut R,
    ) -> Connection {
        Connection::with_role(Role::Server, authkey, config, rng)
    }

    /// The connecting side (`Client`): with an authkey it answers a challenge, then
    /// delivers one; without, it is established at once.
    pub fn client<R: CryptoRng + ?Sized>(
        authkey: Option<&[u8]>,
        config: &HandshakeConfig,
        rng: &mut R,
    ) -> Connection {
        Connection::with_role(Role::Client, authkey, config, rng)
    }

    fn with_role<R: CryptoRng + ?Sized>(
        role: Role,
        authkey: Option<&[u8]>,
        config: &HandshakeConfig,
        rng: &mut R,
    ) -> Connection {
        let mut connection = Connection::established();
        if let Some(key) = authkey {
            let mut handshake = Handshake::new(role, key, config, rng);
            connection.out = handshake.take_output();
            connection.phase = Phase::Handshaking {
                handshake,
                held: Vec::new(),
            };
        }
        connection
    }

    /// True while the handshake runs.
    pub fn is_handshaking(&self) -> bool {
        matches!(self.phase, Phase::Handshaking { .. })
    }

    /// True once messages can flow (the handshake, if any, succeeded).
    pub fn is_established(&self) -> bool {
        matches!(self.phase, Phase::Established)
    }

    /// The error the handshake failed with, if it did.
    pub fn handshake_error(&self) -> Option<&Error> {
        match &self.phase {
            Phase::Failed(error) => Some(error),
            _ => None,
        }
    }

    /// Limits the length of incoming messages from the next frame on (CPython's
    /// `recv_bytes(maxlength)`); `None` removes the limit. A message over the limit
    /// fails the read side for good: the stream is out of step.
    pub fn set_max_len(&mut self, max_len: Option<u64>) {
        self.decoder.set_max_len(max_len);
    }

    /// True when the read side is part-way through a message.
    pub fn is_mid_message(&self) -> bool {
        !self.decoder.is_idle() && !self.decoder.is_failed()
    }

    /// Queues one message. During the handshake it is held, and sent once the
    /// handshake succeeds (dropped if it fails).
    pub fn send(&mut self, payload: &[u8]) -> Result<(), Error> {
        match &mut self.phase {
            Phase::Established => {
                frame::encode(payload, &mut self.out);
                Ok(())
            }
            Phase::Handshaking { held, .. } => {
                frame::encode(payload, held);
                Ok(())
            }
            Phase::Failed(first) => Err(Error::again(first)),
        }
    }

    /// Bytes waiting to be written to the peer, oldest first.
    pub fn pending_output(&self) -> &[u8] {
        &self.out[self.out_start..]
    }

    /// True when there are bytes waiting to be written.
    pub fn wants_write(&self) -> bool {
        self.out_start < self.out.len()
    }

    /// Marks the first `n` bytes of [`pending_output`](Self::pending_output) as written
    /// (a partial write keeps its place). `n` larger than what is pending is clamped.
    pub fn consume_output(&mut self, n: usize) {
        self.out_start = (self.out_start + n).min(self.out.len());
        if self.out_start == self.out.len() {
            self.out.clear();
            self.out_start = 0;
        }
    }

    /// Takes all bytes waiting to be written.
    pub fn take_output(&mut self) -> Vec<u8> {
        let mut out = core::mem::take(&mut self.out);
        out.drain(..self.out_start);
        self.out_start = 0;
        out
    }

    /// Feeds bytes received from the peer: all of `input` is taken, complete messages
    /// go to [`next_message`](Self::next_message). Handshake frames are consumed and
    /// answered first; bytes after the last of them are messages, never dropped.
    ///
    /// On a handshake error, write the pending output before closing: it may hold
    /// `#FAILURE#` for the peer.
    pub fn feed(&mut self, mut input: &[u8]) -> Result<(), Error> {
        while !input.is_empty() {
            let (used, frame) = self.decode_one(input)?;
            if let Some(frame) = frame {
                self.inbox.push(frame);
            }
            input = &input[used..];
        }
        Ok(())
    }

    /// The oldest complete message received through [`feed`](Self::feed).
    pub fn next_message(&mut self) -> Option<Vec<u8>> {
        self.inbox.pop()
    }

    /// Decodes from `input` up to the end of one frame and returns how many bytes were
    /// taken and the message, if one was completed. A message wholly inside `input` is
    /// borrowed from it, not copied. For loops that read into their own buffer and want
    /// each message as it completes (with the length limit of the moment).
    ///
    /// Not to be mixed with [`feed`](Self::feed) while messages fed that way are still
    /// waiting: that would reorder them, so it is refused.
    pub fn decode<'a>(&mut self, input: &'a [u8]) -> Result<(usize, Option<Frame<'a>>), Error> {
        if !self.inbox.is_empty() {
            return Err(Error::InvalidState(
                "messages from feed() are waiting; take them with next_message() first",
            ));
        }
        self.decode_one(input)
    }

    /// Room to read the rest of a message now arriving straight into, so that a loop
    /// need not copy it out of its own read buffer: `None` unless messages flow and one
    /// is part-way through its payload, see [`Decoder::payload_space`] (zeroed, at most
    /// `max` bytes, memory bounded by the bytes that arrived). Also `None` while
    /// messages from [`feed`](Self::feed) wait, as [`decode`](Self::decode) is refused.
    ///
    /// ```
    /// let mut connection = mpconn::Connection::established();
    /// let (used, _) = connection.decode(b"\0\0\0\x03a").unwrap();
    /// assert_eq!(used, 5);
    /// let room = connection.payload_space(64 * 1024).unwrap();
    /// room.copy_from_slice(b"bc"); // a read(2) into it, in a real loop
    /// assert_eq!(connection.payload_filled(2).unwrap(), Some(b"abc".to_vec()));
    /// ```
    pub fn payload_space(&mut self, max: usize) -> Option<&mut [u8]> {
        if !matches!(self.phase, Phase::Established) || !self.inbox.is_empty() {
            return None;
        }
        self.decoder.payload_space(max)
    }

    /// Says that the first `n` bytes of the room from
    /// [`payload_space`](Self::payload_space) now hold received bytes, and returns the
    /// message once it is complete (see [`Decoder::payload_filled`]).
    pub fn payload_filled(&mut self, n: usize) -> Result<Option<Vec<u8>>, Error> {
        match &self.phase {
            Phase::Established => self.decoder.payload_filled(n),
            Phase::Failed(first) => Err(Error::again(first)),
            Phase::Handshaking { .. } => Err(Error::InvalidState(
                "payload_filled during the handshake, which lends no room",
            )),
        }
    }

    /// Lets `fill` append the rest of a message now arriving straight onto it, without
    /// zeroing a room first (see [`Decoder::extend_payload`]; `fill` gets the buffer and
    /// the most it may append). `Ok(None)`, and `fill` not called, whenever
    /// [`payload_space`](Self::payload_space) would lend no room.
    ///
    /// ```
    /// use std::io::Read;
    ///
    /// let mut connection = mpconn::Connection::established();
    /// connection.decode(b"\0\0\0\x03a").unwrap();
    /// let mut socket: &[u8] = b"bc"; // in a real loop, a socket
    /// let extended = connection
    ///     .extend_payload(|buf, limit| (&mut socket).take(limit as u64).read_to_end(buf))
    ///     .unwrap()
    ///     .unwrap();
    /// assert_eq!(extended.filled.unwrap(), 2);
    /// assert_eq!(extended.message, Some(b"abc".to_vec()));
    /// ```
    pub fn extend_payload<R>(
        &mut self,
        fill: impl FnOnce(&mut Vec<u8>, usize) -> R,
    ) -> Result<Option<Extended<R>>, Error> {
        match &self.phase {
            Phase::Established if self.inbox.is_empty() => self.decoder.extend_payload(fill),
            Phase::Established | Phase::Handshaking { .. } => Ok(None),
            Phase::Failed(first) => Err(Error::again(first)),
        }
    }

    fn decode_one<'a>(&mut self, input: &'a [u8]) -> Result<(usize, Option<Frame<'a>>), Error> {
        match &mut self.phase {
            Phase::Established => self.decoder.decode(input),
            Phase::Failed(first) => Err(Error::again(first)),
            Phase::Handshaking { handshake, held } => {
                let result = handshake.feed(input);
                self.out.extend_from_slice(&handshake.take_output());
                match result {
                    Ok(used) => {
                        if handshake.is_done() {
                            self.out.append(held);
                            self.phase = Phase::Established;
                        }
                        Ok((used, None))
                    }
                    Err(error) => {
                        self.phase = Phase::Failed(error.clone());
                        Err(error)
                    }
                }
            }
        }
    }

    /// Tells the connection the peer closed the stream, and returns the error that
    /// describes it: [`Error::Closed`] between messages (CPython's `EOFError`),
    /// [`Error::UnexpectedEof`] inside one, [`Error::HandshakeEof`] during the
    /// handshake.
    pub fn eof(&mut self) -> Error {
        match &mut self.phase {
            Phase::Established => self.decoder.eof(),
            Phase::Failed(first) => Error::again(first),
            Phase::Handshaking { handshake, .. } => {
                let error = handshake.eof();
                self.phase = Phase::Failed(error.clone());
                error
            }
        }
    }
}

/// Messages received through [`Connection::feed`] and not yet taken, oldest first.
///
/// Small messages are kept framed, back to back, in one buffer: a queue of tiny messages
/// costs the bytes that carried them and no bookkeeping per message, so memory stays
/// within the bytes fed plus a constant. A large message keeps a vector of its own
/// (the one it was gathered in, moved, when it arrived across several inputs).
#[derive(Debug, Default)]
struct Inbox {
    /// Framed messages with canonical headers (never longer than the ones that carried
    /// them): `packed[start..]` is still to be taken.
    packed: Vec<u8>,
    start: usize,
    /// Arrival order: runs of messages in `packed`, and large gathered ones.
    order: VecDeque<Entry>,
}

#[derive(Debug)]
enum Entry {
    /// This many messages, next in `packed`.
    Packed(usize),
    Large(Vec<u8>),
}

impl Inbox {
    /// A message above this size keeps its own vector: its bookkeeping is under 1% of
    /// its size, and it is copied once (a gathered one would be held twice in `packed`).
    const LARGE: usize = 4096;

    fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    fn push(&mut self, frame: Frame<'_>) {
        if frame.len() > Inbox::LARGE {
            // One copy for a borrowed payload, none for a gathered one.
            self.order.push_back(Entry::Large(frame.into_vec()));
        } else {
            self.push_packed(&frame);
        }
    }

    fn push_packed(&mut self, message: &[u8]) {
        let header = frame::Header::new(message.len() as u64);
        let needed = header.as_bytes().len() + message.len();
        if self.packed.capacity() - self.packed.len() < needed {
            self.packed.drain(..self.start);
            self.start = 0;
            // Grow by what arrived plus a bounded head start, as the decoder does.
            let head_start = self.packed.len().min(frame::GROWTH_STEP);
            self.packed.reserve_exact(needed + head_start);
        }
        self.packed.extend_from_slice(header.as_bytes());
        self.packed.extend_from_slice(message);
        match self.order.back_mut() {
            Some(Entry::Packed(count)) => *count += 1,
            _ => self.order.push_back(Entry::Packed(1)),
        }
    }

    fn pop(&mut self) -> Option<Vec<u8>> {
        match self.order.front_mut()? {
            Entry::Large(_) => match self.order.pop_front() {
                Some(Entry::Large(message)) => Some(message),
                _ => None,
            },
            Entry::Packed(count) => {
                *count -= 1;
                if *count == 0 {
                    self.order.pop_front();
                }
                // Our own canonical header, written by push_packed: it parses.
                let rest = &self.packed[self.start..];
                let (header_len, len) = frame::parse_header(rest).ok().flatten()?;
                let end = header_len + len as usize;
                let message = rest[header_len..end].to_vec();
                self.start += end;
                if self.start == self.packed.len() {
                    self.packed.clear();
                    self.start = 0;
                }
                Some(message)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::AuthFailure;
    use alloc::vec;

    struct Counter(u8);
    impl rand_core::TryRng for Counter {
        type Error = core::convert::Infallible;
        fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
            Ok(u32::from(self.0))
        }
        fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
            Ok(u64::from(self.0))
        }
        fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
            for byte in dst {
                self.0 = self.0.wrapping_add(1);
                *byte = self.0;
            }
            Ok(())
        }
    }
    impl rand_core::TryCryptoRng for Counter {}

    /// Moves bytes between the two ends, `chunk` bytes at a time, until both are quiet.
    fn pump(
        a: &mut Connection,
        b: &mut Connection,
        chunk: usize,
    ) -> (Result<(), Error>, Result<(), Error>) {
        let (mut ra, mut rb) = (Ok(()), Ok(()));
        while (a.wants_write() && rb.is_ok()) || (b.wants_write() && ra.is_ok()) {
            for piece in a.take_output().chunks(chunk) {
                if rb.is_ok() {
                    rb = b.feed(piece);
                }
            }
            for piece in b.take_output().chunks(chunk) {
                if ra.is_ok() {
                    ra = a.feed(piece);
                }
            }
        }
        (ra, rb)
    }

    fn drain(connection: &mut Connection) -> Vec<Vec<u8>> {
        core::iter::from_fn(|| connection.next_message()).collect()
    }

    #[test]
    fn messages_sent_during_the_handshake_arrive_after_it() {
        for chunk in [1, 3, 1000] {
            let config = HandshakeConfig::default();
            let mut rng = Counter(9);
            let mut server = Connection::server(Some(b"key"), &config, &mut rng);
            let mut client = Connection::client(Some(b"key"), &config, &mut rng);
            client.send(b"early").unwrap();
            server.send(b"").unwrap();
            assert_eq!(pump(&mut server, &mut client, chunk), (Ok(()), Ok(())));
            assert!(server.is_established() && client.is_established());
            assert_eq!(drain(&mut server), vec![b"early".to_vec()]);
            assert_eq!(drain(&mut client), vec![Vec::new()]);
        }
    }

    #[test]
    fn failed_handshake_refuses_messages_and_input() {
        let config = HandshakeConfig::default();
        let mut rng = Counter(0);
        let mut server = Connection::server(Some(b"a"), &config, &mut rng);
        let mut client = Connection::client(Some(b"b"), &config, &mut rng);
        client.send(b"never").unwrap();
        let (s, c) = pump(&mut server, &mut client, 7);
        assert_eq!(s, Err(Error::Authentication(AuthFailure::WrongDigest)));
        assert_eq!(c, Err(Error::Authentication(AuthFailure::DigestRejected)));
        assert!(drain(&mut server).is_empty());
        assert!(matches!(server.send(b"x"), Err(Error::Failed(_))));
        assert!(matches!(server.feed(b"x"), Err(Error::Failed(_))));
    }

    #[test]
    fn fed_messages_keep_their_order_across_packed_and_large_ones() {
        let sizes = [0, 1, 5000, 0, 9000, 3, 4096, 4097];
        let mut wire = Vec::new();
        for (i, &size) in sizes.iter().enumerate() {
            frame::encode(&vec![i as u8; size], &mut wire);
        }
        // Byte by byte is too slow under Miri; 7-byte pieces still split every header.
        let smallest = if cfg!(miri) { 7 } else { 1 };
        for chunk in [smallest, 7, 4096, wire.len()] {
            let mut connection = Connection::established();
            for piece in wire.chunks(chunk) {
                connection.feed(piece).unwrap();
            }
            let got = drain(&mut connection);
            let expected: Vec<Vec<u8>> = sizes
                .iter()
                .enumerate()
                .map(|(i, &size)| vec![i as u8; size])
                .collect();
            assert_eq!(got, expected, "chunks of {chunk}");
            assert!(connection.decode(b"").is_ok(), "inbox empty again");
        }
    }

    #[test]
    fn no_key_means_no_handshake_bytes() {
        let server = Connection::server(None, &HandshakeConfig::default(), &mut Counter(0));
        assert!(server.is_established());
        assert!(!server.wants_write());
    }

    #[test]
    fn partial_writes_keep_their_place() {
        let mut connection = Connection::established();
        connection.send(b"abc").unwrap();
        connection.consume_output(2);
        assert_eq!(connection.pending_output(), b"\0\x03abc");
        connection.consume_output(100);
        assert!(!connection.wants_write());
    }

    #[test]
    fn payload_rooms_are_lent_only_when_messages_flow_and_none_wait() {
        let mut client =
            Connection::client(Some(b"k"), &HandshakeConfig::default(), &mut Counter(0));
        assert!(client.payload_space(100).is_none());
        assert!(matches!(
            client.payload_filled(0),
            Err(Error::InvalidState(_))
        ));
        let mut connection = Connection::established();
        connection.feed(b"\0\0\0\x01a\0\0\0\x03b").unwrap();
        assert!(connection.payload_space(100).is_none());
        assert_eq!(connection.next_message(), Some(b"a".to_vec()));
        let room = connection.payload_space(100).unwrap();
        room.copy_from_slice(b"cd");
        assert_eq!(connection.payload_filled(2).unwrap(), Some(b"bcd".to_vec()));
    }

    #[test]
    fn payload_is_extended_only_when_messages_flow_and_none_wait() {
        let mut client =
            Connection::client(Some(b"k"), &HandshakeConfig::default(), &mut Counter(0));
        let mut called = false;
        assert_eq!(client.extend_payload(|_, _| called = true), Ok(None));
        let mut connection = Connection::established();
        connection.feed(b"\0\0\0\x01a\0\0\0\x03b").unwrap();
        assert_eq!(connection.extend_payload(|_, _| called = true), Ok(None));
        assert!(!called);
        assert_eq!(connection.next_message(), Some(b"a".to_vec()));
        let extended = connection
            .extend_payload(|buf, limit| {
                buf.extend_from_slice(b"cd");
                limit
            })
            .unwrap()
            .unwrap();
        assert_eq!(
            (extended.filled, extended.message),
            (2, Some(b"bcd".to_vec()))
        );
    }

    #[test]
    fn eof_mid_message_and_during_handshake_are_distinct() {
        let mut connection = Connection::established();
        connection.feed(b"\0\0\0\x02a").unwrap();
        assert_eq!(connection.eof(), Error::UnexpectedEof { received: 5 });
        let mut client =
            Connection::client(Some(b""), &HandshakeConfig::default(), &mut Counter(0));
        assert_eq!(client.eof(), Error::HandshakeEof);
    }
}
