//! A blocking connection: the core's [`mpconn::Connection`] driven over a socket or a
//! pipe.

use std::io::IoSlice;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::time::{Duration, Instant};

use mpconn::frame::{Extended, Frame, Header, CONCAT_LIMIT};

use crate::error::{Error, Result};
use crate::stream::Stream;
use crate::wait::poll_fd;

/// The read buffer a connection starts with: enough for a handshake and small
/// messages. Zeroing and faulting in 64 KiB per connection cost about a tenth of a
/// handshake, so the buffer starts here and grows while reads fill it.
const READ_BUF_INITIAL: usize = 4 * 1024;

/// The most bytes read from the OS per `read` call. Messages that fit are decoded in
/// place (no copy before the caller's); longer ones are gathered by the core.
const READ_BUF_MAX: usize = 64 * 1024;

/// Whether the write side can still be trusted to sit between two frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WriteSide {
    Usable,
    /// A direct write of a large message failed part-way: the peer has part of a frame
    /// and the rest is lost, so the stream is out of step for good.
    Broken,
}

/// What a [`Connection::handshake_step`] waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// The socket to be readable.
    Read,
    /// The socket to be writable.
    Write,
    /// Nothing: the handshake succeeded.
    Done,
}

/// Whether the first message is still to be checked for a challenge: a client without
/// an authkey must not take a keyed listener's `#CHALLENGE#` frame for a reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FirstMessage {
    /// A client without an authkey, before its first message.
    MayBeAChallenge,
    /// Every other connection, and that client once its first message was a message.
    Unchecked,
}

/// The start of a challenge frame's payload (PROTOCOL.md section 2).
const CHALLENGE_PREFIX: &[u8] = b"#CHALLENGE#";

/// One end of a connection (CPython's `multiprocessing.connection.Connection`).
///
/// Messages are byte strings of any length, framed exactly as CPython frames them
/// (PROTOCOL.md section 1), so the peer may be CPython's `Listener`, `Client` or
/// `Pipe`, or another Rust process. A connection comes from
/// [`Listener::accept`](crate::Listener::accept), [`Client::connect`](crate::Client)
/// or [`pipe`](crate::pipe), after the authentication handshake if there was a key.
///
/// Dropping it closes it; [`close`](Connection::close) does the same and reports
/// errors. [`queue_bytes`](Connection::queue_bytes) and [`flush`](Connection::flush)
/// send many small messages in one write, which CPython cannot do.
///
/// ```
/// let (mut a, mut b) = mpconn_std::pipe(true)?;
/// a.send_bytes(b"hello")?;
/// assert_eq!(b.recv_bytes(None)?, b"hello");
/// drop(a);
/// assert!(b.recv_bytes(None).unwrap_err().is_eof()); // CPython's EOFError
/// # Ok::<(), mpconn_std::Error>(())
/// ```
#[derive(Debug)]
pub struct Connection {
    stream: Stream,
    core: mpconn::Connection,
    /// Input read from the OS and not yet decoded: `buf[start..end]`. Bytes that
    /// arrive behind a message (pipelined ones) wait here for the next receive. It
    /// grows from [`READ_BUF_INITIAL`] to [`READ_BUF_MAX`] as reads fill it.
    buf: Vec<u8>,
    start: usize,
    end: usize,
    write_side: WriteSide,
    timeout: Option<Duration>,
    first_message: FirstMessage,
}

impl Connection {
    /// A connection over `stream` whose core may still have a handshake to run.
    pub(crate) fn new(stream: Stream, core: mpconn::Connection) -> Connection {
        Connection {
            stream,
            core,
            buf: vec![0; READ_BUF_INITIAL],
            start: 0,
            end: 0,
            write_side: WriteSide::Usable,
            timeout: None,
            first_message: FirstMessage::Unchecked,
        }
    }

    /// Makes the first received message an [`Error::AuthkeyWanted`] if it is a
    /// challenge: for a client without an authkey. The check belongs in the core's
    /// handshake state and will move there.
    pub(crate) fn refuse_a_challenge_as_first_message(&mut self) {
        self.first_message = FirstMessage::MayBeAChallenge;
    }

    /// True when nothing at all was received yet: a client whose handshake timed out
    /// so never saw a challenge.
    pub(crate) fn received_nothing(&self) -> bool {
        self.end == 0
    }

