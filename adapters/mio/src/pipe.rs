//! Windows named pipes (`AF_PIPE`) in a mio loop: mpconn-net's polled pipes, whose
//! operations end in the OS's own time, made into [`Source`]s.
//!
//! mio offers no source an outside thread can make ready but its `Waker`, and that is
//! one per `Poll` (the loop's own, most likely; debug builds assert it). So a
//! registered pipe owns a loopback UDP socket, registered in its place with its token:
//! when one of the pipe's operations ends (a read, a write, a client's connect), the
//! waker it was polled with sends that socket a datagram, and the loop gets a readable
//! event for the token. That is enough: on any event the loop flushes and reads until
//! `Ok(None)`, as for a socket; each call first drains the datagrams, so that the next
//! end makes a new event (mio's readiness is edge-triggered).

use std::io;
use std::net::{Ipv4Addr, UdpSocket};
use std::sync::Arc;
use std::task::{Poll, Wake, Waker};

use mio::event::Source;
use mio::{Interest, Registry, Token};
use mpconn_net::pipe::{PolledListener, PolledPipe};
use mpconn_net::{Inbound, Outbound};

use crate::source::Delegate;

/// Sends a datagram to the signal socket: what a pipe's operations wake when they end.
struct Signal(UdpSocket);

impl Wake for Signal {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref()
    }
    fn wake_by_ref(self: &Arc<Self>) {
        // Non-blocking: a full socket already has datagrams, so an event, waiting.
        let _ = self.0.send(&[1]);
    }
}

/// The registration of a pipe source: its signal socket, registered with the loop,
/// and the waker that signals it.
#[derive(Default)]
pub(crate) struct Registration {
    registered: Option<(mio::net::UdpSocket, Waker)>,
}

impl std::fmt::Debug for Registration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registration")
            .field("registered", &self.registered.is_some())
            .finish()
    }
}

impl Registration {
    /// The waker to poll with, the datagrams before it drained: the loop's signal, or
    /// none before the pipe is registered (registering then signals once, to look at
    /// what ended meanwhile).
    fn waker(&mut self) -> &Waker {
        match &self.registered {
            Some((socket, waker)) => {
                let mut datagram = [0; 16];
                while socket.recv(&mut datagram).is_ok() {}
                waker
            }
            None => Waker::noop(),
        }
    }
}

impl Source for Registration {
    fn register(&mut self, registry: &Registry, token: Token, _: Interest) -> io::Result<()> {
        let receiver = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))?;
        receiver.connect(receiver.local_addr()?)?;
        receiver.set_nonblocking(true)?;
        let sender = receiver.try_clone()?;
        let mut socket = mio::net::UdpSocket::from_std(receiver);
        registry.register(&mut socket, token, Interest::READABLE)?;
        let waker = Waker::from(Arc::new(Signal(sender)));
        // An operation may have ended before: the loop is to look now.
        waker.wake_by_ref();
        self.registered = Some((socket, waker));
        Ok(())
    }

    fn reregister(&mut self, registry: &Registry, token: Token, _: Interest) -> io::Result<()> {
        let Some((socket, waker)) = &mut self.registered else {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                "reregister of a named pipe that is not registered",
            ));
        };
        registry.reregister(socket, token, Interest::READABLE)?;
        waker.wake_by_ref();
        Ok(())
    }

    fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
        match self.registered.take() {
            Some((mut socket, _)) => registry.deregister(&mut socket),
            None => Ok(()),
        }
    }
}

/// `WouldBlock` for a pipe operation still under way: the registration's waker is
/// woken when it ends.
fn would_block<T>(poll: Poll<io::Result<T>>) -> io::Result<T> {
    match poll {
        Poll::Ready(done) => done,
        Poll::Pending => Err(io::ErrorKind::WouldBlock.into()),
    }
}

/// One end of a connected Windows named pipe (`AF_PIPE`), in message mode: the
/// [`Stream`](crate::Stream) of a [`Connection`](crate::Connection) that a
/// [`Listener`](crate::Listener) or a [`Client`](crate::Client) made over a pipe
/// address. Its messages go through that connection, one pipe message each (CPython's
/// `PipeConnection`); as a byte stream (`Read`, `Write`) it refuses to read or write,
/// since a byte stream cannot say where a pipe message ends.
#[derive(Debug)]
pub struct PipeStream {
    pipe: PolledPipe,
    registration: Registration,
}

impl PipeStream {
    pub(crate) fn new(pipe: PolledPipe) -> PipeStream {
        PipeStream {
            pipe,
            registration: Registration::default(),
        }
    }

    /// The error of a byte-stream read or write of a pipe.
    pub(crate) fn as_bytes() -> io::Error {
        io::Error::new(
            io::ErrorKind::Unsupported,
            "a named pipe's messages are read and written through the Connection it came \
             with: as a byte stream it cannot say where a message ends",
        )
    }

    /// One read into the core, committed (the end of the pipe included); `WouldBlock`
    /// while it is under way.
    pub(crate) fn read_into(&mut self, core: &mut impl Inbound) -> io::Result<usize> {
        would_block(self.pipe.poll_read_into(self.registration.waker(), core)).map(|()| 0)
    }

    /// The core's next queued message, written whole and taken off the queue.
    pub(crate) fn write_from(&mut self, core: &mut impl Outbound) -> io::Result<usize> {
        would_block(self.pipe.poll_write_from(self.registration.waker(), core))
    }

    /// The direct send's next message, written whole and marked sent.
    pub(crate) fn write_direct(&mut self, send: &mut mpconn::DirectSend<'_>) -> io::Result<usize> {
        would_block(self.pipe.poll_write_direct(self.registration.waker(), send))
    }
}

impl Delegate for PipeStream {
    fn inner(&mut self) -> io::Result<&mut dyn Source> {
        Ok(&mut self.registration)
    }
}

/// A listening named pipe in the loop: readable when a client is on one of its free
/// instances.
#[derive(Debug)]
pub(crate) struct PipeAcceptor {
    listener: PolledListener,
    registration: Registration,
}

impl PipeAcceptor {
    pub(crate) fn new(listener: PolledListener) -> PipeAcceptor {
        PipeAcceptor {
            listener,
            registration: Registration::default(),
        }
    }

    pub(crate) fn name(&self) -> &str {
        self.listener.name()
    }

    /// The next client's pipe; `WouldBlock` when none is there.
    pub(crate) fn accept(&mut self) -> io::Result<PipeStream> {
        would_block(self.listener.poll_accept(self.registration.waker())).map(PipeStream::new)
    }
}

impl Delegate for PipeAcceptor {
    fn inner(&mut self) -> io::Result<&mut dyn Source> {
        Ok(&mut self.registration)
    }
}
