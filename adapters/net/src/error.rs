//! The one error type of every adapter (std, tokio, mio), and its `io::Error` mapping.

use std::fmt;
use std::io;
use std::time::Duration;

use crate::address::{Address, AddressError};

/// What was being done when an [`Error::Io`] or an [`Error::Timeout`] happened; it is
/// how their messages start ("connect to /tmp/app.sock: ...").
///
/// ```
/// use mpconn_net::During;
/// assert_eq!(During::Connect.to_string(), "connect");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum During {
    /// Resolving a TCP host name.
    Resolve,
    /// Binding and listening.
    Bind,
    /// Accepting a connection.
    Accept,
    /// Connecting, including a wait for room in a full Unix backlog.
    Connect,
    /// The authentication handshake.
    Handshake,
    /// Sending a message.
    Send,
    /// Receiving a message.
    Receive,
}

impl During {
    /// The words before an address: "connect to", "bind to", ...
    fn with_address(self) -> &'static str {
        match self {
            During::Resolve => "resolve",
            During::Bind => "bind to",
            During::Accept => "accept on",
            During::Connect => "connect to",
            During::Handshake => "authentication handshake with",
            During::Send => "send a message to",
            During::Receive => "receive a message from",
        }
    }

    /// The words after "timed out": "connecting", "receiving a message", ...
    fn gerund(self) -> &'static str {
        match self {
            During::Resolve => "resolving",
            During::Bind => "binding",
            During::Accept => "accepting",
            During::Connect => "connecting",
            During::Handshake => "during the authentication handshake",
            During::Send => "sending a message",
            During::Receive => "receiving a message",
        }
    }

    /// The same words with an address after them, as far as they read well.
    fn gerund_with_address(self) -> &'static str {
        match self {
            During::Resolve => "resolving",
            During::Bind => "binding to",
            During::Accept => "accepting on",
            During::Connect => "connecting to",
            During::Handshake => "during the authentication handshake with",
            During::Send => "sending a message to",
            During::Receive => "receiving a message from",
        }
    }
}

impl fmt::Display for During {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            During::Resolve => "resolve",
            During::Bind => "bind",
            During::Accept => "accept",
            During::Connect => "connect",
            During::Handshake => "authentication handshake",
            During::Send => "send a message",
            During::Receive => "receive a message",
        })
    }
}

