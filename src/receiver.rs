//! The receiving half: the inbound buffer the adapter reads into, and the frame
//! decoder over it (docs/protocol.md section 1).
//!
//! One path for every adapter: ask for room ([`Receiver::recv_buf`]), read into it,
//! commit what arrived ([`Receiver::received`], or [`Receiver::received_eof`] at the end
//! of the stream), then take messages ([`Receiver::next_message`]) until it says it needs
//! more input. A message wholly in the buffer comes out borrowed from it; a large one is
//! read straight onto its own `Vec` ([`RecvBuf::Payload`]) and comes out owned.

use alloc::vec::Vec;

use crate::error::{Error, Misuse};
use crate::frame::{Decoder, Frame, Header, Transport};

/// The bytes reserved in front of a message of the message transport, for the header
/// written once its length is known: the decoder then reads it as a stream frame.
const RESERVED: usize = 4;

/// How the inbound buffer grows: it starts at `initial` bytes and doubles while reads
/// fill it, up to `max`. The default is 4 KiB to 64 KiB: a handshake and small messages
/// fit the start (zeroing and faulting in 64 KiB per connection cost about a tenth of a
/// handshake), and a stream of messages is read 64 KiB at a time. The buffer is zeroed
/// only when it grows, never per read.
///
/// ```
/// use mpconn::{BufferPolicy, Receiver};
///
/// assert_eq!(BufferPolicy::default(), BufferPolicy { initial: 4096, max: 65536 });
/// let receiver = Receiver::with_policy(BufferPolicy { initial: 512, max: 8192 });
/// # let _ = receiver;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BufferPolicy {
    /// The buffer's size when it is first lent (at least 1 byte is used).
    pub initial: usize,
    /// The size it grows to at most while reads fill it (never below `initial`). It
    /// grows past this only if the caller reads again without taking the messages
    /// already buffered.
    pub max: usize,
}

impl Default for BufferPolicy {
    fn default() -> Self {
        BufferPolicy {
            initial: 4 * 1024,
            max: 64 * 1024,
        }
    }
}

/// Where the adapter reads next, from [`Receiver::recv_buf`] (or
/// [`Connection::recv_buf`](crate::Connection::recv_buf)). Report the bytes read with
/// `received(n)`, the end of the stream with `received_eof()`.
///
/// ```
/// use mpconn::{Receiver, RecvBuf};
/// use std::io::Read;
///
/// let mut socket: &[u8] = b"\0\0\0\x02hi"; // in a real loop, a socket
/// let mut receiver = Receiver::new();
/// let n = match receiver.recv_buf() {
///     RecvBuf::Buffer(room) => socket.read(room).unwrap(),
///     RecvBuf::Payload { buf, limit } => (&mut socket).take(limit as u64).read_to_end(buf).unwrap(),
/// };
/// receiver.received(n).unwrap();
/// assert_eq!(receiver.next_message().unwrap().as_deref(), Some(&b"hi"[..]));
/// ```
#[derive(Debug)]
pub enum RecvBuf<'a> {
    /// Free room at the end of the receiver's buffer: read into it (never empty).
    Buffer(&'a mut [u8]),
    /// The receiver is inside a payload too large for its buffer and holds nothing
    /// else: append at most `limit` bytes (never 0) straight onto the message's own
    /// `Vec`, whose spare capacity already holds `limit` bytes; nothing needs zeroing.
    /// `received(n)` checks the `Vec` grew by exactly `n`.
    Payload {
        /// The message's buffer: append to it, never change what it holds.
        buf: &'a mut Vec<u8>,
        /// The most bytes to append (at most what the payload still misses).
        limit: usize,
    },
}

impl RecvBuf<'_> {
    /// Copies as much of `input` as the lent room takes (all of it, or the room's
    /// size or limit) and returns how many bytes that was, to report with `received`:
    /// what an in-memory transport, a test or a fuzzer does in place of a read.
    ///
    /// ```
    /// let mut receiver = mpconn::Receiver::new();
    /// let n = receiver.recv_buf().fill(b"\0\0\0\x01a");
    /// receiver.received(n).unwrap();
    /// assert_eq!(receiver.next_message().unwrap().as_deref(), Some(&b"a"[..]));
    /// ```
    pub fn fill(self, input: &[u8]) -> usize {
        match self {
            RecvBuf::Buffer(room) => {
                let n = room.len().min(input.len());
                room[..n].copy_from_slice(&input[..n]);
                n
            }
            RecvBuf::Payload { buf, limit } => {
                let n = limit.min(input.len());
                buf.extend_from_slice(&input[..n]);
                n
            }
        }
    }
}

/// What the last [`Receiver::recv_buf`] lent, until `received` (or any other call)
/// settles it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lent {
    Nothing,
    /// `buf[end..end + room]`.
    Buffer {
        room: usize,
    },
    /// The payload `Vec`, `before` bytes long when lent.
    Payload {
        before: usize,
        limit: usize,
    },
}

