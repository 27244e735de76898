//! The async connection: the core's receiving and sending halves ([`Receiver`],
//! [`Sender`]) driven over any async byte stream. Every framing decision is the core's;
//! this moves bytes and waits.

use std::future::{poll_fn, Future};
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::BytesMut;
use mpconn::connection::State;
use mpconn::{DirectSend, Frame, HandshakeConfig, Receiver, RecvBuf, Role, Sender};
#[cfg(feature = "pickle")]
use mpconn_net::pickle::{self, Limits, Protocol, Value};
use mpconn_net::{new_core, During, Inbound, Outbound};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf, ReadHalf, WriteHalf};
use tokio_util::codec::{Framed, FramedParts};
use tokio_util::io::poll_read_buf;

use crate::stream::Messages;
use crate::{Error, FrameCodec, Stream};

/// One read into the room the core lends: its buffer, or, inside a large payload, the
/// spare capacity of the message's own `Vec` (tokio's uninitialised `ReadBuf`: no
/// zeroing, no copy), never past the message's end.
fn poll_read_into<R: AsyncRead + Unpin>(
    io: &mut R,
    cx: &mut Context<'_>,
    room: RecvBuf<'_>,
) -> Poll<io::Result<usize>> {
    match room {
        RecvBuf::Buffer(room) => {
            let mut room = ReadBuf::new(room);
            ready!(Pin::new(io).poll_read(cx, &mut room))?;
            Poll::Ready(Ok(room.filled().len()))
        }
        RecvBuf::Payload { buf, limit } => {
            let mut rest = io.take(limit as u64);
            poll_read_buf(Pin::new(&mut rest), cx, buf)
        }
    }
}

/// One read from `io` (or its pipe), committed to the core, the end of the stream
/// included. Cancel safe: a read either finished, and its bytes are the core's before
/// this returns, or it did not happen (a pipe's read in flight stays the pipe's, and
/// the next read takes what it got).
async fn read_once<R: AsyncRead + Unpin>(
    io: &mut R,
    messages: &Messages,
    core: &mut impl Inbound,
) -> Result<(), Error> {
    let read = poll_fn(|cx| match messages.poll_read_into(cx, core) {
        Some(read) => read.map_ok(|()| None),
        None => poll_read_into(io, cx, core.recv_buf()).map_ok(Some),
    });
    match read.await? {
        Some(0) => core.received_eof(),
        Some(n) => core.received(n).map_err(io::Error::other)?,
        None => {}
    }
    Ok(())
}

/// Writes everything the core has queued. Cancel safe: a partial write keeps its place
/// in the core's queue, and the next write goes on from there (a pipe's message stays
/// queued until its write in flight is done).
async fn write_queued<W: AsyncWrite + Unpin>(
    io: &mut W,
    messages: &Messages,
    core: &mut impl Outbound,
) -> Result<(), Error> {
    while core.wants_write() {
        let written = poll_fn(|cx| match messages.poll_write_from(cx, core) {
            Some(written) => written.map_ok(|_| true),
            None => Pin::new(&mut *io)
                .poll_write(cx, core.pending_output())
                .map_ok(|n| {
                    core.consume_output(n);
                    n > 0
                }),
        });
        if !written.await? {
            return Err(io::Error::from(io::ErrorKind::WriteZero).into());
        }
    }
    io.flush().await?;
    Ok(())
}

/// Runs the core's handshake to its end over `io` and hands out the core's halves.
/// Bytes the peer sent after its last handshake frame stay in the [`Receiver`].
async fn handshake<S: AsyncRead + AsyncWrite + Unpin>(
    io: &mut S,
    messages: &Messages,
    mut core: mpconn::Connection,
) -> Result<(Receiver, Sender), Error> {
    loop {
        if let Err(error) = write_queued(io, messages, &mut core).await {
            // A peer that hung up before our #FAILURE# went out: why we failed says more
            // than the write's error.
            return Err(core.error().cloned().map_or(error, Error::from));
        }
        core = match core.split() {
            Ok(halves) => return Ok(halves),
            Err(core) => core,
        };
        if let State::Failed(error) = core.state() {
            return Err(error.clone().into());
        }
        read_once(io, messages, &mut core).await?;
    }
}

/// The limit for the next message (a call per message: set only when it changes).
#[inline]
fn set_max_len(receiver: &mut Receiver, max_len: Option<usize>) {
    let max_len = max_len.map(|max| max as u64);
    if receiver.max_len() != max_len {
        receiver.set_max_len(max_len);
    }
}

