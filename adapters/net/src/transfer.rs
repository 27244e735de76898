//! The one read and the one write of every driver whose sockets are `std::io` streams
//! (the std and mio adapters): bytes go from the socket to wherever the core wants them,
//! and from the core's queue (or a [`DirectSend`]) to the socket. Every framing
//! decision stays in the core; this only moves bytes and reports how many moved.

use std::io::{self, IoSlice, Read, Write};

use mpconn::{Connection, DirectSend, RecvBuf};

/// One read from `reader` into the room the core lends ([`Connection::recv_buf`]), then
/// commits what arrived. Returns the bytes read; `Ok(0)` means the peer closed its end,
/// which the core has been told ([`Connection::received_eof`]).
///
/// Inside a large payload the read appends straight onto the message's own buffer
/// (`read_to_end` over `take(limit)`: no zeroing, no copy). What such a read appended is
/// committed even when it then fails (`WouldBlock`, a timeout), so a retry loses no
/// byte; the error is returned after that.
///
/// ```
/// let mut core = mpconn::Connection::established();
/// let mut socket: &[u8] = b"\0\0\0\x02hi"; // in real code, a socket
/// assert_eq!(mpconn_net::read_into(&mut core, &mut socket)?, 6);
/// assert_eq!(core.next_message().unwrap().as_deref(), Some(&b"hi"[..]));
/// assert_eq!(mpconn_net::read_into(&mut core, &mut socket)?, 0); // end of stream
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn read_into(core: &mut Connection, reader: &mut impl Read) -> io::Result<usize> {
    let (n, ended, failed) = match core.recv_buf() {
        RecvBuf::Buffer(room) => {
            let n = reader.read(room)?;
            (n, n == 0, None)
        }
        RecvBuf::Payload { buf, limit } => {
            let before = buf.len();
            let result = reader.take(limit as u64).read_to_end(buf);
            let n = buf.len() - before;
            match result {
                // Short of the limit without an error only at the end of the stream.
                Ok(_) => (n, n < limit, None),
                Err(error) => (n, false, Some(error)),
            }
        }
    };
    if n > 0 {
        core.received(n).map_err(io::Error::other)?;
    }
    if ended {
        core.received_eof();
    }
    match failed {
        Some(error) => Err(error),
        None => Ok(n),
    }
}

/// One write of the core's queued output ([`Connection::pending_output`]); the bytes
/// written are taken off the queue, so a partial write keeps its place.
///
/// ```
/// let mut core = mpconn::Connection::established();
/// core.send(b"hi").unwrap();
/// let mut socket = Vec::new(); // in real code, a socket
/// assert_eq!(mpconn_net::write_from(&mut core, &mut socket)?, 6);
/// assert_eq!(socket, b"\0\0\0\x02hi");
/// assert!(!core.wants_write());
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn write_from(core: &mut Connection, writer: &mut impl Write) -> io::Result<usize> {
    let n = writer.write(core.pending_output())?;
    if n == 0 && core.wants_write() {
        return Err(io::ErrorKind::WriteZero.into());
    }
    core.consume_output(n);
    Ok(n)
}

/// One vectored write of what a [`DirectSend`] still has to send (the queue before it,
/// the header, the rest of the payload); the bytes written are marked sent.
///
/// ```
/// let mut core = mpconn::Connection::established();
/// let payload = vec![7u8; 100_000];
/// let mut send = core.send_direct(&payload).unwrap();
/// let mut socket = Vec::new(); // in real code, a socket
/// while !send.is_done() {
///     mpconn_net::write_direct(&mut send, &mut socket)?;
/// }
/// assert_eq!(socket.len(), 4 + payload.len());
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn write_direct(send: &mut DirectSend<'_>, writer: &mut impl Write) -> io::Result<usize> {
    let slices = send.slices().map(IoSlice::new);
    let n = writer.write_vectored(&slices)?;
    if n == 0 && !send.is_done() {
        return Err(io::ErrorKind::WriteZero.into());
    }
    send.advance(n);
    Ok(n)
}

