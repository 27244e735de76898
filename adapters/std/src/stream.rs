//! The byte streams a connection can run over, behind one type.

use std::io::{self, PipeReader, PipeWriter, Read, Write};
use std::net::TcpStream;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use rustix::net::{RecvFlags, SendFlags};

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
}

impl Stream {
    /// Sets `SO_RCVTIMEO` alone (`None`: block without limit), as
    /// [`set_timeout`](Self::set_timeout) for reads.
    pub(crate) fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_read_timeout(timeout),
            Stream::Unix(s) => s.set_read_timeout(timeout),
            Stream::PipeReader(_) | Stream::PipeWriter(_) => self.set_timeout(timeout),
        }
    }

    /// The socket as a reader and writer whose calls never block, whatever its mode:
    /// `recv(2)` and `send(2)` with `MSG_DONTWAIT`, `WouldBlock` when there is nothing
    /// to read or no room. A handshake with a deadline (the client's writes, every call
    /// of the listener's handshakes under way) goes through it, so no socket option or
    /// mode has to be set for it and set back. Pipes have no such flag, and are
    /// refused.
    pub(crate) fn dont_wait(&self) -> io::Result<DontWait<'_>> {
        match self {
            Stream::Tcp(s) => Ok(DontWait(s.as_fd())),
            Stream::Unix(s) => Ok(DontWait(s.as_fd())),
            Stream::PipeReader(_) | Stream::PipeWriter(_) => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "pipes have no non-blocking send or receive",
            )),
        }
    }

    /// The stream as a reader for [`mpconn_net::read_into`]. Through `dyn Read` the
    /// socket's own `read_buf` still runs, so a large payload is read into the spare
    /// capacity of its buffer without zeroing it first.
    pub(crate) fn reader(&mut self) -> &mut dyn Read {
        match self {
            Stream::Tcp(s) => s,
            Stream::Unix(s) => s,
            Stream::PipeReader(s) => s,
            Stream::PipeWriter(_) => unreachable!("checked by Connection before reading"),
        }
    }

    /// The stream as a writer for [`mpconn_net::write_from`] and
    /// [`mpconn_net::write_direct`] (vectored writes are the OS's `writev`).
    pub(crate) fn writer(&mut self) -> &mut dyn Write {
        match self {
            Stream::Tcp(s) => s,
            Stream::Unix(s) => s,
            Stream::PipeWriter(s) => s,
            Stream::PipeReader(_) => unreachable!("checked by Connection before writing"),
        }
    }
}

/// See [`Stream::dont_wait`].
pub(crate) struct DontWait<'a>(BorrowedFd<'a>);

impl Read for DontWait<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let (n, _) = rustix::net::recv(self.0, buf, RecvFlags::DONTWAIT)?;
        Ok(n)
    }
}

impl Write for DontWait<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // No SIGPIPE from a peer gone, as std's own writes (Apple's sockets have
        // SO_NOSIGPIPE instead).
        #[cfg(not(target_vendor = "apple"))]
        let flags = SendFlags::DONTWAIT | SendFlags::NOSIGNAL;
        #[cfg(target_vendor = "apple")]
        let flags = SendFlags::DONTWAIT;
        Ok(rustix::net::send(self.0, buf, flags)?)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Runs one system call again while a signal interrupts it.
pub(crate) fn retry_interrupted<T>(mut f: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    loop {
        match f() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
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