/// The receiving half of a connection: the inbound buffer and the decoder over it.
///
/// A [`Connection`](crate::Connection) receives through one of these (and
/// [`Connection::split`](crate::Connection::split) hands it out), so its receive
/// methods are these. Every peer fault comes out of
/// [`next_message`](Self::next_message), after the messages that arrived before it, and
/// again on every later call.
///
/// ```
/// use mpconn::{Error, Receiver};
///
/// let mut receiver = Receiver::new();
/// receiver.feed(b"\0\0\0\x01a\0\0\0\x01b\0\0").unwrap();
/// receiver.received_eof();
/// assert_eq!(receiver.next_message().unwrap().as_deref(), Some(&b"a"[..]));
/// assert_eq!(receiver.next_message().unwrap().as_deref(), Some(&b"b"[..]));
/// assert_eq!(receiver.next_message(), Err(Error::UnexpectedEof { received: 2 }));
/// ```
#[derive(Debug)]
pub struct Receiver {
    /// Received and not yet decoded: `buf[start..end]`. `buf.len()` is the buffer's
    /// size (allocated and zeroed when it grows); empty until first lent.
    buf: Vec<u8>,
    start: usize,
    end: usize,
    policy: BufferPolicy,
    decoder: Decoder,
    lent: Lent,
    eof: bool,
    transport: Transport,
    /// The message transport's message now arriving, if one started.
    open: Option<Open>,
    /// A fault found behind the messages still buffered (a message over the limit while
    /// it arrives, the end of the transport inside one): reported once they are taken.
    trailing: Option<Error>,
}

/// A message of the message transport, part-way in: its bytes follow `RESERVED` bytes at
/// `at` in the buffer, which hold its header once its length is known (from then on the
/// decoder reads it as a frame, and `at` is stale).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Open {
    at: usize,
    /// The bytes still to come, once `message_remaining` announced them: the header is
    /// written and the decoder reads the message as a stream frame.
    left: Option<u64>,
}

impl Default for Receiver {
    fn default() -> Self {
        Receiver::new()
    }
}

impl Receiver {
    /// A receiver with the default [`BufferPolicy`] and no length limit.
    pub fn new() -> Receiver {
        Receiver::with_policy(BufferPolicy::default())
    }

    /// A receiver whose buffer grows by `policy`. Nothing is allocated until the first
    /// [`recv_buf`](Self::recv_buf).
    pub fn with_policy(policy: BufferPolicy) -> Receiver {
        let initial = policy.initial.max(1);
        Receiver {
            buf: Vec::new(),
            start: 0,
            end: 0,
            policy: BufferPolicy {
                initial,
                max: policy.max.max(initial),
            },
            decoder: Decoder::new(),
            lent: Lent::Nothing,
            eof: false,
            transport: Transport::Stream,
            open: None,
            trailing: None,
        }
    }

    /// The same receiver, reading from `transport` (set it before the first read). With
    /// [`Transport::Messages`], report the end of each message with
    /// [`received_message_end`](Self::received_message_end).
    ///
    /// ```
    /// use mpconn::{Receiver, Transport};
    /// let receiver = Receiver::new().with_transport(Transport::Messages);
    /// assert_eq!(receiver.transport(), Transport::Messages);
    /// ```
    pub fn with_transport(mut self, transport: Transport) -> Receiver {
        self.transport = transport;
        self
    }

    /// The transport it reads from.
    pub fn transport(&self) -> Transport {
        self.transport
    }

    /// Where the bytes the decoder may read end: a message of the message transport
    /// whose length is not known yet is not one of them.
    #[inline]
    fn decodable_end(&self) -> usize {
        match self.open {
            Some(Open { at, left: None }) => at,
            _ => self.end,
        }
    }

    /// The buffer policy in force.
    ///
    /// ```
    /// assert_eq!(mpconn::Receiver::new().policy(), mpconn::BufferPolicy::default());
    /// ```
    pub fn policy(&self) -> BufferPolicy {
        self.policy
    }

