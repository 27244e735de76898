//! A blocking connection: the core's [`mpconn::Connection`] driven over a socket or a
//! pipe. The core holds the read buffer, the send queue and every framing decision;
//! this moves bytes with [`mpconn_net::read_into`], [`mpconn_net::write_from`] and
//! [`mpconn_net::write_direct`], and keeps the deadlines.

#[cfg(unix)]
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::time::{Duration, Instant};

use mpconn::connection::State;
use mpconn::Frame;
#[cfg(feature = "pickle")]
use mpconn_net::pickle::{self, Limits, Protocol, Value};
use mpconn_net::During;

use crate::stream::{retry_interrupted, Stream};
use crate::sys::{poll_fd, Pollable};
use crate::{Error, Result};

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

/// One end of a connection (CPython's `multiprocessing.connection.Connection`).
///
/// Messages are byte strings of any length, framed exactly as CPython frames them
/// (docs/protocol.md section 1), so the peer may be CPython's `Listener`, `Client` or
/// `Pipe`, or another Rust process. A connection comes from
/// [`Listener::accept`](crate::Listener::accept), [`Client::connect`](crate::Client)
/// or [`pipe`](crate::pipe), after the authentication handshake if there was a key.
///
/// Dropping it closes it; [`close`](Connection::close) does the same and reports
/// errors. [`queue_bytes`](Connection::queue_bytes) and [`flush`](Connection::flush)
/// send many small messages in one write, which CPython cannot do;
/// [`recv_message`](Connection::recv_message) receives one without allocating.
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
    timeout: Option<Duration>,
}

impl Connection {
    /// A connection over `stream` whose core may still have a handshake to run.
    pub(crate) fn new(stream: Stream, core: mpconn::Connection) -> Connection {
        // A named pipe frames the messages itself (no header): the core follows it.
        let core = match stream.is_message_transport() {
            true => core.with_transport(mpconn::Transport::Messages),
            false => core,
        };
        Connection {
            stream,
            core,
            timeout: None,
        }
    }

    /// Runs the core's handshake to the end, before `deadline` if there is one. On a
    /// failure the core's last words (`#FAILURE#`) are written first, as CPython does,
    /// unless the peer is gone or the deadline passed: then the failure is reported at
    /// once.
    pub(crate) fn handshake(&mut self, deadline: Option<Instant>) -> Result<()> {
        let result = self.run_handshake(deadline);
        // Back to the connection's own limit (none unless set later).
        let reset = match deadline {
            Some(_) => self.stream.set_timeout(self.timeout),
            None => Ok(()),
        };
        result?;
        Ok(reset?)
    }

    fn run_handshake(&mut self, deadline: Option<Instant>) -> Result<()> {
        const DURING: During = During::Handshake;
        let mut timer = deadline.map(HandshakeTimer::new);
        loop {
            while self.core.wants_write() {
                let core = &mut self.core;
                let written = with_deadline(&mut self.stream, &mut timer, DURING, |stream| {
                    stream.write_from(core)
                });
                if let Err(error) = written {
                    // A failure whose #FAILURE# cannot be written is still that failure.
                    return Err(self.core.error().cloned().map_or(error, Error::from));
                }
            }
            match self.core.state() {
                State::Established => return Ok(()),
                State::Failed(error) => return Err(error.clone().into()),
                State::Handshaking => {}
            }
            let core = &mut self.core;
            with_deadline(&mut self.stream, &mut timer, DURING, |stream| {
                stream.read_into(core)
            })?;
        }
    }

    /// Runs the handshake as far as it goes without blocking, on a stream set
    /// non-blocking ([`set_nonblocking`](Self::set_nonblocking)), and says what it
    /// waits for: the one place a non-blocking driver (the listener's handshakes under
    /// way) touches the core. On a failure the core's last words (`#FAILURE#`) are
    /// offered to the socket once, as [`handshake`](Self::handshake) writes them.
    pub(crate) fn handshake_step(&mut self) -> Result<Step> {
        let step = self.try_handshake_step();
        if step.is_err() && self.core.wants_write() {
            let _ = self.stream.write_from(&mut self.core);
        }
        step
    }

