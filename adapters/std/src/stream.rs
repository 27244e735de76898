//! The streams a connection can run over, behind one type: sockets and one-way OS
//! pipes (byte streams), and on Windows named pipes (a message transport).

use std::io::{self, Read, Write};
#[cfg(unix)]
use std::io::{PipeReader, PipeWriter};
use std::net::TcpStream;
#[cfg(unix)]
use std::os::fd::{AsFd, BorrowedFd};
#[cfg(unix)]
use std::os::unix::net::UnixStream;
use std::time::Duration;

#[cfg(unix)]
use rustix::net::{RecvFlags, SendFlags};

/// `$pipe` on a Windows named pipe (a message transport), else `$bytes` on the byte
/// stream.
macro_rules! by_transport {
    ($stream:expr, $p:ident => $pipe:expr, $b:ident => $bytes:expr) => {{
        let $b = $stream;
        #[cfg(windows)]
        if let Stream::Pipe($p) = $b {
            return $pipe;
        }
        $bytes
    }};
}

/// A connected socket, or one end of a one-way OS pipe, or (Windows) of a named pipe.
#[derive(Debug)]
pub(crate) enum Stream {
    Tcp(TcpStream),
    #[cfg(unix)]
    Unix(UnixStream),
    #[cfg(unix)]
    PipeReader(PipeReader),
    #[cfg(unix)]
    PipeWriter(PipeWriter),
    #[cfg(windows)]
    Pipe(crate::windows::NamedPipe),
}

impl Stream {
    pub(crate) fn is_readable(&self) -> bool {
        match self {
            #[cfg(unix)]
            Stream::PipeWriter(_) => false,
            #[cfg(windows)]
            Stream::Pipe(pipe) => pipe.readable,
            _ => true,
        }
    }

    pub(crate) fn is_writable(&self) -> bool {
        match self {
            #[cfg(unix)]
            Stream::PipeReader(_) => false,
            #[cfg(windows)]
            Stream::Pipe(pipe) => pipe.writable,
            _ => true,
        }
    }

    /// True for a transport that keeps message boundaries (a Windows named pipe): its
    /// core runs on [`mpconn::Transport::Messages`].
    pub(crate) fn is_message_transport(&self) -> bool {
        #[cfg(windows)]
        if let Stream::Pipe(_) = self {
            return true;
        }
        false
    }

    /// One read into the core: [`mpconn_net::read_into`] on a byte stream.
    #[inline]
    pub(crate) fn read_into(&mut self, core: &mut mpconn::Connection) -> io::Result<usize> {
        by_transport!(self, pipe => pipe.read_into(core), bytes => {
            mpconn_net::read_into(core, &mut bytes.reader())
        })
    }

    /// One write of the core's queue: [`mpconn_net::write_from`] on a byte stream.
    #[inline]
    pub(crate) fn write_from(&mut self, core: &mut mpconn::Connection) -> io::Result<usize> {
        by_transport!(self, pipe => pipe.write_from(core), bytes => {
            mpconn_net::write_from(core, &mut bytes.writer())
        })
    }

    /// One write of a direct send: [`mpconn_net::write_direct`] on a byte stream.
    #[inline]
    pub(crate) fn write_direct(&mut self, send: &mut mpconn::DirectSend<'_>) -> io::Result<usize> {
        by_transport!(self, pipe => pipe.write_direct(send), bytes => {
            mpconn_net::write_direct(send, &mut bytes.writer())
        })
    }

    /// Sets `SO_RCVTIMEO` and `SO_SNDTIMEO` (`None`: block without limit). Pipes have
    /// no such option, so they refuse any limit.
    pub(crate) fn set_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => {
                s.set_read_timeout(timeout)?;
                s.set_write_timeout(timeout)
            }
            #[cfg(unix)]
            Stream::Unix(s) => {
                s.set_read_timeout(timeout)?;
                s.set_write_timeout(timeout)
            }
            #[cfg(unix)]
            Stream::PipeReader(_) | Stream::PipeWriter(_) if timeout.is_none() => Ok(()),
            #[cfg(unix)]
            Stream::PipeReader(_) | Stream::PipeWriter(_) => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "timeouts are supported on sockets only, not on pipes",
            )),
            #[cfg(windows)]
            Stream::Pipe(pipe) => {
                pipe.timeout.set(timeout);
                Ok(())
            }
        }
    }
}

