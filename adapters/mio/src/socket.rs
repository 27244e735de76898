//! Listening and connecting sockets for an [`Address`], as CPython makes them.

use std::io;
use std::net::SocketAddr;
use std::os::fd::OwnedFd;

use mio::event::Source;
use mio::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use mio::{Interest, Registry, Token};
use mpconn_std::{Address, Family};
use socket2::Socket;

use crate::Stream;

/// A bound, listening, non-blocking socket of either family.
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
                RawListener::Tcp(TcpListener::from_std(std::net::TcpListener::from(fd)))
            }
            Family::Unix => RawListener::Unix(UnixListener::from_std(
                std::os::unix::net::UnixListener::from(fd),
            )),
            other => {
                return Err(io::Error::new(
                    io::ErrorKind::Unsupported,
                    format!("no listener for the {other} family here"),
                ))
            }
        })
    }

    /// The next connected socket and its peer's address (`WouldBlock` when none waits).
    pub(crate) fn accept(&self) -> io::Result<(Stream, Address)> {
        match self {
            RawListener::Tcp(listener) => {
                let (stream, peer) = listener.accept()?;
                Ok((Stream::Tcp(stream), Address::from(peer)))
            }
            RawListener::Unix(listener) => {
                let (stream, peer) = listener.accept()?;
                Ok((Stream::Unix(stream), Address::from(&peer)))
            }
        }
    }
}

impl std::os::fd::AsRawFd for RawListener {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        match self {
            RawListener::Tcp(listener) => listener.as_raw_fd(),
            RawListener::Unix(listener) => listener.as_raw_fd(),
        }
    }
}

impl Source for RawListener {
    fn register(
        &mut self,
        registry: &Registry,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        match self {
            RawListener::Tcp(listener) => listener.register(registry, token, interests),
            RawListener::Unix(listener) => listener.register(registry, token, interests),
        }
    }

    fn reregister(
        &mut self,
        registry: &Registry,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        match self {
            RawListener::Tcp(listener) => listener.reregister(registry, token, interests),
            RawListener::Unix(listener) => listener.reregister(registry, token, interests),
        }
    }

    fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
        match self {
            RawListener::Tcp(listener) => listener.deregister(registry),
            RawListener::Unix(listener) => listener.deregister(registry),
        }
    }
}

/// Resolves a TCP address, IPv4 first: CPython's `AF_INET` family means IPv4, so
/// `localhost` should mean 127.0.0.1 when it can. A host name is resolved by the system
/// resolver, which may block; an IP address or `localhost` (from `/etc/hosts`) does not
/// wait on the network.
fn resolve(address: &Address) -> io::Result<Vec<SocketAddr>> {
    let mut found = address.to_socket_addrs()?;
    found.sort_by_key(|addr| addr.is_ipv6());
    Ok(found)
}

/// Starts a non-blocking connect to `address`. TCP completes in the background (a
/// failure shows up as an error from the first read or write); a Unix connect completes
/// at once, or fails with `WouldBlock` when the listener's backlog is full.
pub(crate) fn connect(address: &Address) -> io::Result<Stream> {
    match address {
        Address::Tcp { .. } => {
            let addr = resolve(address)?[0];
            Ok(Stream::Tcp(TcpStream::connect(addr)?))
        }
        Address::Unix(_) | Address::Abstract(_) => {
            let addr = address.to_unix_socket_addr()?;
            match UnixStream::connect_addr(&addr) {
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => Err(io::Error::new(
                    io::ErrorKind::ConnectionRefused,
                    format!("{address}: the listener's backlog is full; try again later"),
                )),
                other => other.map(Stream::Unix),
            }
        }
    }
}