    fn try_handshake_step(&mut self) -> Result<Step> {
        const DURING: During = During::Handshake;
        let would_block = |e: &std::io::Error| e.kind() == std::io::ErrorKind::WouldBlock;
        loop {
            while self.core.wants_write() {
                match retry_interrupted(|| self.stream.write_from(&mut self.core)) {
                    Ok(_) => {}
                    Err(e) if would_block(&e) => return Ok(Step::Write),
                    Err(e) => return Err(Error::io(DURING, e)),
                }
            }
            match self.core.state() {
                State::Established => return Ok(Step::Done),
                State::Failed(error) => return Err(error.clone().into()),
                State::Handshaking => {}
            }
            match retry_interrupted(|| self.stream.read_into(&mut self.core)) {
                Ok(_) => {}
                Err(e) if would_block(&e) => return Ok(Step::Read),
                Err(e) => return Err(Error::io(DURING, e)),
            }
        }
    }

    /// Sets the stream non-blocking (for [`handshake_step`](Self::handshake_step)) or
    /// back to blocking.
    pub(crate) fn set_nonblocking(&self, nonblocking: bool) -> Result<()> {
        self.stream
            .set_nonblocking(nonblocking)
            .map_err(|e| Error::io(During::Handshake, e))
    }

    /// True while a client's handshake waits for the listener's challenge (see
    /// [`mpconn::Connection::awaits_challenge`]).
    pub(crate) fn awaits_challenge(&self) -> bool {
        self.core.awaits_challenge()
    }

    /// Sends one message (CPython's `send_bytes`), after any queued ones.
    ///
    /// A message above 16 KiB goes out with its header in vectored writes, not copied;
    /// smaller ones are framed in the queue, as CPython does, to keep header and
    /// payload in one packet. Use a sub-slice for CPython's `offset` and `size`.
    pub fn send_bytes(&mut self, message: &[u8]) -> Result<()> {
        self.check_writable()?;
        let mut send = self.core.send_direct(message)?;
        while !send.is_done() {
            let written = retry_interrupted(|| self.stream.write_direct(&mut send));
            match written {
                Ok(_) => {}
                // Dropped unfinished, the guard queues the rest: a retry finishes it.
                Err(e) if is_timeout(&e) => return Err(Error::from_timed_io(e, During::Send)),
                Err(e) => {
                    send.abandon();
                    return Err(Error::io(During::Send, e));
                }
            }
        }
        Ok(())
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
    #[inline]
    pub fn queue_bytes(&mut self, message: &[u8]) -> Result<()> {
        self.check_writable()?;
        Ok(self.core.send(message)?)
    }

    /// Writes every queued message.
    pub fn flush(&mut self) -> Result<()> {
        self.check_writable()?;
        while self.core.wants_write() {
            retry_interrupted(|| self.stream.write_from(&mut self.core))
                .map_err(|e| Error::from_timed_io(e, During::Send))?;
        }
        Ok(())
    }

    /// Bytes queued and not yet written.
    pub fn queued_len(&self) -> usize {
        self.core.pending_output().len()
    }

    /// Receives one message (CPython's `recv_bytes`).
    ///
    /// With `max_len`, a message that declares more bytes fails with
    /// [`mpconn::Error::MessageTooLong`] before any of it is read, and the read side is
    /// unusable afterwards (CPython's "bad message length"). The peer closing between
    /// messages gives an error for which [`Error::is_eof`] is true; closing inside one
    /// gives [`mpconn::Error::UnexpectedEof`].
    pub fn recv_bytes(&mut self, max_len: Option<usize>) -> Result<Vec<u8>> {
        Ok(self.recv_message(max_len)?.into_vec())
    }

    /// Receives one message borrowed from the connection's read buffer: no allocation
    /// and no copy for a message that arrived whole in one read (a
    /// [`Frame::Borrowed`]), the message's own buffer for one gathered across reads
    /// ([`Frame::Owned`]). It derefs to `[u8]`; [`Frame::into_vec`] keeps it. `max_len`
    /// and the errors are [`recv_bytes`](Self::recv_bytes)'.
    ///
    /// ```
    /// let (mut a, mut b) = mpconn_std::pipe(true)?;
    /// for i in 0..3u8 {
    ///     a.queue_bytes(&[i; 64])?;
    /// }
    /// a.flush()?;
    /// let mut total = 0;
    /// for _ in 0..3 {
    ///     let message = b.recv_message(None)?; // borrowed: nothing allocated
    ///     total += message.iter().map(|&b| b as usize).sum::<usize>();
    /// }
    /// assert_eq!(total, 64 * (0 + 1 + 2));
    /// # Ok::<(), mpconn_std::Error>(())
    /// ```
    // Always inlined (with the core's decode in it): returned from a call, the borrowed
    // message went through a stack copy that stalled on store forwarding, a tenth of
    // the receiver's time with 64-byte messages. The reads stay out of line, in
    // `read_until_message`.
    #[inline(always)]
    pub fn recv_message(&mut self, max_len: Option<usize>) -> Result<Frame<'_>> {
        let max_len = max_len.map(|n| n as u64);
        if !self.core.has_message() || self.core.receiver().max_len() != max_len {
            self.read_until_message(max_len)?;
        }
        match self.core.next_message()? {
            Some(frame) => Ok(frame),
            None => unreachable!("has_message() promised a message or an error"),
        }
    }

