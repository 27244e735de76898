//! The options of a listener and a client: one set of names and defaults for every
//! adapter. They are data; each adapter binds or connects with them
//! (`Listener::bind_with(address, &options)`, `Client::connect_with(&address, &options)`).

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use mpconn::{AuthKey, HandshakeConfig};

use crate::address::Family;

/// How long a listener waits for a client to finish the authentication handshake
/// unless told otherwise. CPython waits forever, so one silent client stalls its
/// accept loop; here it costs at most this.
///
/// ```
/// assert_eq!(mpconn_net::DEFAULT_HANDSHAKE_TIMEOUT.as_secs(), 20);
/// ```
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(20);

/// The default listen backlog: 4096, not CPython's 1.
///
/// CPython's `accept` takes one client off the queue at a time and authenticates it
/// before the next, and with a backlog of 1 a burst of clients overflows the queue at
/// once. Every listener here drains the queue into its handshakes under way (std
/// whenever `accept` runs, tokio and mio as connections arrive), and the queue has to
/// hold what arrives in between.
///
/// Linux clamps a backlog to `net.core.somaxconn`, 4096 by default since 5.4 (128
/// before), so asking for more gains nothing and asking for less is what loses
/// clients: a connect that finds the queue full has its SYN dropped (a retransmit a
/// second or more later) or, with SYN cookies, its final ACK, and such a client
/// believes it is connected while the listener never sees it (with 128, 2 of 5 bursts
/// of 1,000 tokio clients lost hundreds). 4096 lets 5,000 clients connect at once to a
/// listener that drains the queue as it goes, and costs nothing until connections
/// queue: the kernel allocates per queued connection. Over a Unix socket a full
/// backlog is waited out by the client instead (see
/// [`full_backlog_pause`](crate::full_backlog_pause)).
///
/// ```
/// assert_eq!(mpconn_net::DEFAULT_BACKLOG, 4096);
/// ```
pub const DEFAULT_BACKLOG: i32 = 4096;

/// The default bound on clients a listener holds at once, handshaking or finished and
/// waiting for `accept` (std, tokio), or handshaking (mio); past it, new clients wait
/// in the kernel's listen queue.
///
/// ```
/// assert_eq!(mpconn_net::DEFAULT_PENDING_LIMIT, 256);
/// ```
pub const DEFAULT_PENDING_LIMIT: usize = 256;

/// Options for a listener: what CPython's `Listener(address, family, backlog, authkey)`
/// takes, a handshake timeout CPython does not have, and a bound on clients waiting.
///
/// Every adapter reads the same options with the same defaults, and applies every one
/// of them: each listener runs the handshakes of many clients side by side (std in
/// `accept`'s thread, tokio in the background, mio in the caller's event loop), each
/// under its own handshake timeout, at most `pending_limit` at once.
///
/// ```
/// use std::time::Duration;
/// use mpconn_net::{Family, ListenerOptions};
///
/// let options = ListenerOptions::new()
///     .family(Family::Inet) // no address: localhost, any free port
///     .backlog(16)
///     .authkey(Some(b"secret"))
///     .handshake_timeout(Some(Duration::from_secs(5)));
/// assert_eq!(options.backlog, 16);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ListenerOptions {
    /// The family of the default address; see [`family`](Self::family).
    pub family: Option<Family>,
    /// The `listen(2)` backlog; see [`backlog`](Self::backlog).
    pub backlog: i32,
    /// The key clients must prove they hold; see [`authkey`](Self::authkey).
    pub authkey: Option<AuthKey>,
    /// See [`handshake_timeout`](Self::handshake_timeout).
    pub handshake_timeout: Option<Duration>,
    /// See [`handshake_config`](Self::handshake_config).
    pub handshake_config: HandshakeConfig,
    /// See [`pending_limit`](Self::pending_limit).
    pub pending_limit: usize,
}

impl Default for ListenerOptions {
    fn default() -> Self {
        ListenerOptions::new()
    }
}

impl ListenerOptions {
    /// No authkey, [`DEFAULT_BACKLOG`], [`DEFAULT_HANDSHAKE_TIMEOUT`], CPython 3.12's
    /// handshake ([`HandshakeConfig::default`]) and [`DEFAULT_PENDING_LIMIT`].
    ///
    /// ```
    /// let options = mpconn_net::ListenerOptions::new();
    /// assert!(options.authkey.is_none());
    /// ```
    pub fn new() -> ListenerOptions {
        ListenerOptions {
            family: None,
            backlog: DEFAULT_BACKLOG,
            authkey: None,
            handshake_timeout: Some(DEFAULT_HANDSHAKE_TIMEOUT),
            handshake_config: HandshakeConfig::default(),
            pending_limit: DEFAULT_PENDING_LIMIT,
        }
    }

