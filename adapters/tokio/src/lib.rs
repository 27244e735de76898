//! # mpconn-tokio: Python's `multiprocessing.connection`, async
//!
//! An async [`Listener`] and [`Client`] that CPython's talk to, and the other way round:
//!
//! ```
//! use mpconn_tokio::{Address, Client, Listener};
//!
//! #[tokio::main]
//! async fn main() -> Result<(), mpconn_tokio::Error> {
//!     // Python: Listener(('127.0.0.1', 0), authkey=b'secret')
//!     let mut listener = Listener::bind(Some(Address::tcp("127.0.0.1", 0)), Some(b"secret")).await?;
//!     let address = listener.address().clone();
//!     tokio::spawn(async move {
//!         loop {
//!             let mut conn = listener.accept().await?; // Err for one failed client only
//!             tokio::spawn(async move {
//!                 while let Ok(message) = conn.recv_bytes(None).await {
//!                     conn.send_bytes(&message).await?; // echo
//!                 }
//!                 Ok::<_, mpconn_tokio::Error>(())
//!             });
//!         }
//!         #[allow(unreachable_code)]
//!         Ok::<_, mpconn_tokio::Error>(())
//!     });
//!     // Python: Client(address, authkey=b'secret')
//!     let mut conn = Client::connect(&address, Some(b"secret")).await?;
//!     conn.send_bytes(b"ping").await?;
//!     assert_eq!(conn.recv_bytes(None).await?, b"ping");
//!     Ok(())
//! }
//! ```
//!
//! A thin tokio driver for the sans-IO core [`mpconn`]: every protocol decision (framing,
//! digests, the handshake) is the core's; this crate moves bytes. A Rust task and a
//! CPython process on either end cannot tell each other apart.
//!
//! - [`Listener`]: binds (TCP, a Unix path, a Linux abstract name, or CPython's default
//!   fresh Unix socket), accepts in the background and authenticates every client
//!   concurrently under a timeout, so one silent client never delays the others.
//!   It is a `Stream` of connections, and [`Listener::shutdown`] ends it gracefully.
//! - [`Client`]: connects and authenticates.
//! - [`Connection`]: `send_bytes` / `recv_bytes`, splittable into a [`RecvHalf`] and a
//!   [`SendHalf`] for two tasks. Every method is cancel safe (see [`Connection`]).
//! - [`FrameCodec`]: the framing as a `tokio_util::codec` codec, for `Framed` on a stream
//!   you already have.
//!
//! Addresses, options and errors are [`mpconn_net`]'s, shared with the std and mio
//! adapters and re-exported here.
//!
//! ## Windows
//!
//! On Windows the listener and the client work over `AF_INET` and `AF_PIPE` (named
//! pipes, `\\.\pipe\name`, CPython's default family there); `AF_UNIX` is Unix only,
//! as in CPython. A pipe carries one message per pipe message, without a header, as
//! CPython's `PipeConnection` does, so a pipe connection runs on
//! mpconn-net's `pipe::PolledPipe` rather than on its [`Stream`] (whose `PipeStream`
//! refuses byte reads and writes): every method stays cancel safe, the halves of
//! [`Connection::into_split`] share the pipe, and [`Connection::into_framed`] refuses
//! it.
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod client;
pub mod codec;
pub mod connection;
mod listener;
mod socket;
pub mod stream;

/// The adapter's error: [`mpconn_net::Error`], the same in every adapter.
pub mod error {
    pub use mpconn_net::{During, Error};
}

pub use client::Client;
pub use codec::FrameCodec;
pub use connection::{Connection, RecvHalf, SendHalf};
pub use listener::Listener;
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
