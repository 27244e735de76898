//! The one error type of the std adapter.

use std::fmt;
use std::io;
use std::time::Duration;

use crate::address::AddressError;

/// Everything that can go wrong in `mpconn-std`.
///
/// The protocol's own errors come from the core unchanged in [`Error::Protocol`]; the
/// helpers ([`is_eof`](Error::is_eof), [`is_authentication`](Error::is_authentication),
/// [`is_timeout`](Error::is_timeout)) answer the questions a Python user would ask with
/// `except EOFError`, `except AuthenticationError` and `except TimeoutError`.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The operating system refused an operation (bind, connect, read, write, ...).
    Io(io::Error),
    /// The protocol core rejected what the peer sent, or the peer closed the stream:
    /// end of file between messages ([`mpconn::Error::Closed`], CPython's `EOFError`),
    /// inside one ([`mpconn::Error::UnexpectedEof`]), a failed handshake
    /// ([`mpconn::Error::Authentication`]), a message over the length limit
    /// ([`mpconn::Error::MessageTooLong`], after which the read side is unusable), ...
    Protocol(mpconn::Error),
    /// [`recv_bytes_into`](crate::Connection::recv_bytes_into) was given a buffer too
    /// small for the message (CPython's `BufferTooShort`). The message was consumed and
    /// is here, whole; the connection stays usable.
    BufferTooShort {
        /// The complete message that did not fit.
        message: Vec<u8>,
    },
    /// A deadline passed: the handshake timeout of a listener, a client's connect
    /// timeout, or a connection's read/write timeout.
    Timeout {
        /// What was being waited for.
        during: &'static str,
    },
    /// The connection is one-way and this is the wrong way (CPython: "connection is
    /// write-only" / "connection is read-only").
    WrongDirection {
        /// The operation that was refused: `"read"` or `"write"`.
        operation: &'static str,
    },
    /// The listener was closed (CPython: "listener is closed").
    ListenerClosed,
    /// The listening socket's own `accept(2)` failed (out of file descriptors, say):
    /// no client is involved, and the next `accept` is likely to fail the same way
    /// until the condition passes, so a loop should pause rather than spin. Every other
    /// error of [`Listener::accept`](crate::Listener::accept) concerns one client (see
    /// [`is_client_failure`](Error::is_client_failure)).
    Accept(io::Error),
    /// A client with an authkey received nothing from the listener within its
    /// handshake timeout: the listener most likely has no authkey, and waits for a
    /// message while the client waits for a challenge (CPython's own clients wait
    /// forever there, gh-123736).
    NoChallenge {
        /// The handshake timeout that ran out.
        after: Duration,
    },
    /// A client without an authkey received an authentication challenge
    /// (`#CHALLENGE#`) where it expected a message: the listener has an authkey and
    /// wants this client to prove it holds it.
    AuthkeyWanted,
    /// An address that cannot be parsed or used here.
    Address(AddressError),
    /// A value could not be pickled, or a message could not be unpickled into the type
    /// asked for.
    #[cfg(feature = "pickle")]
    Pickle(serde_pickle::Error),
}