    /// Where to read next: free room in the buffer, or, inside a payload that misses at
    /// least a buffer's worth once everything buffered is decoded, the payload's own
    /// `Vec` (see [`RecvBuf`]). Never an empty room, so a read that returns 0 is the end
    /// of the stream. The room stays lent until the next call on the receiver; report
    /// what was read with [`received`](Self::received).
    ///
    /// The buffer is compacted here (the few bytes not yet decoded move to its start),
    /// and grows only when full: it holds at most what arrived and was not taken.
    ///
    /// ```
    /// use mpconn::{Receiver, RecvBuf};
    /// let mut receiver = Receiver::new();
    /// receiver.feed(&[0, 1, 0, 0]).unwrap(); // a header declaring 64 KiB
    /// assert_eq!(receiver.next_message(), Ok(None));
    /// // Nothing else buffered and more than a buffer's worth missing: read onto the Vec.
    /// assert!(matches!(receiver.recv_buf(), RecvBuf::Payload { limit: 65536, .. }));
    /// ```
    pub fn recv_buf(&mut self) -> RecvBuf<'_> {
        self.settle();
        let decodable = self.decodable_end();
        if self.start < decodable && !self.decoder.completes(&self.buf[self.start..decodable]) {
            // Nothing whole is buffered: the decoder takes what is (a header, the start
            // of a payload), so that the rest of a large payload is read onto its own
            // Vec instead of doubling this buffer to hold it. A driver may then read
            // until `has_message()` without taking anything in between. An error stays
            // in the decoder for `next_message` to report.
            if let Ok((used, _)) = self.decoder.decode(&self.buf[self.start..decodable]) {
                self.start += used;
            }
        }
        if self.start == self.end {
            (self.start, self.end) = (0, 0);
            if !self.eof {
                // Bytes before the payload are decoded: the rest of a large payload need
                // not pass through the buffer.
                let min = self.buf.len().max(self.policy.initial);
                if let Some(before) = self.decoder.payload_len() {
                    if let Some((buf, limit)) = self.decoder.payload_tail(min) {
                        self.lent = Lent::Payload { before, limit };
                        return RecvBuf::Payload { buf, limit };
                    }
                }
            }
        } else if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            if let Some(Open { at, left: None }) = &mut self.open {
                // (Once its length is known, the decoder reads it and `at` is not used.)
                *at -= self.start;
            }
            (self.start, self.end) = (0, self.end - self.start);
        }
        let refusing = self.trailing.is_some();
        if self.transport == Transport::Messages && self.open.is_none() && !self.eof && !refusing {
            open_message(&mut self.buf, &mut self.end, &mut self.open, self.policy);
        }
        if self.buf.is_empty() {
            // (A message transport needs room for a header and a byte at least.)
            let least = match self.transport {
                Transport::Stream => 1,
                Transport::Messages => RESERVED + 1,
            };
            self.buf.resize(self.policy.initial.max(least), 0);
        } else if self.end == self.buf.len() {
            // Full of bytes not taken: grow (by doubling) rather than lend nothing.
            self.buf.resize(self.buf.len() * 2, 0);
        }
        let mut room = self.buf.len() - self.end;
        if let Some(Open {
            left: Some(left), ..
        }) = self.open
        {
            // The message's announced rest, and not a byte of the next one.
            room = room.min(usize::try_from(left).unwrap_or(usize::MAX).max(1));
        }
        self.lent = Lent::Buffer { room };
        RecvBuf::Buffer(&mut self.buf[self.end..self.end + room])
    }

    fn open_message(&mut self) {
        open_message(&mut self.buf, &mut self.end, &mut self.open, self.policy);
    }

    /// Commits `n` bytes read into what the last [`recv_buf`](Self::recv_buf) lent.
    /// For [`RecvBuf::Payload`], the `Vec` must have grown by exactly `n`, at most its
    /// limit. A read that filled the whole buffer doubles it (up to the policy's
    /// `max`): more is likely waiting.
    ///
    /// It never reports a peer's fault (those come from
    /// [`next_message`](Self::next_message)); an `Err` is the caller's [`Misuse`].
    /// `received(0)` is always accepted and changes nothing; the end of the stream is
    /// [`received_eof`](Self::received_eof), not a read of 0 bytes.
    ///
    /// ```
    /// use mpconn::{Misuse, Receiver, RecvBuf};
    ///
    /// let mut receiver = Receiver::new();
    /// let RecvBuf::Buffer(room) = receiver.recv_buf() else { unreachable!() };
    /// let room = room.len();
    /// assert_eq!(receiver.received(room + 1), Err(Misuse::TooManyBytes { n: room + 1, room }));
    /// ```
    #[inline]
    pub fn received(&mut self, n: usize) -> Result<(), Misuse> {
        let lent = core::mem::replace(&mut self.lent, Lent::Nothing);
        if n > 0 && self.eof {
            return Err(Misuse::AfterEof);
        }
        match lent {
            Lent::Nothing if n == 0 => Ok(()),
            Lent::Nothing => Err(Misuse::NothingLent),
            Lent::Buffer { room } if n > room => {
                self.decoder.fail(Error::OutOfStep);
                Err(Misuse::TooManyBytes { n, room })
            }
            Lent::Buffer { room } => {
                self.end += n;
                if n == room && n > 0 && self.buf.len() < self.policy.max {
                    let grown = (self.buf.len() * 2).min(self.policy.max);
                    self.buf.resize(grown, 0);
                }
                if self.transport == Transport::Messages && self.open.is_none() {
                    // A message was refused: what follows it is not read.
                    self.end -= n;
                }
                self.count_message_bytes(n as u64)?;
                self.drop_input_after_failure();
                Ok(())
            }
            Lent::Payload { before, limit } => {
                let now = self.decoder.payload_len().unwrap_or(before);
                let grew_by = now.checked_sub(before);
                if grew_by == Some(n) && n <= limit {
                    self.count_message_bytes(n as u64)
                } else {
                    self.decoder.fail(Error::OutOfStep);
                    Err(Misuse::PayloadMismatch {
                        reported: n,
                        grew_by,
                        limit,
                    })
                }
            }
        }
    }

    /// The peer closed its end of the stream. Messages already received still come out
    /// of [`next_message`](Self::next_message); then [`Error::Closed`] if the stream
    /// ended between messages (CPython's `EOFError`), [`Error::UnexpectedEof`] if inside
    /// one.
    pub fn received_eof(&mut self) {
        self.settle();
        self.eof = true;
        // A message whose length was announced is a frame the decoder is inside: it
        // reports the end itself.
        let open_len = self.open_message_len();
        if let (Some(got), Some(Open { at, .. })) = (open_len, self.open.take()) {
            if got > 0 {
                // The transport ended inside a message.
                self.trail(Error::UnexpectedEof { received: got });
            }
            self.end = at;
        }
    }

    /// The message now arriving on the message transport is whole: the bytes received
    /// since the last one ended are one message (none: an empty message). An adapter
    /// calls it when a read returns without "more data" (Windows: `ReadFile` done,
    /// not `ERROR_MORE_DATA`). On a stream, [`Misuse::NotMessages`].
    ///
    /// ```
    /// use mpconn::{Receiver, RecvBuf, Transport};
    /// let mut receiver = Receiver::new().with_transport(Transport::Messages);
    /// let RecvBuf::Buffer(room) = receiver.recv_buf() else { unreachable!() };
    /// room[..2].copy_from_slice(b"hi");
    /// receiver.received(2).unwrap();
    /// assert!(!receiver.has_message()); // it may go on
    /// receiver.received_message_end().unwrap();
    /// receiver.received_message_end().unwrap(); // an empty one
    /// assert_eq!(receiver.next_message().unwrap().as_deref(), Some(&b"hi"[..]));
    /// assert_eq!(receiver.next_message().unwrap().as_deref(), Some(&b""[..]));
    /// ```
    pub fn received_message_end(&mut self) -> Result<(), Misuse> {
        let Some(open) = self.message_call()? else {
            // Nothing more is decoded.
            self.open = None;
            self.drop_input_after_failure();
            return Ok(());
        };
        self.open = None;
        match open.left {
            None => self.write_header(open.at, 0),
            Some(0) => {}
            Some(left) => {
                return Err(self.out_of_step(Misuse::MessageLengthMismatch {
                    announced: left,
                    received: 0,
                }))
            }
        }
        Ok(())
    }

    /// Announces how much of the message now arriving on the message transport is
    /// still to come (Windows: `PeekNamedPipe`'s bytes left in this message after
    /// `ERROR_MORE_DATA`). Optional, and it pays: a message over the length limit fails
    /// now, before its bytes are read (as CPython's `PipeConnection` checks), and the
    /// rest of a large one is read straight onto its own `Vec`. The message still ends
    /// with [`received_message_end`](Self::received_message_end) once `left` bytes have
    /// come.
    ///
    /// ```
    /// use mpconn::{Error, Receiver, Transport};
    /// let mut receiver = Receiver::new().with_transport(Transport::Messages);
    /// receiver.set_max_len(Some(100));
    /// receiver.feed(&[7; 64]).unwrap(); // a first read, cut short
    /// receiver.message_remaining(1000).unwrap();
    /// assert_eq!(receiver.next_message(), Err(Error::MessageTooLong { len: 1064, max: 100 }));
    /// ```
    pub fn message_remaining(&mut self, left: u64) -> Result<(), Misuse> {
        let Some(open) = self.message_call()? else {
            return Ok(());
        };
        match open.left {
            None => {
                self.write_header(open.at, left);
                self.open = Some(Open {
                    at: open.at,
                    left: Some(left),
                });
                Ok(())
            }
            // Said again: it must agree with what is still to come.
            Some(known) if known == left => Ok(()),
            Some(known) => Err(self.out_of_step(Misuse::MessageLengthMismatch {
                announced: known,
                received: known.saturating_sub(left),
            })),
        }
    }

    /// What `received_message_end` and `message_remaining` check first: a receiver of
    /// the message transport, before the end; then the message now arriving (opened
    /// if none is), or `None` once nothing more is decoded (after a fault).
    fn message_call(&mut self) -> Result<Option<Open>, Misuse> {
        self.settle();
        if self.transport != Transport::Messages {
            return Err(Misuse::NotMessages);
        }
        if self.eof {
            return Err(Misuse::AfterEof);
        }
        if self.decoder.is_failed() || self.trailing.is_some() {
            return Ok(None);
        }
        if self.open.is_none() {
            self.open_message();
        }
        Ok(self.open)
    }

    /// Copies one whole message in, as a message-transport read would: [`feed`](Self::feed)
    /// then [`received_message_end`](Self::received_message_end). For tests, fuzzing and
    /// in-memory transports.
    ///
    /// ```
    /// use mpconn::{Receiver, Transport};
    /// let mut receiver = Receiver::new().with_transport(Transport::Messages);
    /// receiver.feed_message(b"abc").unwrap();
    /// assert_eq!(receiver.next_message().unwrap().as_deref(), Some(&b"abc"[..]));
    /// ```
    pub fn feed_message(&mut self, message: &[u8]) -> Result<(), Misuse> {
        self.feed(message)?;
        self.received_message_end()
    }

    /// Writes the header of the message at `at` (its bytes so far, and `more` to come)
    /// into the room reserved for it; a long header (above 2 GiB) moves the bytes up.
    fn write_header(&mut self, at: usize, more: u64) {
        let got = self.end - at - RESERVED;
        let header = Header::new(got as u64 + more);
        let bytes = header.as_bytes();
        if bytes.len() > RESERVED {
            let shift = bytes.len() - RESERVED;
            if self.buf.len() < self.end + shift {
                self.buf.resize(self.end + shift, 0);
            }
            self.buf
                .copy_within(at + RESERVED..self.end, at + bytes.len());
            self.end += shift;
        }
        self.buf[at..at + bytes.len()].copy_from_slice(bytes);
    }

    /// Counts `n` bytes received into the open message of the message transport:
    /// against what was announced to come, or against the length limit while its
    /// length is not known (so memory follows the limit, as on a stream).
    fn count_message_bytes(&mut self, n: u64) -> Result<(), Misuse> {
        let Some(open) = &mut self.open else {
            return Ok(());
        };
        match &mut open.left {
            Some(left) if n > *left => {
                let announced = *left;
                Err(self.out_of_step(Misuse::MessageLengthMismatch {
                    announced,
                    received: n,
                }))
            }
            Some(left) => {
                *left -= n;
                Ok(())
            }
            None => {
                let got = (self.end - open.at - RESERVED) as u64;
                if let Some(max) = self.decoder.max_len() {
                    if got > max {
                        // Bytes past the limit are not kept: the message is refused
                        // once those before it are taken, as CPython's would be.
                        self.end = open.at;
                        self.open = None;
                        self.trail(Error::MessageTooLong { len: got, max });
                    }
                }
                Ok(())
            }
        }
    }

    /// The bytes of the message now arriving on the message transport whose length is
    /// not known yet (`None`: no such message).
    pub(crate) fn open_message_len(&self) -> Option<u64> {
        match self.open {
            Some(Open { at, left: None }) => Some((self.end - at - RESERVED) as u64),
            _ => None,
        }
    }

    /// A misuse that leaves the receiver unable to tell which bytes are the stream's:
    /// out of step from now on, its input dropped.
    fn out_of_step(&mut self, misuse: Misuse) -> Misuse {
        self.decoder.fail(Error::OutOfStep);
        self.drop_input_after_failure();
        misuse
    }

    /// Reports `error` once the messages already buffered are taken.
    fn trail(&mut self, error: Error) {
        if self.trailing.is_none() {
            self.trailing = Some(error);
        }
    }

    /// True once [`received_eof`](Self::received_eof) was called.
    pub fn is_eof(&self) -> bool {
        self.eof
    }

    /// Copies `input` in through [`recv_buf`](Self::recv_buf) and
    /// [`received`](Self::received), as a read would: for tests, fuzzing and in-memory
    /// transports. All of it is taken (the buffer grows if messages are not taken in
    /// between). The only error is [`Misuse::AfterEof`].
    ///
    /// ```
    /// let mut receiver = mpconn::Receiver::new();
    /// receiver.feed(b"\0\0\0\x03abc").unwrap();
    /// assert_eq!(receiver.next_message().unwrap().as_deref(), Some(&b"abc"[..]));
    /// ```
    pub fn feed(&mut self, mut input: &[u8]) -> Result<(), Misuse> {
        while !input.is_empty() {
            let n = self.recv_buf().fill(input);
            self.received(n)?;
            input = &input[n..];
        }
        Ok(())
    }

    /// The next message, decoded from what was received, with the length limit in force
    /// now ([`set_max_len`](Self::set_max_len)). A message wholly in the buffer is
    /// borrowed from it ([`Frame::Borrowed`]: no allocation); one gathered across reads
    /// is [`Frame::Owned`]. `Ok(None)`: more input is needed.
    ///
    /// Messages that arrived before the end of the stream or before a fault come out
    /// first; then the error, and the same error on every later call: a peer's fault
    /// ([`Error::MessageTooLong`], [`Error::NegativeLength`]), the end
    /// ([`Error::Closed`] between messages, [`Error::UnexpectedEof`] inside one), or
    /// [`Error::OutOfStep`] after a [`Misuse`] of `received`.
    #[inline]
    pub fn next_message(&mut self) -> Result<Option<Frame<'_>>, Error> {
        self.settle();
        let input = &self.buf[self.start..self.decodable_end()];
        match self.decoder.decode(input) {
            Ok((used, Some(frame))) => {
                self.start += used;
                Ok(Some(frame))
            }
            Ok((used, None)) => {
                self.start += used;
                if let Some(error) = self.trailing.take() {
                    self.decoder.fail(error.clone());
                    (self.start, self.end, self.open) = (0, 0, None);
                    Err(error)
                } else if self.eof {
                    Err(self.decoder.eof())
                } else {
                    Ok(None)
                }
            }
            Err(error) => {
                // Nothing more is decoded: the input need not be kept.
                (self.start, self.end, self.open) = (0, 0, None);
                Err(error)
            }
        }
    }

    /// True when [`next_message`](Self::next_message) would not return `Ok(None)`: a
    /// whole message (or an error, or the end of the stream) is received. It changes
    /// nothing, so a blocking loop can read until it holds and then return the message
    /// borrowed from the buffer.
    ///
    /// ```
    /// let mut receiver = mpconn::Receiver::new();
    /// receiver.feed(b"\0\0\0\x02h").unwrap();
    /// assert!(!receiver.has_message());
    /// receiver.feed(b"i").unwrap();
    /// assert!(receiver.has_message());
    /// assert_eq!(receiver.next_message().unwrap().as_deref(), Some(&b"hi"[..]));
    /// ```
    #[inline]
    pub fn has_message(&self) -> bool {
        // A payload Vec changed without a report: next_message settles it as out of step.
        let misreported = matches!(self.lent, Lent::Payload { before, .. }
            if self.decoder.payload_len() != Some(before));
        self.eof
            || misreported
            || self.trailing.is_some()
            || self
                .decoder
                .completes(&self.buf[self.start..self.decodable_end()])
    }

    /// Limits the length of incoming messages from the next decoded frame on (CPython's
    /// `recv_bytes(maxlength)`); `None` removes the limit. It also applies to a message
    /// part-way through its payload. A message over the limit fails the receiver for
    /// good ([`Error::MessageTooLong`]): its payload is not consumed, so the stream is
    /// out of step.
    ///
    /// ```
    /// use mpconn::{Error, Receiver};
    /// let mut receiver = Receiver::new();
    /// receiver.feed(b"\0\0\0\x05hello").unwrap();
    /// receiver.set_max_len(Some(4));
    /// assert_eq!(receiver.next_message(), Err(Error::MessageTooLong { len: 5, max: 4 }));
    /// ```
    #[inline]
    pub fn set_max_len(&mut self, max_len: Option<u64>) {
        self.settle();
        self.decoder.set_max_len(max_len);
    }

    /// The length limit in force.
    #[inline]
    pub fn max_len(&self) -> Option<u64> {
        self.decoder.max_len()
    }

    /// True when received bytes wait in the buffer, not yet decoded: a `poll(2)` on the
    /// descriptor would not see them, yet [`next_message`](Self::next_message) may find
    /// a message there.
    ///
    /// ```
    /// let mut receiver = mpconn::Receiver::new();
    /// receiver.feed(b"\0\0\0\x01a").unwrap();
    /// assert!(receiver.has_buffered_input());
    /// receiver.next_message().unwrap();
    /// assert!(!receiver.has_buffered_input());
    /// ```
    #[inline]
    pub fn has_buffered_input(&self) -> bool {
        self.start < self.decodable_end()
    }

    /// The received bytes not yet decoded (for an adapter that hands the stream over to
    /// another framing, such as `tokio_util`'s `Framed`, with
    /// [`is_mid_message`](Self::is_mid_message) false).
    ///
    /// ```
    /// let mut receiver = mpconn::Receiver::new();
    /// receiver.feed(b"\0\0").unwrap();
    /// assert_eq!(receiver.buffered_input(), b"\0\0");
    /// ```
    pub fn buffered_input(&self) -> &[u8] {
        &self.buf[self.start..self.decodable_end()]
    }

    /// True when the decoder is part-way through a message (a partial header or
    /// payload taken from the buffer), not counting bytes still in the buffer.
    ///
    /// ```
    /// let mut receiver = mpconn::Receiver::new();
    /// receiver.feed(b"\0\0\0\x02a").unwrap();
    /// assert_eq!(receiver.next_message(), Ok(None));
    /// assert!(receiver.is_mid_message());
    /// ```
    pub fn is_mid_message(&self) -> bool {
        !self.decoder.is_idle() && !self.decoder.is_failed()
    }

    /// The error the receiver failed with, once [`next_message`](Self::next_message)
    /// (or a [`Misuse`]) found it; `None` until then.
    pub fn error(&self) -> Option<&Error> {
        self.decoder.error()
    }

    /// True until the first message of a client without an authkey is decoded: a
    /// first frame that starts with `#CHALLENGE#` is then [`Error::AuthkeyWanted`]
    /// (see [`Decoder::refusing_a_challenge`]). An adapter that hands the
    /// stream over to another decoder hands this check on with it.
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
    /// let client = Connection::client(None, &HandshakeConfig::default(), &mut Zero);
    /// assert!(client.receiver().refuses_a_challenge());
    /// assert!(!Connection::established().receiver().refuses_a_challenge());
    /// ```
    pub fn refuses_a_challenge(&self) -> bool {
        self.decoder.refuses_a_challenge()
    }

    /// Makes the first message a challenge check (see
    /// [`refuses_a_challenge`](Self::refuses_a_challenge)): for a client without an
    /// authkey.
    pub(crate) fn refuse_a_challenge(&mut self) {
        self.decoder = core::mem::take(&mut self.decoder).refusing_a_challenge();
    }

    /// The size of the inbound buffer now (0 until first lent), for tests and metrics.
    pub fn buffer_len(&self) -> usize {
        self.buf.len()
    }

    /// Marks bytes as taken by a handshake that read them from
    /// [`buffered_input`](Self::buffered_input).
    pub(crate) fn consume(&mut self, n: usize) {
        self.start = (self.start + n).min(self.decodable_end());
    }

    /// Forgets the buffered input: after a failure nothing more is decoded, so it need
    /// not be kept.
    pub(crate) fn discard_input(&mut self) {
        (self.start, self.end) = (0, 0);
        self.open = None;
    }

    fn drop_input_after_failure(&mut self) {
        if self.decoder.is_failed() {
            self.discard_input();
        }
    }

    /// Takes back what the last `recv_buf` lent and nothing reported: a buffer room holds
    /// nothing of the stream; a payload `Vec` that changed anyway means bytes the
    /// receiver cannot account for, so it is out of step.
    #[inline]
    fn settle(&mut self) {
        if let Lent::Payload { before, .. } = core::mem::replace(&mut self.lent, Lent::Nothing) {
            if self.decoder.payload_len() != Some(before) {
                self.decoder.fail(Error::OutOfStep);
            }
        }
    }
}