    /// Sets the length limit and reads until [`mpconn::Connection::has_message`].
    fn read_until_message(&mut self, max_len: Option<u64>) -> Result<()> {
        self.check_readable()?;
        self.core.set_max_len(max_len);
        while !self.core.has_message() {
            retry_interrupted(|| self.stream.read_into(&mut self.core))
                .map_err(|e| Error::from_timed_io(e, During::Receive))?;
        }
        Ok(())
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
        let frame = self.recv_message(None)?;
        match buf.get_mut(..frame.len()) {
            Some(dest) => {
                dest.copy_from_slice(&frame);
                Ok(frame.len())
            }
            None => Err(Error::BufferTooShort {
                message: frame.into_vec(),
            }),
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
        #[cfg(windows)]
        if let Stream::Pipe(pipe) = &self.stream {
            return Ok(pipe.poll(timeout)?);
        }
        Ok(poll_fd(self.pollable()?, timeout)?)
    }

    /// True for a Windows named pipe, which polls itself (`wait` asks it in turn).
    pub(crate) fn is_named_pipe(&self) -> bool {
        self.stream.is_message_transport()
    }

    /// What `poll(2)` waits on for this connection: its socket (or, on Unix, its pipe).
    /// A Windows named pipe has none: [`Error::Unsupported`]-like I/O error.
    pub(crate) fn pollable(&self) -> Result<Pollable<'_>> {
        match &self.stream {
            Stream::Tcp(s) => Ok(crate::sys::pollable(s)),
            #[cfg(unix)]
            other => Ok(other.as_fd()),
            #[cfg(windows)]
            Stream::Pipe(_) => Err(Error::io(
                During::Receive,
                std::io::Error::new(
                    std::io::ErrorKind::Unsupported,
                    "a named pipe is not a socket: poll() it, wait() takes sockets only",
                ),
            )),
        }
    }

    /// True when received bytes wait in this connection's buffer (or the end of the
    /// stream was read): a `poll(2)` on the descriptor would not see them.
    pub(crate) fn has_buffered_input(&self) -> bool {
        self.core.has_buffered_input() || self.core.receiver().is_eof()
    }

