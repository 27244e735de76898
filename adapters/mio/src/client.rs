//! Connecting to a listener: CPython's `Client(address, authkey=...)`, non-blocking.

use mpconn::{AuthKey, HandshakeConfig};
use mpconn_std::Address;

use crate::{socket, Connection, Error};

/// CPython's `multiprocessing.connection.Client`, for a `mio` event loop.
///
/// `connect` starts the connection and returns at once; the connect and the handshake
/// complete inside the connection's [`flush`](Connection::flush) and
/// [`recv_bytes`](Connection::recv_bytes) calls as readiness events come (register it for
/// `READABLE | WRITABLE`). A TCP connect that fails shows up as an error from one of
/// those calls.
///
/// ```no_run
/// use mio::{Events, Interest, Poll, Token};
/// use mpconn_mio::{Address, Client};
///
/// let address: Address = "localhost:6000".parse()?;
/// let mut connection = Client::connect(&address, Some(b"secret"))?;
/// connection.send_bytes(b"hello")?; // held until the handshake is done
/// let mut poll = Poll::new()?;
/// poll.registry()
///     .register(&mut connection, Token(0), Interest::READABLE | Interest::WRITABLE)?;
/// let mut events = Events::with_capacity(8);
/// let reply = loop {
///     poll.poll(&mut events, None)?;
///     connection.flush()?;
///     if let Some(reply) = connection.recv_bytes(None)? {
///         break reply;
///     }
/// };
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Client;

impl Client {
    /// Starts connecting and, with an authkey, the client's side of the handshake;
    /// `None` means no handshake, as in CPython.
    ///
    /// A TCP host name is resolved by the system resolver, which may block; use an IP
    /// address (or `localhost`) where that matters.
    pub fn connect(address: &Address, authkey: Option<&[u8]>) -> Result<Connection, Error> {
        ClientOptions::new().authkey(authkey).connect(address)
    }
}

/// Options for [`Client`]: an authkey and the handshake's configuration. The same names
/// as `mpconn_std::ClientOptions`, less the timeout: the event loop owns the clock.
#[derive(Debug, Clone, Default)]
pub struct ClientOptions {
    authkey: Option<AuthKey>,
    handshake: HandshakeConfig,
}

impl ClientOptions {
    /// No authkey, CPython 3.12's handshake.
    pub fn new() -> ClientOptions {
        ClientOptions::default()
    }

    /// The authkey to prove (default: none, no handshake).
    pub fn authkey(mut self, authkey: Option<&[u8]>) -> Self {
        self.authkey = authkey.map(AuthKey::new);
        self
    }

    /// Digest choices for the handshake (default: CPython 3.12+'s).
    pub fn handshake_config(mut self, config: HandshakeConfig) -> Self {
        self.handshake = config;
        self
    }

    /// Starts connecting; see [`Client::connect`].
    pub fn connect(&self, address: &Address) -> Result<Connection, Error> {
        let stream = socket::connect(address)?;
        Ok(Connection::client(
            stream,
            self.authkey.as_ref().map(AuthKey::as_bytes),
            &self.handshake,
        ))
    }
}
