//! The runtime's side of listening and connecting: tokio's sockets around what
//! `mpconn_net` binds, resolves and decides.

use std::io;
use std::time::Instant;

use mpconn_net::{During, Error, Listening};
use tokio::net::{TcpListener, TcpStream};
#[cfg(unix)]
use tokio::net::{UnixListener, UnixStream};

#[cfg(windows)]
use mpconn_net::pipe::PolledListener;

#[cfg(windows)]
use crate::stream::PipeStream;
use crate::{Address, ClientOptions, Stream};

mpconn_net::socket_enum! {
    /// A bound, listening socket of either family, or a named pipe, which the accept
    /// loop owns.
    pub(crate) enum RawListener {
        Tcp(TcpListener),
        Unix(UnixListener),
        Pipe(PolledListener),
    }
}

impl RawListener {
    /// Takes over a socket bound by [`mpconn_net::bind`].
    #[cfg(unix)]
    pub(crate) fn new(listening: Listening) -> io::Result<RawListener> {
        listening.into_nonblocking(
            |tcp| Ok(TcpListener::from_std(tcp)?.into()),
            |unix| Ok(UnixListener::from_std(unix)?.into()),
        )
    }

    /// Takes over a socket bound by [`mpconn_net::bind`], or a named pipe.
    #[cfg(windows)]
    pub(crate) fn new(listening: Listening) -> io::Result<RawListener> {
        match listening {
            Listening::Tcp(tcp) => {
                tcp.set_nonblocking(true)?;
                Ok(TcpListener::from_std(tcp)?.into())
            }
            Listening::Pipe(pipe) => Ok(PolledListener::new(pipe)?.into()),
        }
    }

    /// The next connected socket, set up, and its peer's address.
    pub(crate) async fn accept(&self) -> io::Result<(Stream, Address)> {
        match self {
            RawListener::Tcp(listener) => {
                let (stream, peer) = listener.accept().await?;
                mpconn_net::set_up_tcp(&stream)?;
                Ok((Stream::Tcp(stream), Address::from(peer)))
            }
            #[cfg(unix)]
            RawListener::Unix(listener) => {
                let (stream, peer) = listener.accept().await?;
                let peer = std::os::unix::net::SocketAddr::from(peer);
                Ok((Stream::Unix(stream), Address::from(&peer)))
            }
            // A pipe client has no address of its own: it is named by the pipe's, as
            // mpconn-std names it.
            #[cfg(windows)]
            RawListener::Pipe(listener) => {
                let pipe = std::future::poll_fn(|cx| listener.poll_accept(cx.waker())).await?;
                let stream = Stream::Pipe(PipeStream(std::sync::Arc::new(pipe)));
                Ok((stream, Address::Pipe(listener.name().to_string())))
            }
        }
    }
}

/// Connects to `address` without blocking the runtime: a host name is resolved on a
/// blocking thread, and every address it gives is tried in turn. A Unix listener whose
/// backlog is full is waited out as [`mpconn_net::full_backlog_pause`] says, with the
/// runtime's sleep.
pub(crate) async fn connect(
    address: &Address,
    options: &ClientOptions,
    deadline: Option<Instant>,
) -> Result<Stream, Error> {
    let failed = |e: io::Error| Error::io(During::Connect, e).at(address);
    match address {
        Address::Tcp { .. } => {
            let (to_resolve, resolver) = (address.clone(), options.resolver.clone());
            let addrs = tokio::task::spawn_blocking(move || {
                mpconn_net::resolve(&to_resolve, resolver.as_deref())
            })
            .await
            .map_err(|e| failed(io::Error::other(e)))??;
            let mut last_error = None;
            for addr in addrs {
                match TcpStream::connect(addr).await {
                    Ok(stream) => {
                        mpconn_net::set_up_tcp(&stream).map_err(failed)?;
                        return Ok(Stream::Tcp(stream));
                    }
                    Err(error) => last_error = Some(error),
                }
            }
            Err(failed(
                last_error.unwrap_or_else(|| io::ErrorKind::NotFound.into()),
            ))
        }
        // A Unix connect completes at once: the stream goes to the runtime as it is.
        // tokio's own connect waits for it to be writable: a turn of the runtime's
        // poll and a getsockopt(2) on every connection, and, as that turn finds no
        // timer, a wake-up of the driver (an eventfd write) when the handshake's timer
        // is set.
        #[cfg(unix)]
        Address::Unix(_) | Address::Abstract(_) => loop {
            match mpconn_net::connect_unix(address) {
                Ok(stream) => {
                    return UnixStream::from_std(stream)
                        .map(Stream::Unix)
                        .map_err(failed)
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    let pause = mpconn_net::full_backlog_pause(deadline, address)?;
                    tokio::time::sleep(pause).await
                }
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(failed(error)),
            }
        },
        // CPython's PipeClient: CreateFile, retried while every instance is busy (to
        // the deadline), on a blocking thread as it may wait.
        #[cfg(windows)]
        Address::Pipe(name) => {
            let name = name.clone();
            let pipe = tokio::task::spawn_blocking(move || {
                mpconn_net::pipe::PolledPipe::connect(&name, deadline)
            })
            .await
            .map_err(|e| failed(io::Error::other(e)))?
            .map_err(failed)?;
            Ok(Stream::Pipe(PipeStream(std::sync::Arc::new(pipe))))
        }
        other => Err(failed(mpconn_net::unsupported_family(other.family()))),
    }
}