    /// Checks the first message of a client without an authkey (see [`FirstMessage`]).
    fn check_first_message(&mut self, message: &[u8]) -> Result<()> {
        if self.first_message == FirstMessage::MayBeAChallenge {
            self.first_message = FirstMessage::Unchecked;
            if message.starts_with(CHALLENGE_PREFIX) {
                return Err(Error::AuthkeyWanted);
            }
        }
        Ok(())
    }

    /// Runs the core's handshake to the end, before `deadline` if there is one. On a
    /// failure the core's last words (`#FAILURE#`) are written first, as CPython does.
    pub(crate) fn handshake(&mut self, deadline: Option<Instant>) -> Result<()> {
        let result = self.run_handshake(deadline);
        let in_time = deadline.is_none_or(|deadline| Instant::now() < deadline);
        if result.is_err() && self.core.wants_write() && in_time {
            // Best effort: the peer learns why, unless it is gone too.
            let _ = self.write_pending();
        }
        // Back to the connection's own limit (none unless set later).
        let reset = match deadline {
            Some(_) => self.stream.set_timeout(self.timeout),
            None => Ok(()),
        };
        result?;
        Ok(reset?)
    }

    /// Runs the handshake as far as it goes without blocking, on a stream set
    /// non-blocking ([`set_nonblocking`](Self::set_nonblocking)), and says what it
    /// waits for: the one place a non-blocking driver (the listener's pending
    /// handshakes) touches the core. On a failure the core's last words
    /// (`#FAILURE#`) are offered to the socket once, as [`handshake`](Self::handshake)
    /// does.
    pub(crate) fn handshake_step(&mut self) -> Result<Step> {
        let step = self.try_handshake_step();
        if step.is_err() && self.core.wants_write() {
            let pending = [IoSlice::new(self.core.pending_output())];
            let _ = self.stream.write_vectored(&pending);
        }
        step
    }

    fn try_handshake_step(&mut self) -> Result<Step> {
        const DURING: &str = "during the authentication handshake";
        let would_block = |e: &std::io::Error| e.kind() == std::io::ErrorKind::WouldBlock;
        loop {
            while self.core.wants_write() {
                let pending = [IoSlice::new(self.core.pending_output())];
                match self.stream.write_vectored(&pending) {
                    Ok(n) => self.core.consume_output(n),
                    Err(e) if would_block(&e) => return Ok(Step::Write),
                    Err(e) => return Err(Error::Io(e)),
                }
            }
            if !self.core.is_handshaking() {
                return Ok(Step::Done);
            }
            let n = match self.stream.read(&mut self.buf) {
                Ok(0) => return Err(self.core.eof().into()),
                Ok(n) => n,
                Err(e) if would_block(&e) => return Ok(Step::Read),
                Err(e) => return Err(Error::from_io(e, DURING)),
            };
            self.grow_if_filled(n);
            let mut used = 0;
            while used < n && self.core.is_handshaking() {
                used += self.core.decode(&self.buf[used..n])?.0;
            }
            // Whatever follows the handshake's last frame is the first message(s).
            (self.start, self.end) = (used, n);
        }
    }

    /// Sets the stream non-blocking (for [`handshake_step`](Self::handshake_step))
    /// or back to blocking.
    pub(crate) fn set_nonblocking(&self, nonblocking: bool) -> Result<()> {
        Ok(self.stream.set_nonblocking(nonblocking)?)
    }

    fn run_handshake(&mut self, deadline: Option<Instant>) -> Result<()> {
        const DURING: &str = "during the authentication handshake";
        let mut timer = deadline.map(HandshakeTimer::new);
        loop {
            while self.core.wants_write() {
                let pending = [IoSlice::new(self.core.pending_output())];
                let n = with_deadline(&mut self.stream, &mut timer, DURING, |stream| {
                    stream.write_vectored(&pending)
                })?;
                self.core.consume_output(n);
            }
            if !self.core.is_handshaking() {
                return Ok(());
            }
            let buf = &mut self.buf;
            let n = with_deadline(&mut self.stream, &mut timer, DURING, |stream| {
                stream.read(buf)
            })?;
            if n == 0 {
                return Err(self.core.eof().into());
            }
            self.grow_if_filled(n);
            let mut used = 0;
            while used < n && self.core.is_handshaking() {
                used += self.core.decode(&self.buf[used..n])?.0;
            }
            // Whatever follows the handshake's last frame is the first message(s).
            (self.start, self.end) = (used, n);
        }
    }

