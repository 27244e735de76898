//! The async connection: the core's `Connection` driven over any async byte stream.

use std::future::Future;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::Poll;

use bytes::BytesMut;
use getrandom::rand_core::UnwrapErr;
use getrandom::SysRng;
use mpconn::frame::{Extended, Header, CONCAT_LIMIT};
use mpconn::HandshakeConfig;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio_util::codec::{Framed, FramedParts};
use tokio_util::io::poll_read_buf;

use crate::{Error, FrameCodec, Stream};

/// The read buffer a connection starts with: enough for a handshake and small
/// messages. Zeroing and faulting in 64 KiB per connection cost about a tenth of a
/// handshake, so the buffer starts here and grows while reads fill it.
const READ_BUF_INITIAL: usize = 4 * 1024;

/// The most one socket read asks for.
const READ_BUF_MAX: usize = 64 * 1024;

/// Bytes read from the socket that the core has not taken yet (the rest of a read that
/// held more than one message).
struct Inbound {
    /// Grows from [`READ_BUF_INITIAL`] to [`READ_BUF_MAX`] as reads fill it.
    buf: Vec<u8>,
    start: usize,
    end: usize,
    first_message: FirstMessage,
}

/// Whether the first message is still to be checked for a challenge: a client without
/// an authkey must not take a keyed listener's `#CHALLENGE#` frame for a reply. The
/// check belongs in the core's handshake state and will move there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FirstMessage {
    /// A client without an authkey, before its first message.
    MayBeAChallenge,
    /// Every other connection, and that client once its first message was a message.
    Unchecked,
}

impl Inbound {
    fn new() -> Inbound {
        Inbound {
            buf: vec![0; READ_BUF_INITIAL],
            start: 0,
            end: 0,
            first_message: FirstMessage::Unchecked,
        }
    }

    /// [`Error::AuthkeyWanted`] for a challenge as the first message of a client
    /// without an authkey.
    fn check_first_message(&mut self, message: &[u8]) -> Result<(), Error> {
        if self.first_message == FirstMessage::MayBeAChallenge {
            self.first_message = FirstMessage::Unchecked;
            if message.starts_with(b"#CHALLENGE#") {
                return Err(Error::AuthkeyWanted);
            }
        }
        Ok(())
    }

    fn filled(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// One read from `io` into the free space; 0 means end of stream. Cancel safe: the
    /// read either happened (and its bytes are kept) or did not.
    async fn fill<R: AsyncRead + Unpin>(&mut self, io: &mut R) -> io::Result<usize> {
        if self.end == self.buf.len() {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        let n = io.read(&mut self.buf[self.end..]).await?;
        self.end += n;
        if self.end == self.buf.len() && self.buf.len() < READ_BUF_MAX {
            // The read filled the buffer: more is likely waiting. Growing keeps the
            // bytes in hand where they are.
            self.buf.resize((self.buf.len() * 2).min(READ_BUF_MAX), 0);
        }
        Ok(n)
    }
}

/// The operating system's random number generator, for handshake nonces.
fn os_rng() -> UnwrapErr<SysRng> {
    UnwrapErr(SysRng)
}

/// Writes everything the core has queued. Cancel safe: a partial write keeps its place in
/// the core's output, and the next flush goes on from there.
async fn flush_core<W: AsyncWrite + Unpin>(
    io: &mut W,
    core: &mut mpconn::Connection,
) -> Result<(), Error> {
    while core.wants_write() {
        let n = io.write(core.pending_output()).await?;
        if n == 0 {
            return Err(io::Error::from(io::ErrorKind::WriteZero).into());
        }
        core.consume_output(n);
    }
    io.flush().await?;
    Ok(())
}

/// Bytes that go out before anything in the core's output: the rest of a large message
/// whose direct write was cut short (its future dropped), or what a connection had
/// queued when it was split.
#[derive(Debug, Default)]
struct Backlog {
    bytes: Vec<u8>,
    /// How much of `bytes` is written.
    written: usize,
    /// A large message is being written straight from the caller's slice. Its
    /// [`LargeSend`] clears this when it finishes or is dropped; still set afterwards,
    /// the future was leaked (`mem::forget`) part-way and the peer may hold part of a
    /// frame, so nothing more may be written.
    direct_write: bool,
}

impl Backlog {
    fn rest(&self) -> &[u8] {
        &self.bytes[self.written..]
    }

    fn check_in_step(&self) -> Result<(), Error> {
        if self.direct_write {
            return Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "a send_bytes future was leaked part-way through a message: \
                 the stream is out of step",
            )
            .into());
        }
        Ok(())
    }

