//! The non-blocking listener.

use std::fmt;
use std::io;
use std::os::fd::AsRawFd;
use std::time::Duration;

use mio::event::Source;
use mio::{Interest, Registry, Token};
use mpconn::{AuthKey, HandshakeConfig};
use mpconn_std::bind::{bind_listening, BoundSocket, SocketCleanup};
use mpconn_std::{Address, Family};

use crate::pending::Gate;
use crate::socket::RawListener;
use crate::{Connection, Error};

/// The default handshake timeout of an accepted connection: 20 s, as the std and
/// tokio listeners'. CPython has none, and one silent client stalls its accept loop.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(20);

/// The default bound on accepted connections whose handshake runs (256, as the std
/// and tokio listeners'); past it, new clients wait in the kernel's listen queue.
pub const DEFAULT_PENDING_LIMIT: usize = 256;

/// The default listen backlog: 4096, not CPython's 1. An event loop takes connections
/// off the queue as they come and authenticates many at once, so the queue only has to
/// absorb a burst of simultaneous connects; with a backlog of 1 such a burst meets TCP
/// SYN retransmits or, over a Unix socket, refused connects.
///
/// Linux clamps a backlog to `net.core.somaxconn`, 4096 by default since 5.4 (128
/// before), so asking for more gains nothing and asking for less is what loses
/// clients: a connect that finds the queue full has its SYN dropped (a retransmit a
/// second or more later) or, with SYN cookies, its final ACK, and such a client
/// believes it is connected while the listener never sees it. 4096 lets 5,000
/// clients connect at once to a listener that drains the queue as it goes, and costs
/// nothing until connections queue: the kernel allocates per queued connection.
pub const DEFAULT_BACKLOG: i32 = 4096;

/// Options for [`Listener`]: what CPython's `Listener(address, family, backlog, authkey)`
/// takes, a handshake timeout and a bound on handshakes under way. The same names as
/// `mpconn_std::ListenerOptions`.
///
/// ```
/// use mpconn_mio::{Family, ListenerOptions};
///
/// let listener = ListenerOptions::new()
///     .family(Family::Inet) // no address: localhost, any free port
///     .backlog(1024)
///     .authkey(Some(b"secret"))
///     .bind(None)?;
/// assert_ne!(listener.address().to_string(), "localhost:0");
/// # Ok::<_, mpconn_mio::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct ListenerOptions {
    family: Option<Family>,
    backlog: i32,
    authkey: Option<AuthKey>,
    handshake: HandshakeConfig,
    handshake_timeout: Option<Duration>,
    pending_limit: usize,
}

impl Default for ListenerOptions {
    fn default() -> Self {
        ListenerOptions::new()
    }
}

impl ListenerOptions {
    /// No authkey, [`DEFAULT_BACKLOG`], CPython 3.12's handshake
    /// ([`HandshakeConfig::default`]), [`DEFAULT_HANDSHAKE_TIMEOUT`] and
    /// [`DEFAULT_PENDING_LIMIT`].
    pub fn new() -> ListenerOptions {
        ListenerOptions {
            family: None,
            backlog: DEFAULT_BACKLOG,
            authkey: None,
            handshake: HandshakeConfig::default(),
            handshake_timeout: Some(DEFAULT_HANDSHAKE_TIMEOUT),
            pending_limit: DEFAULT_PENDING_LIMIT,
        }
    }