/// Starts a message of the message transport at the end of the buffer: room for its
/// header first. (A function of the fields, so that `recv_buf` can call it after a
/// branch that lends the decoder's payload.)
fn open_message(buf: &mut Vec<u8>, end: &mut usize, open: &mut Option<Open>, policy: BufferPolicy) {
    if buf.len() < *end + RESERVED {
        let size = (*end + RESERVED).max(policy.initial).max(RESERVED + 1);
        buf.resize(size, 0);
    }
    *open = Some(Open {
        at: *end,
        left: None,
    });
    *end += RESERVED;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{encode, GROWTH_STEP};
    use alloc::vec;

    fn framed(payload: &[u8]) -> Vec<u8> {
        let mut wire = Vec::new();
        encode(payload, &mut wire);
        wire
    }

    /// A payload over several growth steps, and the longest read to deliver it in.
    /// Miri checks every byte copied: there it is shorter (still over two growth
    /// steps) and read in fewer, longer pieces.
    fn long_payload() -> (Vec<u8>, usize) {
        let (len, step) = if cfg!(miri) {
            (140_000, 20_000)
        } else {
            (300_000, 1000)
        };
        ((0..len as u32).map(|i| (i % 251) as u8).collect(), step)
    }

    #[test]
    fn reading_until_has_message_puts_a_large_payload_on_its_own_vec() {
        // A driver that only asks has_message() between reads, as a blocking
        // recv_message does: recv_buf must let the decoder take the buffered header and
        // payload start, or the buffer would double until it held the whole message.
        let (payload, _) = long_payload();
        let wire = framed(&payload);
        let mut receiver = Receiver::new();
        let (mut pos, mut payload_reads) = (0, 0);
        while !receiver.has_message() {
            let rest = &wire[pos..];
            let lent = receiver.recv_buf();
            payload_reads += usize::from(matches!(lent, RecvBuf::Payload { .. }));
            let n = lent.fill(rest);
            receiver.received(n).unwrap();
            pos += n;
        }
        assert!(payload_reads > 0, "the payload went through the buffer");
        assert!(receiver.buffer_len() <= BufferPolicy::default().max);
        let message = receiver.next_message().unwrap().unwrap();
        assert!(matches!(message, Frame::Owned(_)));
        assert!(*message == payload[..]);
    }

    /// Delivers `wire` through recv_buf/received, at most `step` bytes a read, and
    /// takes messages whenever a read is in; counts the reads that went onto a payload
    /// and checks each payload lend against the bytes that arrived.
    fn receive(receiver: &mut Receiver, wire: &[u8], step: usize) -> (Vec<Vec<u8>>, usize) {
        let (mut messages, mut payload_reads, mut pos) = (Vec::new(), 0, 0);
        while pos < wire.len() {
            let rest = &wire[pos..];
            let n = match receiver.recv_buf() {
                RecvBuf::Buffer(room) => {
                    assert!(!room.is_empty());
                    let n = room.len().min(rest.len()).min(step);
                    room[..n].copy_from_slice(&rest[..n]);
                    n
                }
                RecvBuf::Payload { buf, limit } => {
                    assert!(limit > 0 && buf.capacity() - buf.len() >= limit);
                    assert!(
                        buf.capacity() <= pos + 2 * GROWTH_STEP,
                        "memory follows bytes"
                    );
                    payload_reads += 1;
                    let n = limit.min(rest.len()).min(step);
                    buf.extend_from_slice(&rest[..n]);
                    n
                }
            };
            receiver.received(n).unwrap();
            pos += n;
            while let Some(message) = receiver.next_message().unwrap() {
                messages.push(message.into_vec());
            }
        }
        (messages, payload_reads)
    }

    #[test]
    fn a_large_payload_is_read_onto_its_own_vec_and_is_the_payload_sent() {
        let (payload, step) = long_payload();
        for step in [step, usize::MAX, 65_536] {
            let wire = [framed(b"before"), framed(&payload), framed(b"after")].concat();
            let mut receiver = Receiver::new();
            let (messages, payload_reads) = receive(&mut receiver, &wire, step);
            assert!(payload_reads > 0, "reads of {step}");
            assert!(messages == [b"before".to_vec(), payload.clone(), b"after".to_vec()]);
            assert!(!receiver.is_mid_message());
        }
    }

    #[test]
    fn a_payload_that_fits_the_buffer_is_never_read_onto_its_vec() {
        let payload = vec![1; 3000];
        let mut receiver = Receiver::new();
        let (messages, payload_reads) = receive(&mut receiver, &framed(&payload), 100);
        assert_eq!((messages, payload_reads), (vec![payload], 0));
    }

    #[test]
    fn reads_for_a_huge_declared_length_follow_the_bytes_that_arrived() {
        let mut receiver = Receiver::new();
        receiver.feed(Header::new(u64::MAX).as_bytes()).unwrap();
        assert_eq!(receiver.next_message(), Ok(None));
        let mut received = 0;
        let rounds = if cfg!(miri) { 4 } else { 40 };
        for _ in 0..rounds {
            let RecvBuf::Payload { buf, limit } = receiver.recv_buf() else {
                panic!("inside a huge payload with nothing buffered")
            };
            // What arrived, a read of at most a growth step, a head start of at most one.
            assert!(buf.capacity() <= received + 2 * GROWTH_STEP);
            buf.resize(buf.len() + limit, 0);
            receiver.received(limit).unwrap();
            received += limit;
        }
        assert_eq!(receiver.next_message(), Ok(None));
        receiver.received_eof();
        let received = 12 + received as u64;
        assert_eq!(
            receiver.next_message(),
            Err(Error::UnexpectedEof { received })
        );
    }

    #[test]
    fn the_buffer_starts_small_and_doubles_while_reads_fill_it_up_to_the_max() {
        let mut receiver = Receiver::new();
        assert_eq!(
            receiver.buffer_len(),
            0,
            "nothing allocated before the first read"
        );
        let mut sizes = Vec::new();
        for _ in 0..6 {
            let RecvBuf::Buffer(room) = receiver.recv_buf() else {
                panic!("between messages")
            };
            sizes.push(room.len());
            let n = room.len();
            room.fill(0); // empty messages, 4 bytes each
            receiver.received(n).unwrap();
            while receiver.next_message().unwrap().is_some() {}
        }
        assert_eq!(sizes, [4096, 8192, 16384, 32768, 65536, 65536]);
    }

    #[test]
    fn a_read_that_does_not_fill_the_buffer_does_not_grow_it() {
        let mut receiver = Receiver::with_policy(BufferPolicy {
            initial: 16,
            max: 1024,
        });
        receiver.feed(&[0; 15]).unwrap();
        assert_eq!(receiver.buffer_len(), 16);
    }

    #[test]
    fn a_full_buffer_not_taken_grows_rather_than_lend_no_room() {
        let policy = BufferPolicy { initial: 8, max: 8 };
        let mut receiver = Receiver::with_policy(policy);
        let wire: Vec<u8> = (0..10).flat_map(|_| framed(b"")).collect();
        receiver.feed(&wire).unwrap();
        assert!(receiver.buffer_len() >= wire.len());
        let mut count = 0;
        while receiver.next_message().unwrap().is_some() {
            count += 1;
        }
        assert_eq!(count, 10);
    }

    #[test]
    fn committing_more_than_the_room_is_misuse_and_puts_the_receiver_out_of_step() {
        let mut receiver = Receiver::new();
        let RecvBuf::Buffer(room) = receiver.recv_buf() else {
            panic!("between messages")
        };
        let room = room.len();
        assert_eq!(
            receiver.received(room + 1),
            Err(Misuse::TooManyBytes { n: room + 1, room })
        );
        assert_eq!(receiver.next_message(), Err(Error::OutOfStep));
    }

    #[test]
    fn committing_without_a_lend_is_misuse_and_changes_nothing() {
        let mut receiver = Receiver::new();
        receiver.feed(b"\0\0").unwrap();
        assert_eq!(receiver.received(1), Err(Misuse::NothingLent));
        assert_eq!(receiver.received(0), Ok(()));
        let _ = receiver.recv_buf();
        assert_eq!(receiver.next_message(), Ok(None)); // the lend is settled
        assert_eq!(receiver.received(1), Err(Misuse::NothingLent));
        receiver.feed(b"\0\x01z").unwrap();
        assert_eq!(receiver.next_message().unwrap().as_deref(), Some(&b"z"[..]));
    }

    /// A receiver inside a payload of 100 000 bytes, lending its Vec.
    fn lending_a_payload() -> Receiver {
        let mut receiver = Receiver::new();
        receiver.feed(&framed(&[1; 100_000])[..10]).unwrap();
        assert_eq!(receiver.next_message(), Ok(None));
        receiver
    }

    #[test]
    fn a_payload_vec_that_grew_by_other_than_reported_is_misuse_and_out_of_step() {
        for (append, report) in [(3, 2), (2, 3), (0, 1)] {
            let mut receiver = lending_a_payload();
            let RecvBuf::Payload { buf, limit } = receiver.recv_buf() else {
                panic!("inside a large payload")
            };
            buf.extend_from_slice(&vec![1; append]);
            assert_eq!(
                receiver.received(report),
                Err(Misuse::PayloadMismatch {
                    reported: report,
                    grew_by: Some(append),
                    limit
                })
            );
            assert_eq!(receiver.next_message(), Err(Error::OutOfStep));
        }
    }

    #[test]
    fn a_payload_vec_that_shrank_or_grew_past_its_limit_is_misuse() {
        let mut receiver = lending_a_payload();
        let RecvBuf::Payload { buf, .. } = receiver.recv_buf() else {
            panic!("inside a large payload")
        };
        buf.pop();
        assert!(matches!(
            receiver.received(0),
            Err(Misuse::PayloadMismatch { grew_by: None, .. })
        ));
        let mut receiver = lending_a_payload();
        let RecvBuf::Payload { buf, limit } = receiver.recv_buf() else {
            panic!("inside a large payload")
        };
        buf.resize(buf.len() + limit + 1, 1);
        assert!(receiver.received(limit + 1).is_err());
        assert_eq!(receiver.error(), Some(&Error::OutOfStep));
    }

    #[test]
    fn a_payload_vec_changed_without_a_report_puts_the_receiver_out_of_step() {
        let mut receiver = lending_a_payload();
        let RecvBuf::Payload { buf, .. } = receiver.recv_buf() else {
            panic!("inside a large payload")
        };
        buf.push(1);
        assert_eq!(receiver.next_message(), Err(Error::OutOfStep));
    }

    #[test]
    fn a_lowered_limit_lends_no_payload_and_next_message_reports_it() {
        let mut receiver = lending_a_payload();
        receiver.set_max_len(Some(5000));
        assert!(matches!(receiver.recv_buf(), RecvBuf::Buffer(_)));
        assert_eq!(
            receiver.next_message(),
            Err(Error::MessageTooLong {
                len: 100_000,
                max: 5000
            })
        );
    }

    #[test]
    fn bytes_after_the_end_are_misuse() {
        let mut receiver = Receiver::new();
        receiver.received_eof();
        let _ = receiver.recv_buf();
        assert_eq!(receiver.received(1), Err(Misuse::AfterEof));
        assert_eq!(receiver.next_message(), Err(Error::Closed));
    }

    #[test]
    fn a_fault_comes_after_the_messages_before_it_and_again_later() {
        let mut receiver = Receiver::new();
        receiver
            .feed(&[framed(b"ok"), (-5i32).to_be_bytes().to_vec()].concat())
            .unwrap();
        assert_eq!(
            receiver.next_message().unwrap().as_deref(),
            Some(&b"ok"[..])
        );
        assert_eq!(receiver.next_message(), Err(Error::NegativeLength(-5)));
        receiver.feed(&framed(b"ignored")).unwrap();
        assert!(!receiver.has_buffered_input());
        assert_eq!(receiver.next_message(), Err(Error::NegativeLength(-5)));
    }

    #[test]
    fn byte_at_a_time_gives_the_messages_of_all_at_once() {
        let wire = [
            framed(b""),
            framed(b"a"),
            framed(&[7; 5000]),
            framed(&[8; 70_000]),
        ]
        .concat();
        let (whole, _) = receive(&mut Receiver::new(), &wire, usize::MAX);
        let smallest = if cfg!(miri) { 997 } else { 1 };
        let (split, _) = receive(&mut Receiver::new(), &wire, smallest);
        assert_eq!(whole.len(), 4);
        assert!(whole == split);
    }
}
