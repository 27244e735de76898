//! # mpconn-std: `multiprocessing.connection` for blocking Rust
//!
//! A Python user finds here what `multiprocessing.connection` offers (PROTOCOL.md
//! section 3), with Rust conventions: [`Listener`] (with
//! [`accept`](Listener::accept), [`address`](Listener::address),
//! [`last_accepted`](Listener::last_accepted)), [`Client`], [`Connection`]
//! ([`send_bytes`](Connection::send_bytes), [`recv_bytes`](Connection::recv_bytes),
//! [`recv_bytes_into`](Connection::recv_bytes_into), [`poll`](Connection::poll)),
//! [`pipe`] (CPython's `Pipe`) and [`wait`]. Every byte on the wire is CPython's, so
//! either side may be CPython 2.7 or 3.6 to 3.13.
//!
//! This crate is a thin blocking driver of the sans-IO core [`mpconn`]: framing and
//! the authentication handshake are decided there, sockets and deadlines here.
//!
//! With the `pickle` feature, `Connection::send` and `Connection::recv` exchange
//! serde values with CPython's `Connection.send` / `recv` (None, bool, int, float,
//! str, bytes, list, tuple, dict), through `serde-pickle`.
//!
//! The crate also builds `mpconn`, a command-line listener and client
//! (`mpconn listen`, `mpconn send`; see `mpconn --help`).
//!
//! ```
//! use mpconn_std::{Address, Client, ListenerOptions, Family};
//!
//! // The Python equivalent:
//! //   with Listener(('localhost', 0), authkey=b'secret') as listener: ...
//! let mut listener = ListenerOptions::new()
//!     .family(Family::Inet)
//!     .authkey(Some(b"secret"))
//!     .bind(None)?;
//! let address: Address = listener.address().clone();
//! std::thread::spawn(move || -> mpconn_std::Result<()> {
//!     let mut conn = Client::connect(&address, Some(b"secret"))?;
//!     conn.send_bytes(b"hello")
//! });
//! let mut conn = listener.accept()?;
//! assert_eq!(conn.recv_bytes(None)?, b"hello");
//! # Ok::<(), mpconn_std::Error>(())
//! ```
#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod address;
pub mod bind;
mod client;
mod connection;
mod error;
mod listener;
mod pending;
mod pipe;
mod socket;
mod stream;
mod wait;

pub use address::{Address, AddressError, Family};
pub use client::{Client, ClientOptions};
pub use connection::Connection;
pub use error::{protocol_error_kind, Error, Result};
pub use listener::{
    Incoming, Listener, ListenerOptions, DEFAULT_BACKLOG, DEFAULT_HANDSHAKE_TIMEOUT,
    DEFAULT_PENDING_LIMIT,
};
pub use pipe::pipe;
pub use wait::{wait, Waitable};

/// The `serde-pickle` crate this one uses, for its options and `Value`.
#[cfg(feature = "pickle")]
pub use serde_pickle;