    mpconn::__setters! {
        /// The family of the default address, when binding gets none (default: `AF_UNIX`,
        /// as CPython on Unix). With an address, a different family is an error.
        ///
        /// ```
        /// use mpconn_net::{Family, ListenerOptions};
        /// assert_eq!(ListenerOptions::new().family(Family::Inet).family, Some(Family::Inet));
        /// ```
        family: Family => Some(family);

        /// The `listen(2)` backlog: how many connections the kernel queues before the
        /// listener takes them (default [`DEFAULT_BACKLOG`]).
        ///
        /// ```
        /// assert_eq!(mpconn_net::ListenerOptions::new().backlog(1).backlog, 1);
        /// ```
        backlog: i32;

        /// The authkey clients must prove they hold (default: none, no handshake). An
        /// empty key is a key: the handshake runs.
        ///
        /// ```
        /// let options = mpconn_net::ListenerOptions::new().authkey(Some(b""));
        /// assert!(options.authkey.is_some());
        /// ```
        authkey: Option<&[u8]> => authkey.map(AuthKey::new);

        /// How long each client has, from when it was accepted, to finish the handshake
        /// before the listener gives up on it and reports
        /// [`Error::Timeout`](crate::Error::Timeout) for it (default 20 s; `None`: forever,
        /// as CPython). A client that stays silent or trickles its answer delays nobody
        /// else meanwhile. In mio the event loop owns the clock: it wakes by the
        /// connection's handshake deadline, and the connection's next call fails.
        ///
        /// ```
        /// let options = mpconn_net::ListenerOptions::new().handshake_timeout(None);
        /// assert_eq!(options.handshake_timeout, None);
        /// ```
        handshake_timeout: Option<Duration>;

        /// Digest choices for the handshake (default: CPython 3.12+'s).
        ///
        /// ```
        /// use mpconn_net::{HandshakeConfig, ListenerOptions};
        /// let options = ListenerOptions::new().handshake_config(HandshakeConfig::default());
        /// # let _ = options;
        /// ```
        handshake_config: HandshakeConfig;

        /// At most this many accepted clients are handshaking, or finished and not yet
        /// returned by `accept`, at once (default [`DEFAULT_PENDING_LIMIT`], at least 1);
        /// beyond it new clients wait in the kernel's listen queue. It bounds the memory
        /// and file descriptors that clients which never finish can take. In mio it counts
        /// the connections handed out whose handshake still runs, and `accept` gives
        /// `Ok(None)` at the limit until one ends.
        ///
        /// ```
        /// assert_eq!(mpconn_net::ListenerOptions::new().pending_limit(0).pending_limit, 1);
        /// ```
        pending_limit: usize => pending_limit.max(1);
    }
}

/// A name resolver for [`ClientOptions::resolver`]: a host and a port to the socket
/// addresses to try.
///
/// ```
/// use std::sync::Arc;
/// let fixed: Arc<mpconn_net::Resolve> = Arc::new(|_host, port| {
///     Ok(vec![std::net::SocketAddr::from(([127, 0, 0, 1], port))])
/// });
/// assert_eq!(fixed("anything", 5).unwrap()[0].port(), 5);
/// ```
pub type Resolve = dyn Fn(&str, u16) -> io::Result<Vec<SocketAddr>> + Send + Sync;

/// Options for connecting: CPython's `Client(address, family, authkey)`, plus a
/// timeout and, for tests and custom name services, a resolver.
///
/// The same options with the same defaults in every adapter. The timeout bounds
/// connecting and the handshake together in std and tokio; in mio, where the handshake
/// runs in the caller's event loop, it bounds connecting only. The handshake timeout
/// (20 s by default, which CPython does not have) bounds the handshake in every
/// adapter, so that a client never waits forever by default.
///
/// ```
/// use std::time::Duration;
/// use mpconn_net::ClientOptions;
///
/// let options = ClientOptions::new()
///     .authkey(Some(b"secret"))
///     .timeout(Some(Duration::from_secs(5)));
/// assert_eq!(options.timeout, Some(Duration::from_secs(5)));
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct ClientOptions {
    /// See [`authkey`](Self::authkey).
    pub authkey: Option<AuthKey>,
    /// See [`timeout`](Self::timeout).
    pub timeout: Option<Duration>,
    /// See [`handshake_timeout`](Self::handshake_timeout).
    pub handshake_timeout: Option<Duration>,
    /// See [`handshake_config`](Self::handshake_config).
    pub handshake_config: HandshakeConfig,
    /// See [`resolver`](Self::resolver); `None` is the system's.
    pub resolver: Option<Arc<Resolve>>,
}