    /// Writes the backlog. Cancel safe: a partial write keeps its place.
    async fn write<W: AsyncWrite + Unpin>(&mut self, io: &mut W) -> Result<(), Error> {
        while !self.rest().is_empty() {
            let n = io.write(self.rest()).await?;
            if n == 0 {
                return Err(io::Error::from(io::ErrorKind::WriteZero).into());
            }
            self.written += n;
        }
        self.bytes = Vec::new();
        self.written = 0;
        Ok(())
    }
}

/// Writes the backlog, then everything the core has queued.
async fn flush_all<W: AsyncWrite + Unpin>(
    io: &mut W,
    core: &mut mpconn::Connection,
    backlog: &mut Backlog,
) -> Result<(), Error> {
    backlog.check_in_step()?;
    backlog.write(io).await?;
    flush_core(io, core).await
}

/// `send_bytes` for a connection and a send half: a message up to [`CONCAT_LIMIT`] is
/// queued (copied behind its header) before this returns, a larger one is written
/// straight from `payload` by a [`LargeSend`].
fn send_bytes<'a, W: AsyncWrite + Unpin>(
    io: &'a mut W,
    core: &'a mut mpconn::Connection,
    backlog: &'a mut Backlog,
    payload: &'a [u8],
) -> impl Future<Output = Result<(), Error>> + 'a {
    enum Start<'a> {
        Queued(
            Result<(), mpconn::Error>,
            &'a mut mpconn::Connection,
            &'a mut Backlog,
        ),
        Large(LargeSend<'a>),
    }
    // Created now, not when first polled: a future dropped unpolled still sends.
    let start = if payload.len() > CONCAT_LIMIT && core.is_established() && !backlog.direct_write {
        Start::Large(LargeSend::new(core, backlog, payload))
    } else {
        Start::Queued(core.send(payload), core, backlog)
    };
    async move {
        match start {
            Start::Large(send) => send.run(io).await,
            Start::Queued(queued, core, backlog) => {
                queued?;
                flush_all(io, core, backlog).await
            }
        }
    }
}

/// A message above [`CONCAT_LIMIT`] on its way out straight from the caller's slice,
/// with its header, after whatever was queued before it (CPython also writes such a
/// message apart from its header). Copying it into the core's output first cost a tenth
/// of the time of streaming 1 MiB messages.
///
/// It keeps `send_bytes` cancel safe: dropped before the message is all written (its
/// future dropped, polled or not), it puts what is left of the message in the queue,
/// where it goes out, in order, with the next send or flush.
struct LargeSend<'a> {
    core: &'a mut mpconn::Connection,
    backlog: &'a mut Backlog,
    header: Header,
    payload: &'a [u8],
    /// Bytes of header and payload written so far.
    written: usize,
}