    /// Sends one message (CPython's `send_bytes`), after any queued ones.
    ///
    /// A message above 16 KiB goes out with its header in one vectored write, not
    /// copied; smaller ones are framed in a buffer, as CPython does, to keep header
    /// and payload in one packet. Use a sub-slice for CPython's `offset` and `size`.
    pub fn send_bytes(&mut self, message: &[u8]) -> Result<()> {
        self.check_writable()?;
        if message.len() <= CONCAT_LIMIT {
            self.core.send(message)?;
            return self.flush();
        }
        let header = Header::new(message.len() as u64);
        let pending = self.core.pending_output();
        let pending_len = pending.len();
        let mut slices = [
            IoSlice::new(pending),
            IoSlice::new(header.as_bytes()),
            IoSlice::new(message),
        ];
        match self.stream.write_all_vectored(&mut slices) {
            Ok(()) => {
                self.core.consume_output(pending_len);
                Ok(())
            }
            Err((written, error)) => {
                self.core.consume_output(written);
                if written > pending_len {
                    self.write_side = WriteSide::Broken;
                }
                Err(Error::from_io(error, "sending a message"))
            }
        }
    }

    /// Queues one message without writing it: the next [`flush`](Self::flush) or
    /// [`send_bytes`](Self::send_bytes) writes all queued messages in as few writes as
    /// the OS allows. CPython writes each message on its own (one or two `write`s per
    /// message); batching many small ones is far cheaper.
    ///
    /// Queued messages that are not flushed when the connection is dropped are lost;
    /// [`close`](Self::close) flushes them.
    ///
    /// ```
    /// let (mut a, mut b) = mpconn_std::pipe(true)?;
    /// for i in 0..100u8 {
    ///     a.queue_bytes(&[i])?;
    /// }
    /// a.flush()?; // one write for all hundred
    /// for i in 0..100u8 {
    ///     assert_eq!(b.recv_bytes(None)?, [i]);
    /// }
    /// # Ok::<(), mpconn_std::Error>(())
    /// ```
    pub fn queue_bytes(&mut self, message: &[u8]) -> Result<()> {
        self.check_writable()?;
        Ok(self.core.send(message)?)
    }

    /// Writes every queued message.
    pub fn flush(&mut self) -> Result<()> {
        self.check_writable()?;
        self.write_pending()
    }

    /// Bytes queued and not yet written.
    pub fn queued_len(&self) -> usize {
        self.core.pending_output().len()
    }

    fn write_pending(&mut self) -> Result<()> {
        while self.core.wants_write() {
            self.write_pending_once("sending a message")?;
        }
        Ok(())
    }

    fn write_pending_once(&mut self, during: &'static str) -> Result<()> {
        let pending = [IoSlice::new(self.core.pending_output())];
        let n = self
            .stream
            .write_vectored(&pending)
            .map_err(|e| Error::from_io(e, during))?;
        self.core.consume_output(n);
        Ok(())
    }

    /// Receives one message (CPython's `recv_bytes`).
    ///
    /// With `max_len`, a message that declares more bytes fails with
    /// [`mpconn::Error::MessageTooLong`] before any of it is read, and the read side is
    /// unusable afterwards (CPython's "bad message length"). The peer closing between
    /// messages gives an error for which [`Error::is_eof`] is true; closing inside one
    /// gives [`mpconn::Error::UnexpectedEof`].
    pub fn recv_bytes(&mut self, max_len: Option<usize>) -> Result<Vec<u8>> {
        self.next_message(max_len.map(|n| n as u64), |frame| frame.into_vec())
    }

