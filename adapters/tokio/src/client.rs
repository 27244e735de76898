//! Connecting to a listener: CPython's `Client(address, authkey=...)`.

use std::time::Duration;

use mpconn::{AuthKey, HandshakeConfig};
use mpconn_std::Address;

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
    /// means no handshake, as in CPython. No timeout: see [`ClientOptions`] for one.
    pub async fn connect(address: &Address, authkey: Option<&[u8]>) -> Result<Connection, Error> {
        ClientOptions::new().authkey(authkey).connect(address).await
    }
}

/// Options for [`Client`]: an authkey, a timeout, the handshake's configuration. The
/// same names as `mpconn_std::ClientOptions`.
///
/// ```no_run
/// # async fn demo() -> Result<(), mpconn_tokio::Error> {
/// use std::time::Duration;
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
#[derive(Debug, Clone, Default)]
pub struct ClientOptions {
    authkey: Option<AuthKey>,
    timeout: Option<Duration>,
    handshake: HandshakeConfig,
}

impl ClientOptions {
    /// No authkey, no timeout, CPython 3.12's handshake.
    pub fn new() -> ClientOptions {
        ClientOptions::default()
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

    /// Digest choices for the handshake (default: CPython 3.12+'s).
    pub fn handshake_config(mut self, config: HandshakeConfig) -> Self {
        self.handshake = config;
        self
    }

    /// Connects and authenticates; see [`Client::connect`].
    pub async fn connect(&self, address: &Address) -> Result<Connection, Error> {
        let attempt = async {
            let stream = socket::connect(address).await?;
            Connection::client(
                stream,
                self.authkey.as_ref().map(AuthKey::as_bytes),
                &self.handshake,
            )
            .await
        };
        match self.timeout {
            None => attempt.await,
            Some(after) => tokio::time::timeout(after, attempt)
                .await
                .unwrap_or(Err(Error::ConnectTimeout { after })),
        }
    }
}
