//! Resolving and connecting as every adapter does: IPv4 first, every address tried,
//! `TCP_NODELAY` on every TCP stream, one policy for a full Unix backlog, and the core
//! with the OS's randomness.

#[cfg(unix)]
use std::ffi::OsString;
use std::io;
use std::net::{SocketAddr, TcpStream};
#[cfg(unix)]
use std::os::unix::ffi::OsStringExt;
#[cfg(unix)]
use std::os::unix::net::UnixStream;
#[cfg(unix)]
use std::path::PathBuf;
use std::time::{Duration, Instant};

use mpconn::{HandshakeConfig, Role};
#[cfg(unix)]
use socket2::Domain;
use socket2::{SockAddr, SockRef, Socket, Type};

use crate::address::Address;
use crate::error::{During, Error, Result};
use crate::options::{ClientOptions, Resolve};

/// A fresh core [`mpconn::Connection`] for `role`, with the OS's random source
/// (`getrandom`) for its handshake nonce: how every adapter starts a connection.
///
/// ```
/// use mpconn_net::{new_core, HandshakeConfig};
///
/// let server = new_core(mpconn::Role::Server, Some(b"key"), &HandshakeConfig::default());
/// assert!(server.is_handshaking() && server.wants_write()); // the challenge is queued
/// let open = new_core(mpconn::Role::Client, None, &HandshakeConfig::default());
/// assert!(open.is_established()); // no key, no handshake, as in CPython
/// ```
pub fn new_core(
    role: Role,
    authkey: Option<&[u8]>,
    config: &HandshakeConfig,
) -> mpconn::Connection {
    let mut rng = getrandom::rand_core::UnwrapErr(getrandom::SysRng);
    match role {
        Role::Server => mpconn::Connection::server(authkey, config, &mut rng),
        Role::Client => mpconn::Connection::client(authkey, config, &mut rng),
    }
}

/// Sets up a TCP stream, accepted or connected, of any runtime: `TCP_NODELAY`, since
/// every write is whole frames and Nagle's delay could only add latency.
///
/// ```
/// let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
/// let stream = std::net::TcpStream::connect(listener.local_addr()?)?;
/// mpconn_net::set_up_tcp(&stream)?;
/// assert!(stream.nodelay()?);
/// # Ok::<(), std::io::Error>(())
/// ```
#[cfg(unix)]
pub fn set_up_tcp(stream: &impl std::os::fd::AsFd) -> io::Result<()> {
    SockRef::from(stream).set_tcp_nodelay(true)
}

/// Sets up a TCP stream, accepted or connected, of any runtime: `TCP_NODELAY`, since
/// every write is whole frames and Nagle's delay could only add latency.
#[cfg(windows)]
pub fn set_up_tcp(stream: &impl std::os::windows::io::AsSocket) -> io::Result<()> {
    SockRef::from(stream).set_tcp_nodelay(true)
}

/// How long a client waits before it tries again to connect to a Unix listener whose
/// backlog is full.
///
/// ```
/// assert_eq!(mpconn_net::FULL_BACKLOG_RETRY.as_millis(), 10);
/// ```
pub const FULL_BACKLOG_RETRY: Duration = Duration::from_millis(10);

/// The one policy of every adapter for a Unix listener whose backlog is full (the OS
/// refuses a non-blocking connect with `EAGAIN`): wait, as CPython's blocking client
/// does, and try again every [`FULL_BACKLOG_RETRY`] until the listener makes room or
/// the client's deadline passes; then [`Error::Timeout`] naming the address. Without a
/// deadline the client waits as long as it takes.
///
/// This returns how long to sleep before the next attempt, or that timeout; std and
/// mio sleep the thread, tokio sleeps the task.
///
/// ```
/// use std::time::{Duration, Instant};
/// use mpconn_net::{full_backlog_pause, Address};
///
/// let address = Address::unix("/tmp/busy.sock");
/// assert_eq!(full_backlog_pause(None, &address)?, mpconn_net::FULL_BACKLOG_RETRY);
/// let error = full_backlog_pause(Some(Instant::now()), &address).unwrap_err();
/// assert_eq!(error.to_string(), "timed out connecting to /tmp/busy.sock");
/// # Ok::<(), mpconn_net::Error>(())
/// ```
pub fn full_backlog_pause(deadline: Option<Instant>, address: &Address) -> Result<Duration> {
    match deadline {
        None => Ok(FULL_BACKLOG_RETRY),
        Some(deadline) => match deadline.checked_duration_since(Instant::now()) {
            Some(left) if !left.is_zero() => Ok(left.min(FULL_BACKLOG_RETRY)),
            _ => Err(Error::Timeout {
                during: During::Connect,
                address: Some(address.clone()),
            }),
        },
    }
}

