//! The runtime's side of listening and connecting: tokio's sockets around what
//! `mpconn_net` binds, resolves and decides.

use std::io;
use std::time::Instant;

use mpconn_net::{During, Error, Listening};
use tokio::net::{TcpListener, TcpStream};
#[cfg(unix)]
use tokio::net::{UnixListener, UnixStream};

use crate::{Address, ClientOptions, Stream};

mpconn_net::socket_enum! {
    /// A bound, listening socket of either family, which the accept loop owns.
    pub(crate) enum RawListener {
        Tcp(TcpListener),
        Unix(UnixListener),
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

    /// Takes over a socket bound by [`mpconn_net::bind`]. A named pipe is refused: this
    /// adapter has no `AF_PIPE` yet (tokio's pipes read through a buffer of mio's that
    /// hides where a longer message ends).
    #[cfg(windows)]
    pub(crate) fn new(listening: Listening) -> io::Result<RawListener> {
        match listening {
            Listening::Tcp(tcp) => {
                tcp.set_nonblocking(true)?;
                Ok(TcpListener::from_std(tcp)?.into())
            }
            Listening::Pipe(_) => Err(unsupported_pipe()),
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
        }
    }
}

/// `AF_PIPE` in this adapter: not yet (see [`RawListener::new`]).
#[cfg(windows)]
pub(crate) fn unsupported_pipe() -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        "AF_PIPE (Windows named pipes) is not supported by mpconn-tokio yet: \
         use mpconn-std for named pipes, or an AF_INET address",
    )
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
    // Only a full Unix backlog is waited out to the deadline.
    #[cfg(not(unix))]
    let _ = deadline;
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
        #[cfg(unix)]
        Address::Unix(_) | Address::Abstract(_) => {
            let addr = address.to_unix_socket_addr().map_err(failed)?;
            let addr = tokio::net::unix::SocketAddr::from(addr);
            loop {
                match UnixStream::connect_addr(&addr).await {
                    Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                        let pause = mpconn_net::full_backlog_pause(deadline, address)?;
                        tokio::time::sleep(pause).await
                    }
                    other => return other.map(Stream::Unix).map_err(failed),
                }
            }
        }
        #[cfg(windows)]
        Address::Pipe(_) => Err(failed(unsupported_pipe())),
        other => Err(failed(mpconn_net::unsupported_family(other.family()))),
    }
}
