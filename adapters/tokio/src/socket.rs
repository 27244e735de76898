//! Listening and connecting sockets for an [`Address`], as CPython makes them.

use std::io;
use std::net::SocketAddr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use mpconn_std::Address;
use socket2::{Domain, SockAddr, Socket, Type};
use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream};

use crate::Stream;

/// A bound, listening socket of either family.
#[derive(Debug)]
pub(crate) enum RawListener {
    Tcp(TcpListener),
    Unix(UnixListener),
}

impl RawListener {
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
pub(crate) async fn listen(address: &Address, backlog: i32) -> io::Result<(RawListener, Address)> {
    match address {
        Address::Tcp { host, port } => {
            let mut last_error = None;
            for addr in resolve(host, *port).await? {
                let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
                socket.set_reuse_address(true)?;
                let bound = socket
                    .bind(&addr.into())
                    .and_then(|()| socket.listen(backlog))
                    .and_then(|()| socket.set_nonblocking(true));
                match bound {
                    Ok(()) => {
                        let listener = TcpListener::from_std(socket.into())?;
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
            let listener = UnixListener::from_std(socket.into())?;
            Ok((RawListener::Unix(listener), address.clone()))
        }
    }
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
