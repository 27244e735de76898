//! The runtime's side of listening and connecting: mio's sockets around what
//! `mpconn_net` binds and connects.

use std::io;
use std::time::Instant;

use mio::event::Source;
use mio::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use mpconn_net::{each_socket, Connected, During, Error, Listening};

use crate::source::Delegate;
use crate::{Address, ClientOptions, Stream};

mpconn_net::socket_enum! {
    /// A bound, listening, non-blocking socket of either family.
    #[derive(Debug)]
    pub(crate) enum RawListener {
        Tcp(TcpListener),
        Unix(UnixListener),
    }
}

impl RawListener {
    /// Takes over a socket bound by [`mpconn_net::bind`].
    pub(crate) fn new(listening: Listening) -> io::Result<RawListener> {
        let tcp = |listener| Ok(RawListener::Tcp(TcpListener::from_std(listener)));
        listening.into_nonblocking(tcp, |listener| Ok(UnixListener::from_std(listener).into()))
    }

    /// The next connected socket, set up, and its peer's address (`WouldBlock` when
    /// none waits).
    pub(crate) fn accept(&self) -> io::Result<(Stream, Address)> {
        match self {
            RawListener::Tcp(listener) => {
                let (stream, peer) = listener.accept()?;
                mpconn_net::set_up_tcp(&stream)?;
                Ok((Stream::Tcp(stream), Address::from(peer)))
            }
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

/// Connects to `address` as [`mpconn_net::connect`] does (blocking until `deadline`:
/// every resolved address tried, a full Unix backlog waited out), then hands the socket
/// to mio, non-blocking.
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
        Connected::Unix(stream) => {
            stream.set_nonblocking(true).map_err(failed)?;
            Ok(Stream::Unix(UnixStream::from_std(stream)))
        }
    }
}