/// Resolves a TCP address to the socket addresses to try, in order: IPv4 first, as
/// CPython's `AF_INET` family means IPv4 (so that a listener on `"localhost"` is where
/// a CPython client looks for it, even where localhost also resolves to `::1`), each
/// family in the resolver's order. An IPv6-only host (such as `"::1"`) still works.
///
/// `resolver` replaces the system's ([`ClientOptions::resolver`]). Both may block:
/// async code calls this on a blocking thread.
///
/// ```
/// use mpconn_net::{resolve, Address};
///
/// let addrs = resolve(&Address::tcp("127.0.0.1", 6000), None)?;
/// assert_eq!(addrs, ["127.0.0.1:6000".parse().unwrap()]);
/// let v6_last: &mpconn_net::Resolve = &|_, port| {
///     Ok(vec![([0u16, 0, 0, 0, 0, 0, 0, 1], port).into(), ([127, 0, 0, 1], port).into()])
/// };
/// let addrs = resolve(&Address::tcp("anywhere", 1), Some(v6_last))?;
/// assert!(addrs[0].is_ipv4() && addrs[1].is_ipv6());
/// # Ok::<(), mpconn_net::Error>(())
/// ```
pub fn resolve(address: &Address, resolver: Option<&Resolve>) -> Result<Vec<SocketAddr>> {
    let failed = |e: io::Error| Error::io(During::Resolve, e).at(address);
    let mut found = match (address, resolver) {
        (Address::Tcp { host, port }, Some(resolve)) => resolve(host, *port).map_err(failed)?,
        _ => address.to_socket_addrs().map_err(failed)?,
    };
    if found.is_empty() {
        return Err(failed(io::Error::new(
            io::ErrorKind::NotFound,
            "resolved to no address",
        )));
    }
    found.sort_by_key(SocketAddr::is_ipv6);
    Ok(found)
}

/// Tries `f` on each of `addrs` in turn and returns the first success, or the last
/// failure as an error during `during` at `address`.
pub(crate) fn first_that_works<T>(
    address: &Address,
    during: During,
    addrs: Vec<SocketAddr>,
    mut f: impl FnMut(SocketAddr) -> Result<T>,
) -> Result<T> {
    let mut last = None;
    for addr in addrs {
        match f(addr) {
            Ok(done) => return Ok(done),
            Err(error) => last = Some(error),
        }
    }
    let none = || Error::io(during, io::ErrorKind::NotFound.into());
    Err(last.unwrap_or_else(none).during(during).at(address))
}

/// The socket address for an `AF_UNIX` [`Address`]: a path, or a NUL and the name.
#[cfg(unix)]
pub(crate) fn unix_sockaddr(address: &Address) -> io::Result<SockAddr> {
    match address {
        Address::Unix(path) => SockAddr::unix(path),
        Address::Abstract(name) => {
            // Fail clearly off Linux, where the leading NUL would mean nothing.
            address.to_unix_socket_addr()?;
            let mut bytes = vec![0];
            bytes.extend_from_slice(name);
            SockAddr::unix(PathBuf::from(OsString::from_vec(bytes)))
        }
        Address::Tcp { .. } | Address::Pipe(_) => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{address} is not an AF_UNIX address"),
        )),
    }
}

crate::socket_enum! {
    /// A connected socket of either family, in blocking mode, from [`connect`].
    ///
    /// ```no_run
    /// use mpconn_net::{connect, ClientOptions, Connected};
    ///
    /// let address = "/tmp/app.sock".parse()?;
    /// match connect(&address, &ClientOptions::new(), None)? {
    ///     Connected::Tcp(stream) => assert!(stream.nodelay()?),
    ///     Connected::Unix(stream) => drop(stream),
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[derive(Debug)]
    pub enum Connected {
        Tcp(TcpStream),
        Unix(UnixStream),
        Pipe(crate::pipe::PipeStream),
    }
}

