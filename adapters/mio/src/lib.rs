//! # mpconn-mio: Python's `multiprocessing.connection` in your own event loop
//!
//! Non-blocking [`Listener`] and [`Connection`] that implement [`mio::event::Source`], for
//! programs that run their own `mio` loop. They drive the sans-IO core [`mpconn`] on
//! readiness and never block: every protocol decision is the core's, this crate moves
//! bytes when the socket is ready.
//!
//! - Register a [`Listener`] for `READABLE`; on each event, [`Listener::accept`] until
//!   `Ok(None)`.
//! - Register each [`Connection`] for `READABLE | WRITABLE`; on each event,
//!   [`Connection::flush`] and [`Connection::recv_bytes`] until `Ok(None)`. The handshake
//!   runs inside those calls.
//! - `WouldBlock` never reaches you, and partial writes keep their place.
//!
//! The crate's `examples/echo_loop.rs` is a complete single-threaded server for many
//! clients, with a handshake deadline: `cargo run -p mpconn-mio --example echo_loop`.
//!
//! Addresses are the std adapter's [`Address`], re-exported here.
#![warn(missing_docs)]

mod client;
pub mod connection;
pub mod error;
mod listener;
mod pending;
mod socket;
pub mod stream;

pub use client::{Client, ClientOptions};
pub use connection::Connection;
pub use error::Error;
pub use listener::{
    Listener, ListenerOptions, DEFAULT_BACKLOG, DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_PENDING_LIMIT,
};
pub use mio;
pub use mpconn::HandshakeConfig;
pub use mpconn_std::{Address, AddressError, Family};
pub use stream::Stream;
