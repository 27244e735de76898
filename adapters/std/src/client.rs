//! The connecting side (CPython's `multiprocessing.connection.Client`).

use std::time::Instant;

use mpconn_net::{ClientOptions, Connected};

use crate::address::Address;
use crate::connection::Connection;
use crate::stream::Stream;
use crate::Result;

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
    /// Connects to `address` and, with an authkey, runs the handshake; no timeout
    /// (see [`connect_with`](Self::connect_with)).
    pub fn connect(address: &Address, authkey: Option<&[u8]>) -> Result<Connection> {
        Client::connect_with(address, &ClientOptions::new().authkey(authkey))
    }

    /// Connects to `address` with `options` and, with an authkey, runs the handshake.
    /// The options' timeout bounds both (also the wait for room in a full Unix
    /// backlog); every address a host resolves to is tried, IPv4 first.
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use mpconn_std::{Client, ClientOptions};
    ///
    /// let address = "localhost:6000".parse()?;
    /// let options = ClientOptions::new()
    ///     .authkey(Some(b"secret"))
    ///     .timeout(Some(Duration::from_secs(5)));
    /// let conn = Client::connect_with(&address, &options)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn connect_with(address: &Address, options: &ClientOptions) -> Result<Connection> {
        let deadline = options
            .timeout
            .and_then(|timeout| Instant::now().checked_add(timeout));
        let stream = match mpconn_net::connect(address, options, deadline)? {
            Connected::Tcp(stream) => Stream::Tcp(stream),
            Connected::Unix(stream) => Stream::Unix(stream),
        };
        Connection::open(
            stream,
            mpconn::Role::Client,
            options.authkey.as_ref(),
            &options.handshake_config,
            deadline,
        )
        .map_err(|e| e.at(address))
    }
}