    /// Receives one message into `buf` and returns its length (CPython's
    /// `recv_bytes_into`; use a sub-slice for its `offset`).
    ///
    /// A message longer than `buf` is still consumed, and comes back whole in
    /// [`Error::BufferTooShort`] (CPython's `BufferTooShort`); the connection stays
    /// usable. A message that arrived in one piece is copied once, straight from the
    /// read buffer into `buf`.
    ///
    /// ```
    /// let (mut a, mut b) = mpconn_std::pipe(true)?;
    /// a.send_bytes(b"four")?;
    /// a.send_bytes(b"too long")?;
    /// let mut buf = [0; 4];
    /// assert_eq!(b.recv_bytes_into(&mut buf)?, 4);
    /// match b.recv_bytes_into(&mut buf) {
    ///     Err(mpconn_std::Error::BufferTooShort { message }) => assert_eq!(message, b"too long"),
    ///     other => panic!("{other:?}"),
    /// }
    /// # Ok::<(), mpconn_std::Error>(())
    /// ```
    pub fn recv_bytes_into(&mut self, buf: &mut [u8]) -> Result<usize> {
        self.next_message(None, |frame| {
            if let Some(dest) = buf.get_mut(..frame.len()) {
                dest.copy_from_slice(&frame);
                Ok(frame.len())
            } else {
                Err(Error::BufferTooShort {
                    message: frame.into_vec(),
                })
            }
        })?
    }

    /// Decodes the next message and hands it to `take` while it may still be borrowed
    /// from the read buffer.
    fn next_message<R>(
        &mut self,
        max_len: Option<u64>,
        take: impl FnOnce(Frame<'_>) -> R,
    ) -> Result<R> {
        self.check_readable()?;
        self.core.set_max_len(max_len);
        loop {
            if self.start < self.end {
                let (used, frame) = self.core.decode(&self.buf[self.start..self.end])?;
                self.start += used;
                if let Some(frame) = frame {
                    if self.first_message == FirstMessage::MayBeAChallenge {
                        let message = frame.into_vec();
                        self.check_first_message(&message)?;
                        return Ok(take(Frame::Owned(message)));
                    }
                    return Ok(take(frame));
                }
            }
            // Everything buffered was decoded. Inside a payload that misses at least a
            // read buffer's worth, read it straight onto the core's buffer: no copy in
            // between, and no zeroing first (`read_to_end` fills spare capacity). Less
            // than that goes through the read buffer, which may also pick up what
            // follows the message in the same read.
            if self.core.is_mid_message() {
                let (stream, min) = (&mut self.stream, self.buf.len());
                let extended = self.core.extend_payload(|buf, limit| {
                    (limit >= min).then(|| (limit, stream.read_appending(buf, limit)))
                })?;
                if let Some(Extended {
                    filled: Some((limit, read)),
                    message,
                }) = extended
                {
                    if let Some(message) = message {
                        self.check_first_message(&message)?;
                        return Ok(take(Frame::Owned(message)));
                    }
                    // Short of the limit only at the end of the stream.
                    let n = read.map_err(|e| Error::from_io(e, "receiving a message"))?;
                    if n < limit {
                        return Err(self.core.eof().into());
                    }
                    continue;
                }
            }
            // Refill from the start.
            let n = self
                .stream
                .read(&mut self.buf)
                .map_err(|e| Error::from_io(e, "receiving a message"))?;
            (self.start, self.end) = (0, n);
            if n == 0 {
                return Err(self.core.eof().into());
            }
            self.grow_if_filled(n);
        }
    }

    /// Doubles the read buffer (up to [`READ_BUF_MAX`]) after a read of `n` bytes that
    /// filled it: more is likely waiting. The bytes in it stay where they are.
    fn grow_if_filled(&mut self, n: usize) {
        if n == self.buf.len() && self.buf.len() < READ_BUF_MAX {
            self.buf.resize((self.buf.len() * 2).min(READ_BUF_MAX), 0);
        }
    }

    /// Waits up to `timeout` (`None`: without limit) for something to read, and says
    /// whether there is (CPython's `poll`). Bytes already buffered count, so a `true`
    /// may stand for part of a message, as in CPython.
    pub fn poll(&self, timeout: Option<Duration>) -> Result<bool> {
        self.check_readable()?;
        if self.has_buffered_input() {
            return Ok(true);
        }
        Ok(poll_fd(self.stream.as_fd(), timeout)?)
    }

    /// True when received bytes wait in this connection's buffer: a `poll(2)` on the
    /// descriptor would not see them.
    pub(crate) fn has_buffered_input(&self) -> bool {
        self.start < self.end
    }

    /// Limits how long each read or write may block (`None`, the default: no limit);
    /// an expired limit is [`Error::Timeout`]. A receive that times out keeps what it
    /// had read, so it can be retried; a send of up to 16 KiB that times out stays
    /// queued for the next [`flush`](Self::flush). A larger send that times out
    /// part-way leaves the peer with part of a frame: the write side is then unusable.
    /// Sockets only: a pipe refuses a limit.
    pub fn set_timeout(&mut self, timeout: Option<Duration>) -> Result<()> {
        self.stream.set_timeout(timeout)?;
        self.timeout = timeout;
        Ok(())
    }

    /// True unless this is the write-only end of a one-way [`pipe`](crate::pipe).
    pub fn readable(&self) -> bool {
        self.stream.is_readable()
    }

    /// True unless this is the read-only end of a one-way [`pipe`](crate::pipe).
    pub fn writable(&self) -> bool {
        self.stream.is_writable()
    }

    /// Closes the connection after writing any queued messages (CPython's `close`);
    /// dropping it closes it without flushing.
    pub fn close(mut self) -> Result<()> {
        if self.writable() {
            self.flush()?;
        }
        Ok(())
    }

    fn check_readable(&self) -> Result<()> {
        if self.readable() {
            Ok(())
        } else {
            Err(Error::WrongDirection { operation: "read" })
        }
    }

    fn check_writable(&self) -> Result<()> {
        if !self.writable() {
            return Err(Error::WrongDirection { operation: "write" });
        }
        match self.write_side {
            WriteSide::Usable => Ok(()),
            WriteSide::Broken => Err(Error::Io(std::io::Error::new(
                std::io::ErrorKind::BrokenPipe,
                "an earlier send failed part-way through a message: the stream is out of step",
            ))),
        }
    }
}

/// The socket timeout of a handshake with a deadline, set as rarely as the deadline
/// allows: a `setsockopt` pair per read and write cost more than the handshake's own
/// work. A socket timeout limits each call from its start, so it never lets one end
/// past the deadline as long as it is no longer than the time left; it is set to the
/// time left minus [`HANDSHAKE_SLACK`], so the calls of the next `HANDSHAKE_SLACK` can
/// reuse it, and to exactly the time left in the last stretch.
#[derive(Debug)]
struct HandshakeTimer {
    deadline: Instant,
    /// The timeout now set on the socket, once one is.
    set: Option<Duration>,
}

/// How long a handshake's socket timeout may be reused (see [`HandshakeTimer`]).
const HANDSHAKE_SLACK: Duration = Duration::from_millis(50);

impl HandshakeTimer {
    fn new(deadline: Instant) -> HandshakeTimer {
        HandshakeTimer {
            deadline,
            set: None,
        }
    }

