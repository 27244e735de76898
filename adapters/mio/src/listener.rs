//! The non-blocking listener.

use std::io;
use std::time::Duration;

use mio::event::Source;
use mio::{Interest, Registry, Token};
use mpconn::{AuthKey, HandshakeConfig};
use mpconn_net::{Bound, During, SocketCleanup};

use crate::pending::Gate;
use crate::socket::{RawListener, SharedListener};
use crate::source::Delegate;
use crate::{Address, Connection, Error, ListenerOptions};

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
/// which fails with [`Error::Timeout`] (the `echo_loop` example shows how).
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
#[derive(Debug)]
pub struct Listener {
    raw: Option<SharedListener>,
    address: Address,
    last_accepted: Option<Address>,
    authkey: Option<AuthKey>,
    handshake: HandshakeConfig,
    handshake_timeout: Option<Duration>,
    /// The places of the handshakes under way.
    gate: Gate,
    cleanup: SocketCleanup,
}

impl Listener {
    /// Binds with the default [`ListenerOptions`] and `authkey`; see
    /// [`bind_with`](Self::bind_with).
    ///
    /// `None` for the address is CPython's default: a fresh `listener-XXXXXXXX` Unix
    /// socket in a private temporary directory. On Windows that default is `AF_PIPE`,
    /// which this crate refuses ([crate docs](crate#windows)): bind an `AF_INET`
    /// address there. An authkey, even an empty one, means every client runs the
    /// handshake.
    pub fn bind(address: Option<Address>, authkey: Option<&[u8]>) -> Result<Listener, Error> {
        Listener::bind_with(address, &ListenerOptions::new().authkey(authkey))
    }

    /// Binds and starts listening on `address`, or on a fresh default address of the
    /// options' family: a `listener-XXXXXXXX` socket in a new private (0700) temporary
    /// directory for `AF_UNIX` (both removed when the listener closes), `localhost:0`
    /// for `AF_INET`. `SO_REUSEADDR` is set, as CPython does. Each accepted connection
    /// carries the handshake timeout, and at most the pending limit of them handshake
    /// at once. `AF_PIPE` (an [`Address::Pipe`], or that family in the options, or no
    /// family on Windows) is refused before anything is bound, with an error that
    /// names the address ([crate docs](crate#windows)).
    ///
    /// ```
    /// use mpconn_mio::{Family, Listener, ListenerOptions};
    ///
    /// let options = ListenerOptions::new()
    ///     .family(Family::Inet) // no address: localhost, any free port
    ///     .backlog(1024)
    ///     .authkey(Some(b"secret"));
    /// let listener = Listener::bind_with(None, &options)?;
    /// assert_ne!(listener.address().to_string(), "localhost:0");
    /// # Ok::<_, mpconn_mio::Error>(())
    /// ```
    pub fn bind_with(
        address: Option<Address>,
        options: &ListenerOptions,
    ) -> Result<Listener, Error> {
        let Bound {
            listener,
            address,
            cleanup,
        } = mpconn_net::bind(address, options)?;
        let raw =
            RawListener::new(listener).map_err(|e| Error::io(During::Bind, e).at(&address))?;
        Ok(Listener {
            raw: Some(SharedListener::new(raw)),
            address,
            last_accepted: None,
            authkey: options.authkey.clone(),
            handshake: options.handshake_config.clone(),
            handshake_timeout: options.handshake_timeout,
            gate: Gate::new(options.pending_limit),
            cleanup,
        })
    }

    /// The next client waiting, if any (`Ok(None)`: none now; wait for the next readable
    /// event). Its handshake has started: the challenge is written if the socket takes it.
    ///
    /// An `Err` concerns one client ([`Error::is_client_failure`]) or is a passing OS
    /// condition such as running out of file descriptors ([`Error::Accept`]): the
    /// listener goes on, so keep calling until `Ok(None)`. [`Error::ListenerClosed`]
    /// after [`close`](Self::close). `Ok(None)` also when
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
                    self.last_accepted = Some(peer.clone());
                    let mut connection = Connection::server(
                        stream,
                        self.authkey.as_ref().map(AuthKey::as_bytes),
                        &self.handshake,
                    );
                    if let Some(slot) = slot {
                        connection.hold(slot);
                        connection.set_handshake_timeout(self.handshake_timeout);
                    }
                    connection.accepted(peer, self.address.clone());
                    connection.flush()?;
                    return Ok(Some(connection));
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return Ok(None),
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => return Err(mpconn_net::accept_error(error, &self.address)),
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

impl Delegate for Listener {
    fn inner(&mut self) -> io::Result<&mut dyn Source> {
        self.raw
            .as_mut()
            .map(|raw| raw as &mut dyn Source)
            .ok_or_else(closed)
    }

    /// Tells the pending gate where the listening socket is registered, so that a
    /// freed place can renew it.
    fn registered(
        &mut self,
        registry: &Registry,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        let listener = self.raw.as_ref().ok_or_else(closed)?;
        self.gate.registered(registry, listener, token, interests)
    }

    fn deregistering(&mut self) {
        self.gate.unregistered();
    }
}

/// What registering a closed listener fails with.
fn closed() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, Error::ListenerClosed)
}
