//! What can go wrong reading or writing a pickle, and where.

use alloc::string::String;
use core::fmt;

use super::opcode;

/// Where in the input an unpickling error happened: the offset of the opcode byte
/// and the opcode itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct At {
    /// Offset of the opcode byte from the start of the input.
    pub offset: usize,
    /// The opcode byte being executed (for a pickle cut short, the last one begun).
    pub opcode: u8,
}

impl fmt::Display for At {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match opcode::name(self.opcode) {
            Some(name) => write!(f, "at byte {}, opcode {name}", self.offset),
            None => write!(f, "at byte {}, byte {:#04x}", self.offset, self.opcode),
        }
    }
}

/// Which of the [`Limits`](super::Limits) an input ran into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// [`Limits::max_depth`](super::Limits::max_depth): nesting of the decoded value.
    Depth,
    /// [`Limits::max_items`](super::Limits::max_items): objects and container slots.
    Items,
    /// [`Limits::max_memo`](super::Limits::max_memo): memo entries.
    Memo,
    /// Items a `set(...)`, `bytearray(...)` or `bytes(...)` rebuilt from a shared
    /// argument copied: at most the input's length in all, so that memory follows the
    /// input.
    Copies,
    /// [`Limits::max_expanded`](super::Limits::max_expanded): values the serde
    /// deserializer visits, a shared value once each time it is reached (only in
    /// [`SerdeError::LimitExceeded`](super::SerdeError::LimitExceeded)).
    Expanded,
}

impl Limit {
    /// What the limit counts, for messages.
    pub(crate) fn what(self) -> &'static str {
        match self {
            Limit::Depth => "nesting depth",
            Limit::Items => "number of objects and items",
            Limit::Memo => "number of memo entries",
            Limit::Copies => "items copied by set/bytes/bytearray calls",
            Limit::Expanded => "number of values visited (shared ones each time)",
        }
    }
}

/// Everything that can go wrong in [`loads`](super::loads) and
/// [`dumps`](super::dumps).
///
/// Decoding errors say where ([`At`]), and the global involved when there is one
/// (as `module.name`).
///
/// ```
/// use mpconn::pickle::{self, Error};
/// let err = pickle::loads(b"\x80\x63.").unwrap_err();
/// assert!(matches!(err, Error::UnsupportedProtocol { version: 99, .. }));
/// assert_eq!(err.to_string(), "at byte 0, opcode PROTO: pickle protocol 99 is not supported (0 to 5 are)");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The input ended inside an opcode or before `STOP`.
    Truncated {
        /// The opcode being read when the input ran out.
        at: At,
    },
    /// A byte that is no pickle opcode.
    UnknownOpcode {
        /// Where.
        at: At,
    },
    /// `PROTO` above 5.
    UnsupportedProtocol {
        /// Where.
        at: At,
        /// The protocol asked for.
        version: u8,
    },
    /// `PERSID` / `BINPERSID`: persistent ids need the sender's `persistent_load`.
    PersistentId {
        /// Where.
        at: At,
    },
    /// `NEXT_BUFFER` / `READONLY_BUFFER`: protocol 5 out-of-band buffers, which
    /// travel outside the pickle and are not supported.
    OutOfBandBuffer {
        /// Where.
        at: At,
    },
    /// `EXT1`/`EXT2`/`EXT4`: a `copyreg` extension code, which needs the sender's
    /// extension registry.
    Extension {
        /// Where.
        at: At,
        /// The extension code.
        code: u32,
    },
    /// An opcode needed more on the stack than there was.
    StackUnderflow {
        /// Where.
        at: At,
    },
    /// An opcode that works back to a `MARK` found none.
    NoMark {
        /// Where.
        at: At,
    },
    /// An opcode found an operand of a type it cannot take (`APPEND` to a dict,
    /// `STACK_GLOBAL` of an int, ...).
    WrongType {
        /// Where.
        at: At,
        /// What the opcode takes.
        expected: &'static str,
        /// The Python type found.
        found: &'static str,
        /// The global (`module.name`) of the object involved, if any.
        global: Option<String>,
    },
    /// An opcode's argument is malformed (an `INT` line that is no integer, a string
    /// that is not valid UTF-8, an unquoted `STRING`, ...).
    BadArgument {
        /// Where.
        at: At,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// `GET` of a memo index never `PUT`.
    MemoMissing {
        /// Where.
        at: At,
        /// The index asked for.
        index: u32,
    },
    /// The input exceeds one of the caller's [`Limits`](super::Limits).
    LimitExceeded {
        /// Where (for [`Limit::Depth`], the `STOP` opcode).
        at: At,
        /// Which limit.
        limit: Limit,
        /// Its value.
        max: usize,
    },
    /// A value that no pickle can carry, found while pickling.
    Unpicklable {
        /// Why.
        reason: &'static str,
    },
    /// A [`Value::BackRef`](super::Value::BackRef) with no
    /// [`Value::Recursive`](super::Value::Recursive) of that label before it or around
    /// it, found while pickling.
    DanglingBackRef {
        /// The label.
        label: u32,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Truncated { at } => write!(f, "{at}: the pickle ends too early"),
            Error::UnknownOpcode { at } => write!(f, "{at}: not a pickle opcode"),
            Error::UnsupportedProtocol { at, version } => write!(
                f,
                "{at}: pickle protocol {version} is not supported (0 to 5 are)"
            ),
            Error::PersistentId { at } => write!(
                f,
                "{at}: persistent ids are not supported (they need the sender's persistent_load)"
            ),
            Error::OutOfBandBuffer { at } => write!(
                f,
                "{at}: out-of-band buffers (protocol 5 buffer_callback) are not supported"
            ),
            Error::Extension { at, code } => write!(
                f,
                "{at}: copyreg extension code {code} is not supported (it needs the sender's registry)"
            ),
            Error::StackUnderflow { at } => write!(f, "{at}: the stack is empty"),
            Error::NoMark { at } => write!(f, "{at}: no MARK on the stack"),
            Error::WrongType {
                at,
                expected,
                found,
                global,
            } => {
                write!(f, "{at}: expected {expected}, found {found}")?;
                if let Some(global) = global {
                    write!(f, " ({global})")?;
                }
                Ok(())
            }
            Error::BadArgument { at, reason } => write!(f, "{at}: {reason}"),
            Error::MemoMissing { at, index } => write!(f, "{at}: memo entry {index} is not set"),
            Error::LimitExceeded { at, limit, max } => {
                write!(f, "{at}: the {} exceeds the limit of {max}", limit.what())
            }
            Error::Unpicklable { reason } => write!(f, "cannot pickle: {reason}"),
            Error::DanglingBackRef { label } => write!(
                f,
                "cannot pickle: back-reference {label} has no recursive value labelled {label} before it"
            ),
        }
    }
}

impl core::error::Error for Error {}
