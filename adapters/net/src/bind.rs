//! Binding a listening socket the way CPython's `Listener` does, for every adapter:
//! the default address, `SO_REUSEADDR`, the backlog and the socket-file cleanup are
//! written once.

use std::io;
use std::net::TcpListener;
#[cfg(unix)]
use std::os::unix::net::UnixListener;
use std::path::PathBuf;

use socket2::{Domain, Socket, Type};

use crate::address::{Address, Family};
use crate::error::{During, Error, Result};
use crate::options::ListenerOptions;
#[cfg(windows)]
use crate::pipe::PipeListener;
#[cfg(unix)]
use crate::socket::unix_sockaddr;
use crate::socket::{first_that_works, resolve};

crate::socket_enum! {
    /// A listening socket of either family, in blocking mode until
    /// [`set_nonblocking`](Listening::set_nonblocking). An async adapter wraps it in its
    /// runtime's type.
    ///
    /// ```
    /// use mpconn_net::{bind, Family, ListenerOptions, Listening};
    ///
    /// let bound = bind(None, &ListenerOptions::new().family(Family::Inet))?;
    /// assert!(matches!(bound.listener, Listening::Tcp(_)));
    /// # Ok::<(), mpconn_net::Error>(())
    /// ```
    #[derive(Debug)]
    pub enum Listening {
        Tcp(TcpListener),
        Unix(UnixListener),
        Pipe(crate::pipe::PipeListener),
    }
}

impl Listening {
    /// Sets `O_NONBLOCK`, as an event loop or an async runtime needs.
    ///
    /// ```
    /// let bound = mpconn_net::bind(None, &mpconn_net::ListenerOptions::new())?;
    /// bound.listener.set_nonblocking(true)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        crate::each_socket!(self, listener => listener.set_nonblocking(nonblocking),
        pipe _pipe => Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "a named pipe listener is driven by its own deadlines, not O_NONBLOCK",
        )))
    }

    /// Sets the socket non-blocking and hands it to `tcp` or `unix`, which wrap it in a
    /// runtime's listener type, as the tokio and mio adapters do.
    ///
    /// ```
    /// let bound = mpconn_net::bind(None, &mpconn_net::ListenerOptions::new())?;
    /// let family = bound.listener.into_nonblocking(|_tcp| Ok("tcp"), |_unix| Ok("unix"))?;
    /// assert_eq!(family, "unix");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(unix)]
    pub fn into_nonblocking<L>(
        self,
        tcp: impl FnOnce(TcpListener) -> io::Result<L>,
        unix: impl FnOnce(UnixListener) -> io::Result<L>,
    ) -> io::Result<L> {
        self.set_nonblocking(true)?;
        match self {
            Listening::Tcp(listener) => tcp(listener),
            Listening::Unix(listener) => unix(listener),
        }
    }
}

/// A socket bound and listening, with what its listener must remove when it closes.
///
/// ```
/// let mut bound = mpconn_net::bind(None, &mpconn_net::ListenerOptions::new())?;
/// assert!(bound.address.path().unwrap().exists()); // a fresh listener-XXXXXXXX socket
/// bound.cleanup.run();
/// # Ok::<(), mpconn_net::Error>(())
/// ```
#[derive(Debug)]
pub struct Bound {
    /// The listening socket.
    pub listener: Listening,
    /// The bound address: with the real port after binding to port 0 (CPython's
    /// `Listener.address`).
    pub address: Address,
    /// The socket file and private directory to remove on close.
    pub cleanup: SocketCleanup,
}

/// What a listener removes when it closes: the socket file it created (an abstract name
/// has none) and, for a default address, the private directory made for it. Dropping it
/// removes them too, so keep it as long as the socket.
///
/// ```
/// let mut bound = mpconn_net::bind(None, &mpconn_net::ListenerOptions::new())?;
/// let path = bound.address.path().unwrap().to_path_buf();
/// bound.cleanup.run();
/// assert!(!path.exists() && !path.parent().unwrap().exists());
/// bound.cleanup.run(); // again: nothing left to do
/// # Ok::<(), mpconn_net::Error>(())
/// ```
#[derive(Debug, Default)]
pub struct SocketCleanup {
    socket_file: Option<PathBuf>,
    private_dir: Option<PathBuf>,
}

