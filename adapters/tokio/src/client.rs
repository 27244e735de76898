//! Connecting to a listener: CPython's `Client(address, authkey=...)`.

use mpconn::{AuthKey, Role};
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
        let Some((limit, after)) = limit else {
            let connection = Connection::authenticate_stream(
                stream,
                Role::Client,
                authkey,
                &options.handshake_config,
            )
            .await;
            return connection.map_err(|e| e.at(address));
        };
        // A keyed listener speaks first, with its challenge: silence until the limit
        // means it most likely has no key.
        let mut spoke = authkey.is_none();
        let handshake = async {
            if authkey.is_some() {
                stream
                    .readable()
                    .await
                    .map_err(|e| Error::io(During::Handshake, e))?;
                spoke = true;
            }
            Connection::authenticate_stream(
                stream,
                Role::Client,
                authkey,
                &options.handshake_config,
            )
            .await
        };
        // One timer for the wait for the challenge and the handshake after it: a timer
        // costs the runtime a wheel entry, and the first a wake-up of its driver (an
        // eventfd write), on every connection.
        let connection = match tokio::time::timeout_at(limit, handshake).await {
            Ok(connection) => connection,
            Err(_) if !spoke => {
                return Err(Error::NoChallenge {
                    after,
                    address: Some(address.clone()),
                })
            }
            Err(_) => Err(timed_out(During::Handshake)),
        };
        connection.map_err(|e| e.at(address))
    }
}
