//! Connecting to a listener: CPython's `Client(address, authkey=...)`.

use mpconn::AuthKey;
use tokio::time::Instant;

use crate::{socket, Address, ClientOptions, Connection, During, Error};

/// CPython's `multiprocessing.connection.Client`, async.
///
/// ```no_run
/// # async fn demo() -> Result<(), mpconn_tokio::Error> {
/// use mpconn_tokio::{Address, Client};
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
    /// timeout: see [`connect_with`](Self::connect_with).
    pub async fn connect(address: &Address, authkey: Option<&[u8]>) -> Result<Connection, Error> {
        Client::connect_with(address, &ClientOptions::new().authkey(authkey)).await
    }

    /// Connects with `options` and authenticates. A host name is resolved on a blocking
    /// thread (or by the options' resolver, there too), IPv4 first, and every address is
    /// tried in turn; a full Unix backlog is waited out. The options' timeout bounds it
    /// all, handshake included; past it, [`Error::Timeout`]. The handshake timeout
    /// bounds the handshake: a listener that sends nothing in time is
    /// [`Error::NoChallenge`] (it most likely has no authkey).
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), mpconn_tokio::Error> {
    /// use std::time::Duration;
    /// use mpconn_tokio::{Client, ClientOptions, HandshakeConfig};
    ///
    /// let address = "/tmp/app.sock".parse().unwrap();
    /// let options = ClientOptions::new()
    ///     .authkey(Some(b"secret"))
    ///     .timeout(Some(Duration::from_secs(5)))
    ///     .handshake_timeout(Some(Duration::from_secs(2)))
    ///     .handshake_config(HandshakeConfig::default().refuse_md5(true));
    /// let connection = Client::connect_with(&address, &options).await?;
    /// # Ok(()) }
    /// ```
    pub async fn connect_with(
        address: &Address,
        options: &ClientOptions,
    ) -> Result<Connection, Error> {
        let deadline = options
            .timeout
            .and_then(|timeout| Instant::now().checked_add(timeout));
        let timed_out = |during| Error::Timeout {
            during,
            address: Some(address.clone()),
        };
        let connecting = socket::connect(address, options, deadline.map(Instant::into_std));
        let stream = match deadline {
            None => connecting.await?,
            Some(deadline) => tokio::time::timeout_at(deadline, connecting)
                .await
                .map_err(|_| timed_out(During::Connect))??,
        };
        let authkey = options.authkey.as_ref().map(AuthKey::as_bytes);
        // The limit that runs out first, and the timeout that set it.
        let handshake_limit = options
            .handshake_timeout
            .and_then(|after| Some((Instant::now().checked_add(after)?, after)));
        let limit = match (deadline.zip(options.timeout), handshake_limit) {
            (Some(total), Some(handshake)) => Some(total.min(handshake)),
            (total, handshake) => total.or(handshake),
        };
        if let Some((limit, after)) = limit.filter(|_| authkey.is_some()) {
            // A keyed listener speaks first, with its challenge: silence until the
            // limit means it most likely has no key.
            match tokio::time::timeout_at(limit, stream.readable()).await {
                Ok(readable) => {
                    readable.map_err(|e| Error::io(During::Handshake, e).at(address))?
                }
                Err(_) => {
                    return Err(Error::NoChallenge {
                        after,
                        address: Some(address.clone()),
                    })
                }
            }
        }
        let deadline = limit.map(|(limit, _)| limit);
        let handshake = Connection::client(stream, authkey, &options.handshake_config);
        let connection = match deadline {
            None => handshake.await,
            Some(deadline) => tokio::time::timeout_at(deadline, handshake)
                .await
                .unwrap_or_else(|_| Err(timed_out(During::Handshake))),
        };
        connection.map_err(|e| e.at(address))
    }
}