    /// Limits how long each read or write may block (`None`, the default: no limit);
    /// an expired limit is [`Error::Timeout`]. A receive that times out keeps what it
    /// had read, and a send that times out keeps what it did not write queued (the rest
    /// of a large message too, copied then), so either can be retried: the next
    /// receive, or the next [`flush`](Self::flush) or send. Sockets only: a pipe
    /// refuses a limit.
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
        if self.writable() {
            Ok(())
        } else {
            Err(Error::WrongDirection { operation: "write" })
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
    fn arm(&mut self, stream: &Stream, during: During) -> Result<()> {
        let left = remaining(Some(self.deadline), during)?;
        if self.set.is_some_and(|set| set <= left) {
            return Ok(());
        }
        let timeout = if left > 2 * HANDSHAKE_SLACK {
            left - HANDSHAKE_SLACK
        } else {
            left
        };
        stream
            .set_timeout(Some(timeout))
            .map_err(|e| Error::io(during, e))?;
        self.set = Some(timeout);
        Ok(())
    }
}

/// Runs one read or write of `stream` so that it ends by the timer's deadline (if
/// any). A socket timeout that expires before the deadline, as one set short of it
/// does, is retried with the time left (nothing was read or written by it), and so is
/// a call a signal interrupted.
fn with_deadline<T>(
    stream: &mut Stream,
    timer: &mut Option<HandshakeTimer>,
    during: During,
    mut io: impl FnMut(&mut Stream) -> std::io::Result<T>,
) -> Result<T> {
    loop {
        if let Some(timer) = timer.as_mut() {
            timer.arm(stream, during)?;
        }
        match io(stream) {
            Ok(done) => return Ok(done),
            Err(e) if timer.is_some() && is_timeout(&e) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::from_timed_io(e, during)),
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
fn remaining(deadline: Option<Instant>, during: During) -> Result<Duration> {
    let Some(deadline) = deadline else {
        return Ok(Duration::MAX);
    };
    // A zero socket timeout means "none" to the OS (and an error to std).
    match deadline.checked_duration_since(Instant::now()) {
        Some(left) if left >= Duration::from_millis(1) => Ok(left),
        _ => Err(Error::Timeout {
            during,
            address: None,
        }),
    }
}

#[cfg(unix)]
impl AsFd for Connection {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.stream.as_fd()
    }
}

#[cfg(unix)]
impl AsRawFd for Connection {
    fn as_raw_fd(&self) -> RawFd {
        self.stream.as_fd().as_raw_fd()
    }
}

/// CPython's `send(obj)` / `recv()`: one message, one pickle, encoded and decoded by
/// [`mpconn_net::pickle`] (the core's codec), over [`send_bytes`](Self::send_bytes) and
/// [`recv_message`](Self::recv_message). A failed pickle is [`Error::Pickle`]; the
/// connection stays in step.
#[cfg(feature = "pickle")]
impl Connection {
    /// Pickles `value` with protocol 3, which every CPython 3 reads, and sends it.
    ///
    /// ```
    /// let (mut a, mut b) = mpconn_std::pipe(true)?;
    /// a.send(&("spam", 42, vec![1.5, 2.5]))?;
    /// let got: (String, i64, Vec<f64>) = b.recv()?;
    /// assert_eq!(got, ("spam".to_string(), 42, vec![1.5, 2.5]));
    /// # Ok::<(), mpconn_std::Error>(())
    /// ```
    pub fn send<T: pickle::Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        self.send_with(value, Protocol::default())
    }

    /// Pickles `value` with `protocol` (`Protocol::V2` for Python 2.7) and sends it.
    ///
    /// ```
    /// use mpconn_std::pickle::Protocol;
    /// let (mut a, mut b) = mpconn_std::pipe(true)?;
    /// a.send_with(&(1, 2), Protocol::V2)?;
    /// assert_eq!(b.recv_bytes(None)?, b"\x80\x02K\x01K\x02\x86.");
    /// # Ok::<(), mpconn_std::Error>(())
    /// ```
    pub fn send_with<T: pickle::Serialize + ?Sized>(
        &mut self,
        value: &T,
        protocol: Protocol,
    ) -> Result<()> {
        self.send_bytes(&pickle::dump(value, protocol)?)
    }

    /// Pickles a dynamic [`Value`] (objects, sets, tuples, sharing as they are) with
    /// protocol 3 and sends it.
    ///
    /// ```
    /// use mpconn_std::pickle::{parse_literal, Value};
    /// let (mut a, mut b) = mpconn_std::pipe(true)?;
    /// a.send_value(&parse_literal("{'a': (1, 2), 3: {1, 2}}")?)?;
    /// assert_eq!(b.recv_value()?.to_string(), "{'a': (1, 2), 3: {1, 2}}");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn send_value(&mut self, value: &Value) -> Result<()> {
        self.send_value_with(value, Protocol::default())
    }

    /// Pickles a dynamic [`Value`] with `protocol` and sends it.
    ///
    /// ```
    /// use mpconn_std::pickle::{Protocol, Value};
    /// let (mut a, mut b) = mpconn_std::pipe(true)?;
    /// a.send_value_with(&Value::bytes(b"py2"), Protocol::V2)?;
    /// assert_eq!(b.recv_value()?, Value::bytes(b"py2"));
    /// # Ok::<(), mpconn_std::Error>(())
    /// ```
    pub fn send_value_with(&mut self, value: &Value, protocol: Protocol) -> Result<()> {
        self.send_bytes(&pickle::dump_value(value, protocol)?)
    }