/// `recv_bytes` of a connection and a receive half. Cancel safe: bytes read are the
/// core's (in its buffer, or a partial payload in its decoder), so a later call goes on
/// where this one stopped.
async fn recv_bytes<R: AsyncRead + Unpin>(
    io: &mut R,
    messages: &Messages,
    receiver: &mut Receiver,
    max_len: Option<usize>,
) -> Result<Vec<u8>, Error> {
    set_max_len(receiver, max_len);
    let received = async {
        loop {
            if let Some(message) = receiver.next_message()? {
                return Ok(message.into_vec());
            }
            read_once(io, messages, receiver).await?;
        }
    };
    received.await.map_err(|e: Error| e.during(During::Receive))
}

/// `recv_message` of a connection and a receive half: reads until the core has a
/// message (or the error), then hands it out borrowed. As cancel safe as
/// [`recv_bytes`].
async fn recv_message<'a, R: AsyncRead + Unpin>(
    io: &mut R,
    messages: &Messages,
    receiver: &'a mut Receiver,
    max_len: Option<usize>,
) -> Result<Frame<'a>, Error> {
    set_max_len(receiver, max_len);
    while !receiver.has_message() {
        read_once(io, messages, receiver)
            .await
            .map_err(|e| e.during(During::Receive))?;
    }
    match receiver.next_message() {
        Ok(Some(message)) => Ok(message),
        Ok(None) => unreachable!("has_message() said a message or an error was there"),
        Err(error) => Err(error.into()),
    }
}

/// `send_bytes` of a connection and a send half: the core queues a message up to 16 KiB
/// (copied behind its header) and lends a larger one to a [`DirectSend`], written
/// straight from `payload` in vectored writes after what was queued before it.
fn send_bytes<'a, W: AsyncWrite + Unpin>(
    io: &'a mut W,
    messages: &'a Messages,
    sender: &'a mut Sender,
    payload: &'a [u8],
) -> impl Future<Output = Result<(), Error>> + 'a {
    // Made now, not when first polled: a future dropped unpolled still sends, because
    // a dropped guard leaves the rest of its message queued.
    let send = sender.send_direct(payload);
    async move {
        let sent = async {
            let mut send = send?;
            if let Err(error) = write_direct(io, messages, &mut send).await {
                // Nothing more goes out behind part of a frame.
                send.abandon();
                return Err(error);
            }
            drop(send);
            io.flush().await?;
            Ok(())
        };
        sent.await.map_err(|e: Error| e.during(During::Send))
    }
}

/// Writes what `send` still has to send (the queue before it, the header, the rest of
/// the payload). Cancel safe: what is written is marked sent as it goes out.
async fn write_direct<W: AsyncWrite + Unpin>(
    io: &mut W,
    messages: &Messages,
    send: &mut DirectSend<'_>,
) -> Result<(), Error> {
    while !send.is_done() {
        let written = poll_fn(|cx| match messages.poll_write_direct(cx, send) {
            Some(written) => written.map_ok(|_| true),
            None => {
                let slices = send.slices().map(IoSlice::new);
                let polled = Pin::new(&mut *io).poll_write_vectored(cx, &slices);
                polled.map_ok(|n| {
                    send.advance(n);
                    n > 0
                })
            }
        });
        if !written.await? {
            return Err(io::Error::from(io::ErrorKind::WriteZero).into());
        }
    }
    Ok(())
}

/// `flush` of a connection and a send half.
async fn flush<W: AsyncWrite + Unpin>(
    io: &mut W,
    messages: &Messages,
    sender: &mut Sender,
) -> Result<(), Error> {
    let flushed = async {
        if sender.is_out_of_step() {
            // A leaked send_bytes future left part of a frame on the wire.
            return Err(mpconn::Error::OutOfStep.into());
        }
        write_queued(io, messages, sender).await
    };
    flushed.await.map_err(|e| e.during(During::Send))
}

