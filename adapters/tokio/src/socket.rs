//! Listening and connecting sockets for an [`Address`], as CPython makes them.

use std::io;
use std::net::SocketAddr;
use std::os::fd::OwnedFd;
use std::time::Duration;

use mpconn_std::{Address, Family};
use socket2::Socket;
use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream};

use crate::Stream;

/// A bound, listening socket of either family.
#[derive(Debug)]
pub(crate) enum RawListener {
    Tcp(TcpListener),
    Unix(UnixListener),
}

impl RawListener {
    /// Wraps a socket bound by [`mpconn_std::bind::bind_listening`], made non-blocking.
    pub(crate) fn from_socket(socket: Socket, family: Family) -> io::Result<RawListener> {
        socket.set_nonblocking(true)?;
        let fd = OwnedFd::from(socket);
        Ok(match family {
            Family::Inet => {
                RawListener::Tcp(TcpListener::from_std(std::net::TcpListener::from(fd))?)
            }
            Family::Unix => RawListener::Unix(UnixListener::from_std(
                std::os::unix::net::UnixListener::from(fd),
            )?),
            other => {
                return Err(io::Error::new(
                    io::ErrorKind::Unsupported,
                    format!("no listener for the {other} family here"),
                ))
            }
        })
    }

    /// The next connected socket and its peer's address.
    pub(crate) async fn accept(&self) -> io::Result<(Stream, Address)> {
        match self {
            RawListener::Tcp(listener) => {
                let (stream, peer) = listener.accept().await?;
                Ok((Stream::Tcp(stream), Address::from(peer)))
            }
            RawListener::Unix(listener) => {
                let (stream, peer) = listener.accept().await?;
                let peer = std::os::unix::net::SocketAddr::from(peer);
                Ok((Stream::Unix(stream), Address::from(&peer)))
            }
        }
    }
}

/// Resolves a TCP address without blocking the runtime, IPv4 first: CPython's
/// `AF_INET` family means IPv4, so `localhost` should mean 127.0.0.1 when it can.
async fn resolve(host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
    let mut found: Vec<SocketAddr> = tokio::net::lookup_host((host, port)).await?.collect();
    found.sort_by_key(|addr| addr.is_ipv6());
    if found.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("host {host:?} resolved to no address"),
        ));
    }
    Ok(found)
}

/// Connects to `address`. A Unix listener whose backlog is full refuses a non-blocking
/// connect with `WouldBlock`; CPython's blocking client waits instead, and so does this,
/// retrying every `UNIX_RETRY` (the caller bounds the whole connect with a timeout).
pub(crate) async fn connect(address: &Address) -> io::Result<Stream> {
    const UNIX_RETRY: Duration = Duration::from_millis(10);
    match address {
        Address::Tcp { host, port } => {
            let mut last_error = None;
            for addr in resolve(host, *port).await? {
                match TcpStream::connect(addr).await {
                    Ok(stream) => return Ok(Stream::Tcp(stream)),
                    Err(error) => last_error = Some(error),
                }
            }
            Err(last_error.unwrap_or_else(|| io::ErrorKind::AddrNotAvailable.into()))
        }
        Address::Unix(_) | Address::Abstract(_) => {
            let addr = tokio::net::unix::SocketAddr::from(address.to_unix_socket_addr()?);
            loop {
                match UnixStream::connect_addr(&addr).await {
                    Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                        tokio::time::sleep(UNIX_RETRY).await
                    }
                    other => return other.map(Stream::Unix),
                }
            }
        }
    }
}
