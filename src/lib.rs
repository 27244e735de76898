//! # mpconn: Python's `multiprocessing.connection` protocol, sans-IO
//!
//! This crate is the protocol core of mpconn: a pure state machine that turns bytes
//! received from a peer into events and tells you which bytes to send back. It never
//! touches a socket, a thread, a clock or the operating system's random number
//! generator, so any I/O loop can drive it: a blocking one, `mio`, `tokio`, or a test
//! that feeds one byte at a time. The adapters in this workspace (`mpconn-std`,
//! `mpconn-mio`, `mpconn-tokio`) are such loops.
//!
//! It speaks the wire protocol of CPython's `multiprocessing.connection` byte for byte
//! (see `docs/protocol.md` in the repository, also in this crate's package):
//!
//! - [`frame`]: the length-prefixed framing (section 1): a 4-byte big-endian header, or
//!   `ff ff ff ff` and a 64-bit length above `0x7fff_ffff`.
//! - [`digest`]: the HMAC digests a peer may ask for and the `{name}` prefix rules
//!   (section 2).
//! - [`handshake`]: the challenge/answer authentication as an explicit state machine
//!   for both roles (section 2).
//! - [`Receiver`]: the inbound buffer the adapter reads into and the decoder over it;
//!   messages come out borrowed from it, large payloads are read onto their own buffer.
//! - [`Sender`]: the outbound queue, and large messages written without a copy
//!   ([`DirectSend`]), in step whatever happens to the writing.
//! - [`Connection`]: the handshake in front of a `Receiver` and a `Sender`; an adapter
//!   only moves bytes: reads into [`Connection::recv_buf`], commits them with
//!   [`Connection::received`], writes [`Connection::pending_output`], and asks
//!   [`Connection::state`].
//!
//! # Example
//!
//! A server and a client, wired back to back in memory:
//!
//! ```
//! use mpconn::{Connection, HandshakeConfig};
//! # struct Counter(u8);
//! # impl rand_core::TryRng for Counter {
//! #     type Error = core::convert::Infallible;
//! #     fn try_next_u32(&mut self) -> Result<u32, Self::Error> { Ok(self.0 as u32) }
//! #     fn try_next_u64(&mut self) -> Result<u64, Self::Error> { Ok(self.0 as u64) }
//! #     fn try_fill_bytes(&mut self, d: &mut [u8]) -> Result<(), Self::Error> {
//! #         for b in d { self.0 = self.0.wrapping_add(1); *b = self.0 } Ok(())
//! #     }
//! # }
//! # impl rand_core::TryCryptoRng for Counter {}
//! # let mut rng = Counter(0); // in real code: an OS-backed CryptoRng
//! let config = HandshakeConfig::default();
//! let mut server = Connection::server(Some(b"secret"), &config, &mut rng);
//! let mut client = Connection::client(Some(b"secret"), &config, &mut rng);
//! client.send(b"hello").unwrap(); // held until the handshake is done
//!
//! // The I/O loop: move bytes both ways until nothing is left to move.
//! while server.wants_write() || client.wants_write() {
//!     let to_client = server.take_output();
//!     client.feed(&to_client).unwrap();
//!     let to_server = client.take_output();
//!     server.feed(&to_server).unwrap();
//! }
//! assert!(server.is_established() && client.is_established());
//! assert_eq!(server.next_message().unwrap().as_deref(), Some(&b"hello"[..]));
//! assert_eq!(server.next_message(), Ok(None)); // nothing more for now
//! ```
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;
#[cfg(test)]
extern crate std;

/// Deterministic RNGs for tests: the core's unit tests use them here, and the workspace's
/// test-support crate includes this same file by path for every other test, so there is
/// one copy and the published package still runs its own unit tests. (The core's tests
/// use only `Counter`; the rest serves the other crates' tests.)
#[cfg(test)]
#[allow(dead_code)]
mod test_rng;

/// Builder methods that each set one field and hand the builder back, optionally
/// converted first (`name: Type => expression of name`): one template for [`HandshakeConfig`] and mpconn-net's
/// options, not a public API.
#[doc(hidden)]
#[macro_export]
macro_rules! __setters {
    ($($(#[$doc:meta])* $name:ident: $t:ty $(=> $conv:expr)?;)*) => {$(
        $(#[$doc])*
        pub fn $name(mut self, $name: $t) -> Self {
            $(let $name = $conv;)?
            self.$name = $name;
            self
        }
    )*};
}

pub mod connection;
pub mod digest;
pub mod error;
pub mod frame;
pub mod handshake;
#[cfg(feature = "pickle")]
pub mod pickle;
pub mod receiver;
pub mod sender;

pub use connection::Connection;
pub use digest::Digest;
pub use error::{AuthFailure, Error, Misuse};
pub use frame::{Decoder, Frame, Transport};
pub use handshake::{AuthKey, Handshake, HandshakeConfig, Role};
pub use receiver::{BufferPolicy, Receiver, RecvBuf};
pub use sender::{DirectSend, Sender};
