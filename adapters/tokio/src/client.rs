//! Connecting to a listener: CPython's `Client(address, authkey=...)`.

use std::time::Duration;

use mpconn::HandshakeConfig;
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
        ClientOptions::new().connect(address, authkey).await
    }

    /// Options for connecting: a timeout, the handshake's configuration.
    pub fn options() -> ClientOptions {
        ClientOptions::new()
    }
}

/// Options for [`Client`], in the manner of `std::fs::OpenOptions`.
///
/// ```no_run
/// # async fn demo() -> Result<(), mpconn_tokio::Error> {
/// use std::time::Duration;
/// use mpconn::{Digest, HandshakeConfig};
/// use mpconn_tokio::Client;
///
/// let address = "/tmp/app.sock".parse().unwrap();
/// let connection = Client::options()
///     .timeout(Duration::from_secs(5))
///     .handshake(HandshakeConfig::default().refuse_md5(true))
///     .connect(&address, Some(b"secret"))
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default)]
pub struct ClientOptions {
    timeout: Option<Duration>,
    handshake: HandshakeConfig,
}

impl ClientOptions {
    /// No timeout, CPython 3.12's handshake.
    pub fn new() -> ClientOptions {
        ClientOptions::default()
    }

    /// A bound on connecting and the handshake together; past it, connecting fails with
    /// [`Error::ConnectTimeout`].
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// How the handshake is run (digest asked for, legacy challenges, refusing MD5).
    pub fn handshake(mut self, config: HandshakeConfig) -> Self {
        self.handshake = config;
        self
    }

    /// Connects and authenticates; see [`Client::connect`].
    pub async fn connect(
        &self,
        address: &Address,
        authkey: Option<&[u8]>,
    ) -> Result<Connection, Error> {
        let attempt = async {
            let stream = socket::connect(address).await?;
            Connection::client(stream, authkey, &self.handshake).await
        };
        match self.timeout {
            None => attempt.await,
            Some(after) => tokio::time::timeout(after, attempt)
                .await
                .unwrap_or(Err(Error::ConnectTimeout { after })),
        }
    }
}