impl<'a> LargeSend<'a> {
    fn new(
        core: &'a mut mpconn::Connection,
        backlog: &'a mut Backlog,
        payload: &'a [u8],
    ) -> LargeSend<'a> {
        backlog.direct_write = true;
        LargeSend {
            core,
            backlog,
            header: Header::new(payload.len() as u64),
            payload,
            written: 0,
        }
    }

    fn frame_len(&self) -> usize {
        self.header.as_bytes().len() + self.payload.len()
    }

    /// The unwritten part of the frame: of the header, of the payload.
    fn rest(&self) -> (&[u8], &[u8]) {
        let header = self.header.as_bytes();
        let in_header = self.written.min(header.len());
        let in_payload = self.written - in_header;
        (&header[in_header..], &self.payload[in_payload..])
    }

    async fn run<W: AsyncWrite + Unpin>(mut self, io: &mut W) -> Result<(), Error> {
        self.backlog.write(io).await?;
        while self.written < self.frame_len() {
            let pending = self.core.pending_output();
            let pending_len = pending.len();
            let (header, payload) = self.rest();
            let slices = [
                IoSlice::new(pending),
                IoSlice::new(header),
                IoSlice::new(payload),
            ];
            let n = io.write_vectored(&slices).await?;
            if n == 0 {
                return Err(io::Error::from(io::ErrorKind::WriteZero).into());
            }
            let from_pending = n.min(pending_len);
            self.core.consume_output(from_pending);
            self.written += n - from_pending;
        }
        drop(self);
        io.flush().await?;
        Ok(())
    }
}

impl Drop for LargeSend<'_> {
    fn drop(&mut self) {
        self.backlog.direct_write = false;
        if self.written == self.frame_len() {
            return;
        }
        if self.written == 0 {
            // Nothing of it is out: it is queued whole, behind what was queued before
            // it. The core is established (checked before this was made), so this
            // cannot fail.
            let _ = self.core.send(self.payload);
            return;
        }
        // Part of the frame is out, so the backlog and the core's output were written
        // before it: its rest goes first, before anything sent later.
        let (header, payload) = self.rest();
        let mut rest = Vec::with_capacity(header.len() + payload.len());
        rest.extend_from_slice(header);
        rest.extend_from_slice(payload);
        self.backlog.bytes = rest;
        self.backlog.written = 0;
    }
}

/// Decodes until one whole message is out, reading whenever the bytes in hand run out.
/// Cancel safe: read bytes are either in `inbound` or inside the core's decoder (which
/// keeps a partial frame), so a later call goes on where this one stopped.
async fn recv_core<R: AsyncRead + Unpin>(
    io: &mut R,
    core: &mut mpconn::Connection,
    inbound: &mut Inbound,
    max_len: Option<usize>,
) -> Result<Vec<u8>, Error> {
    core.set_max_len(max_len.map(|max| max as u64));
    loop {
        if !inbound.filled().is_empty() {
            let (used, frame) = core.decode(inbound.filled())?;
            let message = frame.map(|frame| frame.into_vec());
            inbound.consume(used);
            if let Some(message) = message {
                inbound.check_first_message(&message)?;
                return Ok(message);
            }
            continue;
        }
        if core.is_mid_message() {
            if let Some((n, message)) = extend_core(io, core, inbound.buf.len()).await? {
                if let Some(message) = message {
                    inbound.check_first_message(&message)?;
                    return Ok(message);
                }
                if n == 0 {
                    return Err(core.eof().into());
                }
                continue;
            }
        }
        if inbound.fill(io).await? == 0 {
            return Err(core.eof().into());
        }
    }
}

/// One read of the message now arriving straight onto the core's buffer, when it misses
/// at least `min` bytes (else `None`: read through the inbound buffer, which may also
/// pick up what follows the message). The read fills spare capacity without zeroing it
/// (tokio's uninitialised `ReadBuf`) and stops at the message's end. Cancel safe: a
/// pending read appends nothing, a finished one is in the core before this returns.
/// Returns the bytes read (0: the end of the stream) and the message once complete.
async fn extend_core<R: AsyncRead + Unpin>(
    io: &mut R,
    core: &mut mpconn::Connection,
    min: usize,
) -> Result<Option<(usize, Option<Vec<u8>>)>, Error> {
    std::future::poll_fn(|cx| {
        let extended = core.extend_payload(|buf, limit| {
            (limit >= min).then(|| {
                let mut rest = (&mut *io).take(limit as u64);
                poll_read_buf(Pin::new(&mut rest), cx, buf)
            })
        });
        match extended {
            Err(error) => Poll::Ready(Err(error.into())),
            Ok(None) | Ok(Some(Extended { filled: None, .. })) => Poll::Ready(Ok(None)),
            Ok(Some(Extended {
                filled: Some(Poll::Pending),
                ..
            })) => Poll::Pending,
            Ok(Some(Extended {
                filled: Some(Poll::Ready(read)),
                message,
            })) => Poll::Ready(match read {
                Ok(n) => Ok(Some((n, message))),
                Err(error) => Err(error.into()),
            }),
        }
    })
    .await
}