/// One end of a `multiprocessing.connection` connection over an async byte stream `S`
/// (a [`Stream`] when it comes from a [`Listener`](crate::Listener) or a
/// [`Client`](crate::Client)).
///
/// Messages are byte strings, exchanged with [`send_bytes`](Self::send_bytes) and
/// [`recv_bytes`](Self::recv_bytes) like CPython's `Connection`;
/// [`recv_message`](Self::recv_message) lends one without a copy, and
/// [`queue_bytes`](Self::queue_bytes) with [`flush`](Self::flush) batches small ones.
/// To read in one task and write in another, [`into_split`](Self::into_split) it.
/// Dropping it closes the socket.
///
/// # Cancellation safety
///
/// Every method may be used in `tokio::select!` (or have its future dropped any other
/// way) without losing, duplicating or splitting a message:
///
/// - [`recv_bytes`](Self::recv_bytes) and [`recv_message`](Self::recv_message): bytes
///   already read stay in the connection (in the core's buffer, or a partial payload in
///   its decoder). The next call goes on from there and returns the same message the
///   dropped one would have.
/// - [`send_bytes`](Self::send_bytes): dropping the future stops the writing, never the
///   message: what is left of it stays queued, in order, and goes out with the next
///   `send_bytes` or [`flush`](Self::flush), even if the future was never polled. A
///   message up to 16 KiB is queued whole when `send_bytes` is *called*; a larger one is
///   written straight from the caller's slice, and what is unwritten of it is copied into
///   the queue when the future is dropped. (A future leaked with `mem::forget` part-way
///   through a large message cannot do that: every later send and flush then fails with
///   [`mpconn::Error::OutOfStep`], a `BrokenPipe`, rather than put the stream out of
///   step.)
/// - [`flush`](Self::flush): a partial write keeps its place.
///
/// # Example
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), mpconn_tokio::Error> {
/// use mpconn::HandshakeConfig;
/// use mpconn_tokio::Connection;
///
/// let (a, b) = tokio::io::duplex(1024);
/// let config = HandshakeConfig::default();
/// let (server, client) = tokio::join!(
///     Connection::server(a, Some(b"secret"), &config),
///     Connection::client(b, Some(b"secret"), &config),
/// );
/// let (mut server, mut client) = (server?, client?);
/// client.send_bytes(b"hello").await?;
/// assert_eq!(server.recv_bytes(None).await?, b"hello");
/// # Ok(()) }
/// ```
pub struct Connection<S = Stream> {
    io: S,
    messages: Messages,
    receiver: Receiver,
    sender: Sender,
}

/// The sending methods of [`Connection`] and [`SendHalf`], over their `io` and
/// `sender`: one body for both, each type with its own docs.
macro_rules! send_methods {
    (
        $(#[$send_bytes:meta])* send_bytes;
        $(#[$queue_bytes:meta])* queue_bytes;
        $(#[$flush:meta])* flush;
        $(#[$close:meta])* close;
    ) => {
        $(#[$send_bytes])*
        pub fn send_bytes<'a>(
            &'a mut self,
            payload: &'a [u8],
        ) -> impl Future<Output = Result<(), Error>> + 'a {
            send_bytes(&mut self.io, &self.messages, &mut self.sender, payload)
        }

        $(#[$queue_bytes])*
        pub fn queue_bytes(&mut self, payload: &[u8]) -> Result<(), Error> {
            self.sender
                .send(payload)
                .map_err(|e| Error::from(e).during(During::Send))
        }

        $(#[$flush])*
        pub async fn flush(&mut self) -> Result<(), Error> {
            flush(&mut self.io, &self.messages, &mut self.sender).await
        }

        $(#[$close])*
        pub async fn close(mut self) -> Result<(), Error> {
            self.flush().await?;
            self.io.shutdown().await?;
            Ok(())
        }
    };
}

/// The receiving methods of [`Connection`] and [`RecvHalf`], over their `io` and
/// `receiver`.
macro_rules! recv_methods {
    (
        $(#[$recv_bytes:meta])* recv_bytes;
        $(#[$recv_message:meta])* recv_message;
    ) => {
        $(#[$recv_bytes])*
        pub async fn recv_bytes(&mut self, max_len: Option<usize>) -> Result<Vec<u8>, Error> {
            recv_bytes(&mut self.io, &self.messages, &mut self.receiver, max_len).await
        }

        $(#[$recv_message])*
        pub async fn recv_message(&mut self, max_len: Option<usize>) -> Result<Frame<'_>, Error> {
            recv_message(&mut self.io, &self.messages, &mut self.receiver, max_len).await
        }
    };
}

/// What the connection types print: how much was read and not yet taken, how much is
/// queued and not yet written; never the bytes.
fn debug_state(
    f: &mut std::fmt::Formatter<'_>,
    name: &str,
    receiver: Option<&Receiver>,
    sender: Option<&Sender>,
) -> std::fmt::Result {
    let mut d = f.debug_struct(name);
    if let Some(receiver) = receiver {
        d.field("buffered", &receiver.buffered_input().len());
    }
    if let Some(sender) = sender {
        d.field("queued", &sender.pending_output().len());
    }
    d.finish_non_exhaustive()
}

impl<S> std::fmt::Debug for Connection<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        debug_state(f, "Connection", Some(&self.receiver), Some(&self.sender))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Connection<S> {
    /// A connection with no handshake (CPython's `authkey=None`), established at once.
    ///
    /// ```
    /// let (a, _b) = tokio::io::duplex(64);
    /// let connection = mpconn_tokio::Connection::established(a);
    /// ```
    pub fn established(io: S) -> Connection<S> {
        Connection {
            io,
            messages: Messages::default(),
            receiver: Receiver::new(),
            sender: Sender::new(),
        }
    }

    /// Runs the accepting side's handshake over `io` (what `Listener.accept` does): with
    /// an authkey, deliver a challenge, then answer one. `None` means no handshake.
    ///
    /// It has no timeout of its own; wrap it in `tokio::time::timeout` (the
    /// [`Listener`](crate::Listener) does). Bytes the peer sent after the handshake are
    /// kept for [`recv_bytes`](Self::recv_bytes).
    pub async fn server(
        io: S,
        authkey: Option<&[u8]>,
        config: &HandshakeConfig,
    ) -> Result<Connection<S>, Error> {
        let core = new_core(Role::Server, authkey, config);
        Connection::authenticate(io, Messages::default(), core).await
    }

    /// Runs the connecting side's handshake over `io` (what `Client` does): with an
    /// authkey, answer a challenge, then deliver one. `None` means no handshake.
    pub async fn client(
        io: S,
        authkey: Option<&[u8]>,
        config: &HandshakeConfig,
    ) -> Result<Connection<S>, Error> {
        let core = new_core(Role::Client, authkey, config);
        Connection::authenticate(io, Messages::default(), core).await
    }

    /// Runs the handshake of `core` over `io`, or over `messages`' pipe (the core then
    /// on the message transport).
    async fn authenticate(
        mut io: S,
        messages: Messages,
        core: mpconn::Connection,
    ) -> Result<Self, Error> {
        let core = match messages.is_pipe() {
            true => core.with_transport(mpconn::Transport::Messages),
            false => core,
        };
        let (receiver, sender) = handshake(&mut io, &messages, core)
            .await
            .map_err(|e| e.during(During::Handshake))?;
        Ok(Connection {
            io,
            messages,
            receiver,
            sender,
        })
    }

    send_methods! {
        /// Sends one message (CPython's `send_bytes`); a zero-length message is valid.
        ///
        /// The returned future writes it, after anything queued before it. A message up to
        /// 16 KiB is copied behind its header and queued when this method is called, as
        /// CPython joins them in one write; a larger one goes out with its header in
        /// vectored writes, not copied. See [cancellation safety](Self#cancellation-safety).
        ///
        /// ```
        /// # #[tokio::main(flavor = "current_thread")]
        /// # async fn main() -> Result<(), mpconn_tokio::Error> {
        /// let (a, b) = tokio::io::duplex(64);
        /// let (mut a, mut b) = (
        ///     mpconn_tokio::Connection::established(a),
        ///     mpconn_tokio::Connection::established(b),
        /// );
        /// a.send_bytes(b"").await?;
        /// assert_eq!(b.recv_bytes(None).await?, b"");
        /// # Ok(()) }
        /// ```
        send_bytes;
        /// Queues one message (framed, copied) without writing anything: it goes out with
        /// the next [`flush`](Self::flush) or [`send_bytes`](Self::send_bytes). Many small
        /// messages then share one write, as mpconn-std's `queue_bytes` does.
        ///
        /// ```
        /// # #[tokio::main(flavor = "current_thread")]
        /// # async fn main() -> Result<(), mpconn_tokio::Error> {
        /// let (a, b) = tokio::io::duplex(1024);
        /// let (mut a, mut b) = (
        ///     mpconn_tokio::Connection::established(a),
        ///     mpconn_tokio::Connection::established(b),
        /// );
        /// for i in 0..10u8 {
        ///     a.queue_bytes(&[i])?;
        /// }
        /// a.flush().await?; // one write
        /// assert_eq!(b.recv_bytes(None).await?, [0]);
        /// # Ok(()) }
        /// ```
        queue_bytes;
        /// Writes whatever is still queued (by [`queue_bytes`](Self::queue_bytes), or after
        /// a cancelled [`send_bytes`](Self::send_bytes)).
        flush;
        /// Flushes what is queued and shuts down the write side; the peer sees a clean end
        /// of stream (`EOFError` in CPython) after the last message. Dropping the connection
        /// closes it too, without the flush.
        close;
    }

    recv_methods! {
        /// Receives one whole message (CPython's `recv_bytes(maxlength)`).
        ///
        /// With `max_len`, a longer message is refused as soon as its header arrives
        /// ([`mpconn::Error::MessageTooLong`], CPython's "bad message length"); its payload is
        /// still on the wire, so the read side is unusable from then on. A peer that closes
        /// between messages gives an error for which [`Error::is_eof`] is true (CPython's
        /// `EOFError`); one that closes inside a message gives
        /// [`mpconn::Error::UnexpectedEof`]. See [cancellation safety](Self#cancellation-safety).
        recv_bytes;
        /// Receives one whole message, as [`recv_bytes`](Self::recv_bytes) does, lent rather
        /// than copied: a message that arrived whole in one read is borrowed from the
        /// connection's read buffer ([`Frame::Borrowed`], no allocation), a large one read
        /// onto its own buffer is handed over ([`Frame::Owned`]). It derefs to `[u8]`; the
        /// next call to the connection ends the loan. Same errors, and as cancel safe.
        ///
        /// ```
        /// # #[tokio::main(flavor = "current_thread")]
        /// # async fn main() -> Result<(), mpconn_tokio::Error> {
        /// let (a, b) = tokio::io::duplex(1024);
        /// let (mut a, mut b) = (
        ///     mpconn_tokio::Connection::established(a),
        ///     mpconn_tokio::Connection::established(b),
        /// );
        /// a.send_bytes(b"ping").await?;
        /// a.send_bytes(b"pong").await?;
        /// let mut total = 0;
        /// for _ in 0..2 {
        ///     let message = b.recv_message(None).await?; // no allocation
        ///     total += message.len();
        /// }
        /// assert_eq!(total, 8);
        /// # Ok(()) }
        /// ```
        recv_message;
    }

    /// Splits the connection into a read half and a write half, to receive in one task
    /// and send in another: the core's [`Receiver`] goes with the read half, its
    /// [`Sender`] with the write half. Nothing is lost: bytes already read go with the
    /// read half, bytes still queued with the write half.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), mpconn_tokio::Error> {
    /// let (a, b) = tokio::io::duplex(64);
    /// let (mut rx, mut tx) = mpconn_tokio::Connection::established(a).into_split();
    /// let mut peer = mpconn_tokio::Connection::established(b);
    /// let echo = tokio::spawn(async move {
    ///     let message = rx.recv_bytes(None).await?;
    ///     Ok::<_, mpconn_tokio::Error>(message)
    /// });
    /// peer.send_bytes(b"ping").await?;
    /// tx.send_bytes(b"pong").await?;
    /// assert_eq!(echo.await.unwrap()?, b"ping");
    /// assert_eq!(peer.recv_bytes(None).await?, b"pong");
    /// # Ok(()) }
    /// ```
    pub fn into_split(self) -> (RecvHalf<ReadHalf<S>>, SendHalf<WriteHalf<S>>) {
        let (read, write) = tokio::io::split(self.io);
        (
            RecvHalf {
                io: read,
                messages: self.messages.clone(),
                receiver: self.receiver,
            },
            SendHalf {
                io: write,
                messages: self.messages,
                sender: self.sender,
            },
        )
    }

    /// Turns the connection, typically just authenticated, into a
    /// `Framed<S, FrameCodec>` stream and sink of messages. Bytes already read and bytes
    /// still queued move into the `Framed`'s buffers.
    ///
    /// Refused (the connection is handed back) while a message is half read, which only
    /// happens after a cancelled [`recv_bytes`](Self::recv_bytes): finish it first. Also
    /// refused after a leaked large `send_bytes` left the write side out of step, and
    /// over a Windows named pipe, whose messages have no header for a codec to find.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), mpconn_tokio::Error> {
    /// use futures_util::SinkExt;
    ///
    /// let (a, b) = tokio::io::duplex(64);
    /// let mut framed = mpconn_tokio::Connection::established(a).into_framed().unwrap();
    /// framed.send(&b"hi"[..]).await?;
    /// let mut peer = mpconn_tokio::Connection::established(b);
    /// assert_eq!(peer.recv_bytes(None).await?, b"hi");
    /// # Ok(()) }
    /// ```
    pub fn into_framed(self) -> Result<Framed<S, FrameCodec>, Box<Connection<S>>> {
        if self.messages.is_pipe() || self.receiver.is_mid_message() || self.sender.is_out_of_step()
        {
            return Err(Box::new(self));
        }
        // A keyless client's first message is still to be checked for a challenge.
        let codec = match self.receiver.refuses_a_challenge() {
            true => FrameCodec::new().refusing_a_challenge(),
            false => FrameCodec::new(),
        };
        let mut parts = FramedParts::new::<&[u8]>(self.io, codec);
        parts.read_buf = BytesMut::from(self.receiver.buffered_input());
        parts.write_buf = BytesMut::from(self.sender.pending_output());
        Ok(Framed::from_parts(parts))
    }

    /// The underlying stream.
    pub fn get_ref(&self) -> &S {
        &self.io
    }

    /// The underlying stream, mutably. Reading or writing it directly puts the
    /// connection out of step with its peer.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.io
    }
}

impl Connection<Stream> {
    /// What the [`Listener`](crate::Listener) and the [`Client`](crate::Client) run on a
    /// stream they made: [`server`](Self::server) or [`client`](Self::client), over the
    /// pipe's messages when the stream is a named pipe.
    pub(crate) async fn authenticate_stream(
        stream: Stream,
        role: Role,
        authkey: Option<&[u8]>,
        config: &HandshakeConfig,
    ) -> Result<Connection, Error> {
        let messages = Messages::of(&stream);
        Connection::authenticate(stream, messages, new_core(role, authkey, config)).await
    }
}

/// The read half of a [`Connection`], from [`Connection::into_split`]: the stream's
/// read half and the core's [`Receiver`].
pub struct RecvHalf<R> {
    io: R,
    messages: Messages,
    receiver: Receiver,
}

impl<R> std::fmt::Debug for RecvHalf<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        debug_state(f, "RecvHalf", Some(&self.receiver), None)
    }
}

impl<R: AsyncRead + Unpin> RecvHalf<R> {
    recv_methods! {
        /// Receives one whole message; as [`Connection::recv_bytes`], cancel safe in the same
        /// way.
        recv_bytes;
        /// Receives one whole message, lent rather than copied; as
        /// [`Connection::recv_message`].
        ///
        /// ```
        /// # #[tokio::main(flavor = "current_thread")]
        /// # async fn main() -> Result<(), mpconn_tokio::Error> {
        /// let (a, b) = tokio::io::duplex(64);
        /// let (mut rx, _tx) = mpconn_tokio::Connection::established(a).into_split();
        /// mpconn_tokio::Connection::established(b).send_bytes(b"hi").await?;
        /// assert_eq!(&*rx.recv_message(None).await?, b"hi");
        /// # Ok(()) }
        /// ```
        recv_message;
    }
}

/// The write half of a [`Connection`], from [`Connection::into_split`]: the stream's
/// write half and the core's [`Sender`] (what the connection had queued but not
/// written goes out first).
pub struct SendHalf<W> {
    io: W,
    messages: Messages,
    sender: Sender,
}

impl<W> std::fmt::Debug for SendHalf<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        debug_state(f, "SendHalf", None, Some(&self.sender))
    }
}

impl<W: AsyncWrite + Unpin> SendHalf<W> {
    send_methods! {
        /// Sends one message, as [`Connection::send_bytes`] does, and as cancel safe.
        send_bytes;
        /// Queues one message without writing it, as [`Connection::queue_bytes`].
        ///
        /// ```
        /// # #[tokio::main(flavor = "current_thread")]
        /// # async fn main() -> Result<(), mpconn_tokio::Error> {
        /// let (a, b) = tokio::io::duplex(64);
        /// let (_rx, mut tx) = mpconn_tokio::Connection::established(a).into_split();
        /// tx.queue_bytes(b"later")?;
        /// tx.flush().await?;
        /// assert_eq!(mpconn_tokio::Connection::established(b).recv_bytes(None).await?, b"later");
        /// # Ok(()) }
        /// ```
        queue_bytes;
        /// Writes whatever is still queued.
        flush;
        /// Flushes and shuts down the write side: the peer sees a clean end of stream.
        close;
    }
}

/// CPython's `send(obj)` / `recv()`: one message, one pickle, encoded and decoded by
/// [`mpconn_net::pickle`] (the core's codec), over [`send_bytes`](Self::send_bytes) and
/// [`recv_message`](Self::recv_message), and as cancel safe as they are. A failed
/// pickle is [`Error::Pickle`]; the connection stays in step.
#[cfg(feature = "pickle")]
impl<S: AsyncRead + AsyncWrite + Unpin> Connection<S> {
    /// Pickles `value` with protocol 3, which every CPython 3 reads, and sends it.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), mpconn_tokio::Error> {
    /// let (a, b) = tokio::io::duplex(1024);
    /// let (mut a, mut b) = (
    ///     mpconn_tokio::Connection::established(a),
    ///     mpconn_tokio::Connection::established(b),
    /// );
    /// a.send(&("spam", 42, vec![1.5, 2.5])).await?;
    /// let got: (String, i64, Vec<f64>) = b.recv().await?;
    /// assert_eq!(got, ("spam".to_string(), 42, vec![1.5, 2.5]));
    /// # Ok(()) }
    /// ```
    pub async fn send<T: pickle::Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.send_with(value, Protocol::default()).await
    }

    /// Pickles `value` with `protocol` (`Protocol::V2` for Python 2.7) and sends it.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), mpconn_tokio::Error> {
    /// use mpconn_tokio::{pickle::Protocol, Connection};
    /// let (a, b) = tokio::io::duplex(1024);
    /// let (mut a, mut b) = (Connection::established(a), Connection::established(b));
    /// a.send_with(&(1, 2), Protocol::V2).await?;
    /// assert_eq!(b.recv_bytes(None).await?, b"\x80\x02K\x01K\x02\x86.");
    /// # Ok(()) }
    /// ```
    pub async fn send_with<T: pickle::Serialize + ?Sized>(
        &mut self,
        value: &T,
        protocol: Protocol,
    ) -> Result<(), Error> {
        let message = pickle::dump(value, protocol)?;
        self.send_bytes(&message).await
    }

    /// Pickles a dynamic [`Value`] (objects, sets, tuples, sharing as they are) with
    /// protocol 3 and sends it.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use mpconn_tokio::{pickle::parse_literal, Connection};
    /// let (a, b) = tokio::io::duplex(1024);
    /// let (mut a, mut b) = (Connection::established(a), Connection::established(b));
    /// a.send_value(&parse_literal("{'a': (1, 2), 3: {1, 2}}")?).await?;
    /// assert_eq!(b.recv_value().await?.to_string(), "{'a': (1, 2), 3: {1, 2}}");
    /// # Ok(()) }
    /// ```
    pub async fn send_value(&mut self, value: &Value) -> Result<(), Error> {
        self.send_value_with(value, Protocol::default()).await
    }

    /// Pickles a dynamic [`Value`] with `protocol` and sends it.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), mpconn_tokio::Error> {
    /// use mpconn_tokio::{pickle::{Protocol, Value}, Connection};
    /// let (a, b) = tokio::io::duplex(1024);
    /// let (mut a, mut b) = (Connection::established(a), Connection::established(b));
    /// a.send_value_with(&Value::bytes(b"py2"), Protocol::V2).await?;
    /// assert_eq!(b.recv_value().await?, Value::bytes(b"py2"));
    /// # Ok(()) }
    /// ```
    pub async fn send_value_with(
        &mut self,
        value: &Value,
        protocol: Protocol,
    ) -> Result<(), Error> {
        let message = pickle::dump_value(value, protocol)?;
        self.send_bytes(&message).await
    }

    /// Receives a message and unpickles it into `T` (CPython's `recv`), within the
    /// default [`Limits`]: pickles of every protocol CPython writes are read.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), mpconn_tokio::Error> {
    /// let (a, b) = tokio::io::duplex(1024);
    /// let (mut a, mut b) = (
    ///     mpconn_tokio::Connection::established(a),
    ///     mpconn_tokio::Connection::established(b),
    /// );
    /// a.send(&Some(u64::MAX)).await?;
    /// assert_eq!(b.recv::<Option<u64>>().await?, Some(u64::MAX));
    /// # Ok(()) }
    /// ```
    pub async fn recv<T: pickle::DeserializeOwned>(&mut self) -> Result<T, Error> {
        self.recv_with(&Limits::default()).await
    }

    /// Receives a message and unpickles it into `T` within `limits` (depth, items,
    /// memo).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), mpconn_tokio::Error> {
    /// use mpconn_tokio::{pickle::Limits, Connection};
    /// let (a, b) = tokio::io::duplex(1024);
    /// let (mut a, mut b) = (Connection::established(a), Connection::established(b));
    /// a.send(&vec![vec![vec![1u8]]]).await?;
    /// let shallow = Limits { max_depth: 2, ..Limits::default() };
    /// let err = b.recv_with::<Vec<Vec<Vec<u8>>>>(&shallow).await;
    /// assert!(matches!(err, Err(mpconn_tokio::Error::Pickle { .. })));
    /// # Ok(()) }
    /// ```
    pub async fn recv_with<T: pickle::DeserializeOwned>(
        &mut self,
        limits: &Limits,
    ) -> Result<T, Error> {
        pickle::load(&self.recv_message(None).await?, limits)
    }

    /// Receives a message and unpickles it as a dynamic [`Value`], keeping what
    /// serde's data model would blur: tuple vs list, sets, dict order, big ints,
    /// objects as data (never executed).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), mpconn_tokio::Error> {
    /// let (a, b) = tokio::io::duplex(1024);
    /// let (mut a, mut b) = (
    ///     mpconn_tokio::Connection::established(a),
    ///     mpconn_tokio::Connection::established(b),
    /// );
    /// a.send(&(1u8, "two")).await?;
    /// assert_eq!(b.recv_value().await?.to_string(), "(1, 'two')");
    /// # Ok(()) }
    /// ```
    pub async fn recv_value(&mut self) -> Result<Value, Error> {
        self.recv_value_with(&Limits::default()).await
    }

    /// Receives a message and unpickles it as a dynamic [`Value`] within `limits`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), mpconn_tokio::Error> {
    /// use mpconn_tokio::{pickle::Limits, Connection};
    /// let (a, b) = tokio::io::duplex(1024);
    /// let (mut a, mut b) = (Connection::established(a), Connection::established(b));
    /// a.send(&vec![0u16; 100]).await?;
    /// let small = Limits { max_items: 10, ..Limits::default() };
    /// assert!(b.recv_value_with(&small).await.is_err());
    /// # Ok(()) }
    /// ```
    pub async fn recv_value_with(&mut self, limits: &Limits) -> Result<Value, Error> {
        pickle::load_value(&self.recv_message(None).await?, limits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tokio::time::timeout;

    const LIMIT: Duration = Duration::from_secs(20);

    #[tokio::test]
    async fn read_buffer_starts_small_and_grows_to_64_kib_while_reads_fill_it() {
        let (mut writer, reader) = tokio::io::duplex(256 * 1024);
        // 2500 messages of 76 bytes, 80 framed: 200 000 bytes in hand at once.
        let mut wire = Vec::new();
        for i in 0..2500u32 {
            mpconn::frame::encode(&i.to_be_bytes().repeat(19), &mut wire);
        }
        writer.write_all(&wire).await.unwrap();
        let mut reader = Connection::established(reader);
        assert_eq!(
            reader.receiver.buffer_len(),
            0,
            "nothing before the first read"
        );
        for i in 0..2500u32 {
            let message = timeout(LIMIT, reader.recv_message(None))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(&*message, &i.to_be_bytes().repeat(19)[..]);
            assert!(reader.receiver.buffer_len() <= 64 * 1024);
            if i == 0 {
                assert_eq!(
                    reader.receiver.buffer_len(),
                    8 * 1024,
                    "4 KiB, filled, doubled"
                );
            }
        }
        assert_eq!(reader.receiver.buffer_len(), 64 * 1024);
    }

    #[tokio::test]
    async fn many_small_messages_in_one_write_all_arrive_in_order() {
        let (a, b) = tokio::io::duplex(1024 * 1024);
        let (mut a, mut b) = (Connection::established(a), Connection::established(b));
        let messages: Vec<Vec<u8>> = (0..2000u32).map(|i| i.to_be_bytes().repeat(25)).collect();
        for message in &messages {
            a.queue_bytes(message).unwrap();
        }
        timeout(LIMIT, a.flush()).await.unwrap().unwrap();
        for message in &messages {
            let got = timeout(LIMIT, b.recv_bytes(None)).await.unwrap().unwrap();
            assert_eq!(&got, message);
        }
    }
}