    /// Makes sure a blocking call started now cannot end after the deadline.
    fn arm(&mut self, stream: &Stream, during: &'static str) -> Result<()> {
        let left = remaining(Some(self.deadline), during)?;
        if self.set.is_some_and(|set| set <= left) {
            return Ok(());
        }
        let timeout = if left > 2 * HANDSHAKE_SLACK {
            left - HANDSHAKE_SLACK
        } else {
            left
        };
        stream.set_timeout(Some(timeout))?;
        self.set = Some(timeout);
        Ok(())
    }
}

/// Runs one read or write of `stream` so that it ends by the timer's deadline (if
/// any). A socket timeout that expires before the deadline, as one set short of it
/// does, is retried with the time left: nothing was read or written by it.
fn with_deadline<T>(
    stream: &mut Stream,
    timer: &mut Option<HandshakeTimer>,
    during: &'static str,
    mut io: impl FnMut(&mut Stream) -> std::io::Result<T>,
) -> Result<T> {
    loop {
        if let Some(timer) = timer.as_mut() {
            timer.arm(stream, during)?;
        }
        match io(stream) {
            Ok(done) => return Ok(done),
            Err(e) if timer.is_some() && is_timeout(&e) => continue,
            Err(e) => return Err(Error::from_io(e, during)),
        }
    }
}

fn is_timeout(error: &std::io::Error) -> bool {
    matches!(
        error.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}

/// The time left before `deadline`, or a timeout error once it passed.
pub(crate) fn remaining(deadline: Option<Instant>, during: &'static str) -> Result<Duration> {
    let Some(deadline) = deadline else {
        return Ok(Duration::MAX);
    };
    // A zero socket timeout means "none" to the OS (and an error to std).
    match deadline.checked_duration_since(Instant::now()) {
        Some(left) if left >= Duration::from_millis(1) => Ok(left),
        _ => Err(Error::Timeout { during }),
    }
}

impl AsFd for Connection {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.stream.as_fd()
    }
}

impl AsRawFd for Connection {
    fn as_raw_fd(&self) -> RawFd {
        self.stream.as_fd().as_raw_fd()
    }
}

#[cfg(feature = "pickle")]
impl Connection {
    /// Pickles `value` and sends it (CPython's `send`), with pickle protocol 3, which
    /// every CPython 3 reads. For Python 2.7 use [`send_with`](Self::send_with) and
    /// `SerOptions::new().proto_v2()`.
    ///
    /// ```
    /// # #[cfg(feature = "pickle")] {
    /// let (mut a, mut b) = mpconn_std::pipe(true)?;
    /// a.send(&("spam", 42, vec![1.5, 2.5]))?;
    /// let got: (String, i64, Vec<f64>) = b.recv()?;
    /// assert_eq!(got, ("spam".to_string(), 42, vec![1.5, 2.5]));
    /// # }
    /// # Ok::<(), mpconn_std::Error>(())
    /// ```
    pub fn send<T: serde::Serialize>(&mut self, value: &T) -> Result<()> {
        self.send_with(value, serde_pickle::SerOptions::new())
    }