    /// Receives a message and unpickles it into `T` (CPython's `recv`), within the
    /// default [`Limits`]: pickles of every protocol CPython writes (0-2 from Python
    /// 2.7, up to 5 from 3.8+) are read.
    ///
    /// ```
    /// let (mut a, mut b) = mpconn_std::pipe(true)?;
    /// a.send(&Some(u64::MAX))?;
    /// assert_eq!(b.recv::<Option<u64>>()?, Some(u64::MAX));
    /// # Ok::<(), mpconn_std::Error>(())
    /// ```
    pub fn recv<T: pickle::DeserializeOwned>(&mut self) -> Result<T> {
        self.recv_with(&Limits::default())
    }

    /// Receives a message and unpickles it into `T` within `limits` (depth, size,
    /// memo).
    ///
    /// ```
    /// use mpconn_std::pickle::Limits;
    /// let (mut a, mut b) = mpconn_std::pipe(true)?;
    /// a.send(&vec![vec![vec![1u8]]])?;
    /// let err = b.recv_with::<Vec<Vec<Vec<u8>>>>(&Limits { max_depth: 2, ..Limits::default() });
    /// assert!(matches!(err, Err(mpconn_std::Error::Pickle { .. })));
    /// # Ok::<(), mpconn_std::Error>(())
    /// ```
    pub fn recv_with<T: pickle::DeserializeOwned>(&mut self, limits: &Limits) -> Result<T> {
        pickle::load(&self.recv_message(None)?, limits)
    }

    /// Receives a message and unpickles it as a dynamic [`Value`], keeping what
    /// serde's data model would blur: tuple vs list, sets, dict order, big ints,
    /// objects as data (never executed).
    ///
    /// ```
    /// let (mut a, mut b) = mpconn_std::pipe(true)?;
    /// a.send(&(1u8, "two"))?;
    /// assert_eq!(b.recv_value()?.to_string(), "(1, 'two')");
    /// # Ok::<(), mpconn_std::Error>(())
    /// ```
    pub fn recv_value(&mut self) -> Result<Value> {
        self.recv_value_with(&Limits::default())
    }

    /// Receives a message and unpickles it as a dynamic [`Value`] within `limits`.
    ///
    /// ```
    /// use mpconn_std::pickle::Limits;
    /// let (mut a, mut b) = mpconn_std::pipe(true)?;
    /// a.send(&vec![0u16; 100])?;
    /// let small = Limits { max_items: 10, ..Limits::default() };
    /// assert!(b.recv_value_with(&small).is_err());
    /// # Ok::<(), mpconn_std::Error>(())
    /// ```
    pub fn recv_value_with(&mut self, limits: &Limits) -> Result<Value> {
        pickle::load_value(&self.recv_message(None)?, limits)
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use mpconn::HandshakeConfig;
    use std::os::unix::net::UnixStream;

    fn server_over(stream: UnixStream) -> Connection {
        let core = mpconn_net::new_core(
            mpconn::Role::Server,
            Some(b"key"),
            &HandshakeConfig::default(),
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
            let core = mpconn_net::new_core(
                mpconn::Role::Client,
                Some(b"key"),
                &HandshakeConfig::default(),
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

#[cfg(all(test, unix))]
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

    fn read_buffer_len(connection: &Connection) -> usize {
        connection.core.receiver().buffer_len()
    }

    #[test]
    fn read_buffer_starts_small_and_grows_to_64_kib_while_reads_fill_it() {
        let (mut a, mut b) = pair();
        let policy = mpconn::BufferPolicy::default();
        assert_eq!((policy.initial, policy.max), (4 * 1024, 64 * 1024));
        assert_eq!(
            read_buffer_len(&b),
            0,
            "nothing allocated before the first read"
        );
        a.send_bytes(b"small").unwrap();
        assert_eq!(b.recv_bytes(None).unwrap(), b"small");
        assert_eq!(read_buffer_len(&b), policy.initial);
        // 100 KB of small messages, all in the socket before the first read.
        for i in 0..1000u32 {
            a.queue_bytes(&i.to_be_bytes().repeat(24)).unwrap();
        }
        a.flush().unwrap();
        for i in 0..1000u32 {
            assert_eq!(b.recv_bytes(None).unwrap(), i.to_be_bytes().repeat(24));
        }
        assert_eq!(read_buffer_len(&b), policy.max);
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
        // Read onto its own Vec: the read buffer never grew to hold it.
        assert!(read_buffer_len(&b) <= mpconn::BufferPolicy::default().max);
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
        assert!(read_buffer_len(&b) > mpconn::BufferPolicy::default().initial);
    }
}
