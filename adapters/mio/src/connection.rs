//! The non-blocking connection: the core's `Connection` driven on readiness, through
//! [`mpconn_net`]'s one read and one write.

use std::io;
use std::time::{Duration, Instant};

use mio::event::Source;
use mpconn::{Frame, HandshakeConfig, Role};
#[cfg(feature = "pickle")]
use mpconn_net::pickle::{self, Limits, Protocol, Value};
use mpconn_net::{handshake_outcome, new_core, During};

use crate::pending::Slot;
use crate::source::Delegate;
use crate::{Address, Error, Stream};

/// Who a listener accepted, until the handshake's outcome is reported.
struct Accepted {
    peer: Address,
    listener: Address,
}

/// What a non-blocking socket call did: `Ok(None)` for `WouldBlock` (go on at the next
/// event); `Interrupted` is retried.
fn nonblocking<T>(mut call: impl FnMut() -> io::Result<T>) -> io::Result<Option<T>> {
    loop {
        match call() {
            Ok(done) => return Ok(Some(done)),
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => return Ok(None),
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        }
    }
}

/// One end of a `multiprocessing.connection` connection over a non-blocking TCP or Unix
/// [`Stream`] (from a [`Listener`](crate::Listener), a [`Client`](crate::Client), or any
/// connected mio socket), for your own `mio` event loop.
///
/// It implements [`mio::event::Source`]: register it for
/// `Interest::READABLE | Interest::WRITABLE` and, on each event, call
/// [`flush`](Self::flush) when it is writable and [`recv_bytes`](Self::recv_bytes) until
/// it returns `Ok(None)` when it is readable. No method ever blocks and `WouldBlock` never
/// reaches you: a method that would block returns what it has and goes on at the next
/// event. The handshake, when there is one, runs inside those same calls;
/// [`is_established`](Self::is_established) tells when it is over.
///
/// Writes that the socket takes only in part keep their place: the rest stays queued, in
/// order, and [`flush`](Self::flush) goes on with it. [`wants_write`](Self::wants_write)
/// says whether anything is queued.
///
/// mio readiness is edge-triggered: after a readable event, call `recv_bytes` until
/// `Ok(None)` (it has then seen `WouldBlock`), or no new event will come for the bytes
/// already on the socket.
///
/// ```
/// use mio::{Events, Interest, Poll, Token};
/// use mpconn_mio::Connection;
///
/// let (a, b) = mio::net::UnixStream::pair()?;
/// let (mut a, mut b) = (Connection::established(a), Connection::established(b));
/// let mut poll = Poll::new()?;
/// poll.registry().register(&mut b, Token(0), Interest::READABLE | Interest::WRITABLE)?;
///
/// a.send_bytes(b"hello")?;
/// let mut events = Events::with_capacity(8);
/// let message = loop {
///     poll.poll(&mut events, None)?;
///     if let Some(message) = b.recv_bytes(None)? {
///         break message;
///     }
/// };
/// assert_eq!(message, b"hello");
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// ```
pub struct Connection {
    io: Stream,
    core: mpconn::Connection,
    /// While the handshake runs under a timeout: when it must be over, and the
    /// timeout that set it.
    deadline: Option<(Instant, Duration)>,
    /// The listener's place for this handshake, freed when it ends.
    slot: Option<Slot>,
    /// Set by the listener: the outcome of the handshake is reported once, when the
    /// connection is established or its first error comes out.
    accepted: Option<Accepted>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("state", &self.core.state())
            .field("buffered", &self.core.receiver().buffered_input().len())
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// A connection with no handshake (CPython's `authkey=None`), established at once.
    pub fn established(io: impl Into<Stream>) -> Connection {
        Connection::with_core(io.into(), mpconn::Connection::established())
    }

    /// The accepting side of a handshake over `io` (what
    /// [`Listener::accept`](crate::Listener::accept) starts): with an authkey, it delivers
    /// a challenge, then answers one; `None` means no handshake. The challenge is queued, not yet written:
    /// it goes out with the first [`flush`](Self::flush) or [`recv_bytes`](Self::recv_bytes).
    pub fn server(io: impl Into<Stream>, authkey: Option<&[u8]>, config: &HandshakeConfig) -> Self {
        let core = new_core(Role::Server, authkey, config);
        Connection::with_core(io.into(), core)
    }

    /// The connecting side of a handshake over `io` (what [`Client`](crate::Client)
    /// starts): with an authkey, it answers a challenge, then delivers one.
    pub fn client(io: impl Into<Stream>, authkey: Option<&[u8]>, config: &HandshakeConfig) -> Self {
        let core = new_core(Role::Client, authkey, config);
        Connection::with_core(io.into(), core)
    }

