//! The async listener: an accept loop, and each handshake in a task of its own.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use mpconn::{AuthKey, HandshakeConfig};
use mpconn_std::bind::{bind_listening, BoundSocket, SocketCleanup};
use mpconn_std::{Address, Family};
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use tokio::task::{JoinHandle, JoinSet};

use crate::socket::RawListener;
use crate::{Connection, Error, Stream};

/// The default handshake timeout. CPython has none (one silent client stalls its accept
/// loop); 20 s leaves a slow honest client plenty of time.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(20);

/// The default listen backlog: 4096, not CPython's 1.
///
/// CPython accepts and authenticates one client at a time, so a longer queue would only
/// hold clients waiting. This listener's accept loop takes connections off the queue as
/// fast as they come and authenticates them concurrently, and the queue only has to
/// absorb a burst of simultaneous connects.
///
/// Linux clamps a backlog to `net.core.somaxconn`, 4096 by default since 5.4 (128
/// before), so asking for more gains nothing and asking for less is what loses
/// clients: a connect that finds the queue full has its SYN dropped (a retransmit a
/// second or more later) or, with SYN cookies, its final ACK, and such a client
/// believes it is connected while the listener never sees it. 4096 lets 5,000
/// clients connect at once to a listener that drains the queue as it goes, and costs
/// nothing until connections queue: the kernel allocates per queued connection.
pub const DEFAULT_BACKLOG: i32 = 4096;

/// The default bound on connections that are handshaking or waiting for
/// [`Listener::accept`].
pub const DEFAULT_PENDING_LIMIT: usize = 256;

/// How long the accept loop rests after the OS refused an accept (out of file
/// descriptors, say), so that it does not spin while the condition lasts.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// Options for [`Listener`]: what CPython's `Listener(address, family, backlog, authkey)`
/// takes, a handshake timeout CPython does not have, and a bound on clients waiting.
/// The same names as `mpconn_std::ListenerOptions`; only the default backlog differs
/// (see [`DEFAULT_BACKLOG`]).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), mpconn_tokio::Error> {
/// use std::time::Duration;
/// use mpconn_tokio::{Family, ListenerOptions};
///
/// let listener = ListenerOptions::new()
///     .family(Family::Inet) // no address: localhost, any free port
///     .backlog(1024)
///     .authkey(Some(b"secret"))
///     .handshake_timeout(Some(Duration::from_secs(5)))
///     .bind(None)
///     .await?;
/// assert_ne!(listener.address().to_string(), "localhost:0");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct ListenerOptions {
    family: Option<Family>,
    backlog: i32,
    authkey: Option<AuthKey>,
    handshake_timeout: Option<Duration>,
    handshake: HandshakeConfig,
    pending_limit: usize,
}

impl Default for ListenerOptions {
    fn default() -> Self {
        ListenerOptions::new()
    }
}

impl ListenerOptions {
    /// No authkey, [`DEFAULT_BACKLOG`], [`DEFAULT_HANDSHAKE_TIMEOUT`], CPython 3.12's
    /// handshake ([`HandshakeConfig::default`]) and [`DEFAULT_PENDING_LIMIT`].
    pub fn new() -> ListenerOptions {
        ListenerOptions {
            family: None,
            backlog: DEFAULT_BACKLOG,
            authkey: None,
            handshake_timeout: Some(DEFAULT_HANDSHAKE_TIMEOUT),
            handshake: HandshakeConfig::default(),
            pending_limit: DEFAULT_PENDING_LIMIT,
        }
    }

    /// The family of the default address, when [`bind`](Self::bind) gets none
    /// (default: `AF_UNIX`, as CPython on Unix). With an address, a different family is
    /// an error.
    pub fn family(mut self, family: Family) -> Self {
        self.family = Some(family);
        self
    }

    /// The `listen(2)` backlog: how many connections the kernel queues before the
    /// accept loop takes them (see [`DEFAULT_BACKLOG`] for why it is not CPython's 1).
    pub fn backlog(mut self, backlog: i32) -> Self {
        self.backlog = backlog;
        self
    }

    /// The authkey clients must prove they hold (default: none, no handshake). An
    /// empty key is a key: the handshake runs.
    pub fn authkey(mut self, authkey: Option<&[u8]>) -> Self {
        self.authkey = authkey.map(AuthKey::new);
        self
    }

