//! Connecting to a listener: CPython's `Client(address, authkey=...)`.

use std::time::{Duration, Instant};

use mpconn::{AuthKey, HandshakeConfig};
use mpconn_std::Address;

use crate::listener::DEFAULT_HANDSHAKE_TIMEOUT;
use crate::{socket, Connection, Error};

/// CPython's `multiprocessing.connection.Client`, async.
///
/// ```no_run
/// # async fn demo() -> Result<(), mpconn_tokio::Error> {
/// use mpconn_std::Address;
/// use mpconn_tokio::Client;
///
/// let address: Address = "localhost:6000".parse().unwrap();
/// let mut connection = Client::connect(&address, Some(b"secret")).await?;
/// connection.send_bytes(b"hello").await?;
/// let reply = connection.recv_bytes(None).await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Client;

impl Client {
    /// Connects and, with an authkey, runs the client's side of the handshake; `None`
    /// means no handshake, as in CPython. No connect timeout, and a 20 s handshake
    /// timeout: see [`ClientOptions`].
    pub async fn connect(address: &Address, authkey: Option<&[u8]>) -> Result<Connection, Error> {
        ClientOptions::new().authkey(authkey).connect(address).await
    }
}

/// Options for [`Client`]: an authkey, a timeout, the handshake's configuration. The
/// same names as `mpconn_std::ClientOptions`.
///
/// ```no_run
/// # async fn demo() -> Result<(), mpconn_tokio::Error> {
/// use std::time::{Duration, Instant};
/// use mpconn::HandshakeConfig;
/// use mpconn_tokio::ClientOptions;
///
/// let address = "/tmp/app.sock".parse().unwrap();
/// let connection = ClientOptions::new()
///     .authkey(Some(b"secret"))
///     .timeout(Some(Duration::from_secs(5)))
///     .handshake_config(HandshakeConfig::default().refuse_md5(true))
///     .connect(&address)
///     .await?;
/// # Ok(()) }
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
    /// No authkey, no connect timeout, a 20 s handshake timeout
    /// ([`DEFAULT_HANDSHAKE_TIMEOUT`]), CPython 3.12's handshake.
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

    /// A bound on connecting and the handshake together (default: none, as CPython);
    /// past it, connecting fails with [`Error::ConnectTimeout`].
    pub fn timeout(mut self, timeout: Option<Duration>) -> Self {
        self.timeout = timeout;
        self
    }

    /// How long the handshake may take once connected (default 20 s; `None`: forever,
    /// as CPython). A CPython listener without an authkey never sends a challenge and
    /// waits for a message while a client with a key waits for the challenge: when
    /// nothing at all arrives in time the error is [`Error::NoChallenge`], otherwise
    /// [`Error::HandshakeTimeout`]. [`timeout`](Self::timeout), when shorter, still
    /// bounds the whole.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), mpconn_tokio::Error> {
    /// use std::time::{Duration, Instant};
    /// use mpconn_tokio::{ClientOptions, Error};
    ///
    /// let address = "localhost:6000".parse().unwrap();
    /// let options = ClientOptions::new()
    ///     .authkey(Some(b"secret"))
    ///     .handshake_timeout(Some(Duration::from_secs(2)));
    /// match options.connect(&address).await {
    ///     Err(e @ Error::NoChallenge { .. }) => eprintln!("{e}"),
    ///     other => drop(other?),
    /// }
    /// # Ok(()) }
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

    /// Connects and authenticates; see [`Client::connect`].
    pub async fn connect(&self, address: &Address) -> Result<Connection, Error> {
        let attempt = async {
            let stream = socket::connect(address).await?;
            let authkey = self.authkey.as_ref().map(AuthKey::as_bytes);
            let (Some(_), Some(after)) = (authkey, self.handshake_timeout) else {
                return Connection::client(stream, authkey, &self.handshake).await;
            };
            // A keyed listener speaks first, with its challenge: silence until the
            // timeout means it most likely has no key.
            let started = Instant::now();
            match tokio::time::timeout(after, stream.readable()).await {
                Ok(readable) => readable?,
                Err(_) => return Err(Error::NoChallenge { after }),
            }
            let left = after.saturating_sub(started.elapsed());
            tokio::time::timeout(left, Connection::client(stream, authkey, &self.handshake))
                .await
                .unwrap_or(Err(Error::HandshakeTimeout { after }))
        };
        match self.timeout {
            None => attempt.await,
            Some(after) => tokio::time::timeout(after, attempt)
                .await
                .unwrap_or(Err(Error::ConnectTimeout { after })),
        }
    }
}
