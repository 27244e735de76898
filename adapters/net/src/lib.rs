//! # mpconn-net: what the mpconn adapters share
//!
//! The part of `multiprocessing.connection` that is not protocol (that is the sans-IO
//! core, [`mpconn`]) and not tied to one runtime either: the std, tokio and mio adapters
//! all build on it, as quinn builds on quinn-udp. Written once here:
//!
//! - [`Address`] and [`Family`]: CPython's addresses, their plain spelling, the default
//!   addresses ([`Address::fresh_unix`]).
//! - [`bind`]: CPython's `Listener` socket (backlog, `SO_REUSEADDR`, the socket file
//!   and private directory removed on close).
//! - [`resolve`] and [`connect`]: IPv4 first as CPython's `AF_INET`, every resolved
//!   address tried; [`set_up_tcp`] (`TCP_NODELAY`) on every TCP stream, accepted or
//!   connected; [`full_backlog_pause`], the one policy for a full Unix backlog.
//! - [`ListenerOptions`] and [`ClientOptions`]: one set of names and defaults.
//! - [`Error`]: the one adapter error, whose messages say during what and name the
//!   address, with one `io::Error` mapping.
//! - [`handshake_outcome`]: what every listener reports of a client whose handshake
//!   ended: an error that names the client and, with the `tracing` feature, one event.
//! - [`new_core`]: the core with the OS's random source; [`read_into`], [`write_from`]
//!   and [`write_direct`], the one read and the one write of a driver over `std::io`
//!   streams (std, mio).
//! - `pickle` (the `pickle` feature, on by default): the encode and decode behind every
//!   adapter's `send` / `recv` / `send_value` / `recv_value`, and their one error,
//!   [`Error::Pickle`].
//! - [`socket_enum!`] and [`each_socket!`]: the adapters' enums of a TCP and a Unix
//!   socket of their runtime, declared alike; [`Inbound`] and [`Outbound`], what a
//!   driver reads into and writes from (the core's connection or one of its halves).
//! - `pipe` (Windows): CPython's `AF_PIPE` named pipes, blocking with deadlines (std)
//!   or polled with a `Waker` (tokio, mio).
//!
//! Resolution and [`connect`] block; the tokio adapter runs them on a blocking thread
//! or with its own sockets.
//!
//! ```
//! use mpconn_net::{bind, connect, ClientOptions, Family, ListenerOptions};
//!
//! let bound = bind(None, &ListenerOptions::new().family(Family::Inet))?;
//! let stream = connect(&bound.address, &ClientOptions::new(), None)?; // TCP_NODELAY set
//! # drop(stream);
//! # Ok::<(), mpconn_net::Error>(())
//! ```
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]
// Unsafe code only in `pipe`, the Windows named pipes' OS calls (no crate offers
// message-mode pipes with deadlines); it allows it there, each use with its SAFETY.
#![deny(unsafe_code)]

pub mod address;
mod bind;
mod error;
mod options;
mod outcome;
#[cfg(feature = "pickle")]
pub mod pickle;
#[cfg(windows)]
#[cfg_attr(docsrs, doc(cfg(windows)))]
pub mod pipe;
mod socket;
mod sockets;
mod transfer;

pub use address::{Address, AddressError, Family};
pub use bind::{bind, unsupported_family, Bound, Listening, SocketCleanup};
pub use error::{accept_error, protocol_error_kind, During, Error, Result};
pub use mpconn::HandshakeConfig;
pub use options::{
    ClientOptions, ListenerOptions, Resolve, DEFAULT_BACKLOG, DEFAULT_HANDSHAKE_TIMEOUT,
    DEFAULT_PENDING_LIMIT,
};
pub use outcome::{client_name, handshake_outcome};
#[cfg(unix)]
pub use socket::connect_unix;
pub use socket::{
    connect, full_backlog_pause, new_core, resolve, set_up_tcp, Connected, FULL_BACKLOG_RETRY,
};
pub use transfer::{read_into, write_direct, write_from, Inbound, Outbound};
