//! The connecting side (CPython's `multiprocessing.connection.Client`).

use std::net::TcpStream;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use mpconn::{AuthKey, HandshakeConfig};
use socket2::{Domain, SockAddr, Socket, Type};

use crate::address::{Address, Family};
use crate::connection::{remaining, Connection};
use crate::error::{Error, Result};
use crate::listener::DEFAULT_HANDSHAKE_TIMEOUT;
use crate::socket::{core, each_resolved, retry_interrupted, unix_sockaddr};
use crate::stream::Stream;

/// Options for connecting: CPython's `Client(address, family, authkey)`, plus a
/// timeout.
///
/// ```no_run
/// use std::time::Duration;
/// use mpconn_std::ClientOptions;
///
/// let address = "localhost:6000".parse()?;
/// let conn = ClientOptions::new()
///     .authkey(Some(b"secret"))
///     .timeout(Some(Duration::from_secs(5)))
///     .connect(&address)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct ClientOptions {
    authkey: Option<AuthKey>,
    timeout: Option<Duration>,
    handshake_timeout: Option<Duration>,
    handshake: HandshakeConfig,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions::new()
    }
}

impl ClientOptions {
    /// No authkey and no connect timeout (CPython's defaults), and a 20 s handshake
    /// timeout ([`DEFAULT_HANDSHAKE_TIMEOUT`]), which CPython does not have.
    pub fn new() -> ClientOptions {
        ClientOptions {
            authkey: None,
            timeout: None,
            handshake_timeout: Some(DEFAULT_HANDSHAKE_TIMEOUT),
            handshake: HandshakeConfig::default(),
        }
    }

    /// The authkey to prove (default: none, no handshake).
    pub fn authkey(mut self, authkey: Option<&[u8]>) -> Self {
        self.authkey = authkey.map(AuthKey::new);
        self
    }

    /// A limit on connecting and the handshake together (default: none, as CPython).
    /// The connection's later reads and writes are not limited by it.
    pub fn timeout(mut self, timeout: Option<Duration>) -> Self {
        self.timeout = timeout;
        self
    }

    /// How long the handshake may take once connected (default 20 s; `None`: forever,
    /// as CPython). A CPython listener without an authkey never sends a challenge and
    /// waits for a message while a client with a key waits for the challenge: past
    /// this timeout that client fails with [`Error::NoChallenge`] rather than waiting
    /// forever. [`timeout`](Self::timeout), when shorter, still bounds the whole.
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use mpconn_std::ClientOptions;
    ///
    /// let address = "localhost:6000".parse()?;
    /// match ClientOptions::new()
    ///     .authkey(Some(b"secret"))
    ///     .handshake_timeout(Some(Duration::from_secs(2)))
    ///     .connect(&address)
    /// {
    ///     Err(e @ mpconn_std::Error::NoChallenge { .. }) => eprintln!("{e}"),
    ///     other => drop(other?),
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn handshake_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// Digest choices for the handshake (default: CPython 3.12+'s).
    pub fn handshake_config(mut self, config: HandshakeConfig) -> Self {
        self.handshake = config;
        self
    }

    /// Connects to `address` and, with an authkey, runs the handshake.
    pub fn connect(&self, address: &Address) -> Result<Connection> {
        let deadline = self
            .timeout
            .and_then(|timeout| Instant::now().checked_add(timeout));
        let connect = |domain: Domain, addr: &SockAddr| -> Result<Socket> {
            let socket = Socket::new(domain, Type::STREAM, None)?;
            match deadline {
                None => retry_interrupted(|| socket.connect(addr))?,
                Some(_) => socket
                    .connect_timeout(addr, remaining(deadline, "connecting")?)
                    .map_err(|e| Error::from_io(e, "connecting"))?,
            }
            Ok(socket)
        };
        let stream = match address.family() {
            Family::Inet => {
                let socket = each_resolved(address, |addr| connect(addr.domain(), &addr))?;
                let stream = TcpStream::from(OwnedFd::from(socket));
                stream.set_nodelay(true)?;
                Stream::Tcp(stream)
            }
            Family::Unix => {
                let socket = connect(Domain::UNIX, &unix_sockaddr(address)?)?;
                Stream::Unix(UnixStream::from(OwnedFd::from(socket)))
            }
        };
        let core = core(
            mpconn::Role::Client,
            self.authkey.as_ref().map(AuthKey::as_bytes),
            &self.handshake,
        );
        let mut connection = Connection::new(stream, core);
        if self.authkey.is_none() {
            connection.refuse_a_challenge_as_first_message();
            return Ok(connection);
        }
        // The limit that runs out first, and how it is named if it does.
        let handshake_deadline = self
            .handshake_timeout
            .and_then(|timeout| Some((Instant::now().checked_add(timeout)?, timeout)));
        let total = deadline.zip(self.timeout);
        let (deadline, after) = match (total, handshake_deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
        .unzip();
        match connection.handshake(deadline) {
            Err(Error::Timeout { .. }) if connection.received_nothing() => {
                Err(Error::NoChallenge {
                    after: after.unwrap_or_default(),
                })
            }
            other => other.map(|()| connection),
        }
    }
}

/// Connecting to a listener (CPython's `multiprocessing.connection.Client`).
///
/// ```no_run
/// let address = "/tmp/app.sock".parse()?;
/// let mut conn = mpconn_std::Client::connect(&address, Some(b"secret"))?;
/// conn.send_bytes(b"hello")?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Client {
    _private: (),
}

impl Client {
    /// Connects to `address` and, with an authkey, runs the handshake: no connect
    /// timeout and a 20 s handshake timeout (see [`ClientOptions`]).
    pub fn connect(address: &Address, authkey: Option<&[u8]>) -> Result<Connection> {
        ClientOptions::new().authkey(authkey).connect(address)
    }
}