impl SocketCleanup {
    /// Removes what is left to remove; running it again does nothing.
    ///
    /// ```
    /// let mut cleanup = mpconn_net::SocketCleanup::default();
    /// cleanup.run(); // nothing to remove
    /// ```
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
/// default address of `options.family` (a `listener-XXXXXXXX` socket in a new private
/// 0700 temporary directory for `AF_UNIX`, the default; `localhost:0` for `AF_INET`),
/// with `SO_REUSEADDR` and `options.backlog`. A TCP host is resolved IPv4 first, with
/// the system resolver, which may block: async code runs this on a blocking thread.
/// Errors name the address ("bind to 127.0.0.1:80: Permission denied").
///
/// ```
/// use mpconn_net::{bind, Family, ListenerOptions};
///
/// let mut bound = bind(None, &ListenerOptions::new().family(Family::Inet).backlog(1))?;
/// assert_ne!(bound.address.to_string(), "localhost:0"); // the real port
/// bound.cleanup.run();
/// # Ok::<(), mpconn_net::Error>(())
/// ```
pub fn bind(address: Option<Address>, options: &ListenerOptions) -> Result<Bound> {
    let mut cleanup = SocketCleanup::default();
    let address = match (address, options.family) {
        (Some(address), Some(family)) if address.family() != family => {
            let refused = io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("not an {family} address"),
            );
            return Err(Error::io(During::Bind, refused).at(&address));
        }
        (Some(address), _) => address,
        (None, Some(Family::Inet)) => Address::localhost_any_port(),
        // CPython's default family on Windows.
        (None, None | Some(Family::Pipe)) if cfg!(windows) => {
            Address::fresh_pipe().map_err(|e| Error::io(During::Bind, e))?
        }
        // Off Windows, AF_PIPE is refused, never a Unix socket in its place.
        (None, Some(Family::Pipe)) => {
            return Err(Error::io(During::Bind, unsupported_family(Family::Pipe)))
        }
        (None, _) => {
            let fresh = Address::fresh_unix().map_err(|e| Error::io(During::Bind, e))?;
            cleanup.private_dir = fresh.path().and_then(|p| p.parent()).map(PathBuf::from);
            fresh
        }
    };
    // On an error, dropping `cleanup` removes the private directory.
    let (listener, bound) = listen(&address, options.backlog)?;
    cleanup.socket_file = bound.path().map(PathBuf::from);
    Ok(Bound {
        listener,
        address: bound,
        cleanup,
    })
}

fn listen(address: &Address, backlog: i32) -> Result<(Listening, Address)> {
    let listen_on = |domain: Domain, addr: &socket2::SockAddr| -> io::Result<Socket> {
        let socket = Socket::new(domain, Type::STREAM, None)?;
        socket.set_reuse_address(true)?;
        socket.bind(addr)?;
        socket.listen(backlog)?;
        Ok(socket)
    };
    let failed = |e: io::Error| Error::io(During::Bind, e).at(address);
    match address.family() {
        Family::Inet => {
            let addrs = resolve(address, None)?;
            let socket = first_that_works(address, During::Bind, addrs, |addr| {
                let addr = socket2::SockAddr::from(addr);
                listen_on(addr.domain(), &addr).map_err(failed)
            })?;
            let local = socket.local_addr().map_err(failed)?.as_socket();
            let local = local.ok_or_else(|| {
                failed(io::Error::other(
                    "a TCP listener reported a non-IP local address",
                ))
            })?;
            let listener = TcpListener::from(socket);
            Ok((Listening::Tcp(listener), Address::from(local)))
        }
        #[cfg(unix)]
        Family::Unix => {
            let addr = unix_sockaddr(address).map_err(failed)?;
            let socket = listen_on(Domain::UNIX, &addr).map_err(failed)?;
            let listener = UnixListener::from(std::os::fd::OwnedFd::from(socket));
            Ok((Listening::Unix(listener), address.clone()))
        }
        #[cfg(windows)]
        Family::Pipe => {
            let name = address.pipe_name().unwrap_or_default();
            let listener = PipeListener::bind(name).map_err(failed)?;
            Ok((Listening::Pipe(listener), address.clone()))
        }
        family => Err(failed(unsupported_family(family))),
    }
}

/// The error for a family this system lacks (AF_PIPE off Windows, AF_UNIX on it).
///
/// ```
/// let error = mpconn_net::unsupported_family(mpconn_net::Family::Pipe);
/// assert_eq!(error.kind(), std::io::ErrorKind::Unsupported);
/// ```
pub fn unsupported_family(family: Family) -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        format!("{family} is not supported on this system"),
    )
}
