//! # mpconn-mio: Python's `multiprocessing.connection` in your own event loop
//!
//! A [`Listener`] and [`Connection`]s on your own `mio::Poll`; a CPython `Client`
//! talks to it as to CPython's `Listener`. Here the client is this crate's, in the
//! same loop:
//!
//! ```
//! use std::time::Duration;
//!
//! use mpconn_mio::mio::{Events, Interest, Poll, Token};
//! use mpconn_mio::{Address, Client, Connection, Listener};
//!
//! fn main() -> Result<(), mpconn_mio::Error> {
//!     let mut poll = Poll::new()?;
//!     let mut events = Events::with_capacity(64);
//!     // Python: Listener(('127.0.0.1', 0), authkey=b'secret')
//!     let mut listener = Listener::bind(Some(Address::tcp("127.0.0.1", 0)), Some(b"secret"))?;
//!     poll.registry().register(&mut listener, Token(0), Interest::READABLE)?;
//!     let both = Interest::READABLE | Interest::WRITABLE;
//!
//!     // Connects (blocking) and starts the handshake; the message waits for its end.
//!     let mut client = Client::connect(listener.address(), Some(b"secret"))?;
//!     poll.registry().register(&mut client, Token(1), both)?;
//!     client.send_bytes(b"ping")?;
//!
//!     let mut served: Vec<Connection> = Vec::new();
//!     loop {
//!         poll.poll(&mut events, Some(Duration::from_secs(20)))?;
//!         // Edge-triggered: on any event, accept, flush and read until Ok(None).
//!         while let Some(mut conn) = listener.accept()? {
//!             poll.registry().register(&mut conn, Token(2 + served.len()), both)?;
//!             served.push(conn);
//!         }
//!         for conn in &mut served {
//!             conn.flush()?;
//!             while let Some(message) = conn.recv_bytes(None)? {
//!                 conn.send_bytes(&message)?; // echo
//!             }
//!         }
//!         client.flush()?;
//!         if let Some(reply) = client.recv_bytes(None)? {
//!             assert_eq!(reply, b"ping");
//!             return Ok(());
//!         }
//!     }
//! }
//! ```
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
//! Addresses, options and errors are [`mpconn_net`]'s, shared with the std and tokio
//! adapters and re-exported here.
//!
//! ## Windows
//!
//! On Windows the listener and the client work over `AF_INET` and `AF_PIPE` (named
//! pipes, `\\.\pipe\name`, CPython's default family there), with the same behaviour
//! as on Unix (the handshake in the loop, the pending limit, the handshake deadline);
//! `AF_UNIX` is Unix only, as in CPython. A pipe carries one message per pipe message,
//! without a header, as CPython's `PipeConnection` does. Its reads and writes end on
//! the OS's thread pool, which tells the loop through a loopback UDP socket the pipe
//! registers in its place: its events are readable ones, whatever ended, and the loop's
//! usual answer to any event (flush, then read until `Ok(None)`) serves it.
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod client;
pub mod connection;
mod listener;
mod pending;
#[cfg(windows)]
mod pipe;
mod socket;
mod source;
pub mod stream;

/// The adapter's error: [`mpconn_net::Error`], the same in every adapter.
///
/// `WouldBlock` is never one of them: a method that cannot go on without blocking
/// returns what it has (`Ok(None)`, or `Ok(())` with output still queued) and the event
/// loop calls it again on the next readiness event.
pub mod error {
    pub use mpconn_net::{During, Error};
}

pub use client::Client;
pub use connection::Connection;
pub use listener::Listener;
pub use mio;
/// The core's pickle codec: [`Value`](pickle::Value), [`Protocol`](pickle::Protocol),
/// [`Limits`](pickle::Limits), [`parse_literal`](pickle::parse_literal), the well-known
/// types of [`known`](pickle::known), serde's `to_vec` / `from_slice`.
#[cfg(feature = "pickle")]
pub use mpconn::pickle;
pub use mpconn::Frame;
pub use mpconn_net::{
    Address, AddressError, ClientOptions, During, Error, Family, HandshakeConfig, ListenerOptions,
    DEFAULT_BACKLOG, DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_PENDING_LIMIT,
};
pub use stream::Stream;
