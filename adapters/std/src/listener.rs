//! The listening side (CPython's `multiprocessing.connection.Listener`).

use std::io;
use std::net::TcpListener;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::time::{Duration, Instant};

use mpconn::{AuthKey, HandshakeConfig};

use crate::address::{Address, Family};
use crate::bind::{bind_listening, BoundSocket, SocketCleanup};
use crate::connection::Connection;
use crate::error::{Error, Result};
use crate::socket::{core, retry_interrupted};
use crate::stream::Stream;

/// How long a listener waits for a client to finish the authentication handshake
/// unless told otherwise. CPython waits forever, so one silent client stalls its
/// accept loop; here it costs at most this.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(20);

#[derive(Debug)]
enum ListenSocket {
    Tcp(TcpListener),
    Unix(UnixListener),
}

/// Options for a [`Listener`]: what CPython's `Listener(address, family, backlog,
/// authkey)` takes, and a handshake timeout CPython does not have.
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
}

impl Default for ListenerOptions {
    fn default() -> Self {
        ListenerOptions::new()
    }
}

impl ListenerOptions {
    /// CPython's defaults: backlog 1, no authkey; plus a 20 s handshake timeout.
    pub fn new() -> ListenerOptions {
        ListenerOptions {
            family: None,
            backlog: 1,
            authkey: None,
            handshake_timeout: Some(DEFAULT_HANDSHAKE_TIMEOUT),
            handshake: HandshakeConfig::default(),
        }
    }

    /// The family of the default address, when [`bind`](Self::bind) gets none
    /// (default: `AF_UNIX`, as CPython on Unix). With an address, a different family is
    /// an error.
    pub fn family(mut self, family: Family) -> Self {
        self.family = Some(family);
        self
    }

    /// The `listen(2)` backlog (default 1, as CPython).
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

    /// Binds and listens on `address`, or on a fresh default address of the family
    /// (a `listener-XXXXXXXX` socket in a private 0700 temporary directory for
    /// `AF_UNIX`, `localhost:0` for `AF_INET`). `SO_REUSEADDR` is set, as CPython does.
    pub fn bind(&self, address: Option<Address>) -> Result<Listener> {
        let BoundSocket {
            socket,
            address,
            cleanup,
        } = bind_listening(address, self.family, self.backlog)?;
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
            cleanup,
        })
    }
}

/// A socket that accepts connections (CPython's `multiprocessing.connection.Listener`).
///
/// With an authkey, [`accept`](Listener::accept) runs the handshake before returning
/// the connection. A client that fails it, or stays silent past the handshake
/// timeout, is an error for that `accept` only: the listener keeps serving.
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
    /// Removed on close: the socket file, and the private directory made for it.
    cleanup: SocketCleanup,
}

impl Listener {
    /// Binds with CPython's defaults (backlog 1) and a 20 s handshake timeout: on
    /// `address`, or on a fresh Unix socket in a private temporary directory. See
    /// [`ListenerOptions`] for the rest.
    pub fn bind(address: Option<Address>, authkey: Option<&[u8]>) -> Result<Listener> {
        ListenerOptions::new().authkey(authkey).bind(address)
    }

    /// Accepts the next connection and, with an authkey, runs the handshake on it.
    ///
    /// A failed handshake ([`Error::is_authentication`]), a client that closes during
    /// it, or one that outlasts the handshake timeout ([`Error::is_timeout`]) is an
    /// error for this call only; the next `accept` serves the next client.
    pub fn accept(&mut self) -> Result<Connection> {
        let (stream, peer) = match self.socket.as_ref().ok_or(Error::ListenerClosed)? {
            ListenSocket::Tcp(listener) => {
                let (stream, peer) =
                    retry_interrupted(|| listener.accept()).map_err(accept_error)?;
                // Every write is whole frames: Nagle's delay could only add latency.
                stream.set_nodelay(true)?;
                (Stream::Tcp(stream), Address::from(peer))
            }
            ListenSocket::Unix(listener) => {
                let (stream, peer) =
                    retry_interrupted(|| listener.accept()).map_err(accept_error)?;
                (Stream::Unix(stream), Address::from(&peer))
            }
        };
        self.last_accepted = Some(peer);
        let core = core(
            mpconn::Role::Server,
            self.authkey.as_ref().map(AuthKey::as_bytes),
            &self.handshake,
        );
        let mut connection = Connection::new(stream, core);
        if self.authkey.is_some() {
            let deadline = self
                .handshake_timeout
                .and_then(|timeout| Instant::now().checked_add(timeout));
            connection.handshake(deadline)?;
        }
        Ok(connection)
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