/// What the adapter's functions return.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// True when the peer closed the connection cleanly between messages (CPython's
    /// `EOFError`): the usual way a conversation ends.
    pub fn is_eof(&self) -> bool {
        matches!(self, Error::Protocol(e) if *e.root() == mpconn::Error::Closed)
    }

    /// True when the authentication handshake failed (CPython's `AuthenticationError`),
    /// on either side: a wrong digest, a rejected one, or a malformed challenge.
    pub fn is_authentication(&self) -> bool {
        matches!(self, Error::Protocol(e) if e.is_authentication())
    }

    /// True when a deadline passed.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::Timeout { .. } | Error::NoChallenge { .. })
    }

    /// True unless the error is the listener's own: its `accept(2)` failed
    /// ([`Error::Accept`]) or it is closed ([`Error::ListenerClosed`]). An error of
    /// [`Listener::accept`](crate::Listener::accept) for which this is true concerns
    /// one client only (it reset its connection, failed or outlasted the handshake):
    /// call `accept` again at once.
    ///
    /// ```
    /// use std::io;
    /// use mpconn_std::Error;
    ///
    /// let reset = Error::Io(io::ErrorKind::ConnectionReset.into());
    /// assert!(reset.is_client_failure());
    /// let out_of_fds = Error::Accept(io::Error::from_raw_os_error(24)); // EMFILE
    /// assert!(!out_of_fds.is_client_failure());
    /// ```
    pub fn is_client_failure(&self) -> bool {
        !matches!(self, Error::Accept(_) | Error::ListenerClosed)
    }

    /// The core's error, for [`Error::Protocol`].
    pub fn protocol(&self) -> Option<&mpconn::Error> {
        match self {
            Error::Protocol(e) => Some(e.root()),
            _ => None,
        }
    }

    /// Maps a read or write error of a socket with a timeout set: the OS reports an
    /// expired `SO_RCVTIMEO` / `SO_SNDTIMEO` as `WouldBlock` (or `TimedOut`).
    pub(crate) fn from_io(error: io::Error, during: &'static str) -> Error {
        match error.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => Error::Timeout { during },
            _ => Error::Io(error),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(e) => write!(f, "{e}"),
            Error::Protocol(e) => write!(f, "{e}"),
            Error::BufferTooShort { message } => write!(
                f,
                "buffer too short for a message of {} bytes (the message is in the error)",
                message.len()
            ),
            Error::Timeout { during } => write!(f, "timed out {during}"),
            Error::WrongDirection { operation: "read" } => {
                f.write_str("connection is write-only: it cannot be read from")
            }
            Error::WrongDirection { .. } => {
                f.write_str("connection is read-only: it cannot be written to")
            }
            Error::ListenerClosed => f.write_str("listener is closed"),
            Error::Accept(e) => write!(f, "accepting a connection: {e}"),
            Error::NoChallenge { after } => write!(
                f,
                "no challenge from the listener within {} s: does it have an authkey?",
                after.as_secs_f64()
            ),
            Error::AuthkeyWanted => f.write_str(
                "the listener wants an authkey: it sent an authentication challenge \
                 (#CHALLENGE#) where a reply was expected",
            ),
            Error::Address(e) => write!(f, "{e}"),
            #[cfg(feature = "pickle")]
            Error::Pickle(e) => write!(f, "pickle: {e}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) | Error::Accept(e) => Some(e),
            Error::Protocol(e) => Some(e),
            Error::Address(e) => Some(e),
            #[cfg(feature = "pickle")]
            Error::Pickle(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(error: io::Error) -> Error {
        Error::Io(error)
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

/// The `io::ErrorKind` a core error maps to, for every adapter's `From<Error> for
/// io::Error`: end of file is `UnexpectedEof`, authentication `PermissionDenied`, a
/// misuse `Other`, a bad stream `InvalidData`.
///
/// ```
/// use mpconn_std::protocol_error_kind;
/// assert_eq!(
///     protocol_error_kind(&mpconn::Error::Closed),
///     std::io::ErrorKind::UnexpectedEof
/// );
/// ```
pub fn protocol_error_kind(error: &mpconn::Error) -> io::ErrorKind {
    match error.root() {
        mpconn::Error::Closed
        | mpconn::Error::UnexpectedEof { .. }
        | mpconn::Error::HandshakeEof => io::ErrorKind::UnexpectedEof,
        mpconn::Error::Authentication(_) => io::ErrorKind::PermissionDenied,
        mpconn::Error::InvalidState(_) => io::ErrorKind::Other,
        _ => io::ErrorKind::InvalidData,
    }
}

/// For code that speaks `io::Result`: the kinds follow what the error means (end of
/// file is `UnexpectedEof`, authentication `PermissionDenied`, a bad stream
/// `InvalidData`, a deadline `TimedOut`), and the error itself is kept as the source.
impl From<Error> for io::Error {
    fn from(error: Error) -> io::Error {
        let kind = match error {
            Error::Io(e) | Error::Accept(e) => return e,
            Error::Address(e) => return e.into(),
            Error::Protocol(ref e) => protocol_error_kind(e),
            Error::BufferTooShort { .. } => io::ErrorKind::InvalidInput,
            Error::Timeout { .. } | Error::NoChallenge { .. } => io::ErrorKind::TimedOut,
            Error::AuthkeyWanted => io::ErrorKind::PermissionDenied,
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
    fn authentication_failures_are_recognised_through_failed() {
        let first = mpconn::Error::Authentication(mpconn::AuthFailure::WrongDigest);
        let again = mpconn::Error::Failed(Box::new(first.clone()));
        assert!(Error::Protocol(first).is_authentication());
        assert!(Error::Protocol(again).is_authentication());
        assert!(!Error::Timeout { during: "x" }.is_authentication());
    }

    #[test]
    fn io_errors_convert_back_unchanged() {
        let original = io::Error::new(io::ErrorKind::AddrInUse, "taken");
        let back = io::Error::from(Error::from(original));
        assert_eq!(back.kind(), io::ErrorKind::AddrInUse);
        assert_eq!(back.to_string(), "taken");
    }
}
