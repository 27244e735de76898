//! The byte streams a connection can run over, behind one type.

use std::io::{self, IoSlice, PipeReader, PipeWriter, Read, Write};
use std::net::TcpStream;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::time::Duration;

/// A connected socket, or one end of a one-way OS pipe.
#[derive(Debug)]
pub(crate) enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
    PipeReader(PipeReader),
    PipeWriter(PipeWriter),
}

impl Stream {
    pub(crate) fn is_readable(&self) -> bool {
        !matches!(self, Stream::PipeWriter(_))
    }

    pub(crate) fn is_writable(&self) -> bool {
        !matches!(self, Stream::PipeReader(_))
    }

    /// Sets `SO_RCVTIMEO` and `SO_SNDTIMEO` (`None`: block without limit). Pipes have
    /// no such option, so they refuse any limit.
    pub(crate) fn set_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => {
                s.set_read_timeout(timeout)?;
                s.set_write_timeout(timeout)
            }
            Stream::Unix(s) => {
                s.set_read_timeout(timeout)?;
                s.set_write_timeout(timeout)
            }
            Stream::PipeReader(_) | Stream::PipeWriter(_) if timeout.is_none() => Ok(()),
            Stream::PipeReader(_) | Stream::PipeWriter(_) => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "timeouts are supported on sockets only, not on pipes",
            )),
        }
    }

    /// Sets `O_NONBLOCK` on a socket (a pipe is never driven without blocking).
    pub(crate) fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_nonblocking(nonblocking),
            Stream::Unix(s) => s.set_nonblocking(nonblocking),
            Stream::PipeReader(_) | Stream::PipeWriter(_) => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "pipes are driven blocking only",
            )),
        }
    }

    pub(crate) fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let result = match self {
                Stream::Tcp(s) => s.read(buf),
                Stream::Unix(s) => s.read(buf),
                Stream::PipeReader(s) => s.read(buf),
                Stream::PipeWriter(_) => unreachable!("checked by Connection before reading"),
            };
            match result {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => return other,
            }
        }
    }

    /// Reads up to `limit` bytes onto the end of `buf`, returning fewer only at the end
    /// of the stream. std's `read_to_end` reads sockets into spare capacity without
    /// zeroing it first (a memset of every large payload, otherwise); it retries
    /// interrupted reads, and on an error keeps what it read in `buf`.
    pub(crate) fn read_appending(&mut self, buf: &mut Vec<u8>, limit: usize) -> io::Result<usize> {
        let limit = limit as u64;
        match self {
            Stream::Tcp(s) => s.take(limit).read_to_end(buf),
            Stream::Unix(s) => s.take(limit).read_to_end(buf),
            Stream::PipeReader(s) => s.take(limit).read_to_end(buf),
            Stream::PipeWriter(_) => unreachable!("checked by Connection before reading"),
        }
    }

    pub(crate) fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        loop {
            let result = match self {
                Stream::Tcp(s) => s.write_vectored(bufs),
                Stream::Unix(s) => s.write_vectored(bufs),
                Stream::PipeWriter(s) => s.write_vectored(bufs),
                Stream::PipeReader(_) => unreachable!("checked by Connection before writing"),
            };
            match result {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Ok(0) if bufs.iter().any(|b| !b.is_empty()) => {
                    return Err(io::ErrorKind::WriteZero.into())
                }
                other => return other,
            }
        }
    }

    /// Writes all of `bufs`, however the OS splits it; returns how much was written
    /// before an error, with the error.
    pub(crate) fn write_all_vectored(
        &mut self,
        mut bufs: &mut [IoSlice<'_>],
    ) -> Result<(), (usize, io::Error)> {
        let mut written = 0;
        IoSlice::advance_slices(&mut bufs, 0);
        while !bufs.is_empty() {
            match self.write_vectored(bufs) {
                Ok(n) => {
                    written += n;
                    IoSlice::advance_slices(&mut bufs, n);
                }
                Err(e) => return Err((written, e)),
            }
        }
        Ok(())
    }
}

impl AsFd for Stream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            Stream::Tcp(s) => s.as_fd(),
            Stream::Unix(s) => s.as_fd(),
            Stream::PipeReader(s) => s.as_fd(),
            Stream::PipeWriter(s) => s.as_fd(),
        }
    }
}