    /// How long a client has to finish the handshake before it is dropped and
    /// [`Listener::accept`] reports [`Error::HandshakeTimeout`] for it (default 20 s;
    /// `None`: forever, as CPython, though a silent client then holds a pending slot
    /// and a file descriptor until it goes away).
    pub fn handshake_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// Digest choices for the handshake (default: CPython 3.12+'s).
    pub fn handshake_config(mut self, config: HandshakeConfig) -> Self {
        self.handshake = config;
        self
    }

    /// At most this many accepted connections are handshaking or waiting for
    /// [`Listener::accept`] at once; beyond it the accept loop waits and new clients
    /// queue in the kernel's backlog. Bounds memory and file descriptors when the
    /// application falls behind. At least 1.
    pub fn pending_limit(mut self, limit: usize) -> Self {
        self.pending_limit = limit.max(1);
        self
    }

    /// Binds and starts listening on `address`, or on a fresh default address of the
    /// family: a `listener-XXXXXXXX` socket in a new private (0700) temporary directory
    /// for `AF_UNIX` (both removed when the listener closes), `localhost:0` for
    /// `AF_INET`. `SO_REUSEADDR` is set, as CPython does.
    ///
    /// Must be called within a tokio runtime: it spawns the accept loop.
    pub async fn bind(&self, address: Option<Address>) -> Result<Listener, Error> {
        let BoundSocket {
            socket,
            address: bound,
            cleanup,
        } = bind_listening(address, self.family, self.backlog)?;
        let raw = RawListener::from_socket(socket, bound.family())?;
        let settings = Arc::new(Settings {
            authkey: self.authkey.clone(),
            handshake: self.handshake.clone(),
            timeout: self.handshake_timeout,
        });
        let (sender, incoming) = mpsc::unbounded_channel();
        let permits = Arc::new(Semaphore::new(self.pending_limit));
        let accept_loop = tokio::spawn(accept_loop(raw, settings, permits, sender));
        Ok(Listener {
            address: bound,
            last_accepted: None,
            incoming,
            accept_loop: Some(accept_loop),
            cleanup,
        })
    }
}

/// What each handshake task needs.
struct Settings {
    authkey: Option<AuthKey>,
    handshake: HandshakeConfig,
    timeout: Option<Duration>,
}

/// One accepted connection, authenticated or not, on its way to [`Listener::accept`].
struct Incoming {
    peer: Option<Address>,
    result: Result<Connection, Error>,
    /// Held until `accept` takes this: counts against the pending limit.
    _permit: OwnedSemaphorePermit,
}

async fn accept_loop(
    raw: RawListener,
    settings: Arc<Settings>,
    permits: Arc<Semaphore>,
    sender: mpsc::UnboundedSender<Incoming>,
) {
    // Dropping this set (when the listener closes and aborts this task) aborts the
    // handshakes still running, and their sockets close.
    let mut handshakes = JoinSet::new();
    loop {
        let Ok(permit) = permits.clone().acquire_owned().await else {
            return;
        };
        let accepted = raw.accept().await;
        while handshakes.try_join_next().is_some() {}
        match accepted {
            Ok((stream, peer)) => {
                handshakes.spawn(handshake_one(
                    stream,
                    peer,
                    settings.clone(),
                    sender.clone(),
                    permit,
                ));
            }
            Err(error) => {
                let incoming = Incoming {
                    peer: None,
                    result: Err(error.into()),
                    _permit: permit,
                };
                if sender.send(incoming).is_err() {
                    return;
                }
                tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
            }
        }
    }
}

async fn handshake_one(
    stream: Stream,
    peer: Address,
    settings: Arc<Settings>,
    sender: mpsc::UnboundedSender<Incoming>,
    permit: OwnedSemaphorePermit,
) {
    let handshake = Connection::server(
        stream,
        settings.authkey.as_ref().map(AuthKey::as_bytes),
        &settings.handshake,
    );
    let result = match settings.timeout {
        None => handshake.await,
        Some(after) => tokio::time::timeout(after, handshake)
            .await
            .unwrap_or(Err(Error::HandshakeTimeout { after })),
    };
    // A closed listener no longer wants it; the connection just closes.
    let _ = sender.send(Incoming {
        peer: Some(peer),
        result,
        _permit: permit,
    });
}

