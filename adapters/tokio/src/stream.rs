//! The two kinds of socket a listener or a client hands out, as one type.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use mpconn_net::each_socket;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
#[cfg(unix)]
use tokio::net::UnixStream;

mpconn_net::socket_enum! {
    /// A connected TCP or Unix stream socket: what [`Listener`](crate::Listener) and
    /// [`Client`](crate::Client) connections run over.
    #[derive(Debug)]
    pub enum Stream {
        Tcp(TcpStream),
        Unix(UnixStream),
    }
}

impl Stream {
    /// Waits until there is something to read (or the peer closed).
    pub(crate) async fn readable(&self) -> io::Result<()> {
        each_socket!(self, stream => stream.readable().await)
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        each_socket!(self.get_mut(), stream => Pin::new(stream).poll_read(cx, buf))
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        each_socket!(self.get_mut(), stream => Pin::new(stream).poll_write(cx, buf))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        each_socket!(self.get_mut(), stream => Pin::new(stream).poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        each_socket!(self.get_mut(), stream => Pin::new(stream).poll_shutdown(cx))
    }
}
