//! Connecting to a listener: CPython's `Client(address, authkey=...)`, non-blocking.

use std::time::Instant;

use mpconn::AuthKey;

use crate::{socket, Address, ClientOptions, Connection, Error};

/// CPython's `multiprocessing.connection.Client`, for a `mio` event loop.
///
/// `connect` blocks until the socket is connected: it resolves a host name (with the
/// system resolver, or the options' one), tries every address it gives in turn, and
/// waits out a Unix listener's full backlog, as the std adapter does; a
/// [`timeout`](ClientOptions::timeout) bounds all that, and fails with
/// [`Error::Timeout`]. The handshake then completes inside the connection's
/// [`flush`](Connection::flush) and [`recv_bytes`](Connection::recv_bytes) calls as
/// readiness events come (register it for `READABLE | WRITABLE`), under the options'
/// [`handshake_timeout`](ClientOptions::handshake_timeout): the event loop owns its
/// clock and polls with a timeout no later than
/// [`Connection::handshake_deadline`]; past it those calls fail, with
/// [`Error::NoChallenge`] when the listener sent no challenge.
///
/// An [`Address::Pipe`] is refused before anything is opened, with an error that names
/// it: this crate has no `AF_PIPE` ([crate docs](crate#windows)).
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
    /// Connects and starts, with an authkey, the client's side of the handshake;
    /// `None` means no handshake, as in CPython. No connect timeout, and a 20 s
    /// handshake timeout: see [`connect_with`](Self::connect_with).
    pub fn connect(address: &Address, authkey: Option<&[u8]>) -> Result<Connection, Error> {
        Client::connect_with(address, &ClientOptions::new().authkey(authkey))
    }

    /// Connects with `options` and starts the handshake. The options' timeout bounds
    /// connecting only; the handshake runs in the event loop, under the options'
    /// handshake timeout ([`Connection::set_handshake_timeout`]).
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use mpconn_mio::{Client, ClientOptions};
    ///
    /// let address = "/tmp/app.sock".parse()?;
    /// let options = ClientOptions::new()
    ///     .authkey(Some(b"secret"))
    ///     .timeout(Some(Duration::from_secs(5)));
    /// let connection = Client::connect_with(&address, &options)?;
    /// assert!(connection.handshake_deadline().is_some());
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    pub fn connect_with(address: &Address, options: &ClientOptions) -> Result<Connection, Error> {
        let deadline = options
            .timeout
            .and_then(|timeout| Instant::now().checked_add(timeout));
        let stream = socket::connect(address, options, deadline)?;
        let mut connection = Connection::client(
            stream,
            options.authkey.as_ref().map(AuthKey::as_bytes),
            &options.handshake_config,
        );
        connection.set_handshake_timeout(options.handshake_timeout);
        Ok(connection)
    }
}
