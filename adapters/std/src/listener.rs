//! The listening side (CPython's `multiprocessing.connection.Listener`).

use std::io;
use std::net::TcpListener;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::time::Duration;

use mpconn::{AuthKey, HandshakeConfig};

use crate::address::{Address, Family};
use crate::bind::{bind_listening, BoundSocket, SocketCleanup};
use crate::connection::Connection;
use crate::error::{Error, Result};
use crate::pending::Pending;
use crate::socket::{core, retry_interrupted};
use crate::stream::Stream;

/// How long a listener waits for a client to finish the authentication handshake
/// unless told otherwise. CPython waits forever, so one silent client stalls its
/// accept loop; here it costs at most this.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(20);

/// The default listen backlog: 4096, not CPython's 1.
///
/// CPython's `accept` takes one client off the queue at a time and authenticates it
/// before the next, and with a backlog of 1 a burst of clients overflows the queue at
/// once. This listener drains the queue into its pending handshakes whenever
/// `accept` runs, and the queue has to hold what arrives between two calls.
///
/// Linux clamps a backlog to `net.core.somaxconn`, 4096 by default since 5.4 (128
/// before), so asking for more gains nothing and asking for less is what loses
/// clients: a connect that finds the queue full has its SYN dropped (a retransmit a
/// second or more later) or, with SYN cookies, its final ACK, and such a client
/// believes it is connected while the listener never sees it. 4096 lets 5,000
/// clients connect at once to a listener that drains the queue as it goes, and costs
/// nothing until connections queue: the kernel allocates per queued connection.
pub const DEFAULT_BACKLOG: i32 = 4096;

/// The default bound on clients a listener holds at once: handshaking, or finished
/// and waiting for [`Listener::accept`] to hand them over (as the tokio adapter's).
/// Past it, new clients wait in the kernel's listen queue.
pub const DEFAULT_PENDING_LIMIT: usize = 256;

#[derive(Debug)]
enum ListenSocket {
    Tcp(TcpListener),
    Unix(UnixListener),
}

/// Options for a [`Listener`]: what CPython's `Listener(address, family, backlog,
/// authkey)` takes, and a handshake timeout and a bound on pending clients CPython
/// does not have.
///
/// ```
/// use std::time::Duration;
/// use mpconn_std::{Family, ListenerOptions};
///
/// let listener = ListenerOptions::new()
///     .family(Family::Inet) // no address: localhost, any free port
///     .backlog(16)
///     .authkey(Some(b"secret"))
///     .handshake_timeout(Some(Duration::from_secs(5)))
///     .bind(None)?;
/// assert_ne!(listener.address().to_string(), "localhost:0");
/// # Ok::<(), mpconn_std::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct ListenerOptions {
    family: Option<Family>,
    backlog: i32,
    authkey: Option<AuthKey>,
    handshake_timeout: Option<Duration>,
    handshake: HandshakeConfig,
    pending_limit: usize,
}

impl Default for ListenerOptions {
    fn default() -> Self {
        ListenerOptions::new()
    }
}

impl ListenerOptions {
    /// CPython's defaults (no authkey) but for the backlog, [`DEFAULT_BACKLOG`]; a 20 s
    /// handshake timeout ([`DEFAULT_HANDSHAKE_TIMEOUT`]) and [`DEFAULT_PENDING_LIMIT`].
    pub fn new() -> ListenerOptions {
        ListenerOptions {
            family: None,
            backlog: DEFAULT_BACKLOG,
            authkey: None,
            handshake_timeout: Some(DEFAULT_HANDSHAKE_TIMEOUT),
            handshake: HandshakeConfig::default(),
            pending_limit: DEFAULT_PENDING_LIMIT,
        }
    }

    /// The family of the default address, when [`bind`](Self::bind) gets none
    /// (default: `AF_UNIX`, as CPython on Unix). With an address, a different family is
    /// an error.
    pub fn family(mut self, family: Family) -> Self {
        self.family = Some(family);
        self
    }

    /// The `listen(2)` backlog (default [`DEFAULT_BACKLOG`]; CPython's is 1).
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

    /// How long `accept` waits for a client's handshake before giving up on it
    /// (default 20 s; `None`: forever, as CPython).
    pub fn handshake_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// Digest choices for the handshake (default: CPython 3.12+'s).
    pub fn handshake_config(mut self, config: HandshakeConfig) -> Self {
        self.handshake = config;
        self
    }

    /// At most this many clients are handshaking, or finished and not yet returned by
    /// [`Listener::accept`], at once (default [`DEFAULT_PENDING_LIMIT`]); beyond it,
    /// new clients wait in the kernel's listen queue. Bounds the memory and file
    /// descriptors that clients which never finish can take. At least 1.
    ///
    /// ```
    /// use mpconn_std::ListenerOptions;
    ///
    /// let listener = ListenerOptions::new()
    ///     .authkey(Some(b"secret"))
    ///     .pending_limit(16)
    ///     .bind(None)?;
    /// # Ok::<(), mpconn_std::Error>(())
    /// ```
    pub fn pending_limit(mut self, limit: usize) -> Self {
        self.pending_limit = limit.max(1);
        self
    }