    /// Pickles `value` with the given options (the protocol, above all) and sends it.
    pub fn send_with<T: serde::Serialize>(
        &mut self,
        value: &T,
        options: serde_pickle::SerOptions,
    ) -> Result<()> {
        let pickle = serde_pickle::to_vec(value, options)?;
        self.send_bytes(&pickle)
    }

    /// Pickles a dynamically typed [`serde_pickle::Value`] (which is not `Serialize`)
    /// and sends it.
    pub fn send_value(
        &mut self,
        value: &serde_pickle::Value,
        options: serde_pickle::SerOptions,
    ) -> Result<()> {
        let pickle = serde_pickle::value_to_vec(value, options)?;
        self.send_bytes(&pickle)
    }

    /// Receives a message and unpickles it (CPython's `recv`). Pickles of any protocol
    /// CPython writes (2 from Python 2.7, up to 5 from 3.8+) are read; see
    /// [`recv_value`](Self::recv_value) to take whatever comes.
    pub fn recv<T: serde::de::DeserializeOwned>(&mut self) -> Result<T> {
        self.recv_with(serde_pickle::DeOptions::new())
    }

    /// Receives a message and unpickles it as a dynamically typed
    /// [`serde_pickle::Value`], keeping what serde's data model would blur (a tuple
    /// stays a [`Value::Tuple`](serde_pickle::Value::Tuple), not a list).
    pub fn recv_value(&mut self, options: serde_pickle::DeOptions) -> Result<serde_pickle::Value> {
        let message = self.next_message(None, |frame| {
            serde_pickle::value_from_slice(&frame, options)
        })?;
        Ok(message?)
    }