/// Runs the core's handshake to its end over `io`.
async fn handshake<S: AsyncRead + AsyncWrite + Unpin>(
    io: &mut S,
    core: &mut mpconn::Connection,
    inbound: &mut Inbound,
) -> Result<(), Error> {
    loop {
        flush_core(io, core).await?;
        if !core.is_handshaking() {
            return Ok(());
        }
        if inbound.filled().is_empty() && inbound.fill(io).await? == 0 {
            return Err(core.eof().into());
        }
        match core.decode(inbound.filled()) {
            Ok((used, _)) => inbound.consume(used),
            Err(error) => {
                // The core may have queued #FAILURE#: the peer should learn why we hang
                // up. Whether that write works does not change the outcome.
                let _ = flush_core(io, core).await;
                return Err(error.into());
            }
        }
    }
}

/// One end of a `multiprocessing.connection` connection over an async byte stream `S`
/// (a [`Stream`] when it comes from a [`Listener`](crate::Listener) or a
/// [`Client`](crate::Client)).
///
/// Messages are byte strings, exchanged with [`send_bytes`](Self::send_bytes) and
/// [`recv_bytes`](Self::recv_bytes) like CPython's `Connection`. To read in one task and
/// write in another, [`into_split`](Self::into_split) it. Dropping it closes the socket.
///
/// # Cancellation safety
///
/// Every method may be used in `tokio::select!` (or have its future dropped any other
/// way) without losing, duplicating or splitting a message:
///
/// - [`recv_bytes`](Self::recv_bytes): bytes already read stay in the connection (a
///   partial frame inside the core's decoder, the rest in the read buffer). The next call
///   goes on from there and returns the same message the dropped one would have.
/// - [`send_bytes`](Self::send_bytes): dropping the future stops the writing, never the
///   message: what is left of it stays queued, in order, and goes out with the next
///   `send_bytes` or [`flush`](Self::flush), even if the future was never polled. A
///   message up to 16 KiB is queued whole when `send_bytes` is *called*; a larger one is
///   written straight from the caller's slice, and what is unwritten of it is copied into
///   the queue when the future is dropped. (A future leaked with `mem::forget` part-way
///   through a large message cannot do that: every later send and flush then fails with
///   `BrokenPipe` rather than put the stream out of step.)
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
    core: mpconn::Connection,
    inbound: Inbound,
    backlog: Backlog,
}

