//! Python's pickle format, sans-IO: bytes in, [`Value`] out; value in, bytes out.
//!
//! What `multiprocessing.connection.Connection.send(obj)` sends is `pickle.dumps(obj)`
//! in one message, and `recv()` is `pickle.loads` of one. This module is both halves,
//! with no I/O, no `unsafe`, and no code execution: what a pickle would import and
//! call is kept as data ([`Global`], [`Object`]).
//!
//! - [`loads`] / [`loads_with`]: the unpickler, for protocols 0 to 5 as CPython 2.7
//!   and 3.x write them. It never recurses (an explicit stack, and an arena walked
//!   iteratively), keeps within caller-set [`Limits`] with safe defaults, and bounds
//!   memory by a small multiple of the input's length: no input aborts the process.
//!   It refuses, with an [`Error`] that says where, what it cannot do faithfully:
//!   persistent ids, out-of-band buffers, `copyreg` extension codes, protocols above 5.
//! - [`dumps`] / [`dumps_with`]: the pickler, for the [`Protocol`] the peer reads
//!   (2 for Python 2.7; 3, the default, for every CPython 3; up to 5), writing what
//!   CPython writes so that `pickle.loads` rebuilds the same object of the same type.
//! - [`Value`]: the dynamic value, keeping what Python meant (bytes vs bytearray,
//!   tuple vs list, dict order, sets, ints of any size, objects as calls), sharing
//!   what the pickle shares, and cutting cycles into [`Value::Recursive`] /
//!   [`Value::BackRef`]. Dropping, comparing and printing it are iterative too.
//! - [`known`]: accessors and constructors for datetime, date, time, timedelta,
//!   Decimal, UUID, OrderedDict, namedtuples, Enum members and exceptions.
//! - [`to_vec`] / [`from_slice`]: serde on top, for `Serialize`/`Deserialize` types.
//! - `Display` of a [`Value`] is Python's `repr`, and [`parse_literal`] reads a small
//!   Python literal syntax back into a value.
//!
//! # Example
//!
//! ```
//! use mpconn::pickle::{self, Protocol, Value};
//! // What CPython 3 sends for ("job", 7, {"args": [1.5, None]}) (protocol 3):
//! let wire = b"\x80\x03X\x03\x00\x00\x00jobq\x00K\x07}q\x01X\x04\x00\x00\x00argsq\x02]q\x03(G?\xf8\x00\x00\x00\x00\x00\x00Nes\x87q\x04.";
//! let value = pickle::loads(wire).unwrap();
//! assert_eq!(value.to_string(), "('job', 7, {'args': [1.5, None]})");
//! // And back, for a Python 2.7 peer:
//! let bytes = pickle::dumps_with(&value, Protocol::V2).unwrap();
//! assert_eq!(pickle::loads(&bytes).unwrap(), value);
//! ```

mod dump;
mod error;
pub mod known;
mod literal;
mod load;
pub(crate) mod opcode;
mod repr;
mod serde_codec;
mod value;

pub use dump::{dump_into, dumps, dumps_with, Protocol};
pub use error::{At, Error, Limit};
pub use literal::{parse_literal, LiteralError};
pub use load::{load_prefix, loads, loads_with, Limits};
pub use serde_codec::{
    from_slice, from_slice_with, from_value, from_value_with, to_value, to_vec, to_vec_with,
    SerdeError,
};
pub use value::{Call, Global, Object, Recursive, Value};

/// The int type of [`Value::BigInt`], re-exported so that no direct dependency on
/// `num-bigint` is needed.
pub use num_bigint::BigInt;

#[cfg(test)]
mod tests;
