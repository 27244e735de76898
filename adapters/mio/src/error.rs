//! The one error type of the mio adapter.

use std::fmt;
use std::io;
use std::time::Duration;

/// Everything that can go wrong in the mio adapter: the socket or the protocol.
///
/// `WouldBlock` is never one of them: a method that cannot go on without blocking
/// returns what it has (`Ok(None)`, or `Ok(())` with output still queued) and the event
/// loop calls it again on the next readiness event. Protocol errors are the core's
/// [`mpconn::Error`], unchanged.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The socket failed (connect, read, write, bind, accept).
    Io(io::Error),
    /// The peer broke the protocol, failed the handshake or closed the connection.
    Protocol(mpconn::Error),
    /// The listener was closed and accepts no more clients.
    ListenerClosed,
    /// The authentication handshake did not finish within the connection's handshake
    /// timeout ([`ListenerOptions::handshake_timeout`](crate::ListenerOptions::handshake_timeout),
    /// [`ClientOptions::handshake_timeout`](crate::ClientOptions::handshake_timeout)).
    HandshakeTimeout {
        /// The timeout that ran out.
        after: Duration,
    },
    /// A client with an authkey received nothing from the listener within its
    /// handshake timeout: the listener most likely has no authkey, and waits for a
    /// message while the client waits for a challenge (CPython's own clients wait
    /// forever there, gh-123736).
    NoChallenge {
        /// The handshake timeout that ran out.
        after: Duration,
    },
    /// A client without an authkey received an authentication challenge
    /// (`#CHALLENGE#`) as its first message: the listener has an authkey and wants this
    /// client to prove it holds it.
    AuthkeyWanted,
}

impl Error {
    /// True when the peer closed the connection cleanly between two messages (CPython's
    /// `EOFError`).
    pub fn is_eof(&self) -> bool {
        matches!(self, Error::Protocol(error) if *error.root() == mpconn::Error::Closed)
    }

    /// True when the authentication handshake failed (CPython's `AuthenticationError`).
    pub fn is_authentication(&self) -> bool {
        matches!(self, Error::Protocol(error) if error.is_authentication())
    }

    /// True when a handshake timeout ran out ([`Error::HandshakeTimeout`],
    /// [`Error::NoChallenge`]).
    pub fn is_timeout(&self) -> bool {
        matches!(
            self,
            Error::HandshakeTimeout { .. } | Error::NoChallenge { .. }
        )
    }

    /// The core's error (looking through [`mpconn::Error::Failed`]), for
    /// [`Error::Protocol`].
    pub fn protocol(&self) -> Option<&mpconn::Error> {
        match self {
            Error::Protocol(error) => Some(error.root()),
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(error) => write!(f, "I/O error: {error}"),
            Error::Protocol(error) => error.fmt(f),
            Error::ListenerClosed => f.write_str("the listener is closed"),
            Error::HandshakeTimeout { after } => write!(
                f,
                "the peer did not finish the authentication handshake within {after:?}"
            ),
            Error::NoChallenge { after } => write!(
                f,
                "no challenge from the listener within {} s: does it have an authkey?",
                after.as_secs_f64()
            ),
            Error::AuthkeyWanted => f.write_str(
                "the listener wants an authkey: it sent an authentication challenge \
                 (#CHALLENGE#) where a reply was expected",
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(error) => Some(error),
            Error::Protocol(error) => Some(error),
            _ => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(error: io::Error) -> Self {
        Error::Io(error)
    }
}

impl From<mpconn::Error> for Error {
    fn from(error: mpconn::Error) -> Self {
        Error::Protocol(error)
    }
}

impl From<Error> for io::Error {
    fn from(error: Error) -> Self {
        let kind = match error {
            Error::Io(inner) => return inner,
            Error::Protocol(ref inner) => mpconn_std::protocol_error_kind(inner),
            Error::ListenerClosed => io::ErrorKind::NotConnected,
            Error::AuthkeyWanted => io::ErrorKind::PermissionDenied,
            Error::HandshakeTimeout { .. } | Error::NoChallenge { .. } => io::ErrorKind::TimedOut,
        };
        io::Error::new(kind, error)
    }
}
