//! A sans-IO connection: the handshake (when there is an authkey), then framed
//! messages both ways, over a [`Receiver`] and a [`Sender`].
//!
//! The caller owns the I/O and only moves bytes:
//!
//! - write while [`wants_write`](Connection::wants_write):
//!   [`pending_output`](Connection::pending_output), then
//!   [`consume_output`](Connection::consume_output) what went out;
//! - read into [`recv_buf`](Connection::recv_buf), then
//!   [`received(n)`](Connection::received), or
//!   [`received_eof`](Connection::received_eof) at the end of the stream;
//! - during the handshake, [`state`](Connection::state) says when it is over;
//! - then take messages with [`next_message`](Connection::next_message) and send with
//!   [`send`](Connection::send) or [`send_direct`](Connection::send_direct).
//!
//! A loop that delivers one byte at a time and one that delivers everything at once see
//! the same messages, errors and output.

use alloc::boxed::Box;
use alloc::vec::Vec;

use rand_core::CryptoRng;

use crate::error::{Error, Misuse};
use crate::frame::{self, Frame, Transport};
use crate::handshake::{Handshake, HandshakeConfig, Role, MAX_FRAME_LEN};
use crate::receiver::{BufferPolicy, Receiver, RecvBuf};
use crate::sender::{DirectSend, Sender};

/// Where a connection stands, from [`Connection::state`].
///
/// ```
/// use mpconn::{connection::State, Connection};
/// assert_eq!(Connection::established().state(), State::Established);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State<'a> {
    /// The handshake runs (or it failed and its last words, `#FAILURE#`, are still to
    /// be written): write what is pending, read into [`Connection::recv_buf`].
    Handshaking,
    /// Messages flow both ways.
    Established,
    /// The handshake failed with this error and everything it had to say is written:
    /// close the connection.
    Failed(&'a Error),
}

/// The handshake's part of a connection.
#[derive(Debug)]
enum Phase {
    /// The authentication handshake is running. Messages sent meanwhile are held
    /// (framed) until it succeeds.
    Handshaking {
        handshake: Box<Handshake>,
        held: Vec<u8>,
    },
    /// Messages flow both ways.
    Established,
    /// The handshake failed with this error (the output may still hold `#FAILURE#`).
    Failed(Error),
}

/// One end of a `multiprocessing.connection` connection, without the I/O.
///
/// See the [crate documentation](crate) for a complete loop. Its receive methods are
/// its [`Receiver`]'s and its send methods its [`Sender`]'s, with the handshake in front
/// of them; [`split`](Self::split) hands the two out once the handshake is over.
#[derive(Debug)]
pub struct Connection {
    phase: Phase,
    receiver: Receiver,
    sender: Sender,
}

