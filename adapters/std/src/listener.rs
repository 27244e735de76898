//! The listening side (CPython's `multiprocessing.connection.Listener`).

use std::io;
use std::time::Duration;

use mpconn::{AuthKey, HandshakeConfig};
use mpconn_net::{Bound, During, ListenerOptions, Listening, SocketCleanup};

use crate::address::Address;
use crate::connection::Connection;
use crate::pending::Pending;
use crate::stream::{retry_interrupted, Stream};
use crate::sys::{pollable, Pollable as BorrowedFd};
use crate::{Error, Result};

/// A socket that accepts connections (CPython's `multiprocessing.connection.Listener`).
///
/// With an authkey, [`accept`](Listener::accept) returns a connection once its
/// handshake succeeded, and runs the handshakes of all the clients waiting side by
/// side, so that one that stays silent delays nobody else. A client that fails it, or
/// stays silent past the handshake timeout, is an error for that `accept` only: the
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
    socket: Option<Listening>,
    address: Address,
    authkey: Option<AuthKey>,
    handshake_timeout: Option<Duration>,
    handshake: HandshakeConfig,
    last_accepted: Option<Address>,
    /// The clients accepted whose handshakes run, or ended, before `accept` returns.
    pending: Pending,
    /// Removed on close: the socket file, and the private directory made for it.
    cleanup: SocketCleanup,
    /// A named pipe's clients, accepted and authenticated by threads of their own.
    #[cfg(windows)]
    pipes: Option<crate::windows::PipeAcceptor>,
}

impl Listener {
    /// Binds with the default [`ListenerOptions`] (a backlog of
    /// [`DEFAULT_BACKLOG`](crate::DEFAULT_BACKLOG), a 20 s handshake timeout) and
    /// `authkey`: on `address`, or on a fresh Unix socket in a private temporary
    /// directory. See [`bind_with`](Self::bind_with) for the rest.
    pub fn bind(address: Option<Address>, authkey: Option<&[u8]>) -> Result<Listener> {
        Listener::bind_with(address, &ListenerOptions::new().authkey(authkey))
    }

