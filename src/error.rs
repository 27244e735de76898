//! The errors of the core: [`Error`] (what a peer did, or the end of its stream), the
//! reasons an authentication can fail, and [`Misuse`] (what a caller got wrong).

use core::fmt;

use crate::digest::Digest;

/// Everything that can end a connection in the protocol core.
///
/// Every variant but [`Error::OutOfStep`] is something the peer did (or the end of its
/// stream); none of them is a bug in this crate. A machine that returned one of these
/// is finished: later calls return the same error again (a clone of the first) rather
/// than guess at a stream that is out of step. A caller's own mistakes, such as
/// committing more bytes than it was lent, are [`Misuse`], a separate type.
///
/// ```
/// use mpconn::{Error, Receiver};
///
/// let mut receiver = Receiver::new();
/// receiver.feed(b"\xff\xff\xff\xfe").unwrap(); // i32 -2: no CPython sends that
/// assert_eq!(receiver.next_message().unwrap_err(), Error::NegativeLength(-2));
/// assert_eq!(receiver.next_message().unwrap_err(), Error::NegativeLength(-2)); // again
/// ```
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
    /// (docs/protocol.md section 1), so it is treated as a corrupt stream.
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
    /// This side lost its place in the stream: a message was only partly written
    /// (its [`DirectSend`](crate::DirectSend) was abandoned after an I/O error, or
    /// leaked with `mem::forget`), or the caller reported received bytes the receiver
    /// could not account for ([`Misuse`]). Nothing more can be sent (or received) on
    /// this side: the peer would read garbage.
    OutOfStep,
    /// A client without an authkey received an authentication challenge
    /// (`#CHALLENGE#`, docs/protocol.md section 2) as its first frame, where it expected a
    /// message: the listener has an authkey and wants this client to prove it holds it.
    /// CPython's client would hand the challenge out as if it were the reply.
    AuthkeyWanted,
}

/// A caller's mistake in driving the core, kept apart from [`Error`] (what a peer did):
/// an adapter that sees one has a bug.
///
/// ```
/// use mpconn::{Misuse, Receiver};
///
/// let mut receiver = Receiver::new();
/// assert_eq!(receiver.received(1), Err(Misuse::NothingLent)); // no recv_buf() first
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Misuse {
    /// `received(n)` without a `recv_buf()` just before it (another call came between,
    /// or none was made).
    NothingLent,
    /// `received(n)` reported more bytes than the room `recv_buf()` lent. The receiver
    /// can no longer tell which bytes are the stream's: it is out of step
    /// ([`Error::OutOfStep`] from then on).
    TooManyBytes {
        /// The bytes reported.
        n: usize,
        /// The room that was lent.
        room: usize,
    },
    /// The payload `Vec` lent by `RecvBuf::Payload` did not grow by exactly the `n`
    /// reported (or grew past its limit, or was changed without a `received(n)`). The
    /// receiver is out of step ([`Error::OutOfStep`] from then on).
    PayloadMismatch {
        /// The bytes reported (0 when the `Vec` changed without a report).
        reported: usize,
        /// What the `Vec` grew by (`None`: it shrank).
        grew_by: Option<usize>,
        /// The most it could grow by.
        limit: usize,
    },
    /// `received(n)` with `n > 0` after `received_eof()`: nothing comes after the end.
    AfterEof,
    /// A call of the message transport ([`Transport::Messages`](crate::Transport)) on a
    /// receiver that reads a byte stream.
    NotMessages,
    /// The message ended (`received_message_end`) before the bytes that
    /// `message_remaining` announced had arrived, or more arrived than it announced.
    /// The receiver is out of step ([`Error::OutOfStep`] from then on).
    MessageLengthMismatch {
        /// The bytes announced still to come.
        announced: u64,
        /// The bytes of them received when the message ended.
        received: u64,
    },
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
            Error::OutOfStep => f.write_str(
                "out of step: a message was only partly written or received bytes were \
                 misreported, so the stream can no longer be trusted",
            ),
            Error::AuthkeyWanted => f.write_str(
                "the listener wants an authkey: it sent an authentication challenge \
                 (#CHALLENGE#) where a reply was expected",
            ),
        }
    }
}

impl fmt::Display for Misuse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Misuse::NothingLent => f.write_str("received(n) without recv_buf() right before it"),
            Misuse::TooManyBytes { n, room } => {
                write!(
                    f,
                    "received({n}) reports more than the {room} bytes of room lent"
                )
            }
            Misuse::PayloadMismatch {
                reported,
                grew_by: Some(grew),
                limit,
            } => write!(
                f,
                "received({reported}), but the payload buffer grew by {grew} bytes \
                 (limit {limit})"
            ),
            Misuse::PayloadMismatch {
                reported, limit, ..
            } => write!(
                f,
                "received({reported}), but the payload buffer shrank (limit {limit})"
            ),
            Misuse::AfterEof => f.write_str("received bytes after received_eof()"),
            Misuse::NotMessages => {
                f.write_str("a message-transport call on a receiver of a byte stream")
            }
            Misuse::MessageLengthMismatch {
                announced,
                received,
            } => write!(
                f,
                "the message ended after {received} of the {announced} bytes \
                 message_remaining announced"
            ),
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
impl core::error::Error for Misuse {}

impl From<AuthFailure> for Error {
    fn from(why: AuthFailure) -> Self {
        Error::Authentication(why)
    }
}

impl Error {
    /// True when this is an authentication failure (CPython's `AuthenticationError`).
    ///
    /// ```
    /// use mpconn::{AuthFailure, Error};
    /// assert!(Error::Authentication(AuthFailure::WrongDigest).is_authentication());
    /// assert!(!Error::Closed.is_authentication());
    /// ```
    pub fn is_authentication(&self) -> bool {
        matches!(self, Error::Authentication(_))
    }
}