    /// How long each accepted client has to finish the handshake (default 20 s;
    /// `None`: forever, as CPython). Past it the connection's `recv_bytes` and `flush`
    /// fail with [`Error::HandshakeTimeout`]; the loop wakes up in time by polling with
    /// a timeout no later than [`Connection::handshake_deadline`].
    ///
    /// ```
    /// use std::time::Duration;
    /// use mpconn_mio::ListenerOptions;
    ///
    /// let listener = ListenerOptions::new()
    ///     .authkey(Some(b"secret"))
    ///     .handshake_timeout(Some(Duration::from_secs(5)))
    ///     .bind(None)?;
    /// # Ok::<_, mpconn_mio::Error>(())
    /// ```
    pub fn handshake_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// At most this many accepted connections are handshaking at once (default
    /// [`DEFAULT_PENDING_LIMIT`]): at the limit [`Listener::accept`] returns `Ok(None)`
    /// and new clients wait in the kernel's listen queue until a handshake ends (the
    /// connection is established, fails or is dropped), when the listener is reported
    /// readable again. Bounds the file descriptors and memory that clients which never
    /// finish can take. At least 1.
    ///
    /// ```
    /// use mpconn_mio::ListenerOptions;
    ///
    /// let listener = ListenerOptions::new()
    ///     .authkey(Some(b"secret"))
    ///     .pending_limit(64)
    ///     .bind(None)?;
    /// # Ok::<_, mpconn_mio::Error>(())
    /// ```
    pub fn pending_limit(mut self, limit: usize) -> Self {
        self.pending_limit = limit.max(1);
        self
    }

    /// The family of the default address, when [`bind`](Self::bind) gets none
    /// (default: `AF_UNIX`, as CPython on Unix). With an address, a different family is
    /// an error.
    pub fn family(mut self, family: Family) -> Self {
        self.family = Some(family);
        self
    }

    /// The `listen(2)` backlog (see [`DEFAULT_BACKLOG`] for why it is not CPython's 1).
    pub fn backlog(mut self, backlog: i32) -> Self {
        self.backlog = backlog;
        self
    }

    /// The authkey clients must prove they hold (default: none, no handshake). An
    /// empty key is a key: the handshake runs.
    pub fn authkey(mut self, authkey: Option<&[u8]>) -> Self {
        self.authkey = authkey.map(AuthKey::new);
        self
    }

    /// Digest choices for the handshake (default: CPython 3.12+'s).
    pub fn handshake_config(mut self, config: HandshakeConfig) -> Self {
        self.handshake = config;
        self
    }

    /// Binds and starts listening on `address`, or on a fresh default address of the
    /// family: a `listener-XXXXXXXX` socket in a new private (0700) temporary directory
    /// for `AF_UNIX` (both removed when the listener closes), `localhost:0` for
    /// `AF_INET`. `SO_REUSEADDR` is set, as CPython does.
    pub fn bind(&self, address: Option<Address>) -> Result<Listener, Error> {
        let BoundSocket {
            socket,
            address: bound,
            cleanup,
        } = bind_listening(address, self.family, self.backlog)?;
        let raw = RawListener::from_socket(socket, bound.family())?;
        Ok(Listener {
            raw: Some(raw),
            address: bound,
            last_accepted: None,
            authkey: self.authkey.clone(),
            handshake: self.handshake.clone(),
            handshake_timeout: self.handshake_timeout,
            gate: Gate::new(self.pending_limit),
            cleanup,
        })
    }
}

/// A non-blocking `multiprocessing.connection.Listener` for your own `mio` event loop.
///
/// It implements [`mio::event::Source`]: register it for `Interest::READABLE` and, on
/// each event, call [`accept`](Self::accept) until it returns `Ok(None)`. Each accepted
/// [`Connection`] starts its handshake at once and finishes it inside its own
/// `recv_bytes` / `flush` calls, so many clients authenticate side by side, each under
/// its own [handshake timeout](ListenerOptions::handshake_timeout), at most
/// [`pending_limit`](ListenerOptions::pending_limit) at once. The loop owns the clock:
/// it polls with a timeout no later than the earliest
/// [`Connection::handshake_deadline`] and calls `recv_bytes` on a connection past it,
/// which fails with [`Error::HandshakeTimeout`] (the `echo_loop` example shows how).
///
/// Dropping it closes it ([`close`](Self::close)).
///
/// ```
/// use mio::{Interest, Poll, Token};
/// use mpconn_mio::Listener;
///
/// let mut listener = Listener::bind(None, Some(b"secret"))?; // a fresh Unix socket
/// let poll = Poll::new()?;
/// poll.registry().register(&mut listener, Token(0), Interest::READABLE)?;
/// assert!(listener.accept()?.is_none()); // nobody there yet: no error, no blocking
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// ```
pub struct Listener {
    raw: Option<RawListener>,
    address: Address,
    last_accepted: Option<Address>,
    authkey: Option<AuthKey>,
    handshake: HandshakeConfig,
    handshake_timeout: Option<Duration>,
    /// The places of the handshakes under way.
    gate: Gate,
    cleanup: SocketCleanup,
}