impl fmt::Debug for ClientOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientOptions")
            .field("authkey", &self.authkey)
            .field("timeout", &self.timeout)
            .field("handshake_timeout", &self.handshake_timeout)
            .field("handshake_config", &self.handshake_config)
            .field("resolver", &self.resolver.as_ref().map(|_| "custom"))
            .finish()
    }
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions::new()
    }
}

impl ClientOptions {
    /// No authkey and no timeout (CPython's defaults), a 20 s handshake timeout
    /// ([`DEFAULT_HANDSHAKE_TIMEOUT`]), which CPython does not have, the system's
    /// resolver.
    ///
    /// ```
    /// let options = mpconn_net::ClientOptions::new();
    /// assert_eq!(options.timeout, None);
    /// assert_eq!(options.handshake_timeout, Some(mpconn_net::DEFAULT_HANDSHAKE_TIMEOUT));
    /// ```
    pub fn new() -> ClientOptions {
        ClientOptions {
            authkey: None,
            timeout: None,
            handshake_timeout: Some(DEFAULT_HANDSHAKE_TIMEOUT),
            handshake_config: HandshakeConfig::default(),
            resolver: None,
        }
    }

    mpconn::__setters! {
        /// The authkey to prove (default: none, no handshake).
        ///
        /// ```
        /// assert!(mpconn_net::ClientOptions::new().authkey(Some(b"k")).authkey.is_some());
        /// ```
        authkey: Option<&[u8]> => authkey.map(AuthKey::new);

        /// A limit on connecting and the handshake together (default: none, as CPython);
        /// past it, the client fails with [`Error::Timeout`](crate::Error::Timeout). It
        /// also ends the wait for room in a full Unix backlog. The connection's later reads
        /// and writes are not limited by it.
        ///
        /// ```
        /// use std::time::Duration;
        /// let options = mpconn_net::ClientOptions::new().timeout(Some(Duration::from_secs(1)));
        /// assert_eq!(options.timeout, Some(Duration::from_secs(1)));
        /// ```
        timeout: Option<Duration>;

        /// How long the handshake may take once connected (default 20 s,
        /// [`DEFAULT_HANDSHAKE_TIMEOUT`]; `None`: forever, as CPython). A CPython listener
        /// without an authkey never sends a challenge and waits for a message while a
        /// client with a key waits for the challenge: past this timeout that client fails
        /// with [`Error::NoChallenge`](crate::Error::NoChallenge) when nothing at all
        /// arrived, [`Error::Timeout`](crate::Error::Timeout) otherwise.
        /// [`timeout`](Self::timeout), when shorter, still bounds the whole.
        ///
        /// ```
        /// use std::time::Duration;
        /// let options = mpconn_net::ClientOptions::new().handshake_timeout(Some(Duration::from_secs(2)));
        /// assert_eq!(options.handshake_timeout, Some(Duration::from_secs(2)));
        /// ```
        handshake_timeout: Option<Duration>;

        /// Digest choices for the handshake (default: CPython 3.12+'s).
        ///
        /// ```
        /// use mpconn_net::{ClientOptions, HandshakeConfig};
        /// let options = ClientOptions::new().handshake_config(HandshakeConfig::default());
        /// # let _ = options;
        /// ```
        handshake_config: HandshakeConfig;
    }

    /// Resolves TCP host names with `resolve` instead of the system resolver. Its
    /// addresses are tried in order, IPv4 first, until one connects. It may block: the
    /// tokio adapter calls it on a blocking thread.
    ///
    /// ```
    /// use std::net::SocketAddr;
    /// let options = mpconn_net::ClientOptions::new()
    ///     .resolver(|_host: &str, port| Ok(vec![SocketAddr::from(([127, 0, 0, 1], port))]));
    /// assert!(options.resolver.is_some());
    /// ```
    pub fn resolver(
        mut self,
        resolve: impl Fn(&str, u16) -> io::Result<Vec<SocketAddr>> + Send + Sync + 'static,
    ) -> Self {
        self.resolver = Some(Arc::new(resolve));
        self
    }
}
