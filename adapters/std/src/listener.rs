//! The listening side (CPython's `multiprocessing.connection.Listener`).

use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::time::{Duration, Instant};

use mpconn::{AuthKey, HandshakeConfig};
use mpconn_net::{Bound, During, ListenerOptions, Listening, SocketCleanup};

use crate::address::Address;
use crate::connection::Connection;
use crate::stream::{retry_interrupted, Stream};
use crate::{Error, Result};

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
    socket: Option<Listening>,
    address: Address,
    authkey: Option<AuthKey>,
    handshake_timeout: Option<Duration>,
    handshake: HandshakeConfig,
    last_accepted: Option<Address>,
    /// Removed on close: the socket file, and the private directory made for it.
    cleanup: SocketCleanup,
}

impl Listener {
    /// Binds with the default [`ListenerOptions`] (a backlog of 128, a 20 s handshake
    /// timeout) and `authkey`: on `address`, or on a fresh Unix socket in a private
    /// temporary directory. See [`bind_with`](Self::bind_with) for the rest.
    pub fn bind(address: Option<Address>, authkey: Option<&[u8]>) -> Result<Listener> {
        Listener::bind_with(address, &ListenerOptions::new().authkey(authkey))
    }

    /// Binds and listens on `address`, or on a fresh default address of the options'
    /// family (a `listener-XXXXXXXX` socket in a private 0700 temporary directory for
    /// `AF_UNIX`, `localhost:0` for `AF_INET`), with `SO_REUSEADDR` as CPython. The
    /// options' pending limit does not apply: clients wait in the kernel's backlog
    /// until `accept`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use mpconn_std::{Family, Listener, ListenerOptions};
    ///
    /// let options = ListenerOptions::new()
    ///     .family(Family::Inet) // no address: localhost, any free port
    ///     .backlog(16)
    ///     .authkey(Some(b"secret"))
    ///     .handshake_timeout(Some(Duration::from_secs(5)));
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
        Ok(Listener {
            socket: Some(listener),
            address,
            authkey: options.authkey.clone(),
            handshake_timeout: options.handshake_timeout,
            handshake: options.handshake_config.clone(),
            last_accepted: None,
            cleanup,
        })
    }

    /// Accepts the next connection and, with an authkey, runs the handshake on it.
    ///
    /// A failed handshake ([`Error::is_authentication`]), a client that closes during
    /// it, or one that outlasts the handshake timeout ([`Error::is_timeout`]) is an
    /// error for this call only; the next `accept` serves the next client.
    pub fn accept(&mut self) -> Result<Connection> {
        let socket = self.socket.as_ref().ok_or(Error::ListenerClosed)?;
        let failed = |e: io::Error| Error::io(During::Accept, e).at(&self.address);
        let (stream, peer) = match socket {
            Listening::Tcp(listener) => {
                let (stream, peer) = retry_interrupted(|| listener.accept()).map_err(failed)?;
                mpconn_net::set_up_tcp(&stream).map_err(failed)?;
                (Stream::Tcp(stream), Address::from(peer))
            }
            Listening::Unix(listener) => {
                let (stream, peer) = retry_interrupted(|| listener.accept()).map_err(failed)?;
                (Stream::Unix(stream), Address::from(&peer))
            }
        };
        let deadline = self
            .handshake_timeout
            .and_then(|timeout| Instant::now().checked_add(timeout));
        let opened = Connection::open(
            stream,
            mpconn::Role::Server,
            self.authkey.as_ref(),
            &self.handshake,
            deadline,
        );
        // An unnamed Unix client has no address to show: name the listener's.
        let unnamed = peer.path().is_some_and(|p| p.as_os_str().is_empty());
        let opened = opened.map_err(|e| e.at(if unnamed { &self.address } else { &peer }));
        self.last_accepted = Some(peer);
        opened
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
        Ok(self.socket.as_ref().ok_or(Error::ListenerClosed)?.as_fd())
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
