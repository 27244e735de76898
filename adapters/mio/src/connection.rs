//! The non-blocking connection: the core's `Connection` driven on readiness.

use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

use getrandom::rand_core::UnwrapErr;
use getrandom::SysRng;
use mio::event::Source;
use mio::{Interest, Registry, Token};
use mpconn::HandshakeConfig;

use crate::pending::Slot;
use crate::{Error, Stream};

/// How much one socket read asks for.
const READ_CHUNK: usize = 64 * 1024;

/// Bytes read from the socket that the core has not taken yet.
struct Inbound {
    buf: Box<[u8]>,
    start: usize,
    end: usize,
}

impl Inbound {
    fn new() -> Inbound {
        Inbound {
            buf: vec![0; READ_CHUNK].into_boxed_slice(),
            start: 0,
            end: 0,
        }
    }

    fn filled(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// One read into the free space (called only when nothing is buffered).
    fn fill<R: Read>(&mut self, io: &mut R) -> io::Result<usize> {
        let n = io.read(&mut self.buf[self.end..])?;
        self.end += n;
        Ok(n)
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
    inbound: Inbound,
    role: mpconn::Role,
    /// When the handshake must be over, and the timeout that set it.
    deadline: Option<(Instant, Duration)>,
    /// True once anything at all was read: a client that timed out without it never
    /// saw a challenge.
    received: bool,
    /// The listener's place for this handshake, freed when it ends.
    slot: Option<Slot>,
    first_message: FirstMessage,
}

/// Whether the first message is still to be checked for a challenge: a client without
/// an authkey must not take a keyed listener's `#CHALLENGE#` frame for a reply. The
/// check belongs in the core's handshake state and will move there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FirstMessage {
    /// A client without an authkey, before its first message.
    MayBeAChallenge,
    /// Every other connection, and that client once its first message was a message.
    Unchecked,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("core", &self.core)
            .field("buffered", &self.inbound.filled().len())
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// A connection with no handshake (CPython's `authkey=None`), established at once.
    pub fn established(io: impl Into<Stream>) -> Connection {
        let core = mpconn::Connection::established();
        Connection::with_core(io.into(), core, mpconn::Role::Client)
    }

    /// The accepting side of a handshake over `io` (what
    /// [`Listener::accept`](crate::Listener::accept) starts): with an authkey, it delivers
    /// a challenge, then answers one; `None` means no handshake. The challenge is queued, not yet written:
    /// it goes out with the first [`flush`](Self::flush) or [`recv_bytes`](Self::recv_bytes).
    pub fn server(io: impl Into<Stream>, authkey: Option<&[u8]>, config: &HandshakeConfig) -> Self {
        let core = mpconn::Connection::server(authkey, config, &mut UnwrapErr(SysRng));
        Connection::with_core(io.into(), core, mpconn::Role::Server)
    }

    /// The connecting side of a handshake over `io` (what [`Client`](crate::Client)
    /// starts): with an authkey, it answers a challenge, then delivers one.
    pub fn client(io: impl Into<Stream>, authkey: Option<&[u8]>, config: &HandshakeConfig) -> Self {
        let core = mpconn::Connection::client(authkey, config, &mut UnwrapErr(SysRng));
        let mut connection = Connection::with_core(io.into(), core, mpconn::Role::Client);
        if authkey.is_none() {
            connection.first_message = FirstMessage::MayBeAChallenge;
        }
        connection
    }

    fn with_core(io: Stream, core: mpconn::Connection, role: mpconn::Role) -> Connection {
        Connection {
            io,
            core,
            inbound: Inbound::new(),
            role,
            deadline: None,
            received: false,
            slot: None,
            first_message: FirstMessage::Unchecked,
        }
    }

    /// Gives the handshake `timeout` from now (`None`: no limit, the default of a
    /// connection made by hand; a [`Listener`](crate::Listener)'s and a
    /// [`Client`](crate::Client)'s have one). Past it, while the handshake still
    /// runs, [`recv_bytes`](Self::recv_bytes) and [`flush`](Self::flush) fail with
    /// [`Error::HandshakeTimeout`], or [`Error::NoChallenge`] for a client that
    /// received nothing at all. The loop owns the clock: wake up by
    /// [`handshake_deadline`](Self::handshake_deadline) and call one of them.
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

    /// The handshake timeout's error, once it ran out while the handshake runs.
    fn check_deadline(&mut self) -> Result<(), Error> {
        let Some((at, after)) = self.deadline else {
            return Ok(());
        };
        if !self.core.is_handshaking() {
            self.settle();
        } else if Instant::now() >= at {
            return Err(match self.role {
                mpconn::Role::Client if !self.received => Error::NoChallenge { after },
                _ => Error::HandshakeTimeout { after },
            });
        }
        Ok(())
    }

    /// Frees the listener's place and the deadline once the handshake ended.
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

    /// Queues one message (CPython's `send_bytes`) and writes as much as the socket
    /// takes now; the rest goes out with later [`flush`](Self::flush) calls. A message
    /// sent during the handshake is held and sent once it succeeds.
    pub fn send_bytes(&mut self, payload: &[u8]) -> Result<(), Error> {
        self.core.send(payload)?;
        self.flush()
    }

    /// Writes queued bytes until none are left or the socket would block (`Ok(())`
    /// either way: check [`wants_write`](Self::wants_write)). A partial write keeps its
    /// place.
    pub fn flush(&mut self) -> Result<(), Error> {
        self.check_deadline()?;
        while self.core.wants_write() {
            match self.io.write(self.core.pending_output()) {
                Ok(0) => return Err(io::Error::from(io::ErrorKind::WriteZero).into()),
                Ok(n) => self.core.consume_output(n),
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => return Err(error.into()),
            }
        }
        Ok(())
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
        self.check_deadline()?;
        self.core.set_max_len(max_len.map(|max| max as u64));
        if self.core.is_handshaking() {
            self.flush()?;
        }
        let received = self.receive();
        self.settle();
        let message = received?;
        if let Some(message) = &message {
            if self.first_message == FirstMessage::MayBeAChallenge {
                self.first_message = FirstMessage::Unchecked;
                if message.starts_with(b"#CHALLENGE#") {
                    return Err(Error::AuthkeyWanted);
                }
            }
        }
        Ok(message)
    }

    fn receive(&mut self) -> Result<Option<Vec<u8>>, Error> {
        loop {
            if !self.inbound.filled().is_empty() {
                let handshaking = self.core.is_handshaking();
                let decoded = self.core.decode(self.inbound.filled());
                let (used, message) = match decoded {
                    Ok((used, frame)) => (used, frame.map(|frame| frame.into_vec())),
                    Err(error) => {
                        // The core may have queued #FAILURE#: offer it to the peer. Whether
                        // the socket takes it does not change the outcome.
                        let _ = self.flush();
                        return Err(error.into());
                    }
                };
                self.inbound.consume(used);
                if handshaking {
                    // Handshake answers, and once it is done the messages held meanwhile.
                    self.flush()?;
                }
                if message.is_some() {
                    return Ok(message);
                }
                continue;
            }
            match self.inbound.fill(&mut self.io) {
                Ok(0) => return Err(self.core.eof().into()),
                Ok(_) => self.received = true,
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return Ok(None),
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error.into()),
            }
        }
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

impl Source for Connection {
    fn register(
        &mut self,
        registry: &Registry,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        self.io.register(registry, token, interests)
    }

    fn reregister(
        &mut self,
        registry: &Registry,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        self.io.reregister(registry, token, interests)
    }

    fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
        self.io.deregister(registry)
    }
}