impl Stream {
    /// Sets `SO_RCVTIMEO` alone (`None`: block without limit), as
    /// [`set_timeout`](Self::set_timeout) for reads. (A named pipe's one limit is
    /// each operation's deadline.)
    pub(crate) fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_read_timeout(timeout),
            #[cfg(unix)]
            Stream::Unix(s) => s.set_read_timeout(timeout),
            #[allow(unreachable_patterns)]
            _ => self.set_timeout(timeout),
        }
    }

    /// The socket as a reader and writer whose calls never block, whatever its mode:
    /// `recv(2)` and `send(2)` with `MSG_DONTWAIT`, `WouldBlock` when there is nothing
    /// to read or no room. A handshake with a deadline (the client's writes, every call
    /// of the listener's handshakes under way) goes through it, so no socket option or
    /// mode has to be set for it and set back. Pipes have no such flag, and are
    /// refused.
    ///
    /// Windows has no `MSG_DONTWAIT`: there it is the socket's own calls, which do not
    /// block on a socket in non-blocking mode (as the listener's accepted sockets stay
    /// until their handshake ends); a client's handshake writes, a few hundred bytes
    /// into an empty send buffer, go out at once anyway.
    pub(crate) fn dont_wait(&self) -> io::Result<DontWait<'_>> {
        match self {
            #[cfg(unix)]
            Stream::Tcp(s) => Ok(DontWait(s.as_fd())),
            #[cfg(windows)]
            Stream::Tcp(s) => Ok(DontWait(s)),
            #[cfg(unix)]
            Stream::Unix(s) => Ok(DontWait(s.as_fd())),
            #[allow(unreachable_patterns)]
            _ => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "pipes have no non-blocking send or receive",
            )),
        }
    }

    /// Sets a socket blocking again (Windows: the listener's accepted sockets, once
    /// their handshake is over).
    #[cfg(windows)]
    pub(crate) fn set_blocking(&self) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_nonblocking(false),
            Stream::Pipe(_) => Ok(()),
        }
    }

    /// The stream as a reader for [`mpconn_net::read_into`]. Through `dyn Read` the
    /// socket's own `read_buf` still runs, so a large payload is read into the spare
    /// capacity of its buffer without zeroing it first.
    pub(crate) fn reader(&mut self) -> &mut dyn Read {
        match self {
            Stream::Tcp(s) => s,
            #[cfg(unix)]
            Stream::Unix(s) => s,
            #[cfg(unix)]
            Stream::PipeReader(s) => s,
            #[cfg(unix)]
            Stream::PipeWriter(_) => unreachable!("checked by Connection before reading"),
            #[cfg(windows)]
            Stream::Pipe(_) => unreachable!("a named pipe is read by read_into"),
        }
    }

    /// The stream as a writer for [`mpconn_net::write_from`] and
    /// [`mpconn_net::write_direct`] (vectored writes are the OS's `writev`).
    pub(crate) fn writer(&mut self) -> &mut dyn Write {
        match self {
            Stream::Tcp(s) => s,
            #[cfg(unix)]
            Stream::Unix(s) => s,
            #[cfg(unix)]
            Stream::PipeWriter(s) => s,
            #[cfg(unix)]
            Stream::PipeReader(_) => unreachable!("checked by Connection before writing"),
            #[cfg(windows)]
            Stream::Pipe(_) => unreachable!("a named pipe is written by write_from"),
        }
    }
}

/// See [`Stream::dont_wait`].
#[cfg(unix)]
pub(crate) struct DontWait<'a>(BorrowedFd<'a>);
/// See [`Stream::dont_wait`].
#[cfg(windows)]
pub(crate) struct DontWait<'a>(&'a TcpStream);

#[cfg(unix)]
impl Read for DontWait<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let (n, _) = rustix::net::recv(self.0, buf, RecvFlags::DONTWAIT)?;
        Ok(n)
    }
}

#[cfg(unix)]
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

#[cfg(windows)]
impl Read for DontWait<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&mut &*self.0).read(buf)
    }
}

#[cfg(windows)]
impl Write for DontWait<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&mut &*self.0).write(buf)
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

#[cfg(unix)]
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