    fn with_core(io: Stream, core: mpconn::Connection) -> Connection {
        // A named pipe frames the messages itself (no header): the core follows it.
        let core = match io.is_pipe() {
            true => core.with_transport(mpconn::Transport::Messages),
            false => core,
        };
        Connection {
            io,
            core,
            deadline: None,
            slot: None,
            accepted: None,
        }
    }

    /// Gives the handshake `timeout` from now (`None`: no limit, the default of a
    /// connection made by hand; a [`Listener`](crate::Listener)'s and a
    /// [`Client`](crate::Client)'s have one, from their options). Past it, while the
    /// handshake still runs, [`recv_bytes`](Self::recv_bytes),
    /// [`recv_message`](Self::recv_message) and [`flush`](Self::flush) fail with
    /// [`Error::Timeout`] during [`During::Handshake`], or [`Error::NoChallenge`] for a
    /// client that never received the listener's challenge. The loop owns the clock:
    /// wake up by [`handshake_deadline`](Self::handshake_deadline) and call one of them.
    ///
    /// ```
    /// use std::time::Duration;
    /// use mpconn_mio::{Connection, HandshakeConfig};
    ///
    /// let (a, _b) = mio::net::UnixStream::pair()?;
    /// let mut conn = Connection::server(a, Some(b"key"), &HandshakeConfig::default());
    /// conn.set_handshake_timeout(Some(Duration::ZERO));
    /// assert!(conn.recv_bytes(None).unwrap_err().is_timeout());
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_handshake_timeout(&mut self, timeout: Option<Duration>) {
        self.deadline = timeout
            .and_then(|after| Some((Instant::now().checked_add(after)?, after)))
            .filter(|_| self.core.is_handshaking());
    }

    /// When the handshake must be over, while it runs under a timeout: the latest a
    /// loop may wait before calling [`recv_bytes`](Self::recv_bytes) or
    /// [`flush`](Self::flush) again.
    pub fn handshake_deadline(&self) -> Option<Instant> {
        self.deadline
            .filter(|_| self.core.is_handshaking())
            .map(|(at, _)| at)
    }

    /// Holds the listener's place for this handshake until it ends.
    pub(crate) fn hold(&mut self, slot: Slot) {
        self.slot = Some(slot);
    }

    /// Marks the connection as the listener's at `listener`, accepted from `peer`.
    pub(crate) fn accepted(&mut self, peer: Address, listener: Address) {
        self.accepted = Some(Accepted { peer, listener });
    }

    /// What a call returns, once a listener's connection is established or fails its
    /// handshake: the outcome goes through [`handshake_outcome`] (the error names the
    /// client; the tracing event), once.
    fn report<T>(&mut self, result: Result<T, Error>) -> Result<T, Error> {
        let established = self.core.is_established();
        if !established && result.is_ok() {
            return result;
        }
        let Some(Accepted { peer, listener }) = self.accepted.take() else {
            return result;
        };
        match result {
            Err(error) if !established => handshake_outcome(Err(error), &peer, &listener),
            result => handshake_outcome(Ok(()), &peer, &listener).and(result),
        }
    }

    /// The handshake timeout's error, once it ran out while the handshake runs.
    fn check_deadline(&mut self) -> Result<(), Error> {
        self.settle();
        match self.deadline {
            Some((at, after)) if Instant::now() >= at => Err(match self.core.awaits_challenge() {
                true => Error::NoChallenge {
                    after,
                    address: None,
                },
                false => Error::Timeout {
                    during: During::Handshake,
                    address: None,
                },
            }),
            _ => Ok(()),
        }
    }

    /// Frees the listener's place and forgets the deadline once the handshake ended
    /// (it succeeded or failed).
    fn settle(&mut self) {
        if !self.core.is_handshaking() {
            self.deadline = None;
            self.slot = None;
        }
    }

    /// True while the handshake runs.
    pub fn is_handshaking(&self) -> bool {
        self.core.is_handshaking()
    }

    /// True once messages flow (after a successful handshake, or with no authkey).
    pub fn is_established(&self) -> bool {
        self.core.is_established()
    }

    /// True when bytes are queued for the peer; [`flush`](Self::flush) on the next
    /// writable event.
    pub fn wants_write(&self) -> bool {
        self.core.wants_write()
    }