/// An async `multiprocessing.connection.Listener`.
///
/// Clients are accepted by a background task as soon as they connect, and each one's
/// handshake runs in a task of its own under a timeout, so a client that connects and
/// stalls never delays the others: it is dropped when its
/// [`handshake_timeout`](ListenerOptions::handshake_timeout) runs out.
/// [`accept`](Self::accept) returns connections in the order their handshakes finished.
///
/// A client that fails the handshake (wrong key, garbage, timeout) is reported by
/// `accept` as an `Err` for that client only, as CPython's `accept` raises
/// `AuthenticationError`; the listener goes on serving, and the next `accept` returns
/// the next client. Dropping the listener closes it ([`close`](Self::close)).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), mpconn_tokio::Error> {
/// use mpconn_tokio::{Client, Listener};
///
/// let mut listener = Listener::bind(None, Some(b"secret")).await?; // a fresh Unix socket
/// let address = listener.address().clone();
/// let client = tokio::spawn(async move {
///     let mut connection = Client::connect(&address, Some(b"secret")).await?;
///     connection.send_bytes(b"hello").await
/// });
/// let mut connection = listener.accept().await?;
/// assert_eq!(connection.recv_bytes(None).await?, b"hello");
/// client.await.unwrap()?;
/// # Ok(()) }
/// ```
pub struct Listener {
    address: Address,
    last_accepted: Option<Address>,
    incoming: mpsc::UnboundedReceiver<Incoming>,
    accept_loop: Option<JoinHandle<()>>,
    cleanup: SocketCleanup,
}

impl fmt::Debug for Listener {
    // Built by hand so that nothing here could ever print the authkey.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Listener")
            .field("address", &self.address)
            .field("last_accepted", &self.last_accepted)
            .field("closed", &self.accept_loop.is_none())
            .finish_non_exhaustive()
    }
}

impl Listener {
    /// Binds with the default [`ListenerOptions`] and `authkey`; see
    /// [`ListenerOptions::bind`].
    ///
    /// `None` for the address is CPython's default: a fresh `listener-XXXXXXXX` Unix
    /// socket in a private temporary directory. An authkey, even an empty one, means
    /// every client runs the handshake.
    pub async fn bind(address: Option<Address>, authkey: Option<&[u8]>) -> Result<Listener, Error> {
        ListenerOptions::new().authkey(authkey).bind(address).await
    }

    /// The next authenticated connection (CPython's `accept()`).
    ///
    /// `Err` for a client whose handshake failed or timed out (see
    /// [`Error::is_authentication`] and [`Error::HandshakeTimeout`]) or when the OS
    /// refused an accept; the listener keeps serving either way.
    /// [`Error::ListenerClosed`] once the listener is closed.
    ///
    /// Cancel safe: a connection is taken off the queue only when the future completes,
    /// so one dropped in `select!` loses no client.
    pub async fn accept(&mut self) -> Result<Connection, Error> {
        match self.incoming.recv().await {
            Some(incoming) => {
                if incoming.peer.is_some() {
                    self.last_accepted = incoming.peer;
                }
                incoming.result
            }
            None => Err(Error::ListenerClosed),
        }
    }

    /// The address the listener is bound to; for TCP, the IP address and the real port
    /// (what CPython's `address` gives after binding to port 0).
    pub fn address(&self) -> &Address {
        &self.address
    }

    /// The peer address of the client last returned by [`accept`](Self::accept),
    /// including one whose handshake failed (CPython's `last_accepted`). A Unix client
    /// that did not bind its socket has an empty path, as in CPython.
    pub fn last_accepted(&self) -> Option<&Address> {
        self.last_accepted.as_ref()
    }

    /// Stops listening: the accept loop and the handshakes still running stop, clients
    /// not yet accepted are dropped, and a Unix socket file (and the private directory of
    /// a default address) is removed; an abstract name has no file. Idempotent; `Drop`
    /// does the same. Connections already accepted stay open.
    pub fn close(&mut self) {
        if let Some(task) = self.accept_loop.take() {
            task.abort();
        }
        self.incoming.close();
        while self.incoming.try_recv().is_ok() {}
        self.cleanup.run();
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.close();
    }
}