/// Connects to `address` by blocking the thread until `deadline` (`None`: as long as it
/// takes), as the std adapter does and the mio adapter before its event loop takes
/// over: a TCP host is [resolved](resolve) with `options.resolver` and every address is
/// tried in turn until one connects; the stream is [set up](set_up_tcp). A Unix
/// listener's full backlog is waited out ([`full_backlog_pause`]). Errors name the
/// address ("connect to /tmp/x.sock: No such file or directory"); a deadline that
/// passes is [`Error::Timeout`].
///
/// ```
/// use mpconn_net::{bind, connect, ClientOptions, ListenerOptions};
///
/// let bound = bind(None, &ListenerOptions::new())?;
/// let stream = connect(&bound.address, &ClientOptions::new(), None)?;
/// # drop(stream);
/// let missing = "/nonexistent/app.sock".parse()?;
/// let error = connect(&missing, &ClientOptions::new(), None).unwrap_err();
/// assert!(error.to_string().starts_with("connect to /nonexistent/app.sock: "), "{error}");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn connect(
    address: &Address,
    options: &ClientOptions,
    deadline: Option<Instant>,
) -> Result<Connected> {
    let timed_out = || Error::Timeout {
        during: During::Connect,
        address: Some(address.clone()),
    };
    let failed = |e: io::Error| match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => timed_out(),
        _ => Error::io(During::Connect, e).at(address),
    };
    match address {
        Address::Tcp { .. } => {
            let addrs = resolve(address, options.resolver.as_deref())?;
            let stream = first_that_works(address, During::Connect, addrs, |addr| {
                let addr = SockAddr::from(addr);
                let socket = Socket::new(addr.domain(), Type::STREAM, None).map_err(failed)?;
                match deadline {
                    None => retry_interrupted(|| socket.connect(&addr)).map_err(failed)?,
                    Some(deadline) => {
                        let left = deadline.checked_duration_since(Instant::now());
                        let left = left.filter(|left| !left.is_zero()).ok_or_else(timed_out)?;
                        socket.connect_timeout(&addr, left).map_err(failed)?
                    }
                }
                Ok(TcpStream::from(socket))
            })?;
            set_up_tcp(&stream).map_err(failed)?;
            Ok(Connected::Tcp(stream))
        }
        #[cfg(windows)]
        Address::Pipe(name) => {
            let pipe = crate::pipe::PipeStream::connect(name, deadline).map_err(failed)?;
            Ok(Connected::Pipe(pipe))
        }
        #[cfg(unix)]
        Address::Unix(_) | Address::Abstract(_) => loop {
            match connect_unix(address) {
                Ok(stream) => {
                    // std's own switch: one ioctl(FIONBIO) where socket2's is two
                    // fcntl(2)s.
                    stream.set_nonblocking(false).map_err(failed)?;
                    return Ok(Connected::Unix(stream));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    std::thread::sleep(full_backlog_pause(deadline, address)?)
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::io(During::Connect, e).at(address)),
            }
        },
        other => Err(failed(crate::bind::unsupported_family(other.family()))),
    }
}

/// One attempt to connect to a Unix listener, with a socket that is non-blocking (and
/// stays so): a Unix connect completes or fails at once, so there is no connect in
/// progress to wait for, and a full backlog is `WouldBlock` rather than a wait in the
/// kernel that no deadline bounds ([`full_backlog_pause`] says when to try again).
/// [`connect`] is this and a pause between attempts; an async adapter gives the stream
/// to its runtime as it is, without waiting for it to become writable.
///
/// ```
/// use mpconn_net::{bind, connect_unix, ListenerOptions};
///
/// let bound = bind(None, &ListenerOptions::new())?;
/// let stream = connect_unix(&bound.address)?;
/// assert_eq!(stream.peer_addr()?.as_pathname(), bound.address.to_unix_socket_addr()?.as_pathname());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[cfg(unix)]
pub fn connect_unix(address: &Address) -> io::Result<UnixStream> {
    let addr = unix_sockaddr(address)?;
    let socket = nonblocking_unix_socket()?;
    socket.connect(&addr)?;
    Ok(UnixStream::from(std::os::fd::OwnedFd::from(socket)))
}

/// A Unix stream socket, non-blocking from the start: on Linux with `SOCK_NONBLOCK`,
/// which spares the two fcntl(2)s of setting the flag afterwards on every connect.
#[cfg(unix)]
fn nonblocking_unix_socket() -> io::Result<Socket> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    return Socket::new(Domain::UNIX, Type::STREAM.nonblocking(), None);
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        let socket = Socket::new(Domain::UNIX, Type::STREAM, None)?;
        socket.set_nonblocking(true)?;
        Ok(socket)
    }
}

/// Runs `f` again while a signal interrupts it.
pub(crate) fn retry_interrupted<T>(mut f: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    loop {
        match f() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}
