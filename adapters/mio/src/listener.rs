//! The non-blocking listener.

use std::io;

use mio::event::Source;
use mio::{Interest, Registry, Token};
use mpconn::{AuthKey, HandshakeConfig};
use mpconn_net::{Bound, During, SocketCleanup};

use crate::socket::RawListener;
use crate::{Address, Connection, Error, ListenerOptions};

/// A non-blocking `multiprocessing.connection.Listener` for your own `mio` event loop.
///
/// It implements [`mio::event::Source`]: register it for `Interest::READABLE` and, on
/// each event, call [`accept`](Self::accept) until it returns `Ok(None)`. Each accepted
/// [`Connection`] starts its handshake at once and finishes it inside its own
/// `recv_bytes` / `flush` calls, so many clients authenticate side by side. The loop
/// owns the clock: to give up on a client that stalls, drop a connection that is
/// still [handshaking](Connection::is_handshaking) when your deadline passes (the
/// `echo_loop` example shows how).
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
    raw: Option<RawListener>,
    address: Address,
    last_accepted: Option<Address>,
    authkey: Option<AuthKey>,
    handshake: HandshakeConfig,
    cleanup: SocketCleanup,
}

impl Listener {
    /// Binds with the default [`ListenerOptions`] and `authkey`; see
    /// [`bind_with`](Self::bind_with).
    ///
    /// `None` for the address is CPython's default: a fresh `listener-XXXXXXXX` Unix
    /// socket in a private temporary directory. An authkey, even an empty one, means
    /// every client runs the handshake.
    pub fn bind(address: Option<Address>, authkey: Option<&[u8]>) -> Result<Listener, Error> {
        Listener::bind_with(address, &ListenerOptions::new().authkey(authkey))
    }

    /// Binds and starts listening on `address`, or on a fresh default address of the
    /// options' family: a `listener-XXXXXXXX` socket in a new private (0700) temporary
    /// directory for `AF_UNIX` (both removed when the listener closes), `localhost:0`
    /// for `AF_INET`. `SO_REUSEADDR` is set, as CPython does. The handshake timeout and
    /// the pending limit do not apply here: the event loop owns the clock, and accepts
    /// only as many clients as it asks for.
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
            raw: Some(raw),
            address,
            last_accepted: None,
            authkey: options.authkey.clone(),
            handshake: options.handshake_config.clone(),
            cleanup,
        })
    }

    /// The next client waiting, if any (`Ok(None)`: none now; wait for the next readable
    /// event). Its handshake has started: the challenge is written if the socket takes it.
    ///
    /// An `Err` concerns one client (or a passing OS condition such as running out of
    /// file descriptors): the listener goes on, so keep calling until `Ok(None)`.
    /// [`Error::ListenerClosed`] after [`close`](Self::close).
    pub fn accept(&mut self) -> Result<Option<Connection>, Error> {
        let raw = self.raw.as_ref().ok_or(Error::ListenerClosed)?;
        loop {
            match raw.accept() {
                Ok((stream, peer)) => {
                    self.last_accepted = Some(peer);
                    let mut connection = Connection::server(
                        stream,
                        self.authkey.as_ref().map(AuthKey::as_bytes),
                        &self.handshake,
                    );
                    connection.flush()?;
                    return Ok(Some(connection));
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return Ok(None),
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => return Err(Error::io(During::Accept, error).at(&self.address)),
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
        self.raw_mut()?.register(registry, token, interests)
    }

    fn reregister(
        &mut self,
        registry: &Registry,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        self.raw_mut()?.reregister(registry, token, interests)
    }

    fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
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
