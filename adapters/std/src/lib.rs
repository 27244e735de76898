//! # mpconn-std: `multiprocessing.connection` for blocking Rust
//!
//! A Rust [`Listener`] and [`Client`] that CPython's talk to, and the other way round:
//!
//! ```
//! use mpconn_std::{Address, Client, Listener};
//!
//! fn main() -> mpconn_std::Result<()> {
//!     // Python: Listener(('127.0.0.1', 0), authkey=b'secret')
//!     let mut listener = Listener::bind(Some(Address::tcp("127.0.0.1", 0)), Some(b"secret"))?;
//!     let address = listener.address().clone(); // "127.0.0.1:<port>"
//!     // Python: Client(address, authkey=b'secret').send_bytes(b'hello')
//!     let client = std::thread::spawn(move || -> mpconn_std::Result<()> {
//!         let mut conn = Client::connect(&address, Some(b"secret"))?;
//!         conn.send_bytes(b"hello")?;
//!         assert_eq!(conn.recv_bytes(None)?, b"HELLO");
//!         Ok(())
//!     });
//!     let mut conn = listener.accept()?; // the handshake ran: the client knows the key
//!     let message = conn.recv_bytes(None)?;
//!     conn.send_bytes(&message.to_ascii_uppercase())?;
//!     client.join().unwrap()
//! }
//! ```
//!
//! A Python user finds here what `multiprocessing.connection` offers (docs/protocol.md
//! section 3), with Rust conventions: [`Listener`] (with
//! [`accept`](Listener::accept), [`address`](Listener::address),
//! [`last_accepted`](Listener::last_accepted)), [`Client`], [`Connection`]
//! ([`send_bytes`](Connection::send_bytes), [`recv_bytes`](Connection::recv_bytes),
//! [`recv_bytes_into`](Connection::recv_bytes_into), [`poll`](Connection::poll), and
//! [`recv_message`](Connection::recv_message), which receives without allocating),
//! [`pipe`] (CPython's `Pipe`) and [`wait`]. Every byte on the wire is CPython's, so
//! either side may be CPython 2.7 or 3.6 to 3.13.
//!
//! This crate is a thin blocking driver of the sans-IO core [`mpconn`]: framing and
//! the authentication handshake are decided there, sockets and deadlines here.
//! Addresses, options and errors are [`mpconn_net`]'s, shared with the tokio and mio
//! adapters and re-exported here.
//!
//! With the `pickle` feature (on by default), [`Connection::send`] and
//! [`Connection::recv`] exchange serde values with CPython's `Connection.send` /
//! `recv`, and [`Connection::send_value`] / [`Connection::recv_value`] the dynamic
//! [`pickle::Value`], which keeps what Python meant (tuples, sets, dict order, big
//! ints, objects as data), through the core's own codec ([`mpconn::pickle`]).
//!
//! The crate also builds `mpconn`, a command-line listener and client
//! (`mpconn listen`, `mpconn send`; see `mpconn --help`).
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]

mod client;
mod connection;
mod listener;
mod pending;
mod pipe;
mod stream;
mod sys;
mod wait;
#[cfg(windows)]
mod windows;

pub use client::Client;
pub use connection::Connection;
pub use listener::{Incoming, Listener};
/// A received message from [`Connection::recv_message`]: borrowed from the read buffer,
/// or its own buffer when it was gathered across reads; it derefs to `[u8]`.
///
/// ```
/// let (mut a, mut b) = mpconn_std::pipe(true)?;
/// a.send_bytes(b"hi")?;
/// let message: mpconn_std::Frame<'_> = b.recv_message(None)?;
/// assert_eq!(&*message, b"hi");
/// # Ok::<(), mpconn_std::Error>(())
/// ```
pub use mpconn::Frame;
pub use mpconn_net::address;
pub use mpconn_net::{
    accept_error, protocol_error_kind, Address, AddressError, ClientOptions, During, Error, Family,
    HandshakeConfig, ListenerOptions, Result, DEFAULT_BACKLOG, DEFAULT_HANDSHAKE_TIMEOUT,
    DEFAULT_PENDING_LIMIT,
};
pub use pipe::pipe;
pub use wait::{wait, Waitable};

/// The core's pickle codec: [`Value`](pickle::Value), [`Protocol`](pickle::Protocol),
/// [`Limits`](pickle::Limits), [`parse_literal`](pickle::parse_literal), the well-known
/// types of [`known`](pickle::known), serde's `to_vec` / `from_slice`.
#[cfg(feature = "pickle")]
pub use mpconn::pickle;