impl<S> std::fmt::Debug for Connection<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("core", &self.core)
            .field("buffered", &self.inbound.filled().len())
            .finish_non_exhaustive()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Connection<S> {
    /// A connection with no handshake (CPython's `authkey=None`), established at once.
    pub fn established(io: S) -> Connection<S> {
        Connection {
            io,
            core: mpconn::Connection::established(),
            inbound: Inbound::new(),
            backlog: Backlog::default(),
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
        let core = mpconn::Connection::server(authkey, config, &mut os_rng());
        Connection::authenticate(io, core).await
    }

    /// Runs the connecting side's handshake over `io` (what `Client` does): with an
    /// authkey, answer a challenge, then deliver one. `None` means no handshake.
    pub async fn client(
        io: S,
        authkey: Option<&[u8]>,
        config: &HandshakeConfig,
    ) -> Result<Connection<S>, Error> {
        let core = mpconn::Connection::client(authkey, config, &mut os_rng());
        let mut connection = Connection::authenticate(io, core).await?;
        if authkey.is_none() {
            connection.inbound.first_message = FirstMessage::MayBeAChallenge;
        }
        Ok(connection)
    }

    async fn authenticate(mut io: S, mut core: mpconn::Connection) -> Result<Self, Error> {
        let mut inbound = Inbound::new();
        handshake(&mut io, &mut core, &mut inbound).await?;
        Ok(Connection {
            io,
            core,
            inbound,
            backlog: Backlog::default(),
        })
    }

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
    pub fn send_bytes<'a>(
        &'a mut self,
        payload: &'a [u8],
    ) -> impl Future<Output = Result<(), Error>> + 'a {
        send_bytes(&mut self.io, &mut self.core, &mut self.backlog, payload)
    }

    /// Writes whatever is still queued (after a cancelled [`send_bytes`](Self::send_bytes)).
    pub async fn flush(&mut self) -> Result<(), Error> {
        flush_all(&mut self.io, &mut self.core, &mut self.backlog).await
    }

    /// Receives one whole message (CPython's `recv_bytes(maxlength)`).
    ///
    /// With `max_len`, a longer message is refused as soon as its header arrives
    /// ([`mpconn::Error::MessageTooLong`], CPython's "bad message length"); its payload is
    /// still on the wire, so the read side is unusable from then on. A peer that closes
    /// between messages gives an error for which [`Error::is_eof`] is true (CPython's
    /// `EOFError`); one that closes inside a message gives
    /// [`mpconn::Error::UnexpectedEof`]. See [cancellation safety](Self#cancellation-safety).
    pub async fn recv_bytes(&mut self, max_len: Option<usize>) -> Result<Vec<u8>, Error> {
        recv_core(&mut self.io, &mut self.core, &mut self.inbound, max_len).await
    }

    /// Flushes what is queued and shuts down the write side; the peer sees a clean end
    /// of stream (`EOFError` in CPython) after the last message. Dropping the connection
    /// closes it too, without the flush.
    pub async fn close(mut self) -> Result<(), Error> {
        self.flush().await?;
        self.io.shutdown().await?;
        Ok(())
    }

    /// Splits the connection into a read half and a write half, to receive in one task
    /// and send in another. Nothing is lost: bytes already read go with the read half,
    /// bytes still queued with the write half.
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
    pub fn into_split(mut self) -> (RecvHalf<ReadHalf<S>>, SendHalf<WriteHalf<S>>) {
        let (read, write) = tokio::io::split(self.io);
        // What had to go out first still does, then what was queued.
        let mut backlog = self.backlog;
        backlog.bytes.drain(..backlog.written);
        backlog.written = 0;
        backlog.bytes.extend_from_slice(&self.core.take_output());
        (
            RecvHalf {
                io: read,
                core: self.core,
                inbound: self.inbound,
            },
            SendHalf {
                io: write,
                core: mpconn::Connection::established(),
                backlog,
            },
        )
    }

    /// Turns the connection, typically just authenticated, into a
    /// `Framed<S, FrameCodec>` stream and sink of messages. Bytes already read and bytes
    /// still queued move into the `Framed`'s buffers.
    ///
    /// Refused (the connection is handed back) while a message is half read, which only
    /// happens after a cancelled [`recv_bytes`](Self::recv_bytes): finish it first. Also
    /// refused after a leaked large `send_bytes` left the write side out of step.
    pub fn into_framed(self) -> Result<Framed<S, FrameCodec>, Box<Connection<S>>> {
        if self.core.is_mid_message() || self.backlog.direct_write {
            return Err(Box::new(self));
        }
        let mut parts = FramedParts::new::<&[u8]>(self.io, FrameCodec::new());
        parts.read_buf = BytesMut::from(self.inbound.filled());
        let mut write_buf = BytesMut::from(self.backlog.rest());
        write_buf.extend_from_slice(self.core.pending_output());
        parts.write_buf = write_buf;
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

/// The read half of a [`Connection`], from [`Connection::into_split`].
pub struct RecvHalf<R> {
    io: R,
    core: mpconn::Connection,
    inbound: Inbound,
}

impl<R> std::fmt::Debug for RecvHalf<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecvHalf")
            .field("core", &self.core)
            .field("buffered", &self.inbound.filled().len())
            .finish_non_exhaustive()
    }
}

