//! A connected pair in one process (CPython's `multiprocessing.connection.Pipe`).

#[cfg(unix)]
use std::io;
#[cfg(unix)]
use std::os::unix::net::UnixStream;

use crate::connection::Connection;
use crate::stream::Stream;
use crate::Result;

/// A connected pair (CPython's `Pipe`): with `duplex`, both ends read and write (a
/// socketpair); without, the first end only reads and the second only writes (an OS
/// pipe). No handshake runs.
///
/// ```
/// let (mut reader, mut writer) = mpconn_std::pipe(false)?;
/// assert!(!reader.writable() && !writer.readable());
/// writer.send_bytes(b"one way")?;
/// assert_eq!(reader.recv_bytes(None)?, b"one way");
/// assert!(reader.send_bytes(b"back").is_err()); // "connection is read-only"
/// # Ok::<(), mpconn_std::Error>(())
/// ```
#[doc(alias = "Pipe")]
pub fn pipe(duplex: bool) -> Result<(Connection, Connection)> {
    let established = || mpconn::Connection::established();
    // Windows: a named pipe pair, as CPython's Pipe there; one-way, the first end only
    // reads and the second only writes.
    #[cfg(windows)]
    {
        use crate::windows::NamedPipe;
        let (a, b) = mpconn_net::pipe::pair()?;
        let (mut a, mut b) = (NamedPipe::new(a), NamedPipe::new(b));
        if !duplex {
            (a.writable, b.readable) = (false, false);
        }
        Ok((
            Connection::new(Stream::Pipe(a), established()),
            Connection::new(Stream::Pipe(b), established()),
        ))
    }
    #[cfg(unix)]
    if duplex {
        let (a, b) = UnixStream::pair()?;
        Ok((
            Connection::new(Stream::Unix(a), established()),
            Connection::new(Stream::Unix(b), established()),
        ))
    } else {
        let (reader, writer) = io::pipe()?;
        Ok((
            Connection::new(Stream::PipeReader(reader), established()),
            Connection::new(Stream::PipeWriter(writer), established()),
        ))
    }
}