/// What a read commits to: the core's whole [`Connection`] during the handshake, its
/// [`Receiver`](mpconn::Receiver) afterwards. Both have these methods, of these names;
/// a driver that reads into either (the tokio adapter, the polled named pipe) takes
/// this.
pub trait Inbound {
    /// [`Connection::recv_buf`].
    fn recv_buf(&mut self) -> RecvBuf<'_>;
    /// [`Connection::received`].
    fn received(&mut self, n: usize) -> Result<(), mpconn::Misuse>;
    /// [`Connection::received_eof`].
    fn received_eof(&mut self);
    /// [`Connection::received_message_end`].
    fn received_message_end(&mut self) -> Result<(), mpconn::Misuse>;
    /// [`Connection::message_remaining`].
    fn message_remaining(&mut self, left: u64) -> Result<(), mpconn::Misuse>;
}

/// The core's own methods of those names: `Connection` and `Receiver` offer the same.
macro_rules! inbound {
    ($($core:ty),*) => {$(
        impl Inbound for $core {
            fn recv_buf(&mut self) -> RecvBuf<'_> {
                self.recv_buf()
            }
            fn received(&mut self, n: usize) -> Result<(), mpconn::Misuse> {
                self.received(n)
            }
            fn received_eof(&mut self) {
                self.received_eof()
            }
            fn received_message_end(&mut self) -> Result<(), mpconn::Misuse> {
                self.received_message_end()
            }
            fn message_remaining(&mut self, left: u64) -> Result<(), mpconn::Misuse> {
                self.message_remaining(left)
            }
        }
    )*};
}

inbound!(Connection, mpconn::Receiver);

/// What a write takes from: the queued output of the core's whole [`Connection`]
/// during the handshake, of its [`Sender`](mpconn::Sender) afterwards.
pub trait Outbound {
    /// [`Connection::pending_output`].
    fn pending_output(&self) -> &[u8];
    /// [`Connection::wants_write`]: true for an empty message next on the message
    /// transport too, whose `pending_output` is empty.
    fn wants_write(&self) -> bool;
    /// [`Connection::consume_output`].
    fn consume_output(&mut self, n: usize);
}

/// The core's own methods of those names: `Connection` and `Sender` offer the same.
macro_rules! outbound {
    ($($core:ty),*) => {$(
        impl Outbound for $core {
            fn pending_output(&self) -> &[u8] {
                self.pending_output()
            }
            fn wants_write(&self) -> bool {
                self.wants_write()
            }
            fn consume_output(&mut self, n: usize) {
                self.consume_output(n)
            }
        }
    )*};
}

outbound!(Connection, mpconn::Sender);

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that hands out `chunk` bytes, then fails once with `WouldBlock`.
    struct Stutter<'a> {
        data: &'a [u8],
        chunk: usize,
        blocked: bool,
    }

    impl Read for Stutter<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if !self.blocked && self.data.len() < self.chunk * 3 {
                self.blocked = true;
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let n = buf.len().min(self.chunk).min(self.data.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    #[test]
    fn a_large_payload_read_that_would_block_keeps_what_it_appended() {
        let payload: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
        let mut wire = Vec::new();
        mpconn::frame::encode(&payload, &mut wire);
        let mut reader = Stutter {
            data: &wire,
            chunk: 16 * 1024,
            blocked: false,
        };
        let mut core = Connection::established();
        let mut would_block = 0;
        let message = loop {
            if let Some(frame) = core.next_message().unwrap() {
                break frame.into_vec();
            }
            match read_into(&mut core, &mut reader) {
                Ok(n) => assert!(n > 0, "the stream ended before the message"),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => would_block += 1,
                Err(e) => panic!("{e}"),
            }
        };
        assert_eq!(would_block, 1);
        assert!(message == payload);
    }

    #[test]
    fn the_end_of_the_stream_inside_a_payload_is_an_unexpected_eof() {
        let mut wire = Vec::new();
        mpconn::frame::encode(&vec![1u8; 200_000], &mut wire);
        wire.truncate(150_000);
        let mut reader: &[u8] = &wire;
        let mut core = Connection::established();
        let error = loop {
            match core.next_message() {
                Ok(Some(_)) => panic!("a message from a cut stream"),
                Ok(None) => {}
                Err(error) => break error,
            }
            read_into(&mut core, &mut reader).unwrap();
        };
        assert_eq!(error, mpconn::Error::UnexpectedEof { received: 150_000 });
    }
}