    /// Sends one message (CPython's `send_bytes`), writing as much as the socket takes
    /// now; the rest stays queued and goes out with later [`flush`](Self::flush) calls.
    /// A message up to 16 KiB is copied behind its header into the queue; a larger one
    /// is written straight from `payload` in vectored writes, and only what the socket
    /// did not take is copied. A message sent during the handshake is held and sent once
    /// it succeeds.
    pub fn send_bytes(&mut self, payload: &[u8]) -> Result<(), Error> {
        let during = self.during(During::Send);
        let sent = self.send_direct(payload).map_err(|e| e.during(during));
        self.report(sent)
    }

    fn send_direct(&mut self, payload: &[u8]) -> Result<(), Error> {
        let mut send = self.core.send_direct(payload)?;
        while !send.is_done() {
            match nonblocking(|| self.io.write_direct(&mut send)) {
                Ok(Some(_)) => {}
                // The guard, dropped, queues the rest.
                Ok(None) => break,
                Err(error) => {
                    // Nothing more goes out behind part of a frame.
                    send.abandon();
                    return Err(error.into());
                }
            }
        }
        Ok(())
    }

    /// Writes queued bytes until none are left or the socket would block (`Ok(())`
    /// either way: check [`wants_write`](Self::wants_write)). A partial write keeps its
    /// place.
    pub fn flush(&mut self) -> Result<(), Error> {
        let flushed = self.flush_queued();
        self.report(flushed)
    }

    fn flush_queued(&mut self) -> Result<(), Error> {
        self.check_deadline()?;
        let during = self.during(During::Send);
        let written = self.write_queued().map_err(|e| e.during(during));
        self.settle();
        written
    }

    fn write_queued(&mut self) -> Result<(), Error> {
        while self.core.wants_write() {
            if nonblocking(|| self.io.write_from(&mut self.core))?.is_none() {
                break;
            }
        }
        Ok(())
    }

    /// `During::Handshake` while the handshake runs, else `otherwise`.
    fn during(&self, otherwise: During) -> During {
        match self.core.is_handshaking() {
            true => During::Handshake,
            false => otherwise,
        }
    }

    /// The next whole message, if one can be had without blocking (CPython's
    /// `recv_bytes(maxlength)`); `Ok(None)` when the socket has nothing more for now.
    ///
    /// During the handshake it reads and answers the handshake frames (and writes the
    /// answers) and returns `Ok(None)` until messages flow; a failed handshake is an
    /// error for which [`Error::is_authentication`] is true, after `#FAILURE#` was offered
    /// to the peer. With `max_len`, a longer message is refused as soon as its header
    /// arrives ([`mpconn::Error::MessageTooLong`]) and the read side is unusable from
    /// then on. A peer that closes between messages gives an error for which
    /// [`Error::is_eof`] is true.
    pub fn recv_bytes(&mut self, max_len: Option<usize>) -> Result<Option<Vec<u8>>, Error> {
        let received = self.receiving(max_len, Self::receive);
        self.report(received)
    }

    /// One receive by `receive`: the deadline checked first, `max_len` set, errors told
    /// what was under way, and the connection settled after.
    fn receiving<T>(
        &mut self,
        max_len: Option<usize>,
        receive: fn(&mut Self) -> Result<T, Error>,
    ) -> Result<T, Error> {
        self.check_deadline()?;
        let during = self.during(During::Receive);
        self.core.set_max_len(max_len.map(|max| max as u64));
        let received = receive(self).map_err(|e| e.during(during));
        self.settle();
        received
    }

    fn receive(&mut self) -> Result<Option<Vec<u8>>, Error> {
        loop {
            self.offer_handshake_output()?;
            if let Some(message) = self.core.next_message()? {
                return Ok(Some(message.into_vec()));
            }
            if !self.read_once()? {
                return Ok(None);
            }
        }
    }

