//! Connecting to a listener: CPython's `Client(address, authkey=...)`, non-blocking.

use std::time::Duration;

use mpconn::{AuthKey, HandshakeConfig};
use mpconn_std::Address;

use crate::listener::DEFAULT_HANDSHAKE_TIMEOUT;
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

/// Options for [`Client`]: an authkey, the handshake's configuration and its timeout.
/// The same names as `mpconn_std::ClientOptions`, less the connect timeout.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    authkey: Option<AuthKey>,
    handshake: HandshakeConfig,
    handshake_timeout: Option<Duration>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions::new()
    }
}

impl ClientOptions {
    /// No authkey, CPython 3.12's handshake, a 20 s handshake timeout
    /// ([`DEFAULT_HANDSHAKE_TIMEOUT`]).
    pub fn new() -> ClientOptions {
        ClientOptions {
            authkey: None,
            handshake: HandshakeConfig::default(),
            handshake_timeout: Some(DEFAULT_HANDSHAKE_TIMEOUT),
        }
    }

    /// How long the handshake may take from `connect` (default 20 s; `None`: forever,
    /// as CPython). A CPython listener without an authkey never sends a challenge and
    /// waits for a message while a client with a key waits for the challenge: past
    /// this timeout the connection's calls fail with [`Error::NoChallenge`] when
    /// nothing at all arrived, [`Error::HandshakeTimeout`] otherwise. Poll with a
    /// timeout no later than [`Connection::handshake_deadline`].
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use mpconn_mio::ClientOptions;
    ///
    /// let address = "localhost:6000".parse()?;
    /// let connection = ClientOptions::new()
    ///     .authkey(Some(b"secret"))
    ///     .handshake_timeout(Some(Duration::from_secs(2)))
    ///     .connect(&address)?;
    /// assert!(connection.handshake_deadline().is_some());
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    pub fn handshake_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.handshake_timeout = timeout;
        self
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
        let mut connection = Connection::client(
            stream,
            self.authkey.as_ref().map(AuthKey::as_bytes),
            &self.handshake,
        );
        connection.set_handshake_timeout(self.handshake_timeout);
        Ok(connection)
    }
}