    /// Receives a message and unpickles it with the given options (for example
    /// `decode_strings()` to read Python 2 `str` as text).
    pub fn recv_with<T: serde::de::DeserializeOwned>(
        &mut self,
        options: serde_pickle::DeOptions,
    ) -> Result<T> {
        let message = self.next_message(None, |frame| serde_pickle::from_slice(&frame, options))?;
        Ok(message?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mpconn::HandshakeConfig;
    use std::os::unix::net::UnixStream;

    fn server_over(stream: UnixStream) -> Connection {
        let core = mpconn::Connection::server(
            Some(b"key"),
            &HandshakeConfig::default(),
            &mut rand_core::UnwrapErr(getrandom::SysRng),
        );
        Connection::new(Stream::Unix(stream), core)
    }

    #[test]
    fn silent_peer_times_out_at_the_deadline_not_at_the_first_socket_timeout() {
        // Long enough that the first socket timeout stops short of the deadline (by
        // HANDSHAKE_SLACK) and the read is retried with the time left.
        let (ours, _silent) = UnixStream::pair().unwrap();
        let mut server = server_over(ours);
        let deadline = Instant::now() + 3 * HANDSHAKE_SLACK;
        let error = server.handshake(Some(deadline)).unwrap_err();
        assert!(error.is_timeout(), "{error}");
        assert!(Instant::now() >= deadline);
    }

    #[test]
    fn handshake_leaves_the_connections_own_timeout_in_place() {
        let (ours, theirs) = UnixStream::pair().unwrap();
        let mut server = server_over(ours);
        let peer = std::thread::spawn(move || {
            let core = mpconn::Connection::client(
                Some(b"key"),
                &HandshakeConfig::default(),
                &mut rand_core::UnwrapErr(getrandom::SysRng),
            );
            let mut client = Connection::new(Stream::Unix(theirs), core);
            client.handshake(Some(Instant::now() + Duration::from_secs(10)))
        });
        server
            .handshake(Some(Instant::now() + Duration::from_secs(10)))
            .unwrap();
        peer.join().unwrap().unwrap();
        let Stream::Unix(socket) = &server.stream else {
            unreachable!()
        };
        assert_eq!(socket.read_timeout().unwrap(), None);
        assert_eq!(socket.write_timeout().unwrap(), None);
    }
}

#[cfg(test)]
mod read_buffer_tests {
    use super::*;
    use std::os::unix::net::UnixStream;

    fn pair() -> (Connection, Connection) {
        let (a, b) = UnixStream::pair().unwrap();
        for socket in [&a, &b] {
            socket
                .set_read_timeout(Some(Duration::from_secs(20)))
                .unwrap();
            socket
                .set_write_timeout(Some(Duration::from_secs(20)))
                .unwrap();
        }
        (
            Connection::new(Stream::Unix(a), mpconn::Connection::established()),
            Connection::new(Stream::Unix(b), mpconn::Connection::established()),
        )
    }

    #[test]
    fn read_buffer_starts_small_and_grows_to_64_kib_while_reads_fill_it() {
        let (mut a, mut b) = pair();
        assert_eq!(b.buf.len(), READ_BUF_INITIAL);
        // 100 KB of small messages, all in the socket before the first read.
        for i in 0..1000u32 {
            a.queue_bytes(&i.to_be_bytes().repeat(24)).unwrap();
        }
        a.flush().unwrap();
        for i in 0..1000u32 {
            assert_eq!(b.recv_bytes(None).unwrap(), i.to_be_bytes().repeat(24));
        }
        assert_eq!(b.buf.len(), READ_BUF_MAX);
    }

    #[test]
    fn large_message_read_into_the_core_is_whole_and_the_next_one_follows() {
        let (mut a, mut b) = pair();
        let message: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        let sender = std::thread::spawn(move || {
            a.send_bytes(&message)?;
            a.send_bytes(b"next")?;
            Ok::<_, Error>(message)
        });
        let got = b.recv_bytes(None).unwrap();
        assert_eq!(b.recv_bytes(None).unwrap(), b"next");
        assert!(got == sender.join().unwrap().unwrap());
    }

    #[test]
    fn receive_timeout_inside_a_large_message_keeps_what_was_read() {
        let (mut a, mut b) = pair();
        b.set_timeout(Some(Duration::from_millis(50))).unwrap();
        let message: Vec<u8> = (0..120_000u32).map(|i| (i % 249) as u8).collect();
        let mut wire = Vec::new();
        mpconn::frame::encode(&message, &mut wire);
        let Stream::Unix(raw) = &mut a.stream else {
            unreachable!()
        };
        std::io::Write::write_all(raw, &wire[..90_000]).unwrap();
        assert!(b.recv_bytes(None).unwrap_err().is_timeout());
        std::io::Write::write_all(raw, &wire[90_000..]).unwrap();
        assert!(b.recv_bytes(None).unwrap() == message);
    }

    #[test]
    fn many_small_messages_in_one_write_all_arrive_in_order() {
        let (mut a, mut b) = pair();
        let messages: Vec<Vec<u8>> = (0..2000u32).map(|i| i.to_be_bytes().repeat(25)).collect();
        let expected = messages.clone();
        let sender = std::thread::spawn(move || {
            for message in &messages {
                a.queue_bytes(message)?;
            }
            a.flush()
        });
        for message in &expected {
            assert_eq!(&b.recv_bytes(None).unwrap(), message);
        }
        sender.join().unwrap().unwrap();
        assert!(b.buf.len() > READ_BUF_INITIAL);
    }
}