    /// The next whole message, as [`recv_bytes`](Self::recv_bytes) gives it, lent rather
    /// than copied: one that arrived whole in one read is borrowed from the connection's
    /// read buffer ([`Frame::Borrowed`], no allocation), a large one read onto its own
    /// buffer is handed over ([`Frame::Owned`]). It derefs to `[u8]`; the next call to
    /// the connection ends the loan. Same errors, same readiness contract.
    ///
    /// ```
    /// use mpconn_mio::Connection;
    ///
    /// let (a, b) = mio::net::UnixStream::pair()?;
    /// let (mut a, mut b) = (Connection::established(a), Connection::established(b));
    /// a.send_bytes(b"hello")?;
    /// let mut total = 0;
    /// while let Some(message) = b.recv_message(None)? {
    ///     total += message.len(); // no allocation
    /// }
    /// assert_eq!(total, 5);
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    pub fn recv_message(&mut self, max_len: Option<usize>) -> Result<Option<Frame<'_>>, Error> {
        // True once the core has a message (or its error) to hand out.
        let received = self.receiving(max_len, Self::receive_borrowed);
        if !self.report(received)? {
            return Ok(None);
        }
        match self.core.next_message() {
            Ok(Some(message)) => Ok(Some(message)),
            Ok(None) => unreachable!("has_message() said a message or an error was there"),
            Err(error) => Err(Error::from(error).during(During::Receive)),
        }
    }

    /// Reads until the core has a message (or the error) to hand out: false when the
    /// socket would block first.
    fn receive_borrowed(&mut self) -> Result<bool, Error> {
        loop {
            self.offer_handshake_output()?;
            if self.core.has_message() {
                return Ok(true);
            }
            if !self.read_once()? {
                return Ok(false);
            }
        }
    }

    /// Until the connection is established, writes what the handshake has to say; a
    /// failed handshake's error once its `#FAILURE#` was offered to the peer (whether
    /// the socket took it does not change the outcome).
    fn offer_handshake_output(&mut self) -> Result<(), Error> {
        if self.core.is_established() {
            return Ok(());
        }
        let written = self.write_queued();
        match self.core.error() {
            Some(error) => Err(error.clone().into()),
            None => written,
        }
    }

    /// One read into the core; false when the socket would block. A read that ends the
    /// handshake writes its last answer and the messages held meanwhile.
    fn read_once(&mut self) -> Result<bool, Error> {
        let handshaking = self.core.is_handshaking();
        if nonblocking(|| self.io.read_into(&mut self.core))?.is_none() {
            return Ok(false);
        }
        if handshaking && self.core.is_established() {
            self.write_queued()?;
        }
        Ok(true)
    }

    /// The underlying stream.
    pub fn get_ref(&self) -> &Stream {
        &self.io
    }

    /// The underlying stream, mutably. Reading or writing it directly puts the
    /// connection out of step with its peer.
    pub fn get_mut(&mut self) -> &mut Stream {
        &mut self.io
    }
}

