//! The one error type of the core, and the reasons an authentication can fail.

use core::fmt;

use crate::digest::Digest;

/// Everything that can go wrong in the protocol core.
///
/// Every variant is something a peer (or a caller) did; none of them is a bug in this
/// crate. A machine that returned one of these is finished: further input returns
/// [`Error::Failed`]-wrapped copies of the first error rather than guessing at a stream
/// that is out of step.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The peer declared a message longer than the limit in force
    /// (CPython: `OSError("bad message length")`). The payload was not consumed, so the
    /// read side is out of step and unusable from now on.
    MessageTooLong {
        /// The length the header declared.
        len: u64,
        /// The limit in force for this read.
        max: u64,
    },
    /// A 32-bit length header that is negative but not -1. CPython never sends one
    /// (PROTOCOL.md section 1), so it is treated as a corrupt stream.
    NegativeLength(i32),
    /// The peer closed the stream part-way through a message
    /// (CPython: `OSError("got end of file during message")`).
    UnexpectedEof {
        /// Bytes of the frame (header included) received before the end.
        received: u64,
    },
    /// The peer closed the stream cleanly, between two messages (CPython: `EOFError`).
    Closed,
    /// The authentication handshake failed (CPython: `AuthenticationError`).
    Authentication(AuthFailure),
    /// The peer closed the stream before the handshake finished.
    HandshakeEof,
    /// The caller asked for something the current state does not allow, such as
    /// taking a message from a connection whose handshake has not finished.
    InvalidState(&'static str),
    /// This machine already failed with the error inside; it takes no more input.
    Failed(alloc::boxed::Box<Error>),
}

/// Why an authentication handshake failed: which check, on which side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthFailure {
    /// We delivered a challenge and the peer's MAC did not match
    /// (CPython: "digest received was wrong"). The usual cause is a different authkey.
    WrongDigest,
    /// We delivered a challenge and the peer answered with a MAC of the wrong length
    /// for the digest it named.
    DigestLengthMismatch {
        /// The digest the reply named (MD5 for an unprefixed legacy reply).
        digest: Digest,
        /// The length that digest produces.
        expected: usize,
        /// The length the peer sent.
        got: usize,
    },
    /// The peer's message was neither a 16/20-byte legacy message nor `{name}` with a
    /// supported digest name (CPython: "unsupported message length, missing digest
    /// prefix, or unsupported digest").
    UnsupportedMessage,
    /// We answered a challenge and the peer did not send `#WELCOME#`
    /// (CPython: "digest sent was rejected"). The usual cause is a different authkey.
    DigestRejected,
    /// We expected a challenge and the peer sent something that does not start with
    /// `#CHALLENGE#` (CPython: "Protocol error, expected challenge").
    NotAChallenge,
    /// The challenge was shorter than the 20 bytes every CPython sends.
    ChallengeTooShort {
        /// Length of the challenge message (after `#CHALLENGE#`).
        len: usize,
    },
    /// The peer asked for, or answered with, HMAC-MD5 and this side is configured to
    /// refuse MD5 ([`HandshakeConfig::refuse_md5`](crate::HandshakeConfig)).
    Md5Refused,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::MessageTooLong { len, max } => write!(
                f,
                "bad message length: the peer declared {len} bytes, more than the limit of {max}"
            ),
            Error::NegativeLength(n) => write!(
                f,
                "corrupt stream: negative message length {n} in a frame header"
            ),
            Error::UnexpectedEof { received } => write!(
                f,
                "got end of file during message (after {received} bytes of the frame)"
            ),
            Error::Closed => f.write_str("the peer closed the connection"),
            Error::Authentication(why) => write!(f, "authentication failed: {why}"),
            Error::HandshakeEof => {
                f.write_str("the peer closed the connection during the authentication handshake")
            }
            Error::InvalidState(what) => write!(f, "invalid state: {what}"),
            Error::Failed(first) => write!(f, "connection already failed: {first}"),
        }
    }
}

impl fmt::Display for AuthFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthFailure::WrongDigest => {
                f.write_str("digest received was wrong (the peer has a different authkey?)")
            }
            AuthFailure::DigestLengthMismatch {
                digest,
                expected,
                got,
            } => write!(
                f,
                "expected a {} digest of {expected} bytes, got {got} bytes",
                digest.name()
            ),
            AuthFailure::UnsupportedMessage => f.write_str(
                "unsupported message length, missing digest prefix, or unsupported digest",
            ),
            AuthFailure::DigestRejected => {
                f.write_str("digest sent was rejected (the peer has a different authkey?)")
            }
            AuthFailure::NotAChallenge => {
                f.write_str("protocol error: expected a #CHALLENGE# message")
            }
            AuthFailure::ChallengeTooShort { len } => {
                write!(f, "challenge too short: {len} bytes, at least 20 expected")
            }
            AuthFailure::Md5Refused => {
                f.write_str("the peer uses HMAC-MD5, which this side is configured to refuse")
            }
        }
    }
}

impl core::error::Error for Error {}
impl core::error::Error for AuthFailure {}

impl From<AuthFailure> for Error {
    fn from(why: AuthFailure) -> Self {
        Error::Authentication(why)
    }
}

impl Error {
    /// The error itself, looking through [`Error::Failed`].
    pub fn root(&self) -> &Error {
        match self {
            Error::Failed(first) => first.root(),
            other => other,
        }
    }

    /// True when this is an authentication failure (CPython's `AuthenticationError`).
    pub fn is_authentication(&self) -> bool {
        matches!(self.root(), Error::Authentication(_))
    }

    /// Wraps an error for a machine that already failed: later calls report the first
    /// failure without nesting.
    pub(crate) fn again(first: &Error) -> Error {
        match first {
            Error::Failed(_) => first.clone(),
            other => Error::Failed(alloc::boxed::Box::new(other.clone())),
        }
    }
}