/// One constructor for each role, named as CPython names the two sides.
macro_rules! role_constructors {
    ($($(#[$doc:meta])* $name:ident: $role:ident;)*) => {$(
        $(#[$doc])*
        pub fn $name<R: CryptoRng + ?Sized>(
            authkey: Option<&[u8]>,
            config: &HandshakeConfig,
            rng: &mut R,
        ) -> Connection {
            Connection::with_role(Role::$role, authkey, config, rng)
        }
    )*};
}

impl Connection {
    /// A connection with no handshake (CPython's `authkey=None`), such as one end of a
    /// `Pipe`: established from the start.
    ///
    /// ```
    /// assert!(mpconn::Connection::established().is_established());
    /// ```
    pub fn established() -> Connection {
        Connection {
            phase: Phase::Established,
            receiver: Receiver::new(),
            sender: Sender::new(),
        }
    }

    role_constructors! {
        /// The accepting side (`Listener.accept`): with an authkey it delivers a
        /// challenge, then answers one; without, it is established at once. Even an
        /// empty key runs the handshake, as in CPython.
        server: Server;
        /// The connecting side (`Client`): with an authkey it answers a challenge, then
        /// delivers one; without, it is established at once.
        client: Client;
    }

    fn with_role<R: CryptoRng + ?Sized>(
        role: Role,
        authkey: Option<&[u8]>,
        config: &HandshakeConfig,
        rng: &mut R,
    ) -> Connection {
        let mut connection = Connection::established();
        if role == Role::Client && authkey.is_none() {
            // A keyed listener's challenge must not pass for its reply.
            connection.receiver.refuse_a_challenge();
        }
        if let Some(key) = authkey {
            let mut handshake = Box::new(Handshake::new(role, key, config, rng));
            connection.sender.queue_framed(&handshake.take_output());
            connection.phase = Phase::Handshaking {
                handshake,
                held: Vec::new(),
            };
        }
        connection
    }

    /// The same connection with its inbound buffer growing by `policy` (set it before
    /// the first read).
    ///
    /// ```
    /// use mpconn::{BufferPolicy, Connection};
    /// let policy = BufferPolicy { initial: 1024, max: 16 * 1024 };
    /// let connection = Connection::established().with_buffer_policy(policy);
    /// assert_eq!(connection.buffer_policy(), policy);
    /// ```
    pub fn with_buffer_policy(mut self, policy: BufferPolicy) -> Connection {
        let max_len = self.receiver.max_len();
        let refuses_a_challenge = self.receiver.refuses_a_challenge();
        let transport = self.receiver.transport();
        self.receiver = Receiver::with_policy(policy).with_transport(transport);
        self.receiver.set_max_len(max_len);
        if refuses_a_challenge {
            self.receiver.refuse_a_challenge();
        }
        self
    }

    /// The inbound buffer's policy.
    pub fn buffer_policy(&self) -> BufferPolicy {
        self.receiver.policy()
    }

    /// The same connection over `transport` (set it before the first read or write):
    /// [`Transport::Messages`] for a Windows message-mode named pipe, where each
    /// message, the handshake's included, is one pipe message without a header.
    ///
    /// ```
    /// use mpconn::{Connection, HandshakeConfig, Transport};
    /// # struct Counter(u8);
    /// # impl rand_core::TryRng for Counter {
    /// #     type Error = core::convert::Infallible;
    /// #     fn try_next_u32(&mut self) -> Result<u32, Self::Error> { Ok(self.0 as u32) }
    /// #     fn try_next_u64(&mut self) -> Result<u64, Self::Error> { Ok(self.0 as u64) }
    /// #     fn try_fill_bytes(&mut self, d: &mut [u8]) -> Result<(), Self::Error> {
    /// #         for b in d { self.0 = self.0.wrapping_add(1); *b = self.0 } Ok(())
    /// #     }
    /// # }
    /// # impl rand_core::TryCryptoRng for Counter {}
    /// let config = HandshakeConfig::default();
    /// let mut server = Connection::server(Some(b"key"), &config, &mut Counter(0))
    ///     .with_transport(Transport::Messages);
    /// let mut client = Connection::client(Some(b"key"), &config, &mut Counter(7))
    ///     .with_transport(Transport::Messages);
    /// let challenge = server.take_message().unwrap();
    /// assert!(challenge.starts_with(b"#CHALLENGE#{sha256}")); // no header in front
    /// client.feed_message(&challenge).unwrap();
    /// while server.wants_write() || client.wants_write() {
    ///     while let Some(message) = client.take_message() {
    ///         server.feed_message(&message).unwrap();
    ///     }
    ///     while let Some(message) = server.take_message() {
    ///         client.feed_message(&message).unwrap();
    ///     }
    /// }
    /// assert!(server.is_established() && client.is_established());
    /// ```
    pub fn with_transport(mut self, transport: Transport) -> Connection {
        self.receiver = self.receiver.with_transport(transport);
        self.sender.set_transport(transport);
        self
    }

    /// The transport it runs over.
    pub fn transport(&self) -> Transport {
        self.receiver.transport()
    }

    /// Where the connection stands. A failed handshake stays
    /// [`State::Handshaking`] until its output (`#FAILURE#`) is written, then is
    /// [`State::Failed`]; [`error`](Self::error) has the error at once.
    ///
    /// ```
    /// use mpconn::{connection::State, Connection, Error, HandshakeConfig};
    /// # struct Counter(u8);
    /// # impl rand_core::TryRng for Counter {
    /// #     type Error = core::convert::Infallible;
    /// #     fn try_next_u32(&mut self) -> Result<u32, Self::Error> { Ok(self.0 as u32) }
    /// #     fn try_next_u64(&mut self) -> Result<u64, Self::Error> { Ok(self.0 as u64) }
    /// #     fn try_fill_bytes(&mut self, d: &mut [u8]) -> Result<(), Self::Error> {
    /// #         for b in d { self.0 = self.0.wrapping_add(1); *b = self.0 } Ok(())
    /// #     }
    /// # }
    /// # impl rand_core::TryCryptoRng for Counter {}
    /// let config = HandshakeConfig::default();
    /// let mut server = Connection::server(Some(b"key"), &config, &mut Counter(0));
    /// server.take_output(); // the challenge
    /// server.feed(b"\0\0\0\x05wrong").unwrap(); // not a MAC of it
    /// assert_eq!(server.state(), State::Handshaking); // #FAILURE# is still to go
    /// assert!(server.error().unwrap().is_authentication());
    /// assert_eq!(server.take_output(), b"\0\0\0\x09#FAILURE#");
    /// assert!(matches!(server.state(), State::Failed(Error::Authentication(_))));
    /// ```
    pub fn state(&self) -> State<'_> {
        match &self.phase {
            Phase::Handshaking { .. } => State::Handshaking,
            Phase::Failed(_) if self.sender.wants_write() => State::Handshaking,
            Phase::Failed(error) => State::Failed(error),
            Phase::Established => State::Established,
        }
    }

    /// The first error of the connection, at once: the handshake's (even while
    /// `#FAILURE#` is still to be written, for an adapter that gives up writing), or,
    /// once established, the one [`next_message`](Self::next_message) returned.
    pub fn error(&self) -> Option<&Error> {
        match &self.phase {
            Phase::Failed(error) => Some(error),
            Phase::Handshaking { .. } => None,
            Phase::Established => self.receiver.error(),
        }
    }

    /// True while the handshake runs (not after it failed).
    pub fn is_handshaking(&self) -> bool {
        matches!(self.phase, Phase::Handshaking { .. })
    }

    /// True while a client's handshake waits for the listener's challenge, the first
    /// frame of a keyed listener (docs/protocol.md section 2): none has arrived whole yet.
    /// A client that gives up on its handshake in this state most likely met a
    /// listener without an authkey, which waits for a message while this client waits
    /// for a challenge.
    ///
    /// ```
    /// # struct Zero;
    /// # impl rand_core::TryRng for Zero {
    /// #     type Error = core::convert::Infallible;
    /// #     fn try_next_u32(&mut self) -> Result<u32, Self::Error> { Ok(0) }
    /// #     fn try_next_u64(&mut self) -> Result<u64, Self::Error> { Ok(0) }
    /// #     fn try_fill_bytes(&mut self, d: &mut [u8]) -> Result<(), Self::Error> { d.fill(0); Ok(()) }
    /// # }
    /// # impl rand_core::TryCryptoRng for Zero {}
    /// use mpconn::{Connection, HandshakeConfig};
    /// let config = HandshakeConfig::default();
    /// let mut client = Connection::client(Some(b"key"), &config, &mut Zero);
    /// assert!(client.awaits_challenge());
    /// let mut server = Connection::server(Some(b"key"), &config, &mut Zero);
    /// client.feed(&server.take_output()).unwrap(); // the challenge
    /// assert!(!client.awaits_challenge());
    /// assert!(!server.awaits_challenge()); // a listener never waits for one first
    /// ```
    pub fn awaits_challenge(&self) -> bool {
        matches!(&self.phase, Phase::Handshaking { handshake, .. }
            if matches!(handshake.state(), crate::handshake::State::ClientAwaitingChallenge))
    }

    /// True once messages can flow (the handshake, if any, succeeded).
    pub fn is_established(&self) -> bool {
        matches!(self.phase, Phase::Established)
    }

    /// Splits an established connection into its receiving and sending halves, for
    /// adapters that read and write from different tasks. Nothing is lost: buffered
    /// input goes with the [`Receiver`], queued output with the [`Sender`]. A
    /// connection still handshaking, or failed, is given back.
    ///
    /// ```
    /// let connection = mpconn::Connection::established();
    /// let (mut receiver, mut sender) = connection.split().unwrap();
    /// sender.send(b"ping").unwrap();
    /// receiver.feed(&sender.take_output()).unwrap();
    /// assert_eq!(receiver.next_message().unwrap().as_deref(), Some(&b"ping"[..]));
    /// ```
    #[allow(clippy::result_large_err)] // the connection itself, given back whole
    pub fn split(self) -> Result<(Receiver, Sender), Connection> {
        match self.phase {
            Phase::Established => Ok((self.receiver, self.sender)),
            Phase::Handshaking { .. } | Phase::Failed(_) => Err(self),
        }
    }

    /// The receiving half, for what only it offers (such as
    /// [`Receiver::buffered_input`]).
    pub fn receiver(&self) -> &Receiver {
        &self.receiver
    }

    /// The sending half.
    pub fn sender(&self) -> &Sender {
        &self.sender
    }

    // Receiving.

    /// Where the adapter reads next: see [`Receiver::recv_buf`]. During the handshake
    /// always the buffer (its frames are small).
    #[inline]
    pub fn recv_buf(&mut self) -> RecvBuf<'_> {
        self.receiver.recv_buf()
    }

    /// Commits `n` bytes read into what [`recv_buf`](Self::recv_buf) lent (see
    /// [`Receiver::received`]). During the handshake this runs the handshake over them:
    /// its answers go to the output, and bytes after its last frame stay buffered as
    /// the first messages. A peer's fault never comes back here, but from
    /// [`state`](Self::state), [`error`](Self::error) and
    /// [`next_message`](Self::next_message).
    #[inline]
    pub fn received(&mut self, n: usize) -> Result<(), Misuse> {
        self.receiver.received(n)?;
        self.cap_handshake_message();
        self.run_handshake();
        Ok(())
    }

    /// The message now arriving on [`Transport::Messages`] is whole (see
    /// [`Receiver::received_message_end`]); during the handshake this runs the
    /// handshake over it, as [`received`](Self::received) does.
    pub fn received_message_end(&mut self) -> Result<(), Misuse> {
        self.receiver.received_message_end()?;
        self.run_handshake();
        Ok(())
    }

    /// How much of the message now arriving on [`Transport::Messages`] is still to come
    /// (see [`Receiver::message_remaining`]).
    pub fn message_remaining(&mut self, left: u64) -> Result<(), Misuse> {
        self.receiver.message_remaining(left)?;
        self.run_handshake();
        Ok(())
    }

    /// Copies one whole message in, as a message-transport read would (see
    /// [`Receiver::feed_message`]), then runs the handshake over it: for tests, fuzzing
    /// and in-memory transports.
    pub fn feed_message(&mut self, message: &[u8]) -> Result<(), Misuse> {
        self.receiver.feed(message)?;
        self.cap_handshake_message();
        self.received_message_end()
    }

    /// Takes the next whole message to write on [`Transport::Messages`] (see
    /// [`Sender::take_message`]).
    pub fn take_message(&mut self) -> Option<Vec<u8>> {
        self.sender.take_message()
    }

    /// A handshake message is at most [`MAX_FRAME_LEN`] bytes: on a message transport,
    /// where no header declares its length, one that grows past it fails the handshake
    /// as it arrives (as a header declaring it would), so it is never held.
    fn cap_handshake_message(&mut self) {
        if !self.is_handshaking() {
            return;
        }
        if let Some(len) = self.receiver.open_message_len() {
            if len > MAX_FRAME_LEN {
                self.fail(Error::MessageTooLong {
                    len,
                    max: MAX_FRAME_LEN,
                });
            }
        }
    }

    /// The peer closed its end of the stream: a running handshake fails with
    /// [`Error::HandshakeEof`]; otherwise see [`Receiver::received_eof`].
    pub fn received_eof(&mut self) {
        self.receiver.received_eof();
        if let Phase::Handshaking { handshake, .. } = &mut self.phase {
            if let Err(error) = handshake.eof() {
                self.fail(error);
            }
        }
    }

    /// Copies `input` in, as reads would (see [`Receiver::feed`]), then runs the
    /// handshake over it as [`received`](Self::received) does: for tests, fuzzing and
    /// in-memory transports.
    pub fn feed(&mut self, input: &[u8]) -> Result<(), Misuse> {
        self.receiver.feed(input)?;
        self.cap_handshake_message();
        self.run_handshake();
        Ok(())
    }

    /// The next message (see [`Receiver::next_message`]); `Ok(None)` while the
    /// handshake runs or more input is needed. After a failed handshake, its error.
    ///
    /// ```
    /// use mpconn::{Connection, Error};
    /// let mut connection = Connection::established();
    /// connection.feed(b"\0\0\0\x02hi\0").unwrap();
    /// connection.received_eof();
    /// assert_eq!(connection.next_message().unwrap().as_deref(), Some(&b"hi"[..]));
    /// assert_eq!(connection.next_message(), Err(Error::UnexpectedEof { received: 1 }));
    /// ```
    #[inline]
    pub fn next_message(&mut self) -> Result<Option<Frame<'_>>, Error> {
        match &self.phase {
            Phase::Established => self.receiver.next_message(),
            Phase::Handshaking { .. } => Ok(None),
            Phase::Failed(error) => Err(error.clone()),
        }
    }

    /// True when [`next_message`](Self::next_message) would not return `Ok(None)` (see
    /// [`Receiver::has_message`]): never while the handshake runs, always once it
    /// failed.
    ///
    /// ```
    /// let mut connection = mpconn::Connection::established();
    /// connection.feed(b"\0\0\0\x01a").unwrap();
    /// assert!(connection.has_message());
    /// ```
    #[inline]
    pub fn has_message(&self) -> bool {
        match &self.phase {
            Phase::Established => self.receiver.has_message(),
            Phase::Handshaking { .. } => false,
            Phase::Failed(_) => true,
        }
    }

    /// Limits the length of incoming messages (CPython's `recv_bytes(maxlength)`); see
    /// [`Receiver::set_max_len`]. The handshake's own limit of 256 bytes a frame is
    /// separate.
    #[inline]
    pub fn set_max_len(&mut self, max_len: Option<u64>) {
        self.receiver.set_max_len(max_len);
    }

    /// True when received bytes wait in the buffer (see
    /// [`Receiver::has_buffered_input`]).
    #[inline]
    pub fn has_buffered_input(&self) -> bool {
        self.receiver.has_buffered_input()
    }

    /// True when the read side is part-way through a message (see
    /// [`Receiver::is_mid_message`]).
    pub fn is_mid_message(&self) -> bool {
        self.receiver.is_mid_message()
    }

    // Sending.

    /// Queues one message (see [`Sender::send`]). During the handshake it is held, and
    /// queued once the handshake succeeds (dropped if it fails). After a failed
    /// handshake, its error.
    ///
    /// ```
    /// let mut connection = mpconn::Connection::established();
    /// connection.send(b"hi").unwrap();
    /// assert_eq!(connection.take_output(), b"\0\0\0\x02hi");
    /// ```
    #[inline]
    pub fn send(&mut self, payload: &[u8]) -> Result<(), Error> {
        match &mut self.phase {
            Phase::Established => self.sender.send(payload),
            Phase::Handshaking { held, .. } => {
                frame::encode(payload, held);
                Ok(())
            }
            Phase::Failed(error) => Err(error.clone()),
        }
    }

    /// Starts sending one message, a large one without a copy (see
    /// [`Sender::send_direct`]). During the handshake it is held like
    /// [`send`](Self::send)'s (copied), and the guard only writes what is pending.
    ///
    /// ```
    /// let mut connection = mpconn::Connection::established();
    /// let payload = vec![0; 20_000];
    /// let send = connection.send_direct(&payload).unwrap();
    /// assert_eq!(send.slices()[1], b"\0\0\x4e\x20"); // the header, then the payload
    /// ```
    pub fn send_direct<'a>(&'a mut self, payload: &'a [u8]) -> Result<DirectSend<'a>, Error> {
        match &mut self.phase {
            Phase::Established => self.sender.send_direct(payload),
            Phase::Handshaking { held, .. } => {
                frame::encode(payload, held);
                Ok(DirectSend::queued(&mut self.sender))
            }
            Phase::Failed(error) => Err(error.clone()),
        }
    }

    /// Bytes waiting to be written to the peer, oldest first: handshake frames, then
    /// messages.
    #[inline]
    pub fn pending_output(&self) -> &[u8] {
        self.sender.pending_output()
    }

    /// True when there are bytes to write.
    #[inline]
    pub fn wants_write(&self) -> bool {
        self.sender.wants_write()
    }

    /// Marks the first `n` bytes of [`pending_output`](Self::pending_output) as written
    /// (a partial write keeps its place). `n` larger than what is pending is clamped.
    #[inline]
    pub fn consume_output(&mut self, n: usize) {
        self.sender.consume_output(n);
    }

    /// Takes all bytes waiting to be written (for in-memory transports and tests).
    pub fn take_output(&mut self) -> Vec<u8> {
        self.sender.take_output()
    }

    /// Runs a handshake over the buffered input; bytes after its last frame stay
    /// buffered. After a failure nothing more is read.
    fn run_handshake(&mut self) {
        let Phase::Handshaking { handshake, held } = &mut self.phase else {
            if matches!(self.phase, Phase::Failed(_)) {
                self.receiver.discard_input();
            }
            return;
        };
        let result = handshake.feed(self.receiver.buffered_input());
        self.sender.queue_framed(&handshake.take_output());
        match result {
            Ok(used) => {
                self.receiver.consume(used);
                if handshake.is_done() {
                    self.sender.queue_framed(held);
                    self.phase = Phase::Established;
                }
            }
            Err(error) => self.fail(error),
        }
    }

    fn fail(&mut self, error: Error) {
        self.receiver.discard_input();
        self.phase = Phase::Failed(error);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::AuthFailure;
    use crate::test_rng::Counter;
    use alloc::vec;

    /// Moves bytes between the two ends, `chunk` bytes at a time, until both are quiet.
    fn pump(a: &mut Connection, b: &mut Connection, chunk: usize) {
        while a.wants_write() || b.wants_write() {
            for piece in a.take_output().chunks(chunk) {
                b.feed(piece).unwrap();
            }
            for piece in b.take_output().chunks(chunk) {
                a.feed(piece).unwrap();
            }
        }
    }

    fn drain(connection: &mut Connection) -> Vec<Vec<u8>> {
        let mut messages = Vec::new();
        while let Some(message) = connection.next_message().unwrap() {
            messages.push(message.into_vec());
        }
        messages
    }

    fn pair(server_key: &[u8], client_key: &[u8]) -> (Connection, Connection) {
        let config = HandshakeConfig::default();
        let mut rng = Counter(9);
        (
            Connection::server(Some(server_key), &config, &mut rng),
            Connection::client(Some(client_key), &config, &mut rng),
        )
    }

    #[test]
    fn messages_sent_during_the_handshake_arrive_after_it() {
        for chunk in [1, 3, 1000] {
            let (mut server, mut client) = pair(b"key", b"key");
            client.send(b"early").unwrap();
            let big = vec![5; 20_000];
            drop(client.send_direct(&big).unwrap());
            server.send(b"").unwrap();
            pump(&mut server, &mut client, chunk);
            assert_eq!(server.state(), State::Established);
            assert_eq!(client.state(), State::Established);
            assert_eq!(drain(&mut server), vec![b"early".to_vec(), big.clone()]);
            assert_eq!(drain(&mut client), vec![Vec::new()]);
        }
    }

    #[test]
    fn failed_handshake_is_reported_once_its_failure_frame_is_written() {
        let (mut server, mut client) = pair(b"a", b"b");
        client.send(b"never").unwrap();
        client.feed(&server.take_output()).unwrap();
        server.feed(&client.take_output()).unwrap();
        let wrong = Error::Authentication(AuthFailure::WrongDigest);
        assert_eq!(server.error(), Some(&wrong), "at once");
        assert_eq!(server.state(), State::Handshaking, "#FAILURE# still to go");
        let failure = server.take_output();
        assert_eq!(failure, b"\0\0\0\x09#FAILURE#");
        assert_eq!(server.state(), State::Failed(&wrong));
        client.feed(&failure).unwrap();
        let rejected = Error::Authentication(AuthFailure::DigestRejected);
        assert_eq!(client.state(), State::Failed(&rejected));
        assert!(!client.wants_write(), "held messages are dropped");
    }

    #[test]
    fn failed_handshake_returns_its_error_again_and_takes_no_more_input() {
        let (mut server, mut client) = pair(b"a", b"b");
        client.feed(&server.take_output()).unwrap();
        server.feed(&client.take_output()).unwrap();
        let wrong = Error::Authentication(AuthFailure::WrongDigest);
        assert_eq!(server.next_message(), Err(wrong.clone()));
        assert_eq!(server.send(b"x"), Err(wrong.clone()));
        assert!(server.send_direct(&[0; 20_000]).is_err());
        server.feed(b"\0\0\0\x01x").unwrap();
        assert!(!server.has_buffered_input());
        assert_eq!(server.next_message(), Err(wrong));
    }

    #[test]
    fn handshake_eof_fails_at_once_and_nothing_is_left_to_write() {
        let (_, mut client) = pair(b"", b"");
        client.received_eof();
        assert_eq!(client.state(), State::Failed(&Error::HandshakeEof));
    }

    #[test]
    fn bytes_behind_the_last_handshake_frame_are_the_first_messages() {
        let (mut server, mut client) = pair(b"k", b"k");
        client.feed(&server.take_output()).unwrap(); // challenge
        server.feed(&client.take_output()).unwrap(); // MAC
        client.feed(&server.take_output()).unwrap(); // welcome
        server.feed(&client.take_output()).unwrap(); // challenge
        client.feed(&server.take_output()).unwrap(); // MAC
        let mut flight = client.take_output(); // welcome, the server's last frame
        frame::encode(b"one", &mut flight);
        frame::encode(b"two", &mut flight);
        server.feed(&flight).unwrap();
        assert!(server.is_established());
        assert!(server.has_buffered_input());
        assert_eq!(drain(&mut server), vec![b"one".to_vec(), b"two".to_vec()]);
    }

    #[test]
    fn small_messages_in_one_read_are_borrowed_from_the_buffer() {
        let mut connection = Connection::established();
        connection.feed(b"\0\0\0\x01a\0\0\0\x02bc").unwrap();
        assert!(matches!(
            connection.next_message(),
            Ok(Some(Frame::Borrowed(b"a")))
        ));
        assert!(matches!(
            connection.next_message(),
            Ok(Some(Frame::Borrowed(b"bc")))
        ));
        assert_eq!(connection.next_message(), Ok(None));
    }

    #[test]
    fn split_is_refused_while_handshaking_and_after_a_failure() {
        let (server, _) = pair(b"k", b"k");
        let server = server.split().unwrap_err();
        assert!(server.is_handshaking());
        let (mut server, mut client) = pair(b"a", b"b");
        pump(&mut server, &mut client, 1000);
        assert!(server.split().is_err());
    }

    #[test]
    fn split_halves_keep_buffered_input_and_queued_output() {
        let mut connection = Connection::established();
        connection.feed(b"\0\0\0\x01a\0\0").unwrap();
        connection.send(b"queued").unwrap();
        let (mut receiver, mut sender) = connection.split().unwrap();
        receiver.feed(b"\0\x01b").unwrap();
        assert_eq!(receiver.next_message().unwrap().as_deref(), Some(&b"a"[..]));
        assert_eq!(receiver.next_message().unwrap().as_deref(), Some(&b"b"[..]));
        sender.send(b"later").unwrap();
        let mut expected = Vec::new();
        frame::encode(b"queued", &mut expected);
        frame::encode(b"later", &mut expected);
        assert_eq!(sender.take_output(), expected);
    }

    #[test]
    fn eof_between_messages_is_closed_and_inside_one_is_unexpected() {
        let mut connection = Connection::established();
        connection.feed(b"\0\0\0\x01a\0\0\0\x02a").unwrap();
        connection.received_eof();
        assert_eq!(
            drain_until_error(&mut connection),
            (vec![b"a".to_vec()], Error::UnexpectedEof { received: 5 })
        );
        let mut connection = Connection::established();
        connection.feed(b"\0\0\0\x01a").unwrap();
        connection.received_eof();
        assert_eq!(
            drain_until_error(&mut connection),
            (vec![b"a".to_vec()], Error::Closed)
        );
        assert_eq!(connection.next_message(), Err(Error::Closed), "again");
        assert_eq!(connection.error(), Some(&Error::Closed));
    }

    fn drain_until_error(connection: &mut Connection) -> (Vec<Vec<u8>>, Error) {
        let mut messages = Vec::new();
        loop {
            match connection.next_message() {
                Ok(Some(message)) => messages.push(message.into_vec()),
                Ok(None) => panic!("the end of the stream was received"),
                Err(error) => return (messages, error),
            }
        }
    }

    #[test]
    fn no_key_means_no_handshake_bytes() {
        let server = Connection::server(None, &HandshakeConfig::default(), &mut Counter(0));
        assert!(server.is_established());
        assert!(!server.wants_write());
    }

    /// What a keyed CPython listener sends first: its challenge, framed.
    fn challenge_frame() -> Vec<u8> {
        let mut server =
            Connection::server(Some(b"key"), &HandshakeConfig::default(), &mut Counter(3));
        server.take_output()
    }

    #[test]
    fn keyless_client_reports_a_challenge_as_its_first_frame_as_authkey_wanted() {
        let challenge = challenge_frame();
        assert!(challenge[4..].starts_with(b"#CHALLENGE#"));
        for chunk in [1, 7, challenge.len()] {
            let mut client = Connection::client(None, &HandshakeConfig::default(), &mut Counter(0));
            for piece in challenge.chunks(chunk) {
                client.feed(piece).unwrap();
            }
            assert_eq!(
                client.next_message(),
                Err(Error::AuthkeyWanted),
                "chunk {chunk}"
            );
            assert_eq!(client.next_message(), Err(Error::AuthkeyWanted), "again");
        }
    }

    #[test]
    fn keyless_client_refuses_a_large_challenge_read_into_its_own_buffer() {
        // Past the read buffer, the payload is read through RecvBuf::Payload.
        let mut payload = b"#CHALLENGE#".to_vec();
        payload.resize(200_000, b'x');
        let mut wire = Vec::new();
        frame::encode(&payload, &mut wire);
        let mut client = Connection::client(None, &HandshakeConfig::default(), &mut Counter(0));
        client.feed(&wire).unwrap();
        assert_eq!(client.next_message(), Err(Error::AuthkeyWanted));
    }

    #[test]
    fn keyless_client_takes_a_challenge_like_message_after_its_first() {
        let mut wire = Vec::new();
        frame::encode(b"reply", &mut wire);
        wire.extend_from_slice(&challenge_frame());
        let mut client = Connection::client(None, &HandshakeConfig::default(), &mut Counter(0))
            .with_buffer_policy(BufferPolicy {
                initial: 16,
                max: 64,
            });
        assert!(
            client.receiver().refuses_a_challenge(),
            "kept by with_buffer_policy"
        );
        client.feed(&wire).unwrap();
        let messages = drain(&mut client);
        assert_eq!(messages.len(), 2);
        assert_eq!(messages[0], b"reply");
        assert!(messages[1].starts_with(b"#CHALLENGE#"));
        assert!(!client.receiver().refuses_a_challenge());
    }

    #[test]
    fn only_a_keyless_client_checks_for_a_challenge() {
        let config = HandshakeConfig::default();
        let keyless_server = Connection::server(None, &config, &mut Counter(0));
        let keyed_client = Connection::client(Some(b"key"), &config, &mut Counter(0));
        for connection in [Connection::established(), keyless_server, keyed_client] {
            assert!(!connection.receiver().refuses_a_challenge());
        }
        let mut established = Connection::established();
        established.feed(&challenge_frame()).unwrap();
        assert!(established
            .next_message()
            .unwrap()
            .unwrap()
            .starts_with(b"#CHALLENGE#"));
    }
}
