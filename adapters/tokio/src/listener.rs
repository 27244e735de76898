//! The async listener: an accept loop, and each handshake in a task of its own.

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use mpconn::{AuthKey, HandshakeConfig};
use mpconn_net::{Bound, SocketCleanup};
use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit, Semaphore};
use tokio::task::{JoinHandle, JoinSet};

use crate::socket::RawListener;
use crate::{Address, Connection, During, Error, ListenerOptions, Stream};

/// How long the accept loop rests after the OS refused an accept (out of file
/// descriptors, say), so that it does not spin while the condition lasts.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// What each handshake task needs.
struct Settings {
    authkey: Option<AuthKey>,
    handshake: HandshakeConfig,
    timeout: Option<Duration>,
    /// The listener's, which a report about an unnamed Unix client names.
    address: Address,
}

/// One accepted connection, authenticated or not, on its way to [`Listener::accept`].
struct Incoming {
    peer: Option<Address>,
    result: Result<Connection, Error>,
    /// Held until `accept` takes this: counts against the pending limit.
    _permit: OwnedSemaphorePermit,
}

/// The next client off the listen queue, once the pending limit leaves a place.
async fn next_client(
    raw: &RawListener,
    permits: &Arc<Semaphore>,
) -> Option<(OwnedSemaphorePermit, std::io::Result<(Stream, Address)>)> {
    let permit = permits.clone().acquire_owned().await.ok()?;
    Some((permit, raw.accept().await))
}

/// Accepts until `stop` fires (or its sender is gone), then closes the listening
/// socket and lets the handshakes under way end, each within its timeout; the channel
/// closes when the last one has sent its outcome.
async fn accept_loop(
    raw: RawListener,
    address: Address,
    settings: Arc<Settings>,
    permits: Arc<Semaphore>,
    sender: mpsc::UnboundedSender<Incoming>,
    mut stop: oneshot::Receiver<()>,
) {
    // Dropping this set (when the listener closes and aborts this task) aborts the
    // handshakes still running, and their sockets close.
    let mut handshakes = JoinSet::new();
    loop {
        let (permit, accepted) = tokio::select! {
            biased;
            _ = &mut stop => break,
            next = next_client(&raw, &permits) => match next {
                Some(next) => next,
                None => break,
            },
        };
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
                    result: Err(mpconn_net::accept_error(error, &address)),
                    _permit: permit,
                };
                if sender.send(incoming).is_err() {
                    return;
                }
                tokio::select! {
                    biased;
                    _ = &mut stop => break,
                    () = tokio::time::sleep(ACCEPT_ERROR_PAUSE) => {}
                }
            }
        }
    }
    drop(raw);
    while handshakes.join_next().await.is_some() {}
}

