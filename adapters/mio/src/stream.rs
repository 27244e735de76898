//! The kinds of stream a listener or a client hands out, as one type: TCP, and Unix
//! sockets on Unix, named pipes on Windows (as in CPython, which has no `AF_UNIX`
//! listener there).

use std::io::{self, IoSlice, IoSliceMut, Read, Write};

use mio::event::Source;
use mio::net::TcpStream;
use mpconn_net::each_socket;

#[cfg(windows)]
#[cfg_attr(docsrs, doc(cfg(windows)))]
pub use crate::pipe::PipeStream;
use crate::source::Delegate;

mpconn_net::socket_enum! {
    /// A connected, non-blocking TCP or (Unix only) Unix stream socket, or (Windows
    /// only) a named pipe: what [`Listener`](crate::Listener) and
    /// [`Client`](crate::Client) connections run over.
    #[derive(Debug)]
    pub enum Stream {
        Tcp(TcpStream),
        Unix(mio::net::UnixStream),
        Pipe(crate::pipe::PipeStream),
    }
}

impl Stream {
    /// One read into the core: [`mpconn_net::read_into`] on a socket.
    #[inline]
    pub(crate) fn read_into(&mut self, core: &mut mpconn::Connection) -> io::Result<usize> {
        each_socket!(self, socket => mpconn_net::read_into(core, socket),
            pipe pipe => pipe.read_into(core))
    }

    /// One write of the core's queue: [`mpconn_net::write_from`] on a socket.
    #[inline]
    pub(crate) fn write_from(&mut self, core: &mut mpconn::Connection) -> io::Result<usize> {
        each_socket!(self, socket => mpconn_net::write_from(core, socket),
            pipe pipe => pipe.write_from(core))
    }

    /// One write of a direct send: [`mpconn_net::write_direct`] on a socket.
    #[inline]
    pub(crate) fn write_direct(&mut self, send: &mut mpconn::DirectSend<'_>) -> io::Result<usize> {
        each_socket!(self, socket => mpconn_net::write_direct(send, socket),
            pipe pipe => pipe.write_direct(send))
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        each_socket!(self, stream => stream.read(buf),
            pipe _pipe => Err(crate::pipe::PipeStream::as_bytes()))
    }

    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        each_socket!(self, stream => stream.read_vectored(bufs),
            pipe _pipe => Err(crate::pipe::PipeStream::as_bytes()))
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        each_socket!(self, stream => stream.write(buf),
            pipe _pipe => Err(crate::pipe::PipeStream::as_bytes()))
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        each_socket!(self, stream => stream.write_vectored(bufs),
            pipe _pipe => Err(crate::pipe::PipeStream::as_bytes()))
    }

    fn flush(&mut self) -> io::Result<()> {
        // A pipe's message is written whole before its write is done.
        each_socket!(self, stream => stream.flush(), pipe _pipe => Ok(()))
    }
}

impl Delegate for Stream {
    fn inner(&mut self) -> io::Result<&mut dyn Source> {
        Ok(each_socket!(self, stream => stream, pipe pipe => pipe))
    }
}