impl<R: AsyncRead + Unpin> RecvHalf<R> {
    /// Receives one whole message; as [`Connection::recv_bytes`], cancel safe in the same
    /// way.
    pub async fn recv_bytes(&mut self, max_len: Option<usize>) -> Result<Vec<u8>, Error> {
        recv_core(&mut self.io, &mut self.core, &mut self.inbound, max_len).await
    }
}

/// The write half of a [`Connection`], from [`Connection::into_split`].
pub struct SendHalf<W> {
    io: W,
    core: mpconn::Connection,
    /// What the connection had queued but not written when it was split (it goes out
    /// before anything sent through this half), or the rest of a cut-short large send.
    backlog: Backlog,
}

impl<W> std::fmt::Debug for SendHalf<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SendHalf")
            .field("core", &self.core)
            .finish_non_exhaustive()
    }
}

impl<W: AsyncWrite + Unpin> SendHalf<W> {
    /// Sends one message, as [`Connection::send_bytes`] does, and as cancel safe.
    pub fn send_bytes<'a>(
        &'a mut self,
        payload: &'a [u8],
    ) -> impl Future<Output = Result<(), Error>> + 'a {
        send_bytes(&mut self.io, &mut self.core, &mut self.backlog, payload)
    }

    /// Writes whatever is still queued.
    pub async fn flush(&mut self) -> Result<(), Error> {
        flush_all(&mut self.io, &mut self.core, &mut self.backlog).await
    }

    /// Flushes and shuts down the write side: the peer sees a clean end of stream.
    pub async fn close(mut self) -> Result<(), Error> {
        self.flush().await?;
        self.io.shutdown().await?;
        Ok(())
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
        let (mut writer, mut reader) = tokio::io::duplex(256 * 1024);
        let sent: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
        writer.write_all(&sent).await.unwrap();
        let mut inbound = Inbound::new();
        assert_eq!(inbound.buf.len(), READ_BUF_INITIAL);
        let mut got = Vec::new();
        while got.len() < sent.len() {
            let n = timeout(LIMIT, inbound.fill(&mut reader))
                .await
                .unwrap()
                .unwrap();
            assert!(n > 0);
            got.extend_from_slice(inbound.filled());
            inbound.consume(n);
            assert!(inbound.buf.len() <= READ_BUF_MAX);
        }
        assert_eq!(got, sent);
        assert_eq!(inbound.buf.len(), READ_BUF_MAX);
    }

    #[tokio::test]
    async fn bytes_in_hand_stay_in_place_when_the_buffer_grows() {
        let (mut writer, mut reader) = tokio::io::duplex(64 * 1024);
        writer.write_all(&[7; READ_BUF_INITIAL]).await.unwrap();
        let mut inbound = Inbound::new();
        let n = timeout(LIMIT, inbound.fill(&mut reader))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(n, READ_BUF_INITIAL);
        assert_eq!(inbound.buf.len(), 2 * READ_BUF_INITIAL);
        inbound.consume(10);
        assert_eq!(inbound.filled(), &[7; READ_BUF_INITIAL - 10][..]);
    }

    #[tokio::test]
    async fn many_small_messages_in_one_write_all_arrive_in_order() {
        let (a, b) = tokio::io::duplex(1024 * 1024);
        let (mut a, mut b) = (Connection::established(a), Connection::established(b));
        let messages: Vec<Vec<u8>> = (0..2000u32).map(|i| i.to_be_bytes().repeat(25)).collect();
        for message in &messages {
            a.core.send(message).unwrap();
        }
        timeout(LIMIT, a.flush()).await.unwrap().unwrap();
        for message in &messages {
            let got = timeout(LIMIT, b.recv_bytes(None)).await.unwrap().unwrap();
            assert_eq!(&got, message);
        }
    }
}
