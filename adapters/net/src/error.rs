//! The one error type of every adapter (std, tokio, mio), and its `io::Error` mapping.

use std::fmt;
use std::io;

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
    /// An address that cannot be parsed or used here.
    Address(AddressError),
    /// A value could not be pickled, or a message could not be unpickled into the type
    /// asked for.
    #[cfg(feature = "pickle")]
    Pickle(serde_pickle::Error),
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
        if let Error::Io { address, .. } | Error::Timeout { address, .. } = &mut self {
            if address.is_none() {
                *address = Some(at.clone());
            }
        }
        self
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
        matches!(self, Error::Protocol(e) if e.is_authentication())
    }

    /// True when a deadline passed ([`Error::Timeout`]).
    ///
    /// ```
    /// use mpconn_net::{During, Error};
    /// assert!(Error::Timeout { during: During::Connect, address: None }.is_timeout());
    /// ```
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::Timeout { .. })
    }

    /// The core's error, for [`Error::Protocol`].
    ///
    /// ```
    /// let error = mpconn_net::Error::Protocol(mpconn::Error::Closed);
    /// assert_eq!(error.protocol(), Some(&mpconn::Error::Closed));
    /// ```
    pub fn protocol(&self) -> Option<&mpconn::Error> {
        match self {
            Error::Protocol(e) => Some(e),
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
            Error::Address(e) => write!(f, "{e}"),
            #[cfg(feature = "pickle")]
            Error::Pickle(e) => write!(f, "pickle: {e}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            Error::Protocol(e) => Some(e),
            Error::Address(e) => Some(e),
            #[cfg(feature = "pickle")]
            Error::Pickle(e) => Some(e),
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

impl From<mpconn::Error> for Error {
    fn from(error: mpconn::Error) -> Error {
        Error::Protocol(error)
    }
}

impl From<AddressError> for Error {
    fn from(error: AddressError) -> Error {
        Error::Address(error)
    }
}

#[cfg(feature = "pickle")]
impl From<serde_pickle::Error> for Error {
    fn from(error: serde_pickle::Error) -> Error {
        Error::Pickle(error)
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
        mpconn::Error::Authentication(_) => io::ErrorKind::PermissionDenied,
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
            Error::Io { ref source, .. } => source.kind(),
            Error::Address(e) => return e.into(),
            Error::Protocol(ref e) => protocol_error_kind(e),
            Error::BufferTooShort { .. } => io::ErrorKind::InvalidInput,
            Error::Timeout { .. } => io::ErrorKind::TimedOut,
            Error::WrongDirection { .. } => io::ErrorKind::Unsupported,
            Error::ListenerClosed => io::ErrorKind::NotConnected,
            #[cfg(feature = "pickle")]
            Error::Pickle(_) => io::ErrorKind::InvalidData,
        };
        io::Error::new(kind, error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
