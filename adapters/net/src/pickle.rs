//! The pickling behind every adapter's `send` / `recv` (CPython's `Connection.send(obj)`
//! and `recv()`), written once: one message is one pickle, encoded and decoded by the
//! core's codec ([`mpconn::pickle`]), its failures one [`Error::Pickle`] that says which
//! way it went and which Rust type was involved.
//!
//! The adapters' methods are each a line over their own `send_bytes` / `recv_message`;
//! [`load`] and [`load_value`] read straight from the borrowed message, not a copy.
//!
//! ```
//! use mpconn_net::pickle::{dump, load, Limits, Protocol};
//!
//! let message = dump(&("job", 7u32), Protocol::V2)?; // what Python 2.7 reads
//! let (name, n): (String, u32) = load(&message, &Limits::default())?;
//! assert_eq!((name.as_str(), n), ("job", 7));
//! # Ok::<(), mpconn_net::Error>(())
//! ```

use std::fmt;

use mpconn::pickle::SerdeError;
pub use mpconn::pickle::{Limits, Protocol, Value};
/// The serde traits the adapters' `send` and `recv` take, re-exported so that the
/// adapters need no serde of their own.
pub use serde::{de::DeserializeOwned, Serialize};

use crate::{Error, Result};

/// Which way a pickle failed: a value to send, or a received message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PickleOp {
    /// Pickling a value to send (`pickle.dumps`).
    Dump,
    /// Unpickling a received message of this many bytes (`pickle.loads`).
    Load {
        /// The message's length.
        len: usize,
    },
}

impl fmt::Display for PickleOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PickleOp::Dump => f.write_str("cannot pickle"),
            PickleOp::Load { len } => write!(f, "cannot unpickle a {len}-byte message as"),
        }
    }
}

fn failed<T: ?Sized>(op: PickleOp) -> impl FnOnce(SerdeError) -> Error {
    move |source| Error::Pickle {
        op,
        type_name: std::any::type_name::<T>(),
        source,
    }
}

/// `value` pickled with `protocol`: the message `send(obj)` sends.
///
/// ```
/// use mpconn_net::pickle::{dump, Protocol};
/// assert_eq!(dump(&true, Protocol::V2)?, b"\x80\x02\x88.");
/// # Ok::<(), mpconn_net::Error>(())
/// ```
pub fn dump<T: Serialize + ?Sized>(value: &T, protocol: Protocol) -> Result<Vec<u8>> {
    mpconn::pickle::to_vec_with(value, protocol).map_err(failed::<T>(PickleOp::Dump))
}

/// A dynamic [`Value`] pickled with `protocol`, objects and sharing as they are.
///
/// ```
/// use mpconn_net::pickle::{dump_value, Protocol, Value};
/// let point = Value::tuple(vec![Value::Int(1), Value::Int(2)]);
/// assert_eq!(dump_value(&point, Protocol::V2)?, b"\x80\x02K\x01K\x02\x86.");
/// # Ok::<(), mpconn_net::Error>(())
/// ```
pub fn dump_value(value: &Value, protocol: Protocol) -> Result<Vec<u8>> {
    mpconn::pickle::dumps_with(value, protocol)
        .map_err(|e| failed::<Value>(PickleOp::Dump)(SerdeError::Pickle(e)))
}

/// A received message unpickled into `T`, within `limits`.
///
/// ```
/// use mpconn_net::pickle::{load, Limits};
/// let err = load::<Vec<u8>>(b"}.", &Limits::default()).unwrap_err(); // {}
/// assert_eq!(
///     err.to_string(),
///     "cannot unpickle a 2-byte message as alloc::vec::Vec<u8>: expected a sequence, found Python dict"
/// );
/// ```
pub fn load<T: DeserializeOwned>(message: &[u8], limits: &Limits) -> Result<T> {
    let op = PickleOp::Load { len: message.len() };
    mpconn::pickle::from_slice_with(message, limits).map_err(failed::<T>(op))
}

/// A received message unpickled as a dynamic [`Value`], within `limits`: what
/// CPython sent, tuples, sets, dict order, big ints and objects kept.
///
/// ```
/// use mpconn_net::pickle::{load_value, Limits};
/// let value = load_value(b"\x80\x02K\x01K\x02\x86q\x00.", &Limits::default())?;
/// assert_eq!(value.to_string(), "(1, 2)");
/// # Ok::<(), mpconn_net::Error>(())
/// ```
pub fn load_value(message: &[u8], limits: &Limits) -> Result<Value> {
    let op = PickleOp::Load { len: message.len() };
    mpconn::pickle::loads_with(message, limits)
        .map_err(|e| failed::<Value>(op)(SerdeError::Pickle(e)))
}
