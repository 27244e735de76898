//! The two kinds of socket a listener or a client hands out, as one type (TCP only on
//! Windows, which has no `AF_UNIX` listener in CPython either).

use std::io::{self, IoSlice, IoSliceMut, Read, Write};

use mio::event::Source;
use mio::net::TcpStream;
use mpconn_net::each_socket;

use crate::source::Delegate;

mpconn_net::socket_enum! {
    /// A connected, non-blocking TCP or (Unix only) Unix stream socket: what
    /// [`Listener`](crate::Listener) and [`Client`](crate::Client) connections run over.
    #[derive(Debug)]
    pub enum Stream {
        Tcp(TcpStream),
        Unix(mio::net::UnixStream),
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        each_socket!(self, stream => stream.read(buf))
    }

    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        each_socket!(self, stream => stream.read_vectored(bufs))
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        each_socket!(self, stream => stream.write(buf))
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        each_socket!(self, stream => stream.write_vectored(bufs))
    }

    fn flush(&mut self) -> io::Result<()> {
        each_socket!(self, stream => stream.flush())
    }
}

impl Delegate for Stream {
    fn inner(&mut self) -> io::Result<&mut dyn Source> {
        Ok(each_socket!(self, stream => stream))
    }
}
