//! The runtime's side of listening and connecting: mio's sockets around what
//! `mpconn_net` binds and connects.

use std::io;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Instant;

use mio::event::Source;
use mio::net::{TcpListener, TcpStream};
use mio::{Interest, Registry, Token};
use mpconn_net::{each_socket, Connected, During, Error, Listening};

use crate::source::Delegate;
use crate::{Address, ClientOptions, Stream};

mpconn_net::socket_enum! {
    /// A bound, listening, non-blocking socket of either family, or a named pipe.
    #[derive(Debug)]
    pub(crate) enum RawListener {
        Tcp(TcpListener),
        Unix(mio::net::UnixListener),
        Pipe(crate::pipe::PipeAcceptor),
    }
}

impl RawListener {
    /// Takes over a socket bound by [`mpconn_net::bind`] (made non-blocking), or a
    /// named pipe.
    pub(crate) fn new(listening: Listening) -> io::Result<RawListener> {
        match listening {
            Listening::Tcp(listener) => {
                listener.set_nonblocking(true)?;
                Ok(TcpListener::from_std(listener).into())
            }
            #[cfg(unix)]
            Listening::Unix(listener) => {
                listener.set_nonblocking(true)?;
                Ok(mio::net::UnixListener::from_std(listener).into())
            }
            #[cfg(windows)]
            Listening::Pipe(pipe) => {
                let pipe = mpconn_net::pipe::PolledListener::new(pipe)?;
                Ok(RawListener::Pipe(crate::pipe::PipeAcceptor::new(pipe)))
            }
        }
    }

    /// The next connected socket, set up, and its peer's address (`WouldBlock` when
    /// none waits). An accepted socket is non-blocking on Windows too: it inherits the
    /// listener's mode there, as mio's `accept` relies on.
    pub(crate) fn accept(&mut self) -> io::Result<(Stream, Address)> {
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
            // A pipe client has no address of its own: it is named by the pipe's, as
            // mpconn-std names it.
            #[cfg(windows)]
            RawListener::Pipe(listener) => {
                let pipe = listener.accept()?;
                Ok((
                    Stream::Pipe(pipe),
                    Address::Pipe(listener.name().to_string()),
                ))
            }
        }
    }
}

impl Delegate for RawListener {
    fn inner(&mut self) -> io::Result<&mut dyn Source> {
        Ok(each_socket!(self, listener => listener, pipe pipe => pipe))
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

/// Connects to `address` as [`mpconn_net::connect`] does (blocking until `deadline`:
/// every resolved address tried, a full Unix backlog waited out), then hands the socket
/// to mio, non-blocking; a named pipe is connected as CPython's `PipeClient` does
/// (waited for, to `deadline`, while every instance is busy).
pub(crate) fn connect(
    address: &Address,
    options: &ClientOptions,
    deadline: Option<Instant>,
) -> Result<Stream, Error> {
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
        #[cfg(windows)]
        Connected::Pipe(pipe) => {
            let pipe = mpconn_net::pipe::PolledPipe::new(pipe).map_err(failed)?;
            Ok(Stream::Pipe(crate::pipe::PipeStream::new(pipe)))
        }
    }
}