/// Everything that can go wrong in an adapter: `mpconn_std::Error`,
/// `mpconn_tokio::Error` and `mpconn_mio::Error` are this type.
///
/// The protocol's own errors come from the core unchanged in [`Error::Protocol`]; the
/// helpers ([`is_eof`](Error::is_eof), [`is_authentication`](Error::is_authentication),
/// [`is_timeout`](Error::is_timeout)) answer the questions a Python user would ask with
/// `except EOFError`, `except AuthenticationError` and `except TimeoutError`. An error
/// of the OS or a timeout says during what, and at which address when it is known:
///
/// ```
/// use mpconn_net::{Address, During, Error};
///
/// let error = Error::io(During::Connect, std::io::ErrorKind::NotFound.into())
///     .at(&Address::unix("/tmp/x.sock"));
/// assert_eq!(error.to_string(), "connect to /tmp/x.sock: entity not found");
/// let timeout = Error::Timeout { during: During::Receive, address: None };
/// assert!(timeout.is_timeout());
/// assert_eq!(timeout.to_string(), "timed out receiving a message");
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The operating system refused an operation (bind, connect, read, write, ...).
    Io {
        /// The OS's error.
        source: io::Error,
        /// What was being done, when the adapter knows it.
        during: Option<During>,
        /// The address concerned (bound, connected to, or the peer's), when known.
        address: Option<Address>,
    },
    /// The protocol core rejected what the peer sent, or the peer closed the stream:
    /// end of file between messages ([`mpconn::Error::Closed`], CPython's `EOFError`),
    /// inside one ([`mpconn::Error::UnexpectedEof`]), a failed handshake
    /// ([`mpconn::Error::Authentication`]), a message over the length limit
    /// ([`mpconn::Error::MessageTooLong`], after which the read side is unusable), ...
    Protocol(mpconn::Error),
    /// A client's authentication handshake at a listener failed in the protocol (a
    /// wrong key, a malformed answer, the client closing part-way): the core's error,
    /// as in [`Error::Protocol`], and the client it concerns. Listeners report a failed
    /// client this way ([`Error::of_client`]), so that a log line names it.
    Handshake {
        /// The core's error.
        source: mpconn::Error,
        /// The client's address (the listener's own for a Unix client that did not
        /// bind its socket, which has none to show).
        peer: Address,
    },
    /// `recv_bytes_into` was given a buffer too small for the message (CPython's
    /// `BufferTooShort`). The message was consumed and is here, whole; the connection
    /// stays usable.
    BufferTooShort {
        /// The complete message that did not fit.
        message: Vec<u8>,
    },
    /// A deadline passed: a listener's handshake timeout, a client's connect timeout
    /// (also while a full Unix backlog is waited out), a connection's read or write
    /// timeout; the same in every adapter.
    Timeout {
        /// What was being waited for.
        during: During,
        /// The address concerned, when known.
        address: Option<Address>,
    },
    /// The connection is one-way and this is the wrong way (CPython: "connection is
    /// write-only" / "connection is read-only").
    WrongDirection {
        /// The operation that was refused: `"read"` or `"write"`.
        operation: &'static str,
    },
    /// The listener was closed (CPython: "listener is closed").
    ListenerClosed,
    /// The listening socket's own `accept(2)` failed (out of file descriptors, say): no
    /// client is involved, and the next `accept` is likely to fail the same way until
    /// the condition passes, so a loop should pause rather than spin. Every other error
    /// of a listener's `accept` concerns one client (see
    /// [`is_client_failure`](Error::is_client_failure)); [`accept_error`](crate::accept_error)
    /// tells the two apart.
    Accept {
        /// The OS's error.
        source: io::Error,
        /// The listener's address, when known.
        address: Option<Address>,
    },
    /// A client with an authkey received nothing from the listener within its
    /// handshake timeout ([`ClientOptions::handshake_timeout`](crate::ClientOptions::handshake_timeout)):
    /// the listener most likely has no authkey, and waits for a message while the
    /// client waits for a challenge (CPython's own clients wait forever there,
    /// gh-123736).
    NoChallenge {
        /// The handshake timeout that ran out.
        after: Duration,
        /// The listener's address, when known.
        address: Option<Address>,
    },
    /// A client without an authkey received an authentication challenge
    /// (`#CHALLENGE#`) where it expected a message: the listener has an authkey and
    /// wants this client to prove it holds it. The core finds it
    /// ([`mpconn::Error::AuthkeyWanted`]); it comes out as this variant, which can
    /// name the address.
    AuthkeyWanted {
        /// The listener's address, when known.
        address: Option<Address>,
    },
    /// An address that cannot be parsed or used here.
    Address(AddressError),
    /// A value could not be pickled, or a received message could not be unpickled into
    /// the type asked for (the connection stays usable: the message was whole).
    #[cfg(feature = "pickle")]
    Pickle {
        /// Which way: pickling a value to send, or unpickling a message (its length).
        op: crate::pickle::PickleOp,
        /// The Rust type given or asked for (`std::any::type_name`);
        /// `mpconn::pickle::value::Value` for the dynamic methods.
        type_name: &'static str,
        /// The codec's error: where in the value and which Python type, or what in the
        /// pickle.
        source: mpconn::pickle::SerdeError,
    },
}