/// CPython's `send(obj)` / `recv()`: one message, one pickle, encoded and decoded by
/// [`mpconn_net::pickle`] (the core's codec), over [`send_bytes`](Self::send_bytes) and
/// [`recv_message`](Self::recv_message), with their readiness contract: a send writes
/// what the socket takes and queues the rest, a receive is `Ok(None)` until a whole
/// message is there. A failed pickle is [`Error::Pickle`]; the connection stays in step.
#[cfg(feature = "pickle")]
impl Connection {
    /// Pickles `value` with protocol 3, which every CPython 3 reads, and sends it.
    ///
    /// ```
    /// use mpconn_mio::Connection;
    ///
    /// let (a, b) = mio::net::UnixStream::pair()?;
    /// let (mut a, mut b) = (Connection::established(a), Connection::established(b));
    /// a.send(&("spam", 42, vec![1.5, 2.5]))?;
    /// let got: Option<(String, i64, Vec<f64>)> = b.recv()?;
    /// assert_eq!(got, Some(("spam".to_string(), 42, vec![1.5, 2.5])));
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    pub fn send<T: pickle::Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.send_with(value, Protocol::default())
    }

    /// Pickles `value` with `protocol` (`Protocol::V2` for Python 2.7) and sends it.
    ///
    /// ```
    /// use mpconn_mio::{pickle::Protocol, Connection};
    ///
    /// let (a, b) = mio::net::UnixStream::pair()?;
    /// let (mut a, mut b) = (Connection::established(a), Connection::established(b));
    /// a.send_with(&(1, 2), Protocol::V2)?;
    /// let message = b.recv_bytes(None)?.expect("one whole message");
    /// assert_eq!(message, b"\x80\x02K\x01K\x02\x86.");
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    pub fn send_with<T: pickle::Serialize + ?Sized>(
        &mut self,
        value: &T,
        protocol: Protocol,
    ) -> Result<(), Error> {
        let message = pickle::dump(value, protocol)?;
        self.send_bytes(&message)
    }

    /// Pickles a dynamic [`Value`] (objects, sets, tuples, sharing as they are) with
    /// protocol 3 and sends it.
    ///
    /// ```
    /// use mpconn_mio::{pickle::parse_literal, Connection};
    ///
    /// let (a, b) = mio::net::UnixStream::pair()?;
    /// let (mut a, mut b) = (Connection::established(a), Connection::established(b));
    /// a.send_value(&parse_literal("{'a': (1, 2), 3: {1, 2}}")?)?;
    /// let shown = b.recv_value()?.map(|value| value.to_string());
    /// assert_eq!(shown.as_deref(), Some("{'a': (1, 2), 3: {1, 2}}"));
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    pub fn send_value(&mut self, value: &Value) -> Result<(), Error> {
        self.send_value_with(value, Protocol::default())
    }

    /// Pickles a dynamic [`Value`] with `protocol` and sends it.
    ///
    /// ```
    /// use mpconn_mio::{pickle::{Protocol, Value}, Connection};
    ///
    /// let (a, b) = mio::net::UnixStream::pair()?;
    /// let (mut a, mut b) = (Connection::established(a), Connection::established(b));
    /// a.send_value_with(&Value::bytes(b"py2"), Protocol::V2)?;
    /// assert_eq!(b.recv_value()?, Some(Value::bytes(b"py2")));
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    pub fn send_value_with(&mut self, value: &Value, protocol: Protocol) -> Result<(), Error> {
        let message = pickle::dump_value(value, protocol)?;
        self.send_bytes(&message)
    }

    /// The next whole message unpickled into `T` (CPython's `recv`), within the
    /// default [`Limits`]; `Ok(None)` when the socket has nothing more for now.
    ///
    /// ```
    /// use mpconn_mio::Connection;
    ///
    /// let (a, b) = mio::net::UnixStream::pair()?;
    /// let (mut a, mut b) = (Connection::established(a), Connection::established(b));
    /// assert_eq!(b.recv::<u64>()?, None); // nothing yet
    /// a.send(&u64::MAX)?;
    /// assert_eq!(b.recv::<u64>()?, Some(u64::MAX));
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    pub fn recv<T: pickle::DeserializeOwned>(&mut self) -> Result<Option<T>, Error> {
        self.recv_with(&Limits::default())
    }

    /// The next whole message unpickled into `T` within `limits` (depth, items, memo).
    ///
    /// ```
    /// use mpconn_mio::{pickle::Limits, Connection};
    ///
    /// let (a, b) = mio::net::UnixStream::pair()?;
    /// let (mut a, mut b) = (Connection::established(a), Connection::established(b));
    /// a.send(&vec![vec![vec![1u8]]])?;
    /// let shallow = Limits { max_depth: 2, ..Limits::default() };
    /// let err = b.recv_with::<Vec<Vec<Vec<u8>>>>(&shallow);
    /// assert!(matches!(err, Err(mpconn_mio::Error::Pickle { .. })));
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    pub fn recv_with<T: pickle::DeserializeOwned>(
        &mut self,
        limits: &Limits,
    ) -> Result<Option<T>, Error> {
        let message = self.recv_message(None)?;
        message.map(|m| pickle::load(&m, limits)).transpose()
    }

    /// The next whole message unpickled as a dynamic [`Value`], keeping what serde's
    /// data model would blur: tuple vs list, sets, dict order, big ints, objects as
    /// data (never executed).
    ///
    /// ```
    /// use mpconn_mio::Connection;
    ///
    /// let (a, b) = mio::net::UnixStream::pair()?;
    /// let (mut a, mut b) = (Connection::established(a), Connection::established(b));
    /// a.send(&(1u8, "two"))?;
    /// let shown = b.recv_value()?.map(|value| value.to_string());
    /// assert_eq!(shown.as_deref(), Some("(1, 'two')"));
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    pub fn recv_value(&mut self) -> Result<Option<Value>, Error> {
        self.recv_value_with(&Limits::default())
    }

    /// The next whole message unpickled as a dynamic [`Value`] within `limits`.
    ///
    /// ```
    /// use mpconn_mio::{pickle::Limits, Connection};
    ///
    /// let (a, b) = mio::net::UnixStream::pair()?;
    /// let (mut a, mut b) = (Connection::established(a), Connection::established(b));
    /// a.send(&vec![0u16; 100])?;
    /// let small = Limits { max_items: 10, ..Limits::default() };
    /// assert!(b.recv_value_with(&small).is_err());
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    pub fn recv_value_with(&mut self, limits: &Limits) -> Result<Option<Value>, Error> {
        let message = self.recv_message(None)?;
        message.map(|m| pickle::load_value(&m, limits)).transpose()
    }
}

impl Delegate for Connection {
    fn inner(&mut self) -> io::Result<&mut dyn Source> {
        Ok(&mut self.io)
    }
}