    /// Binds and listens on `address`, or on a fresh default address of the family
    /// (a `listener-XXXXXXXX` socket in a private 0700 temporary directory for
    /// `AF_UNIX`, `localhost:0` for `AF_INET`). `SO_REUSEADDR` is set, as CPython does.
    pub fn bind(&self, address: Option<Address>) -> Result<Listener> {
        let BoundSocket {
            socket,
            address,
            cleanup,
        } = bind_listening(address, self.family, self.backlog)?;
        // Non-blocking: accept() polls it together with the pending handshakes.
        socket.set_nonblocking(true)?;
        let socket = match address.family() {
            Family::Inet => ListenSocket::Tcp(TcpListener::from(OwnedFd::from(socket))),
            Family::Unix => ListenSocket::Unix(UnixListener::from(OwnedFd::from(socket))),
        };
        Ok(Listener {
            socket: Some(socket),
            address,
            authkey: self.authkey.clone(),
            handshake_timeout: self.handshake_timeout,
            handshake: self.handshake.clone(),
            last_accepted: None,
            pending: Pending::new(self.pending_limit),
            cleanup,
        })
    }
}

/// A socket that accepts connections (CPython's `multiprocessing.connection.Listener`).
///
/// With an authkey, [`accept`](Listener::accept) runs the handshake before returning
/// the connection, and runs the handshakes of all the clients waiting side by side,
/// so that one that stays silent delays nobody else. A client that fails it, or stays
/// silent past the handshake timeout, is an error for that `accept` only: the
/// listener keeps serving.
///
/// Dropping the listener closes it and removes its socket file (an abstract name has
/// none), like [`close`](Listener::close).
///
/// ```
/// use mpconn_std::{Client, Listener};
///
/// let mut listener = Listener::bind(None, Some(b"secret"))?; // a fresh Unix socket
/// let address = listener.address().clone();
/// let client = std::thread::spawn(move || -> mpconn_std::Result<Vec<u8>> {
///     let mut conn = Client::connect(&address, Some(b"secret"))?;
///     conn.send_bytes(b"ping")?;
///     conn.recv_bytes(None)
/// });
/// let mut conn = listener.accept()?;
/// assert_eq!(conn.recv_bytes(None)?, b"ping");
/// conn.send_bytes(b"pong")?;
/// assert_eq!(client.join().unwrap()?, b"pong");
/// # Ok::<(), mpconn_std::Error>(())
/// ```
#[derive(Debug)]
pub struct Listener {
    socket: Option<ListenSocket>,
    address: Address,
    authkey: Option<AuthKey>,
    handshake_timeout: Option<Duration>,
    handshake: HandshakeConfig,
    last_accepted: Option<Address>,
    /// The clients accepted whose handshakes run, or ended, before `accept` returns.
    pending: Pending,
    /// Removed on close: the socket file, and the private directory made for it.
    cleanup: SocketCleanup,
}

impl Listener {
    /// Binds with the default [`ListenerOptions`] (a 20 s handshake timeout, a backlog
    /// of [`DEFAULT_BACKLOG`]): on `address`, or on a fresh Unix socket in a private
    /// temporary directory.
    pub fn bind(address: Option<Address>, authkey: Option<&[u8]>) -> Result<Listener> {
        ListenerOptions::new().authkey(authkey).bind(address)
    }

    /// Accepts the next connection and, with an authkey, returns it once its handshake
    /// succeeded (CPython's `accept`).
    ///
    /// Handshakes run side by side: while one client stays silent or answers a byte at
    /// a time, this call goes on accepting and authenticating others, in this thread
    /// (a `poll(2)` loop), and returns the first to succeed. Each client has its own
    /// handshake timeout from when it was accepted; at most
    /// [`pending_limit`](ListenerOptions::pending_limit) are held at once.
    ///
    /// A client that fails the handshake ([`Error::is_authentication`]), closes during
    /// it, or outlasts its timeout ([`Error::is_timeout`]) is the error of one call,
    /// in the order the clients finished, as CPython raises `AuthenticationError`
    /// from `accept`: [`Error::is_client_failure`] is true, and the next call goes on
    /// at once with the clients still pending. Reporting them rather than skipping
    /// them keeps them visible (a log line for each attacker) and `last_accepted`
    /// tells who it was. The listening socket's own failure is [`Error::Accept`].
    pub fn accept(&mut self) -> Result<Connection> {
        loop {
            if let Some((peer, outcome)) = self.pending.next_finished() {
                self.last_accepted = Some(peer);
                return outcome;
            }
            // Once a handshake ended, its outcome goes back before any more clients
            // are taken.
            while self.pending.has_room() && !self.pending.has_finished() {
                let (stream, peer) = match self.accept_one() {
                    Ok(Some(accepted)) => accepted,
                    Ok(None) => break,
                    Err(error) => {
                        // accept(2) fails until its cause passes (EMFILE: until some
                        // descriptors close): the handshakes under way must still move
                        // on, and expire, while the caller retries.
                        self.pending.wait(None, false)?;
                        return Err(error);
                    }
                };
                let core = core(
                    mpconn::Role::Server,
                    self.authkey.as_ref().map(AuthKey::as_bytes),
                    &self.handshake,
                );
                let connection = Connection::new(stream, core);
                if self.authkey.is_none() {
                    self.last_accepted = Some(peer);
                    return Ok(connection);
                }
                self.pending.start(connection, peer, self.handshake_timeout);
            }
            if self.pending.has_finished() {
                continue;
            }
            let socket = match self.socket.as_ref().ok_or(Error::ListenerClosed)? {
                ListenSocket::Tcp(listener) => listener.as_fd(),
                ListenSocket::Unix(listener) => listener.as_fd(),
            };
            self.pending.wait(Some(socket), true)?;
        }
    }