/// What the adapters' functions return.
///
/// ```
/// fn parse(s: &str) -> mpconn_net::Result<mpconn_net::Address> {
///     Ok(s.parse()?)
/// }
/// assert!(parse("localhost:6000").is_ok());
/// ```
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An error of the OS during `during`, at no address yet (see [`at`](Self::at)).
    ///
    /// ```
    /// use mpconn_net::{During, Error};
    /// let error = Error::io(During::Send, std::io::ErrorKind::BrokenPipe.into());
    /// assert_eq!(error.to_string(), "send a message: broken pipe");
    /// ```
    pub fn io(during: During, source: io::Error) -> Error {
        Error::Io {
            source,
            during: Some(during),
            address: None,
        }
    }

    /// The same error, naming `address` if it names none yet, as a listener or a
    /// client does for what its connection reports.
    ///
    /// ```
    /// use mpconn_net::{Address, During, Error};
    /// let error = Error::Timeout { during: During::Handshake, address: None };
    /// let error = error.at(&Address::tcp("127.0.0.1", 6000));
    /// assert_eq!(
    ///     error.to_string(),
    ///     "timed out during the authentication handshake with 127.0.0.1:6000"
    /// );
    /// ```
    pub fn at(mut self, at: &Address) -> Error {
        if let Error::Io { address, .. }
        | Error::Timeout { address, .. }
        | Error::Accept { address, .. }
        | Error::NoChallenge { address, .. }
        | Error::AuthkeyWanted { address } = &mut self
        {
            if address.is_none() {
                *address = Some(at.clone());
            }
        }
        self
    }

    /// The same error, as a listener reports it for the client at `peer`: an error of
    /// the protocol becomes [`Error::Handshake`], which names the client, and any
    /// other error names `peer` as [`at`](Self::at) does.
    ///
    /// ```
    /// use mpconn_net::{Address, Error};
    /// let wrong = mpconn::Error::Authentication(mpconn::AuthFailure::WrongDigest);
    /// let error = Error::from(wrong).of_client(&Address::tcp("127.0.0.1", 50000));
    /// assert!(error.is_authentication());
    /// assert!(error.to_string().starts_with("authentication handshake with 127.0.0.1:50000: "));
    /// ```
    pub fn of_client(self, peer: &Address) -> Error {
        match self {
            Error::Protocol(source) => Error::Handshake {
                source,
                peer: peer.clone(),
            },
            other => other.at(peer),
        }
    }

    /// The same error, saying during what if it does not say yet (an OS error that
    /// came up through `?`).
    ///
    /// ```
    /// use mpconn_net::{During, Error};
    /// let error = Error::from(std::io::Error::other("boom")).during(During::Receive);
    /// assert_eq!(error.to_string(), "receive a message: boom");
    /// ```
    pub fn during(mut self, what: During) -> Error {
        if let Error::Io { during, .. } = &mut self {
            during.get_or_insert(what);
        }
        self
    }

    /// Maps a read or write error of a socket with a timeout set: the OS reports an
    /// expired `SO_RCVTIMEO` / `SO_SNDTIMEO` as `WouldBlock` (or `TimedOut`).
    ///
    /// ```
    /// use mpconn_net::{During, Error};
    /// let error = Error::from_timed_io(std::io::ErrorKind::WouldBlock.into(), During::Receive);
    /// assert!(error.is_timeout());
    /// ```
    pub fn from_timed_io(error: io::Error, during: During) -> Error {
        match error.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => Error::Timeout {
                during,
                address: None,
            },
            _ => Error::io(during, error),
        }
    }

    /// True when the peer closed the connection cleanly between messages (CPython's
    /// `EOFError`): the usual way a conversation ends.
    ///
    /// ```
    /// assert!(mpconn_net::Error::Protocol(mpconn::Error::Closed).is_eof());
    /// ```
    pub fn is_eof(&self) -> bool {
        matches!(self, Error::Protocol(mpconn::Error::Closed))
    }

    /// True when the authentication handshake failed (CPython's `AuthenticationError`),
    /// on either side: a wrong digest, a rejected one, or a malformed challenge.
    ///
    /// ```
    /// let failed = mpconn::Error::Authentication(mpconn::AuthFailure::WrongDigest);
    /// assert!(mpconn_net::Error::Protocol(failed).is_authentication());
    /// ```
    pub fn is_authentication(&self) -> bool {
        matches!(self, Error::Protocol(e) | Error::Handshake { source: e, .. } if e.is_authentication())
    }

    /// True when a deadline passed ([`Error::Timeout`], [`Error::NoChallenge`]).
    ///
    /// ```
    /// use mpconn_net::{During, Error};
    /// assert!(Error::Timeout { during: During::Connect, address: None }.is_timeout());
    /// ```
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::Timeout { .. } | Error::NoChallenge { .. })
    }

    /// True unless the error is the listener's own: its `accept(2)` failed
    /// ([`Error::Accept`]) or it is closed ([`Error::ListenerClosed`]). An error of a
    /// listener's `accept` for which this is true concerns one client only (it reset
    /// its connection, failed or outlasted the handshake): call `accept` again at once.
    ///
    /// ```
    /// use std::io;
    /// use mpconn_net::{During, Error};
    ///
    /// let reset = Error::io(During::Accept, io::ErrorKind::ConnectionReset.into());
    /// assert!(reset.is_client_failure());
    /// let out_of_fds = Error::Accept {
    ///     source: io::Error::from_raw_os_error(24), // EMFILE
    ///     address: None,
    /// };
    /// assert!(!out_of_fds.is_client_failure());
    /// ```
    pub fn is_client_failure(&self) -> bool {
        !matches!(self, Error::Accept { .. } | Error::ListenerClosed)
    }

    /// The core's error, for [`Error::Protocol`] and [`Error::Handshake`].
    ///
    /// ```
    /// let error = mpconn_net::Error::Protocol(mpconn::Error::Closed);
    /// assert_eq!(error.protocol(), Some(&mpconn::Error::Closed));
    /// ```
    pub fn protocol(&self) -> Option<&mpconn::Error> {
        match self {
            Error::Protocol(e) | Error::Handshake { source: e, .. } => Some(e),
            _ => None,
        }
    }

    /// The OS's error, for [`Error::Io`].
    ///
    /// ```
    /// let error = mpconn_net::Error::from(std::io::Error::from(std::io::ErrorKind::AddrInUse));
    /// assert_eq!(error.io_kind(), Some(std::io::ErrorKind::AddrInUse));
    /// ```
    pub fn io_kind(&self) -> Option<io::ErrorKind> {
        match self {
            Error::Io { source, .. } => Some(source.kind()),
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io {
                source,
                during,
                address,
            } => match (during, address) {
                (Some(during), Some(address)) => {
                    write!(f, "{} {address}: {source}", during.with_address())
                }
                (Some(during), None) => write!(f, "{during}: {source}"),
                (None, Some(address)) => write!(f, "{address}: {source}"),
                (None, None) => write!(f, "{source}"),
            },
            Error::Protocol(e) => write!(f, "{e}"),
            Error::Handshake { source, peer } => {
                write!(f, "{} {peer}: {source}", During::Handshake.with_address())
            }
            Error::BufferTooShort { message } => write!(
                f,
                "buffer too short for a message of {} bytes (the message is in the error)",
                message.len()
            ),
            Error::Timeout {
                during,
                address: Some(address),
            } => write!(f, "timed out {} {address}", during.gerund_with_address()),
            Error::Timeout {
                during,
                address: None,
            } => write!(f, "timed out {}", during.gerund()),
            Error::WrongDirection { operation: "read" } => {
                f.write_str("connection is write-only: it cannot be read from")
            }
            Error::WrongDirection { .. } => {
                f.write_str("connection is read-only: it cannot be written to")
            }
            Error::ListenerClosed => f.write_str("listener is closed"),
            Error::Accept {
                source,
                address: Some(address),
            } => write!(f, "the listener at {address} cannot accept: {source}"),
            Error::Accept {
                source,
                address: None,
            } => write!(f, "the listener cannot accept: {source}"),
            Error::NoChallenge { after, address } => {
                if let Some(address) = address {
                    write!(f, "{address}: ")?;
                }
                write!(
                    f,
                    "no challenge from the listener within {} s: does it have an authkey?",
                    after.as_secs_f64()
                )
            }
            Error::AuthkeyWanted { address } => {
                if let Some(address) = address {
                    write!(f, "{address}: ")?;
                }
                write!(f, "{}", mpconn::Error::AuthkeyWanted)
            }
            Error::Address(e) => write!(f, "{e}"),
            #[cfg(feature = "pickle")]
            Error::Pickle {
                op,
                type_name,
                source,
            } => write!(f, "{op} {type_name}: {source}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } | Error::Accept { source, .. } => Some(source),
            Error::Protocol(e) | Error::Handshake { source: e, .. } => Some(e),
            Error::Address(e) => Some(e),
            #[cfg(feature = "pickle")]
            Error::Pickle { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// An OS error with no context yet; listeners, clients and connections add it
/// ([`Error::during`], [`Error::at`]).
impl From<io::Error> for Error {
    fn from(source: io::Error) -> Error {
        Error::Io {
            source,
            during: None,
            address: None,
        }
    }
}

/// The core's error as [`Error::Protocol`], but for [`mpconn::Error::AuthkeyWanted`],
/// which is [`Error::AuthkeyWanted`] (it can name the address).
impl From<mpconn::Error> for Error {
    fn from(error: mpconn::Error) -> Error {
        match error {
            mpconn::Error::AuthkeyWanted => Error::AuthkeyWanted { address: None },
            error => Error::Protocol(error),
        }
    }
}

impl From<AddressError> for Error {
    fn from(error: AddressError) -> Error {
        Error::Address(error)
    }
}

/// The `io::ErrorKind` a core error maps to, in `From<Error> for io::Error`: end of
/// file is `UnexpectedEof`, authentication `PermissionDenied`, a misuse `Other`, a bad
/// stream `InvalidData`.
///
/// ```
/// use mpconn_net::protocol_error_kind;
/// assert_eq!(
///     protocol_error_kind(&mpconn::Error::Closed),
///     std::io::ErrorKind::UnexpectedEof
/// );
/// ```
pub fn protocol_error_kind(error: &mpconn::Error) -> io::ErrorKind {
    match error {
        mpconn::Error::Closed
        | mpconn::Error::UnexpectedEof { .. }
        | mpconn::Error::HandshakeEof => io::ErrorKind::UnexpectedEof,
        mpconn::Error::Authentication(_) | mpconn::Error::AuthkeyWanted => {
            io::ErrorKind::PermissionDenied
        }
        // Our own side lost its place (a send abandoned part-way): the stream is broken.
        mpconn::Error::OutOfStep => io::ErrorKind::BrokenPipe,
        _ => io::ErrorKind::InvalidData,
    }
}

/// For code that speaks `io::Result`: the kinds follow what the error means (the OS's
/// own kind, end of file `UnexpectedEof`, authentication `PermissionDenied`, a bad
/// stream `InvalidData`, a deadline `TimedOut`), and the error itself is kept as the
/// source. An OS error with no context comes back unchanged.
///
/// ```
/// use mpconn_net::{During, Error};
/// let error = Error::Timeout { during: During::Connect, address: None };
/// assert_eq!(std::io::Error::from(error).kind(), std::io::ErrorKind::TimedOut);
/// ```
impl From<Error> for io::Error {
    fn from(error: Error) -> io::Error {
        let kind = match error {
            Error::Io {
                source,
                during: None,
                address: None,
            } => return source,
            Error::Io { ref source, .. } | Error::Accept { ref source, .. } => source.kind(),
            Error::Address(e) => return e.into(),
            Error::Protocol(ref e) | Error::Handshake { source: ref e, .. } => {
                protocol_error_kind(e)
            }
            Error::BufferTooShort { .. } => io::ErrorKind::InvalidInput,
            Error::Timeout { .. } | Error::NoChallenge { .. } => io::ErrorKind::TimedOut,
            Error::AuthkeyWanted { .. } => io::ErrorKind::PermissionDenied,
            Error::WrongDirection { .. } => io::ErrorKind::Unsupported,
            Error::ListenerClosed => io::ErrorKind::NotConnected,
            #[cfg(feature = "pickle")]
            Error::Pickle {
                op: crate::pickle::PickleOp::Dump,
                ..
            } => io::ErrorKind::InvalidInput,
            #[cfg(feature = "pickle")]
            Error::Pickle { .. } => io::ErrorKind::InvalidData,
        };
        io::Error::new(kind, error)
    }
}

/// An error of `accept(2)` on the listener at `address`: the listening socket's own
/// ([`Error::Accept`]), or one of the errors Linux reports for a client whose
/// connection failed while it waited in the queue (accept(2), "Error handling"), which
/// concern that client only (an [`Error::Io`] during [`During::Accept`]). Every
/// adapter's listener classifies with this, so that a loop can pause after the first
/// kind only ([`Error::is_client_failure`]).
///
/// ```
/// use std::io;
/// use mpconn_net::{accept_error, Address};
///
/// let at = Address::unix("/tmp/app.sock");
/// let reset = accept_error(io::ErrorKind::ConnectionAborted.into(), &at);
/// assert!(reset.is_client_failure());
/// let emfile = accept_error(io::Error::from_raw_os_error(24), &at);
/// assert!(!emfile.is_client_failure());
/// assert!(emfile.to_string().starts_with("the listener at /tmp/app.sock cannot accept: "), "{emfile}");
/// ```
pub fn accept_error(source: io::Error, address: &Address) -> Error {
    // accept(2): "Linux accept() passes already-pending network errors on the new
    // socket as an error code from accept()"; each of these is one client's.
    #[cfg(unix)]
    const CLIENTS_OWN: [i32; 11] = [
        libc::ECONNABORTED,
        libc::ECONNRESET,
        libc::EPROTO,
        libc::ENETDOWN,
        libc::ENOPROTOOPT,
        libc::EHOSTDOWN,
        libc::ENONET,
        libc::EHOSTUNREACH,
        libc::EOPNOTSUPP,
        libc::ENETUNREACH,
        libc::ETIMEDOUT,
    ];
    // Windows: a client that reset or aborted before accept(), or a pipe client that
    // left (the kinds below cover the rest).
    #[cfg(windows)]
    const CLIENTS_OWN: [i32; 4] = [
        10053, // WSAECONNABORTED
        10054, // WSAECONNRESET
        232,   // ERROR_NO_DATA
        109,   // ERROR_BROKEN_PIPE
    ];
    let clients_own = source
        .raw_os_error()
        .is_some_and(|code| CLIENTS_OWN.contains(&code))
        || source.kind() == io::ErrorKind::ConnectionAborted
        || source.kind() == io::ErrorKind::ConnectionReset;
    if clients_own {
        Error::io(During::Accept, source).at(address)
    } else {
        Error::Accept {
            source,
            address: Some(address.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_core_s_authkey_wanted_names_the_address_it_is_given() {
        let error = Error::from(mpconn::Error::AuthkeyWanted).at(&Address::tcp("127.0.0.1", 9));
        assert!(matches!(error, Error::AuthkeyWanted { .. }), "{error:?}");
        assert_eq!(
            error.to_string(),
            "127.0.0.1:9: the listener wants an authkey: it sent an authentication \
             challenge (#CHALLENGE#) where a reply was expected"
        );
        assert_eq!(
            io::Error::from(error).kind(),
            io::ErrorKind::PermissionDenied
        );
    }

    #[test]
    fn no_challenge_is_a_timeout_and_says_what_probably_happened() {
        let error = Error::NoChallenge {
            after: std::time::Duration::from_secs(20),
            address: None,
        };
        assert!(error.is_timeout() && error.is_client_failure());
        assert_eq!(
            error.to_string(),
            "no challenge from the listener within 20 s: does it have an authkey?"
        );
        assert_eq!(io::Error::from(error).kind(), io::ErrorKind::TimedOut);
    }

    #[cfg(unix)]
    #[test]
    fn accept_errors_of_one_client_are_client_failures_and_the_listener_s_are_not() {
        let at = Address::unix("/tmp/x.sock");
        for code in [libc::ECONNABORTED, libc::EPROTO, libc::ETIMEDOUT] {
            let error = accept_error(io::Error::from_raw_os_error(code), &at);
            assert!(error.is_client_failure(), "{error}");
        }
        for code in [libc::EMFILE, libc::ENFILE, libc::ENOBUFS, libc::ENOMEM] {
            let error = accept_error(io::Error::from_raw_os_error(code), &at);
            assert!(matches!(error, Error::Accept { .. }), "{error:?}");
            assert!(!error.is_client_failure());
        }
        assert!(!Error::ListenerClosed.is_client_failure());
    }

    #[test]
    fn eof_between_messages_is_eof_and_maps_to_unexpected_eof() {
        let error = Error::Protocol(mpconn::Error::Closed);
        assert!(error.is_eof());
        assert_eq!(io::Error::from(error).kind(), io::ErrorKind::UnexpectedEof);
        let inside = Error::Protocol(mpconn::Error::UnexpectedEof { received: 3 });
        assert!(!inside.is_eof());
    }

    #[test]
    fn authentication_failures_are_recognised() {
        // The core repeats its first error as it is (no `Failed` wrapper any more).
        let first = mpconn::Error::Authentication(mpconn::AuthFailure::WrongDigest);
        assert!(Error::Protocol(first).is_authentication());
        let timeout = Error::Timeout {
            during: During::Handshake,
            address: None,
        };
        assert!(!timeout.is_authentication());
    }

    #[test]
    fn io_errors_without_context_convert_back_unchanged() {
        let original = io::Error::new(io::ErrorKind::AddrInUse, "taken");
        let back = io::Error::from(Error::from(original));
        assert_eq!(back.kind(), io::ErrorKind::AddrInUse);
        assert_eq!(back.to_string(), "taken");
    }

    #[test]
    fn io_errors_with_context_keep_their_kind_and_name_the_address() {
        let error = Error::io(
            During::Bind,
            io::Error::new(io::ErrorKind::AddrInUse, "taken"),
        )
        .at(&Address::tcp("127.0.0.1", 80));
        assert_eq!(error.to_string(), "bind to 127.0.0.1:80: taken");
        let back = io::Error::from(error);
        assert_eq!(back.kind(), io::ErrorKind::AddrInUse);
        assert_eq!(back.to_string(), "bind to 127.0.0.1:80: taken");
    }

    #[test]
    fn the_first_context_given_is_kept() {
        let error = Error::io(During::Connect, io::ErrorKind::NotFound.into())
            .at(&Address::unix("/a"))
            .at(&Address::unix("/b"))
            .during(During::Receive);
        assert!(error.to_string().starts_with("connect to /a: "), "{error}");
    }
}
