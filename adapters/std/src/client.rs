//! The connecting side (CPython's `multiprocessing.connection.Client`).

use std::time::Instant;

use mpconn_net::{ClientOptions, Connected};

use crate::address::Address;
use crate::connection::Connection;
use crate::stream::Stream;
use crate::{Error, Result};

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
    /// timeout and a 20 s handshake timeout (see [`connect_with`](Self::connect_with)).
    pub fn connect(address: &Address, authkey: Option<&[u8]>) -> Result<Connection> {
        Client::connect_with(address, &ClientOptions::new().authkey(authkey))
    }

    /// Connects to `address` with `options` and, with an authkey, runs the handshake.
    /// The options' timeout bounds both (also the wait for room in a full Unix
    /// backlog); every address a host resolves to is tried, IPv4 first. The handshake
    /// timeout bounds the handshake: a listener that sends no challenge in time is
    /// [`Error::NoChallenge`] (it most likely has no authkey).
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use mpconn_std::{Client, ClientOptions, Error};
    ///
    /// let address = "localhost:6000".parse()?;
    /// let options = ClientOptions::new()
    ///     .authkey(Some(b"secret"))
    ///     .timeout(Some(Duration::from_secs(5)))
    ///     .handshake_timeout(Some(Duration::from_secs(2)));
    /// match Client::connect_with(&address, &options) {
    ///     Err(e @ Error::NoChallenge { .. }) => eprintln!("{e}"),
    ///     other => drop(other?),
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn connect_with(address: &Address, options: &ClientOptions) -> Result<Connection> {
        let deadline = options
            .timeout
            .and_then(|timeout| Instant::now().checked_add(timeout));
        let stream = match mpconn_net::connect(address, options, deadline)? {
            Connected::Tcp(stream) => Stream::Tcp(stream),
            #[cfg(unix)]
            Connected::Unix(stream) => Stream::Unix(stream),
            #[cfg(windows)]
            Connected::Pipe(pipe) => Stream::Pipe(crate::windows::NamedPipe::new(pipe)),
        };
        // The limit that runs out first, and the timeout that set it.
        let handshake_deadline = options
            .handshake_timeout
            .and_then(|after| Some((Instant::now().checked_add(after)?, after)));
        let total = deadline.zip(options.timeout);
        let (deadline, after) = match (total, handshake_deadline) {
            (Some(total), Some(handshake)) => Some(total.min(handshake)),
            (total, handshake) => total.or(handshake),
        }
        .unzip();
        let core = mpconn_net::new_core(
            mpconn::Role::Client,
            options.authkey.as_ref().map(mpconn::AuthKey::as_bytes),
            &options.handshake_config,
        );
        let mut connection = Connection::new(stream, core);
        if options.authkey.is_none() {
            return Ok(connection);
        }
        match connection.handshake(deadline) {
            Ok(()) => Ok(connection),
            Err(e) => Err(match after {
                Some(after) if e.is_timeout() && connection.awaits_challenge() => {
                    Error::NoChallenge {
                        after,
                        address: None,
                    }
                }
                _ => e,
            }
            .at(address)),
        }
    }
}
