//! Listening and connecting sockets for an [`Address`], as CPython makes them.

use std::io;
use std::net::SocketAddr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use mio::event::Source;
use mio::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use mio::{Interest, Registry, Token};
use mpconn_std::Address;
use socket2::{Domain, SockAddr, Socket, Type};

use crate::Stream;

/// A bound, listening, non-blocking socket of either family.
#[derive(Debug)]
pub(crate) enum RawListener {
    Tcp(TcpListener),
    Unix(UnixListener),
}

impl RawListener {
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

/// The socket address of a Unix path or abstract name, as `socket2` takes it.
fn unix_sock_addr(address: &Address) -> io::Result<SockAddr> {
    match address {
        Address::Unix(path) => SockAddr::unix(path),
        Address::Abstract(name) => {
            // socket2 reads a path that starts with NUL as an abstract name.
            let mut bytes = Vec::with_capacity(name.len() + 1);
            bytes.push(0);
            bytes.extend_from_slice(name);
            SockAddr::unix(Path::new(std::ffi::OsStr::from_bytes(&bytes)))
        }
        Address::Tcp { .. } => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{address} is a TCP address, not an AF_UNIX one"),
        )),
    }
}

/// Binds and listens with `SO_REUSEADDR` (TCP) and the given backlog, as CPython's
/// `SocketListener` does; returns the listener and the address it is bound to (the real
/// port when the address asked for port 0).
pub(crate) fn listen(address: &Address, backlog: i32) -> io::Result<(RawListener, Address)> {
    match address {
        Address::Tcp { .. } => {
            let mut last_error = None;
            for addr in resolve(address)? {
                let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
                socket.set_reuse_address(true)?;
                let bound = socket
                    .bind(&addr.into())
                    .and_then(|()| socket.listen(backlog))
                    .and_then(|()| socket.set_nonblocking(true));
                match bound {
                    Ok(()) => {
                        let listener = TcpListener::from_std(socket.into());
                        let local = listener.local_addr()?;
                        return Ok((RawListener::Tcp(listener), Address::from(local)));
                    }
                    Err(error) => last_error = Some(error),
                }
            }
            Err(last_error.unwrap_or_else(|| io::ErrorKind::AddrNotAvailable.into()))
        }
        Address::Unix(_) | Address::Abstract(_) => {
            let socket = Socket::new(Domain::UNIX, Type::STREAM, None)?;
            socket.bind(&unix_sock_addr(address)?)?;
            socket.listen(backlog)?;
            socket.set_nonblocking(true)?;
            let listener = UnixListener::from_std(socket.into());
            Ok((RawListener::Unix(listener), address.clone()))
        }
    }
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

/// What a listener removes when it closes: the socket file it created and, for a default
/// address, the private directory made for it.
#[derive(Debug, Default)]
pub(crate) struct Cleanup {
    pub(crate) socket_file: Option<PathBuf>,
    pub(crate) private_dir: Option<PathBuf>,
}

impl Cleanup {
    pub(crate) fn run(&mut self) {
        if let Some(path) = self.socket_file.take() {
            let _ = std::fs::remove_file(path);
        }
        if let Some(dir) = self.private_dir.take() {
            let _ = std::fs::remove_dir(dir);
        }
    }
}
