//! Binding a listening socket the way CPython's `Listener` does, shared by every
//! adapter (std, tokio, mio), so that the default address, `SO_REUSEADDR`, the backlog
//! and the socket-file cleanup are written once.

use std::io;
use std::path::PathBuf;

use socket2::{Domain, Socket, Type};

use crate::address::{Address, Family};
use crate::socket::{each_resolved, unix_sockaddr};

/// A socket bound and listening, in blocking mode, with what its listener must remove
/// when it closes. An async adapter sets it non-blocking and wraps it in its own type.
#[derive(Debug)]
pub struct BoundSocket {
    /// The listening socket.
    pub socket: Socket,
    /// The bound address: with the real port after binding to port 0 (CPython's
    /// `Listener.address`).
    pub address: Address,
    /// The socket file and private directory to remove on close.
    pub cleanup: SocketCleanup,
}

/// What a listener removes when it closes: the socket file it created (an abstract name
/// has none) and, for a default address, the private directory made for it. Dropping it
/// removes them too, so keep it as long as the socket.
#[derive(Debug, Default)]
pub struct SocketCleanup {
    socket_file: Option<PathBuf>,
    private_dir: Option<PathBuf>,
}

impl SocketCleanup {
    /// Removes what is left to remove; running it again does nothing.
    pub fn run(&mut self) {
        if let Some(path) = self.socket_file.take() {
            let _ = std::fs::remove_file(path);
        }
        if let Some(dir) = self.private_dir.take() {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

impl Drop for SocketCleanup {
    fn drop(&mut self) {
        self.run();
    }
}

/// Binds and listens as CPython's `SocketListener` does: on `address`, or on a fresh
/// default address of `family` (a `listener-XXXXXXXX` socket in a new private 0700
/// temporary directory for `AF_UNIX`, the default; `localhost:0` for `AF_INET`), with
/// `SO_REUSEADDR` and the given backlog. A TCP host is resolved IPv4 first, with the
/// system resolver.
///
/// ```
/// use mpconn_std::bind::bind_listening;
/// use mpconn_std::Family;
///
/// let mut bound = bind_listening(None, Some(Family::Inet), 1)?;
/// assert_ne!(bound.address.to_string(), "localhost:0"); // the real port
/// bound.cleanup.run();
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn bind_listening(
    address: Option<Address>,
    family: Option<Family>,
    backlog: i32,
) -> io::Result<BoundSocket> {
    let mut cleanup = SocketCleanup::default();
    let address = match (address, family) {
        (Some(address), Some(family)) if address.family() != family => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("address {address} is not of family {family}"),
            ))
        }
        (Some(address), _) => address,
        (None, Some(Family::Inet)) => Address::localhost_any_port(),
        (None, _) => {
            let fresh = Address::fresh_unix()?;
            cleanup.private_dir = fresh.path().and_then(|p| p.parent()).map(PathBuf::from);
            fresh
        }
    };
    // On an error, dropping `cleanup` removes the private directory.
    let (socket, bound) = listen(&address, backlog)?;
    cleanup.socket_file = bound.path().map(PathBuf::from);
    Ok(BoundSocket {
        socket,
        address: bound,
        cleanup,
    })
}

fn listen(address: &Address, backlog: i32) -> io::Result<(Socket, Address)> {
    let listen_on = |domain: Domain, addr: &socket2::SockAddr| -> io::Result<Socket> {
        let socket = Socket::new(domain, Type::STREAM, None)?;
        socket.set_reuse_address(true)?;
        socket.bind(addr)?;
        socket.listen(backlog)?;
        Ok(socket)
    };
    match address.family() {
        Family::Inet => {
            let socket = each_resolved(address, |addr| listen_on(addr.domain(), &addr))?;
            let local = socket.local_addr()?.as_socket().ok_or_else(|| {
                io::Error::other("a TCP listener reported a non-IP local address")
            })?;
            Ok((socket, Address::from(local)))
        }
        Family::Unix => {
            let socket = listen_on(Domain::UNIX, &unix_sockaddr(address)?)?;
            Ok((socket, address.clone()))
        }
    }
}
