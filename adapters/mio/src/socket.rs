//! The runtime's side of listening and connecting: mio's sockets around what
//! `mpconn_net` binds and connects.

use std::io;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Instant;

use mio::event::Source;
use mio::net::{TcpListener, TcpStream};
use mio::{Interest, Registry, Token};
use mpconn_net::{each_socket, unsupported_family, Connected, During, Error, Family, Listening};

use crate::source::Delegate;
use crate::{Address, ClientOptions, Stream};

mpconn_net::socket_enum! {
    /// A bound, listening, non-blocking socket of either family.
    #[derive(Debug)]
    pub(crate) enum RawListener {
        Tcp(TcpListener),
        Unix(mio::net::UnixListener),
    }
}

impl RawListener {
    /// Takes over a socket bound by [`mpconn_net::bind`].
    pub(crate) fn new(listening: Listening) -> io::Result<RawListener> {
        listening.set_nonblocking(true)?;
        match listening {
            Listening::Tcp(listener) => Ok(TcpListener::from_std(listener).into()),
            #[cfg(unix)]
            Listening::Unix(listener) => Ok(mio::net::UnixListener::from_std(listener).into()),
            // Refused before binding (refuse_pipe); never bound here.
            #[cfg(windows)]
            Listening::Pipe(_) => Err(unsupported_family(Family::Pipe)),
        }
    }

    /// The next connected socket, set up, and its peer's address (`WouldBlock` when
    /// none waits). An accepted socket is non-blocking on Windows too: it inherits the
    /// listener's mode there, as mio's `accept` relies on.
    pub(crate) fn accept(&self) -> io::Result<(Stream, Address)> {
        match self {
            RawListener::Tcp(listener) => {
                let (stream, peer) = listener.accept()?;
                mpconn_net::set_up_tcp(&stream)?;
                Ok((Stream::Tcp(stream), Address::from(peer)))
            }
            #[cfg(unix)]
            RawListener::Unix(listener) => {
                let (stream, peer) = listener.accept()?;
                Ok((Stream::Unix(stream), Address::from(&peer)))
            }
        }
    }
}

impl Delegate for RawListener {
    fn inner(&mut self) -> io::Result<&mut dyn Source> {
        Ok(each_socket!(self, listener => listener))
    }
}

/// The listening socket, owned by the [`Listener`](crate::Listener) and lent (weakly)
/// to its pending gate, which renews its registration when a handshake's place frees
/// (see `pending`): a `mio` source that locks the socket for each call. The lock is
/// held for one call only, never while a connection runs.
#[derive(Debug)]
pub(crate) struct SharedListener(Arc<Mutex<RawListener>>);

impl SharedListener {
    pub(crate) fn new(raw: RawListener) -> SharedListener {
        SharedListener(Arc::new(Mutex::new(raw)))
    }

    /// What the gate keeps: it does not hold the socket open once the listener closes.
    pub(crate) fn downgrade(&self) -> Weak<Mutex<RawListener>> {
        Arc::downgrade(&self.0)
    }

    pub(crate) fn accept(&self) -> io::Result<(Stream, Address)> {
        lock(&self.0).accept()
    }
}

/// Locks a shared listening socket; nothing panics while holding it, so a poisoned
/// lock still guards a sound socket.
pub(crate) fn lock(raw: &Mutex<RawListener>) -> MutexGuard<'_, RawListener> {
    raw.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Source for SharedListener {
    fn register(
        &mut self,
        registry: &Registry,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        lock(&self.0).register(registry, token, interests)
    }

    fn reregister(
        &mut self,
        registry: &Registry,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        lock(&self.0).reregister(registry, token, interests)
    }

    fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
        lock(&self.0).deregister(registry)
    }
}

/// Refuses `AF_PIPE` before anything is bound or connected: the family of `address`,
/// or for a listener without one, of `family` or CPython's default (`AF_PIPE` on
/// Windows). mio's `NamedPipe` reads through a 4 KiB buffer of its own and hides where
/// a longer message ends, so it cannot carry CPython's message-mode pipes; the error
/// names the address, as any other bind or connect error does.
pub(crate) fn refuse_pipe(
    address: Option<&Address>,
    family: Option<Family>,
    during: During,
) -> Result<(), Error> {
    let default = if cfg!(windows) {
        Family::Pipe
    } else {
        Family::Unix
    };
    let family = address.map(Address::family).or(family).unwrap_or(default);
    if family != Family::Pipe {
        return Ok(());
    }
    let refused = Error::io(during, unsupported_family(Family::Pipe));
    Err(match address {
        Some(address) => refused.at(address),
        None => refused,
    })
}

/// Connects to `address` as [`mpconn_net::connect`] does (blocking until `deadline`:
/// every resolved address tried, a full Unix backlog waited out), then hands the socket
/// to mio, non-blocking. `AF_PIPE` is refused ([`refuse_pipe`]).
pub(crate) fn connect(
    address: &Address,
    options: &ClientOptions,
    deadline: Option<Instant>,
) -> Result<Stream, Error> {
    refuse_pipe(Some(address), None, During::Connect)?;
    let connected = mpconn_net::connect(address, options, deadline)?;
    let failed = |e: io::Error| Error::io(During::Connect, e).at(address);
    match connected {
        Connected::Tcp(stream) => {
            stream.set_nonblocking(true).map_err(failed)?;
            Ok(Stream::Tcp(TcpStream::from_std(stream)))
        }
        #[cfg(unix)]
        Connected::Unix(stream) => {
            stream.set_nonblocking(true).map_err(failed)?;
            Ok(Stream::Unix(mio::net::UnixStream::from_std(stream)))
        }
        // Refused above; never connected here.
        #[cfg(windows)]
        Connected::Pipe(_) => Err(failed(unsupported_family(Family::Pipe))),
    }
}