async fn handshake_one(
    stream: Stream,
    peer: Address,
    settings: Arc<Settings>,
    sender: mpsc::UnboundedSender<Incoming>,
    permit: OwnedSemaphorePermit,
) {
    let handshake = Connection::authenticate_stream(
        stream,
        mpconn::Role::Server,
        settings.authkey.as_ref().map(AuthKey::as_bytes),
        &settings.handshake,
    );
    let result = match settings.timeout {
        None => handshake.await,
        Some(after) => tokio::time::timeout(after, handshake)
            .await
            .unwrap_or_else(|_| {
                Err(Error::Timeout {
                    during: During::Handshake,
                    address: None,
                })
            }),
    };
    let result = mpconn_net::handshake_outcome(result, &peer, &settings.address);
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
/// [`handshake_timeout`](mpconn_net::ListenerOptions::handshake_timeout) runs out.
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
    /// Tells the accept loop to stop accepting ([`shutdown`](Listener::shutdown)).
    stop: Option<oneshot::Sender<()>>,
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
    /// [`bind_with`](Self::bind_with).
    ///
    /// `None` for the address is CPython's default: a fresh `listener-XXXXXXXX` Unix
    /// socket in a private temporary directory. An authkey, even an empty one, means
    /// every client runs the handshake.
    pub async fn bind(address: Option<Address>, authkey: Option<&[u8]>) -> Result<Listener, Error> {
        Listener::bind_with(address, &ListenerOptions::new().authkey(authkey)).await
    }

    /// Binds and starts listening on `address`, or on a fresh default address of the
    /// options' family: a `listener-XXXXXXXX` socket in a new private (0700) temporary
    /// directory for `AF_UNIX` (both removed when the listener closes), `localhost:0`
    /// for `AF_INET`. `SO_REUSEADDR` is set, as CPython does. Binding (and resolving a
    /// host name) runs on a blocking thread, off the runtime.
    ///
    /// Every option applies: the backlog (the accept loop drains it at once), the
    /// handshake timeout of each client, and the pending limit on clients handshaking
    /// or waiting for [`accept`](Self::accept). Must be called within a tokio runtime:
    /// it spawns the accept loop.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), mpconn_tokio::Error> {
    /// use std::time::Duration;
    /// use mpconn_tokio::{Family, Listener, ListenerOptions};
    ///
    /// let options = ListenerOptions::new()
    ///     .family(Family::Inet) // no address: localhost, any free port
    ///     .backlog(1024)
    ///     .authkey(Some(b"secret"))
    ///     .handshake_timeout(Some(Duration::from_secs(5)));
    /// let listener = Listener::bind_with(None, &options).await?;
    /// assert_ne!(listener.address().to_string(), "localhost:0");
    /// # Ok(()) }
    /// ```
    pub async fn bind_with(
        address: Option<Address>,
        options: &ListenerOptions,
    ) -> Result<Listener, Error> {
        let to_bind = options.clone();
        let Bound {
            listener,
            address: bound,
            cleanup,
        } = tokio::task::spawn_blocking(move || mpconn_net::bind(address, &to_bind))
            .await
            .map_err(|e| Error::io(During::Bind, std::io::Error::other(e)))??;
        let raw = RawListener::new(listener).map_err(|e| Error::io(During::Bind, e).at(&bound))?;
        let settings = Arc::new(Settings {
            authkey: options.authkey.clone(),
            handshake: options.handshake_config.clone(),
            timeout: options.handshake_timeout,
            address: bound.clone(),
        });
        let (sender, incoming) = mpsc::unbounded_channel();
        let permits = Arc::new(Semaphore::new(options.pending_limit));
        let (stop, stopped) = oneshot::channel();
        let accept_loop = tokio::spawn(accept_loop(
            raw,
            bound.clone(),
            settings,
            permits,
            sender,
            stopped,
        ));
        Ok(Listener {
            address: bound,
            last_accepted: None,
            incoming,
            accept_loop: Some(accept_loop),
            stop: Some(stop),
            cleanup,
        })
    }

    /// The next authenticated connection (CPython's `accept()`).
    ///
    /// `Err` for a client whose handshake failed or timed out (see
    /// [`Error::is_authentication`] and [`Error::is_timeout`]) or when the OS
    /// refused an accept; the listener keeps serving either way.
    /// [`Error::ListenerClosed`] once the listener is closed.
    ///
    /// Cancel safe: a connection is taken off the queue only when the future completes,
    /// so one dropped in `select!` loses no client.
    pub async fn accept(&mut self) -> Result<Connection, Error> {
        match self.incoming.recv().await {
            Some(incoming) => self.hand_over(incoming),
            None => Err(Error::ListenerClosed),
        }
    }

    /// What `accept` returns of one client; it becomes the last accepted.
    fn hand_over(&mut self, incoming: Incoming) -> Result<Connection, Error> {
        if incoming.peer.is_some() {
            self.last_accepted = incoming.peer;
        }
        incoming.result
    }

    /// A graceful shutdown: stops accepting at once (the listening socket closes, and
    /// a Unix socket file is removed, so no new client gets in), lets the handshakes
    /// under way finish or time out (each within its
    /// [`handshake_timeout`](ListenerOptions::handshake_timeout)), and returns every
    /// outcome not yet taken by [`accept`](Self::accept) or the listener's [`Stream`](futures_core::Stream),
    /// in the order the handshakes finished. Then the listener is closed: `accept`
    /// gives [`Error::ListenerClosed`] and the stream ends.
    ///
    /// Cancel safe: a future dropped part-way leaves the listener stopped, and the
    /// outcomes still to come are had from `accept` or the stream, which ends after
    /// the last one.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), mpconn_tokio::Error> {
    /// use futures_util::StreamExt;
    /// use mpconn_tokio::{Client, Listener};
    ///
    /// let mut listener = Listener::bind(None, Some(b"secret")).await?;
    /// let address = listener.address().clone();
    /// let path = address.path().unwrap().to_owned();
    /// let client = tokio::spawn(async move { Client::connect(&address, Some(b"secret")).await });
    /// let mut first = listener.next().await.unwrap()?; // the Stream of connections
    /// let rest = listener.shutdown().await; // none in flight here: nothing left
    /// assert!(rest.is_empty() && !path.exists());
    /// assert!(listener.next().await.is_none());
    /// client.await.unwrap()?.send_bytes(b"bye").await?;
    /// assert_eq!(first.recv_bytes(None).await?, b"bye");
    /// # Ok(()) }
    /// ```
    pub async fn shutdown(&mut self) -> Vec<Result<Connection, Error>> {
        if let Some(stop) = self.stop.take() {
            // Gone only if the loop already ended: nothing to stop.
            let _ = stop.send(());
        }
        self.cleanup.run();
        let mut rest = Vec::new();
        while let Some(incoming) = self.incoming.recv().await {
            rest.push(self.hand_over(incoming));
        }
        self.accept_loop = None;
        rest
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

/// The listener as a [`Stream`](futures_core::Stream) of [`accept`](Listener::accept)
/// results: an item per client, `Err` for one whose handshake failed (the stream goes
/// on) or for the listening socket's own failure ([`Error::Accept`], after which the
/// accept loop pauses 100 ms). It ends (`None`) once the listener is closed, or after
/// the last outcome of a [`shutdown`](Listener::shutdown). Cancel safe, as `accept`.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), mpconn_tokio::Error> {
/// use futures_util::StreamExt;
/// use mpconn_tokio::{Client, Listener};
///
/// let listener = Listener::bind(None, Some(b"secret")).await?;
/// let address = listener.address().clone();
/// for n in 0..3u8 {
///     let address = address.clone();
///     tokio::spawn(async move { Client::connect(&address, Some(b"secret")).await?.send_bytes(&[n]).await });
/// }
/// let mut received: Vec<u8> = Vec::new();
/// let mut connections = listener.take(3);
/// while let Some(connection) = connections.next().await {
///     received.extend(connection?.recv_bytes(None).await?);
/// }
/// received.sort();
/// assert_eq!(received, [0, 1, 2]);
/// # Ok(()) }
/// ```
impl futures_core::Stream for Listener {
    type Item = Result<Connection, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        this.incoming
            .poll_recv(cx)
            .map(|incoming| incoming.map(|incoming| this.hand_over(incoming)))
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.close();
    }
}