impl fmt::Debug for Listener {
    // Built by hand so that nothing here could ever print the authkey.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Listener")
            .field("address", &self.address)
            .field("last_accepted", &self.last_accepted)
            .field("closed", &self.raw.is_none())
            .finish_non_exhaustive()
    }
}

impl Listener {
    /// Binds with the default [`ListenerOptions`] and `authkey`; see
    /// [`ListenerOptions::bind`].
    ///
    /// `None` for the address is CPython's default: a fresh `listener-XXXXXXXX` Unix
    /// socket in a private temporary directory. An authkey, even an empty one, means
    /// every client runs the handshake.
    pub fn bind(address: Option<Address>, authkey: Option<&[u8]>) -> Result<Listener, Error> {
        ListenerOptions::new().authkey(authkey).bind(address)
    }

    /// The next client waiting, if any (`Ok(None)`: none now; wait for the next readable
    /// event). Its handshake has started: the challenge is written if the socket takes it.
    ///
    /// An `Err` concerns one client (or a passing OS condition such as running out of
    /// file descriptors): the listener goes on, so keep calling until `Ok(None)`.
    /// [`Error::ListenerClosed`] after [`close`](Self::close). `Ok(None)` also when
    /// [`pending_limit`](ListenerOptions::pending_limit) handshakes are under way: the
    /// listener is reported readable again when one ends.
    pub fn accept(&mut self) -> Result<Option<Connection>, Error> {
        let raw = self.raw.as_ref().ok_or(Error::ListenerClosed)?;
        loop {
            let slot = match self.authkey {
                Some(_) => match self.gate.enter() {
                    Some(slot) => Some(slot),
                    None => return Ok(None),
                },
                None => None,
            };
            match raw.accept() {
                Ok((stream, peer)) => {
                    self.last_accepted = Some(peer);
                    let mut connection = Connection::server(
                        stream,
                        self.authkey.as_ref().map(AuthKey::as_bytes),
                        &self.handshake,
                    );
                    if let Some(slot) = slot {
                        connection.hold(slot);
                        connection.set_handshake_timeout(self.handshake_timeout);
                    }
                    connection.flush()?;
                    return Ok(Some(connection));
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return Ok(None),
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => return Err(error.into()),
            }
        }
    }

    /// The address the listener is bound to; for TCP, the IP address and the real port.
    pub fn address(&self) -> &Address {
        &self.address
    }

    /// The peer address of the client last accepted (CPython's `last_accepted`). A Unix
    /// client that did not bind its socket has an empty path, as in CPython.
    pub fn last_accepted(&self) -> Option<&Address> {
        self.last_accepted.as_ref()
    }

    /// Stops listening and removes a Unix socket file (and the private directory of a
    /// default address); an abstract name has no file. Idempotent; `Drop` does the same.
    /// Accepted connections stay open.
    pub fn close(&mut self) {
        self.gate.unregistered();
        self.raw = None;
        self.cleanup.run();
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.close();
    }
}

impl Source for Listener {
    fn register(
        &mut self,
        registry: &Registry,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        let raw = self.raw_mut()?;
        raw.register(registry, token, interests)?;
        let fd = raw.as_raw_fd();
        self.gate.registered(registry, fd, token, interests)
    }

    fn reregister(
        &mut self,
        registry: &Registry,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        let raw = self.raw_mut()?;
        raw.reregister(registry, token, interests)?;
        let fd = raw.as_raw_fd();
        self.gate.registered(registry, fd, token, interests)
    }

    fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
        self.gate.unregistered();
        self.raw_mut()?.deregister(registry)
    }
}

impl Listener {
    fn raw_mut(&mut self) -> io::Result<&mut RawListener> {
        self.raw
            .as_mut()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotConnected, Error::ListenerClosed))
    }
}