    /// The next client off the listen queue, if one waits. A client whose
    /// connection failed in the queue is an error for it alone (see
    /// [`accept_error`]).
    fn accept_one(&mut self) -> Result<Option<(Stream, Address)>> {
        let would_block = |e: &io::Error| e.kind() == io::ErrorKind::WouldBlock;
        let accepted = match self.socket.as_ref().ok_or(Error::ListenerClosed)? {
            ListenSocket::Tcp(listener) => match retry_interrupted(|| listener.accept()) {
                Ok((stream, peer)) => {
                    // Every write is whole frames: Nagle's delay could only add latency.
                    stream.set_nodelay(true)?;
                    (Stream::Tcp(stream), Address::from(peer))
                }
                Err(e) if would_block(&e) => return Ok(None),
                Err(e) => return Err(accept_error(e)),
            },
            ListenSocket::Unix(listener) => match retry_interrupted(|| listener.accept()) {
                Ok((stream, peer)) => (Stream::Unix(stream), Address::from(&peer)),
                Err(e) if would_block(&e) => return Ok(None),
                Err(e) => return Err(accept_error(e)),
            },
        };
        Ok(Some(accepted))
    }

    /// An endless iterator of [`accept`](Self::accept) results.
    pub fn incoming(&mut self) -> Incoming<'_> {
        Incoming { listener: self }
    }

    /// The bound address: with the real port after binding to port 0 (CPython's
    /// `address`, from `getsockname`).
    pub fn address(&self) -> &Address {
        &self.address
    }

    /// The peer address of the last accepted connection (CPython's `last_accepted`);
    /// an unnamed Unix client gives an empty path.
    pub fn last_accepted(&self) -> Option<&Address> {
        self.last_accepted.as_ref()
    }

    /// Closes the socket and removes its socket file and the private directory made
    /// for a default address. Closing again does nothing.
    pub fn close(&mut self) {
        if self.socket.take().is_none() {
            return;
        }
        self.cleanup.run();
    }

    /// True once [`close`](Self::close) ran.
    pub fn is_closed(&self) -> bool {
        self.socket.is_none()
    }

    /// The connections whose handshakes are under way, for [`wait`](crate::wait).
    pub(crate) fn handshake_fds(&self) -> impl Iterator<Item = BorrowedFd<'_>> {
        self.pending.fds()
    }

    /// True when [`accept`](Self::accept) has a finished handshake to return at once.
    pub(crate) fn has_finished(&self) -> bool {
        self.pending.has_finished()
    }

    pub(crate) fn socket_fd(&self) -> Result<BorrowedFd<'_>> {
        match self.socket.as_ref().ok_or(Error::ListenerClosed)? {
            ListenSocket::Tcp(listener) => Ok(listener.as_fd()),
            ListenSocket::Unix(listener) => Ok(listener.as_fd()),
        }
    }
}

/// An error of `accept(2)`: the listening socket's own ([`Error::Accept`]), or one of
/// the errors Linux reports for a client whose connection failed while it waited in
/// the queue (accept(2), "Error handling"), which concern that client only.
fn accept_error(error: io::Error) -> Error {
    use rustix::io::Errno;
    let clients_own = [
        Errno::CONNABORTED,
        Errno::CONNRESET,
        Errno::PROTO,
        Errno::NETDOWN,
        Errno::NOPROTOOPT,
        Errno::HOSTDOWN,
        Errno::NONET,
        Errno::HOSTUNREACH,
        Errno::OPNOTSUPP,
        Errno::NETUNREACH,
        Errno::TIMEDOUT,
    ];
    match error.raw_os_error() {
        Some(code) if clients_own.iter().any(|e| e.raw_os_error() == code) => Error::Io(error),
        _ => Error::Accept(error),
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.close();
    }
}

/// The iterator of [`Listener::incoming`]: every item is one `accept`.
#[derive(Debug)]
pub struct Incoming<'a> {
    listener: &'a mut Listener,
}

impl Iterator for Incoming<'_> {
    type Item = Result<Connection>;

    fn next(&mut self) -> Option<Self::Item> {
        Some(self.listener.accept())
    }
}
