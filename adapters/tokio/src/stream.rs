//! The kinds of stream a listener or a client hands out, as one type, and the message
//! path of a connection that runs over a named pipe.

use std::io;
use std::pin::Pin;
#[cfg(windows)]
use std::sync::Arc;
use std::task::{Context, Poll};

use mpconn_net::{each_socket, Inbound, Outbound};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
#[cfg(unix)]
use tokio::net::UnixStream;

mpconn_net::socket_enum! {
    /// A connected TCP or Unix stream socket, or on Windows a named pipe: what
    /// [`Listener`](crate::Listener) and [`Client`](crate::Client) connections run
    /// over.
    #[derive(Debug)]
    pub enum Stream {
        Tcp(TcpStream),
        Unix(UnixStream),
        Pipe(PipeStream),
    }
}

/// One end of a connected Windows named pipe (`AF_PIPE`), in message mode: the stream
/// of a [`Connection`](crate::Connection) that a [`Listener`](crate::Listener) or a
/// [`Client`](crate::Client) made over a pipe address. Its messages go through that
/// connection, one pipe message each (CPython's `PipeConnection`); as a byte stream
/// (`AsyncRead`, `AsyncWrite`) it refuses to read or write, since a byte stream cannot
/// say where a pipe message ends.
#[cfg(windows)]
#[cfg_attr(docsrs, doc(cfg(windows)))]
#[derive(Debug)]
pub struct PipeStream(pub(crate) Arc<mpconn_net::pipe::PolledPipe>);

#[cfg(windows)]
impl PipeStream {
    fn as_bytes() -> io::Error {
        io::Error::new(
            io::ErrorKind::Unsupported,
            "a named pipe's messages are read and written through the Connection it came \
             with: as a byte stream it cannot say where a message ends",
        )
    }
}

impl Stream {
    /// Waits until there is something to read (or the peer closed).
    pub(crate) async fn readable(&self) -> io::Result<()> {
        each_socket!(self, stream => stream.readable().await, pipe pipe => {
            std::future::poll_fn(|cx| pipe.0.poll_readable(cx.waker())).await
        })
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        each_socket!(self.get_mut(), stream => Pin::new(stream).poll_read(cx, buf),
            pipe _pipe => Poll::Ready(Err(PipeStream::as_bytes())))
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        each_socket!(self.get_mut(), stream => Pin::new(stream).poll_write(cx, buf),
            pipe _pipe => Poll::Ready(Err(PipeStream::as_bytes())))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // A pipe's message is written whole before its write is done: nothing to flush.
        each_socket!(self.get_mut(), stream => Pin::new(stream).poll_flush(cx),
            pipe _pipe => Poll::Ready(Ok(())))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // A pipe has no half close, as CPython's PipeConnection has none: the peer sees
        // the end when the connection drops its handle.
        each_socket!(self.get_mut(), stream => Pin::new(stream).poll_shutdown(cx),
            pipe _pipe => Poll::Ready(Ok(())))
    }
}

/// `Some(body)` over the pipe of a [`Messages`] that has one, `None` otherwise; off
/// Windows always `None`, and the arguments listed after `unused` go unused there.
macro_rules! over_pipe {
    ($messages:expr, $pipe:ident => $body:expr, unused $unused:expr) => {{
        #[cfg(windows)]
        if let Some($pipe) = &$messages.pipe {
            return Some($body);
        }
        let _ = $unused;
        None
    }};
}

/// The named pipe under a connection, when it runs over one: its messages then go
/// through the pipe (the core on [`mpconn::Transport::Messages`]), not through the
/// connection's byte stream. Nothing otherwise, and always nothing off Windows: each
/// method is then `None`, and the byte stream is used.
#[derive(Debug, Clone, Default)]
pub(crate) struct Messages {
    #[cfg(windows)]
    pipe: Option<Arc<mpconn_net::pipe::PolledPipe>>,
}

impl Messages {
    /// The pipe of `stream`, if it is one.
    pub(crate) fn of(stream: &Stream) -> Messages {
        #[cfg(windows)]
        if let Stream::Pipe(pipe) = stream {
            return Messages {
                pipe: Some(pipe.0.clone()),
            };
        }
        let _ = stream;
        Messages::default()
    }

    /// True over a pipe.
    #[inline]
    pub(crate) fn is_pipe(&self) -> bool {
        #[cfg(windows)]
        return self.pipe.is_some();
        #[cfg(not(windows))]
        false
    }

    /// Over a pipe: one read into the core, which it commits (the end of the pipe
    /// included).
    #[inline]
    pub(crate) fn poll_read_into(
        &self,
        cx: &mut Context<'_>,
        core: &mut impl Inbound,
    ) -> Option<Poll<io::Result<()>>> {
        over_pipe!(self, pipe => pipe.poll_read_into(cx.waker(), core), unused (cx, core))
    }

    /// Over a pipe: the core's next queued message, written whole and taken off the
    /// queue.
    #[inline]
    pub(crate) fn poll_write_from(
        &self,
        cx: &mut Context<'_>,
        core: &mut impl Outbound,
    ) -> Option<Poll<io::Result<usize>>> {
        over_pipe!(self, pipe => pipe.poll_write_from(cx.waker(), core), unused (cx, core))
    }

    /// Over a pipe: the direct send's next message, written whole and marked sent.
    #[inline]
    pub(crate) fn poll_write_direct(
        &self,
        cx: &mut Context<'_>,
        send: &mut mpconn::DirectSend<'_>,
    ) -> Option<Poll<io::Result<usize>>> {
        over_pipe!(self, pipe => pipe.poll_write_direct(cx.waker(), send), unused (cx, send))
    }
}