    /// Binds and listens on `address`, or on a fresh default address of the options'
    /// family (a `listener-XXXXXXXX` socket in a private 0700 temporary directory for
    /// `AF_UNIX`, `localhost:0` for `AF_INET`), with `SO_REUSEADDR` as CPython. At most
    /// the options' [`pending_limit`](ListenerOptions::pending_limit) clients are held
    /// at once, handshaking or finished; the others wait in the kernel's backlog.
    ///
    /// ```
    /// use std::time::Duration;
    /// use mpconn_std::{Family, Listener, ListenerOptions};
    ///
    /// let options = ListenerOptions::new()
    ///     .family(Family::Inet) // no address: localhost, any free port
    ///     .backlog(16)
    ///     .authkey(Some(b"secret"))
    ///     .handshake_timeout(Some(Duration::from_secs(5)))
    ///     .pending_limit(16);
    /// let listener = Listener::bind_with(None, &options)?;
    /// assert_ne!(listener.address().to_string(), "localhost:0");
    /// # Ok::<(), mpconn_std::Error>(())
    /// ```
    pub fn bind_with(address: Option<Address>, options: &ListenerOptions) -> Result<Listener> {
        let Bound {
            listener,
            address,
            cleanup,
        } = mpconn_net::bind(address, options)?;
        let mut bound = Listener {
            socket: None,
            address,
            authkey: options.authkey.clone(),
            handshake_timeout: options.handshake_timeout,
            handshake: options.handshake_config.clone(),
            last_accepted: None,
            pending: Pending::new(options.pending_limit),
            cleanup,
            #[cfg(windows)]
            pipes: None,
        };
        #[cfg(windows)]
        if let Listening::Pipe(listener) = listener {
            let serve = crate::windows::Serve {
                address: bound.address.clone(),
                authkey: options.authkey.clone(),
                config: options.handshake_config.clone(),
                timeout: options.handshake_timeout,
                limit: options.pending_limit,
            };
            bound.pipes = Some(crate::windows::PipeAcceptor::start(listener, serve));
            return Ok(bound);
        }
        // Non-blocking: accept() polls it together with the pending handshakes.
        listener
            .set_nonblocking(true)
            .map_err(|e| Error::io(During::Bind, e).at(&bound.address))?;
        bound.socket = Some(listener);
        Ok(bound)
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
        #[cfg(windows)]
        if let Some(pipes) = &self.pipes {
            let (peer, outcome) = pipes.accept()?;
            return mpconn_net::handshake_outcome(outcome, &peer, &self.address);
        }
        loop {
            if let Some((peer, outcome)) = self.pending.next_finished() {
                let outcome = mpconn_net::handshake_outcome(outcome, &peer, &self.address);
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
                        self.pending
                            .wait(None, false)
                            .map_err(|e| e.at(&self.address))?;
                        return Err(error);
                    }
                };
                let core = mpconn_net::new_core(
                    mpconn::Role::Server,
                    self.authkey.as_ref().map(AuthKey::as_bytes),
                    &self.handshake,
                );
                let connection = Connection::new(stream, core);
                if self.authkey.is_none() {
                    let outcome =
                        mpconn_net::handshake_outcome(Ok(connection), &peer, &self.address);
                    self.last_accepted = Some(peer);
                    return outcome;
                }
                self.pending.start(connection, peer, self.handshake_timeout);
            }
            if self.pending.has_finished() {
                continue;
            }
            let socket = socket_of(self.socket.as_ref())?;
            self.pending
                .wait(Some(socket), true)
                .map_err(|e| e.at(&self.address))?;
        }
    }

    /// The next client off the listen queue, if one waits. A client whose connection
    /// failed in the queue is an error for it alone ([`mpconn_net::accept_error`]).
    fn accept_one(&self) -> Result<Option<(Stream, Address)>> {
        let socket = self.socket.as_ref().ok_or(Error::ListenerClosed)?;
        let failed = |e: io::Error| mpconn_net::accept_error(e, &self.address);
        let accepted = match socket {
            Listening::Tcp(listener) => {
                retry_interrupted(|| listener.accept()).and_then(|(stream, peer)| {
                    // Windows hands out accepted sockets in the listener's non-blocking
                    // mode (Unix does not): a connection starts out blocking.
                    #[cfg(windows)]
                    stream.set_nonblocking(false)?;
                    mpconn_net::set_up_tcp(&stream)?;
                    Ok((Stream::Tcp(stream), Address::from(peer)))
                })
            }
            #[cfg(unix)]
            Listening::Unix(listener) => retry_interrupted(|| listener.accept())
                .map(|(stream, peer)| (Stream::Unix(stream), Address::from(&peer))),
            #[cfg(windows)]
            Listening::Pipe(_) => return Err(Error::ListenerClosed),
        };
        match accepted {
            Ok(accepted) => Ok(Some(accepted)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
            Err(e) => Err(failed(e)),
        }
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
        #[cfg(windows)]
        drop(self.pipes.take());
        if self.socket.take().is_none() {
            return;
        }
        self.cleanup.run();
    }

    /// True once [`close`](Self::close) ran.
    pub fn is_closed(&self) -> bool {
        #[cfg(windows)]
        if self.pipes.is_some() {
            return false;
        }
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

    /// A named-pipe listener (Windows): whether `accept` has a client within `timeout`.
    /// `None` for a socket listener, which `poll(2)` watches.
    pub(crate) fn pipe_ready(&self, timeout: Duration) -> Option<bool> {
        #[cfg(windows)]
        if let Some(pipes) = &self.pipes {
            return Some(pipes.ready(timeout));
        }
        let _ = timeout;
        None
    }

    pub(crate) fn socket_fd(&self) -> Result<BorrowedFd<'_>> {
        socket_of(self.socket.as_ref())
    }
}

/// What `poll(2)` waits on for a listening socket (a named pipe has nothing: its
/// clients come through threads).
fn socket_of(socket: Option<&Listening>) -> Result<BorrowedFd<'_>> {
    match socket.ok_or(Error::ListenerClosed)? {
        Listening::Tcp(listener) => Ok(pollable(listener)),
        #[cfg(unix)]
        Listening::Unix(listener) => Ok(pollable(listener)),
        #[cfg(windows)]
        Listening::Pipe(_) => Err(Error::ListenerClosed),
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
