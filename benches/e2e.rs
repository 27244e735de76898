//! The end-to-end comparison: mpconn against the machine's limit (a raw Unix stream
//! with hand-written 4-byte framing) and against CPython's own
//! `multiprocessing.connection`, every figure measured in the same run, printed as one
//! table.
//!
//!     cargo bench -p mpconn-benches --bench e2e                      # everything, medians of 5 runs
//!     MPCONN_BENCH_RUNS=9 MPCONN_BENCH_SECS=1 cargo bench -p mpconn-benches --bench e2e -- pingpong_64
//!     MPCONN_BENCH_ROWS=raw,std cargo bench -p mpconn-benches --bench e2e -- handshake   # some rows only
//!
//! Every measurement is two processes over a Unix socket: this one measures (client /
//! sender) and a child serves (listener / receiver): this binary re-run with
//! `--serve`, or `benches/cpython_baseline.py` under each CPython for its rows. A
//! measurement runs for about `MPCONN_BENCH_SECS` (default 0.5) seconds and covers the
//! whole exchange, until the far side confirmed it received everything. Each run
//! measures every row once, rows interleaved, so a change in the machine's load hits
//! them alike; the table gives medians over `MPCONN_BENCH_RUNS` (default 5) runs.
//!
//! Workloads (the same names in the Python script):
//! - `pingpong_64`: round trips/s of a 64 B message, echoed by the server.
//! - `stream_64`: 64 B messages/s one way (mpconn with its batching API; the raw socket
//!   through a 64 KiB `BufWriter`; CPython has no batching).
//! - `stream_1mib`: MB/s (10^6 bytes) of 1 MiB messages one way.
//! - `handshake`: authenticated connections/s (connect, handshake, close), one client
//!   at a time. The raw row exchanges the same six frames with no HMAC: connection
//!   setup and three round trips are the limit.
//! - `handshake_c64`: the same with 64 clients at once against one listener.

// The tests' way of finding CPython interpreters (pyenv, then PATH).
use mpconn_test_support as support;

use mpconn::frame::Frame;

use std::collections::BTreeMap;
use std::future::Future;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::pin::pin;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::thread;
use std::time::{Duration, Instant};

const AUTHKEY: &[u8] = b"benchmark authkey";
const SMALL: usize = 64;
const BIG: usize = 1 << 20;
const CONCURRENT: usize = 64;
/// A measurement that overruns its time by this much has its server killed: the
/// measuring side then sees the connection drop and fails, so a stuck peer never hangs
/// the run. (No socket timeouts: they would add system calls to what is measured.)
const OVERRUN: Duration = Duration::from_secs(30);

/// What the command line names: workloads and rows.
trait Named: Copy + 'static {
    const ALL: &'static [Self];

    fn name(self) -> &'static str;

    fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|v| v.name() == name)
    }
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Workload {
    PingPong64,
    Stream64,
    Stream1MiB,
    Handshake,
    HandshakeC64,
}

impl Named for Workload {
    const ALL: &'static [Workload] = &[
        Workload::PingPong64,
        Workload::Stream64,
        Workload::Stream1MiB,
        Workload::Handshake,
        Workload::HandshakeC64,
    ];

    fn name(self) -> &'static str {
        match self {
            Workload::PingPong64 => "pingpong_64",
            Workload::Stream64 => "stream_64",
            Workload::Stream1MiB => "stream_1mib",
            Workload::Handshake => "handshake",
            Workload::HandshakeC64 => "handshake_c64",
        }
    }
}

impl Workload {
    fn title(self) -> &'static str {
        match self {
            Workload::PingPong64 => "ping-pong, 64 B",
            Workload::Stream64 => "stream, 64 B",
            Workload::Stream1MiB => "stream, 1 MiB",
            Workload::Handshake => "handshakes, 1 client",
            Workload::HandshakeC64 => "handshakes, 64 clients",
        }
    }

    fn unit(self) -> &'static str {
        match self {
            Workload::PingPong64 => "round trips/s",
            Workload::Stream64 => "msgs/s",
            Workload::Stream1MiB => "MB/s",
            Workload::Handshake | Workload::HandshakeC64 => "handshakes/s",
        }
    }
}

/// The Rust rows, each measured against a server of the same kind.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Rust {
    Raw,
    /// The same by hand over tokio: what the async runtime costs by itself.
    RawTokio,
    Std,
    /// The std client with `HandshakeConfig::pipeline(true)`: handshakes only.
    StdPipelined,
    Tokio,
    /// The tokio client with `HandshakeConfig::pipeline(true)`: handshakes only.
    TokioPipelined,
}

impl Named for Rust {
    const ALL: &'static [Rust] = &[
        Rust::Raw,
        Rust::RawTokio,
        Rust::Std,
        Rust::StdPipelined,
        Rust::Tokio,
        Rust::TokioPipelined,
    ];

    fn name(self) -> &'static str {
        match self {
            Rust::Raw => "raw",
            Rust::RawTokio => "raw-tokio",
            Rust::Std => "std",
            Rust::StdPipelined => "std-pipelined",
            Rust::Tokio => "tokio",
            Rust::TokioPipelined => "tokio-pipelined",
        }
    }
}

impl Rust {
    /// Whether this row measures `workload` (pipelining changes only handshakes).
    fn measures(self, workload: Workload) -> bool {
        match self {
            Rust::StdPipelined | Rust::TokioPipelined => {
                matches!(workload, Workload::Handshake | Workload::HandshakeC64)
            }
            _ => true,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Rust::Raw => "raw Unix socket (limit)",
            Rust::RawTokio => "raw tokio UnixStream",
            Rust::Std => "mpconn-std",
            Rust::StdPipelined => "mpconn-std, pipeline(true)",
            Rust::Tokio => "mpconn-tokio",
            Rust::TokioPipelined => "mpconn-tokio, pipeline(true)",
        }
    }

    fn measure(self, workload: Workload, address: &Path, secs: f64) -> io::Result<f64> {
        let case = Case(workload, address, secs);
        match self {
            Rust::Raw => raw::measure(case),
            Rust::RawTokio => raw_tokio::measure(case),
            Rust::Std => std_rows::measure(case, false),
            Rust::StdPipelined => std_rows::measure(case, true),
            Rust::Tokio => tokio_rows::measure(case, false),
            Rust::TokioPipelined => tokio_rows::measure(case, true),
        }
    }

    /// Binds `address`, says "ready" on stdout, and serves until killed.
    fn serve(self, workload: Workload, address: &Path) -> io::Result<()> {
        match self {
            Rust::Raw => raw::serve(workload, address),
            Rust::RawTokio => raw_tokio::serve(workload, address),
            // A server's handshake is the same either way.
            Rust::Std | Rust::StdPipelined => std_rows::serve(workload, address),
            Rust::Tokio | Rust::TokioPipelined => tokio_rows::serve(workload, address),
        }
    }
}

/// What one measurement runs: a workload against the server at an address, for so
/// many seconds.
#[derive(Clone, Copy)]
struct Case<'a>(Workload, &'a Path, f64);

/// A row of the table.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Row {
    Rust(Rust),
    CPython(u32, u32),
}

impl Row {
    fn label(&self) -> String {
        match self {
            Row::Rust(rust) => rust.label().to_string(),
            Row::CPython(major, minor) => format!("CPython {major}.{minor}"),
        }
    }
}

/// What a measurement loop needs: when to stop and how to turn counts into a rate.
struct Clock {
    start: Instant,
    deadline: Instant,
}

impl Clock {
    fn start(secs: f64) -> Clock {
        let start = Instant::now();
        Clock {
            start,
            deadline: start + Duration::from_secs_f64(secs),
        }
    }

    fn running(&self) -> bool {
        Instant::now() < self.deadline
    }

    fn rate(&self, count: u64) -> f64 {
        count as f64 / self.start.elapsed().as_secs_f64()
    }
}

fn mb_per_s(messages_per_s: f64) -> f64 {
    messages_per_s * BIG as f64 / 1e6
}

/// Runs `client` on `threads` threads until `secs` have passed; returns the total
/// count of what they did per second.
fn concurrently(
    threads: usize,
    secs: f64,
    client: impl Fn() -> io::Result<()> + Sync,
) -> io::Result<f64> {
    let done = AtomicU64::new(0);
    let clock = Clock::start(secs);
    thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    while clock.running() {
                        client()?;
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok::<_, io::Error>(())
                })
            })
            .collect();
        for worker in workers {
            worker.join().expect("client thread panicked")?;
        }
        Ok::<_, io::Error>(())
    })?;
    Ok(clock.rate(done.load(Ordering::Relaxed)))
}

/// CPython's default backlog of 1, but room for every client when 64 connect at once
/// (the CPython baseline does the same).
fn backlog(workload: Workload) -> i32 {
    match workload {
        Workload::HandshakeC64 => 2 * CONCURRENT as i32,
        _ => 1,
    }
}

fn connect(address: &Path) -> io::Result<UnixStream> {
    UnixStream::connect(address)
}

// ---- the workloads, written once for every row ------------------------------------

/// One connection as the message workloads use it, on either side. The workloads are
/// written once, as async code over this; a blocking row's futures finish when first
/// polled (see [`now`]), so the same code measures the blocking and the async rows.
trait Link {
    /// Sends one message now.
    async fn send(&mut self, payload: &[u8]) -> io::Result<()>;
    /// Queues one message of a batch.
    async fn queue(&mut self, payload: &[u8]) -> io::Result<()>;
    /// A batch is queued: the mpconn rows flush it; the raw rows leave the writing to
    /// their 64 KiB `BufWriter`, as a sender written by hand would (`send` writes
    /// everything).
    async fn end_batch(&mut self) -> io::Result<()>;
    /// The next message, lent until the next call: borrowed from the read buffer where
    /// the row can, as the raw rows read into the buffer they reuse.
    async fn recv(&mut self) -> io::Result<Frame<'_>>;
}

/// Runs a blocking row's workload: its futures never wait, so one poll finishes it.
fn now<T>(future: impl Future<Output = T>) -> T {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(out) => out,
        Poll::Pending => unreachable!("a blocking row's future waited"),
    }
}

/// The measuring side of `ping-pong` and the streams, over a connection made for it.
async fn measure_messages(workload: Workload, mut link: impl Link, secs: f64) -> io::Result<f64> {
    if workload == Workload::PingPong64 {
        let payload = [b'x'; SMALL];
        let clock = Clock::start(secs);
        let mut n = 0;
        while clock.running() {
            for _ in 0..64 {
                link.send(&payload).await?;
                link.recv().await?;
            }
            n += 64;
        }
        return Ok(clock.rate(n));
    }
    let (size, batch) = match workload {
        Workload::Stream64 => (SMALL, 256),
        _ => (BIG, 1),
    };
    let payload = vec![b'x'; size];
    let clock = Clock::start(secs);
    let mut sent = 0;
    while clock.running() {
        if batch == 1 {
            link.send(&payload).await?;
        } else {
            for _ in 0..batch {
                link.queue(&payload).await?;
            }
            link.end_batch().await?;
        }
        sent += batch;
    }
    // An empty message ends the stream; the receiver answers with its count.
    link.send(b"").await?;
    check_count(&link.recv().await?, sent)?;
    let rate = clock.rate(sent);
    Ok(if size == BIG { mb_per_s(rate) } else { rate })
}

/// The serving side of `ping-pong` (an echo) and the streams (a count until the empty
/// message, sent back), over an accepted connection.
async fn serve_messages(workload: Workload, mut link: impl Link) -> io::Result<()> {
    if workload == Workload::PingPong64 {
        // The echo is copied into a buffer reused for every message: a lent message
        // cannot be sent on the connection it borrows.
        let mut echo = Vec::new();
        while let Ok(message) = link.recv().await {
            echo.clear();
            echo.extend_from_slice(&message);
            link.send(&echo).await?;
        }
        return Ok(());
    }
    let mut count: u64 = 0;
    while !link.recv().await?.is_empty() {
        count += 1;
    }
    link.send(&count.to_be_bytes()).await?;
    // Until the measuring side hangs up.
    let _ = link.recv().await;
    Ok(())
}

/// Authenticated connections, one after another, until `secs` have passed: per second.
async fn one_at_a_time(
    secs: f64,
    mut handshake: impl AsyncFnMut() -> io::Result<()>,
) -> io::Result<f64> {
    let clock = Clock::start(secs);
    let mut n = 0;
    while clock.running() {
        handshake().await?;
        n += 1;
    }
    Ok(clock.rate(n))
}

/// `handshake` in `CONCURRENT` tokio tasks until `secs` have passed: the total per
/// second (the async rows' `concurrently`).
async fn in_tasks<F>(
    secs: f64,
    handshake: impl Fn() -> F + Clone + Send + 'static,
) -> io::Result<f64>
where
    F: Future<Output = io::Result<()>> + Send + 'static,
{
    let clock = Arc::new(Clock::start(secs));
    let tasks: Vec<_> = (0..CONCURRENT)
        .map(|_| {
            let (clock, handshake) = (clock.clone(), handshake.clone());
            tokio::spawn(async move {
                let mut n = 0u64;
                while clock.running() {
                    handshake().await?;
                    n += 1;
                }
                Ok::<_, io::Error>(n)
            })
        })
        .collect();
    let mut n = 0;
    for task in tasks {
        n += task.await.map_err(io::Error::other)??;
    }
    Ok(clock.rate(n))
}

/// The limit: a Unix stream and the framing written by hand, the least any
/// implementation of the protocol has to do.
mod raw {
    use super::*;

    /// One frame: header and a small payload in one write (as CPython and mpconn do),
    /// a large payload in a second one.
    pub fn write_frame(
        out: &mut impl Write,
        scratch: &mut Vec<u8>,
        payload: &[u8],
    ) -> io::Result<()> {
        let (first, second) = frame_writes(scratch, payload);
        out.write_all(first)?;
        out.write_all(second)
    }

    /// The bytes of one frame's writes (the second empty for a small payload): the
    /// raw rows' one framing rule.
    pub fn frame_writes<'a>(scratch: &'a mut Vec<u8>, payload: &'a [u8]) -> (&'a [u8], &'a [u8]) {
        scratch.clear();
        scratch.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        if payload.len() <= 16384 {
            scratch.extend_from_slice(payload);
            (scratch, &[])
        } else {
            (scratch, payload)
        }
    }

    /// Reads one frame into `buf` (reused: no allocation once it is big enough);
    /// returns its length.
    pub fn read_frame(input: &mut impl Read, buf: &mut Vec<u8>) -> io::Result<usize> {
        let mut header = [0; 4];
        input.read_exact(&mut header)?;
        let len = u32::from_be_bytes(header) as usize;
        if buf.len() < len {
            buf.resize(len, 0);
        }
        input.read_exact(&mut buf[..len])?;
        Ok(len)
    }

    /// The six frames of a modern handshake, with their real sizes and no HMAC.
    const CHALLENGE: usize = 11 + 8 + 40; // #CHALLENGE# {sha256} nonce
    const ANSWER: usize = 8 + 32; // {sha256} mac
    const WELCOME: usize = 9; // #WELCOME#
    pub const HANDSHAKE: [usize; 6] = [CHALLENGE, ANSWER, WELCOME, CHALLENGE, ANSWER, WELCOME];

    /// What the raw rows send as a handshake frame: its first `len` bytes.
    pub const FILLER: [u8; CHALLENGE] = [b'#'; CHALLENGE];

    /// Whether frame `i` of [`HANDSHAKE`] is ours to send: the server sends the even
    /// frames, the client the odd ones.
    pub fn sends(i: usize, server: bool) -> bool {
        (i % 2 == 0) == server
    }

    fn handshake(stream: UnixStream, server: bool) -> io::Result<()> {
        let mut input = BufReader::with_capacity(512, &stream);
        let mut output = &stream;
        let (mut scratch, mut buf) = (Vec::new(), Vec::new());
        for (i, len) in HANDSHAKE.into_iter().enumerate() {
            if sends(i, server) {
                write_frame(&mut output, &mut scratch, &FILLER[..len])?;
            } else if read_frame(&mut input, &mut buf)? != len {
                return Err(io::Error::other("raw handshake out of step"));
            }
        }
        Ok(())
    }

    /// A connection: read through a 64 KiB `BufReader`, batches through a 64 KiB
    /// `BufWriter`, single messages written at once.
    struct Framed<'a> {
        input: BufReader<&'a UnixStream>,
        output: BufWriter<&'a UnixStream>,
        scratch: Vec<u8>,
        buf: Vec<u8>,
    }

    impl<'a> Framed<'a> {
        fn new(stream: &'a UnixStream) -> Framed<'a> {
            Framed {
                input: BufReader::with_capacity(64 * 1024, stream),
                output: BufWriter::with_capacity(64 * 1024, stream),
                scratch: Vec::new(),
                buf: Vec::new(),
            }
        }
    }

    impl Link for Framed<'_> {
        async fn send(&mut self, payload: &[u8]) -> io::Result<()> {
            self.output.flush()?;
            write_frame(self.output.get_mut(), &mut self.scratch, payload)
        }

        async fn queue(&mut self, payload: &[u8]) -> io::Result<()> {
            write_frame(&mut self.output, &mut self.scratch, payload)
        }

        async fn end_batch(&mut self) -> io::Result<()> {
            Ok(())
        }

        async fn recv(&mut self) -> io::Result<Frame<'_>> {
            let len = read_frame(&mut self.input, &mut self.buf)?;
            Ok(Frame::Borrowed(&self.buf[..len]))
        }
    }

    pub fn measure(case: Case<'_>) -> io::Result<f64> {
        let Case(workload, address, secs) = case;
        match workload {
            Workload::Handshake => now(one_at_a_time(secs, async || {
                handshake(connect(address)?, false)
            })),
            Workload::HandshakeC64 => {
                concurrently(CONCURRENT, secs, || handshake(connect(address)?, false))
            }
            _ => {
                let stream = connect(address)?;
                now(measure_messages(workload, Framed::new(&stream), secs))
            }
        }
    }

    pub fn serve(workload: Workload, address: &Path) -> io::Result<()> {
        let listener = UnixListener::bind(address)?;
        ready()?;
        match workload {
            Workload::Handshake | Workload::HandshakeC64 => {
                // As many server threads as clients; each handles one at a time.
                let threads = if workload == Workload::Handshake {
                    1
                } else {
                    CONCURRENT
                };
                thread::scope(|scope| {
                    for _ in 0..threads {
                        scope.spawn(|| loop {
                            if let Ok((stream, _)) = listener.accept() {
                                let _ = handshake(stream, true);
                            }
                        });
                    }
                });
                Ok(())
            }
            _ => {
                let (stream, _) = listener.accept()?;
                now(serve_messages(workload, Framed::new(&stream)))
            }
        }
    }
}

/// The async limit: a tokio `UnixStream` and the framing written by hand, on the same
/// runtimes as the mpconn-tokio rows. What tokio's readiness model costs by itself
/// (an `epoll_wait` and a would-block read per message that has to be waited for),
/// so the mpconn-tokio rows can be read against it.
mod raw_tokio {
    use super::raw::{frame_writes, sends, FILLER, HANDSHAKE};
    use super::*;
    use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
    use tokio::net::unix::{ReadHalf, WriteHalf};
    use tokio::net::{UnixListener, UnixStream};

    async fn write_frame(
        out: &mut (impl AsyncWrite + Unpin),
        scratch: &mut Vec<u8>,
        payload: &[u8],
    ) -> io::Result<()> {
        let (first, second) = frame_writes(scratch, payload);
        out.write_all(first).await?;
        out.write_all(second).await
    }

    async fn read_frame(
        input: &mut (impl AsyncRead + Unpin),
        buf: &mut Vec<u8>,
    ) -> io::Result<usize> {
        let mut header = [0; 4];
        input.read_exact(&mut header).await?;
        let len = u32::from_be_bytes(header) as usize;
        if buf.len() < len {
            buf.resize(len, 0);
        }
        input.read_exact(&mut buf[..len]).await?;
        Ok(len)
    }

    async fn handshake(mut stream: UnixStream, server: bool) -> io::Result<()> {
        let (read, mut write) = stream.split();
        let mut input = tokio::io::BufReader::with_capacity(512, read);
        let (mut scratch, mut buf) = (Vec::new(), Vec::new());
        for (i, len) in HANDSHAKE.into_iter().enumerate() {
            if sends(i, server) {
                write_frame(&mut write, &mut scratch, &FILLER[..len]).await?;
            } else if read_frame(&mut input, &mut buf).await? != len {
                return Err(io::Error::other("raw handshake out of step"));
            }
        }
        Ok(())
    }

    /// A connection, as the blocking raw row's: 64 KiB read and write buffers over the
    /// stream's two halves.
    struct Framed<'a> {
        input: tokio::io::BufReader<ReadHalf<'a>>,
        output: tokio::io::BufWriter<WriteHalf<'a>>,
        scratch: Vec<u8>,
        buf: Vec<u8>,
    }

    impl<'a> Framed<'a> {
        fn new(stream: &'a mut UnixStream) -> Framed<'a> {
            let (read, write) = stream.split();
            Framed {
                input: tokio::io::BufReader::with_capacity(64 * 1024, read),
                output: tokio::io::BufWriter::with_capacity(64 * 1024, write),
                scratch: Vec::new(),
                buf: Vec::new(),
            }
        }
    }

    impl Link for Framed<'_> {
        async fn send(&mut self, payload: &[u8]) -> io::Result<()> {
            self.output.flush().await?;
            write_frame(self.output.get_mut(), &mut self.scratch, payload).await
        }

        async fn queue(&mut self, payload: &[u8]) -> io::Result<()> {
            write_frame(&mut self.output, &mut self.scratch, payload).await
        }

        async fn end_batch(&mut self) -> io::Result<()> {
            Ok(())
        }

        async fn recv(&mut self) -> io::Result<Frame<'_>> {
            let len = read_frame(&mut self.input, &mut self.buf).await?;
            Ok(Frame::Borrowed(&self.buf[..len]))
        }
    }

    pub fn measure(case: Case<'_>) -> io::Result<f64> {
        let Case(workload, address, secs) = case;
        let address = address.to_path_buf();
        tokio_rows::runtime(workload)?.block_on(async move {
            match workload {
                Workload::Handshake => {
                    one_at_a_time(secs, async || {
                        handshake(UnixStream::connect(&address).await?, false).await
                    })
                    .await
                }
                Workload::HandshakeC64 => {
                    let address = Arc::new(address);
                    in_tasks(secs, move || {
                        let address = address.clone();
                        async move { handshake(UnixStream::connect(&*address).await?, false).await }
                    })
                    .await
                }
                _ => {
                    let mut stream = UnixStream::connect(&address).await?;
                    measure_messages(workload, Framed::new(&mut stream), secs).await
                }
            }
        })
    }

    pub fn serve(workload: Workload, address: &Path) -> io::Result<()> {
        let address = address.to_path_buf();
        tokio_rows::runtime(workload)?.block_on(async move {
            let listener = UnixListener::bind(&address)?;
            ready()?;
            match workload {
                Workload::Handshake | Workload::HandshakeC64 => loop {
                    // A task a client, as mpconn-tokio's listener does.
                    if let Ok((stream, _)) = listener.accept().await {
                        tokio::spawn(handshake(stream, true));
                    }
                },
                _ => {
                    let (mut stream, _) = listener.accept().await?;
                    serve_messages(workload, Framed::new(&mut stream)).await
                }
            }
        })
    }
}

/// mpconn-std: `Client` / `Listener` / `Connection`, with `queue_bytes` + `flush` as
/// the batching for 64 B streams. Its listener handshakes serially in `accept`, as
/// CPython's does.
mod std_rows {
    use super::*;
    use mpconn::HandshakeConfig;
    use mpconn_std::{Address, Client, ClientOptions, Connection, Listener, ListenerOptions};

    fn other(error: mpconn_std::Error) -> io::Error {
        io::Error::other(error)
    }

    /// `Client::connect`, as a user would call it; or with the pipelined handshake.
    fn connect(
        address: &Address,
        authkey: Option<&[u8]>,
        pipeline: bool,
    ) -> io::Result<Connection> {
        let connection = if pipeline {
            let options = ClientOptions::new()
                .authkey(authkey)
                .handshake_config(HandshakeConfig::default().pipeline(true));
            Client::connect_with(address, &options)
        } else {
            Client::connect(address, authkey)
        };
        connection.map_err(other)
    }

    impl Link for Connection {
        async fn send(&mut self, payload: &[u8]) -> io::Result<()> {
            self.send_bytes(payload).map_err(other)
        }

        async fn queue(&mut self, payload: &[u8]) -> io::Result<()> {
            self.queue_bytes(payload).map_err(other)
        }

        async fn end_batch(&mut self) -> io::Result<()> {
            self.flush().map_err(other)
        }

        async fn recv(&mut self) -> io::Result<Frame<'_>> {
            // Borrowed when small (nothing allocated), the message's own buffer when
            // large.
            self.recv_message(None).map_err(other)
        }
    }

    pub fn measure(case: Case<'_>, pipeline: bool) -> io::Result<f64> {
        let Case(workload, address, secs) = case;
        let address = Address::unix(address);
        match workload {
            Workload::Handshake => now(one_at_a_time(secs, async || {
                connect(&address, Some(AUTHKEY), pipeline).map(drop)
            })),
            Workload::HandshakeC64 => concurrently(CONCURRENT, secs, || {
                connect(&address, Some(AUTHKEY), pipeline).map(drop)
            }),
            _ => now(measure_messages(
                workload,
                connect(&address, None, false)?,
                secs,
            )),
        }
    }

    pub fn serve(workload: Workload, address: &Path) -> io::Result<()> {
        let handshakes = matches!(workload, Workload::Handshake | Workload::HandshakeC64);
        let options = ListenerOptions::new()
            .authkey(if handshakes { Some(AUTHKEY) } else { None })
            .backlog(backlog(workload));
        let mut listener =
            Listener::bind_with(Some(Address::unix(address)), &options).map_err(other)?;
        ready()?;
        if handshakes {
            loop {
                // One client at a time, handshake included; then closed.
                let _ = listener.accept();
            }
        }
        now(serve_messages(workload, listener.accept().map_err(other)?))
    }
}

/// mpconn-tokio: `Client` / `Listener` / `Connection`, with `queue_bytes` + `flush` as
/// the batching for 64 B streams, and `recv_message` (a message lent from the read
/// buffer) where the raw row reuses its buffer. One connection at a time runs on a
/// current-thread runtime; 64 concurrent clients on the multi-thread one (a worker a
/// core), on both sides.
mod tokio_rows {
    use super::*;
    use mpconn::HandshakeConfig;
    use mpconn_tokio::{Address, Client, ClientOptions, Connection, Listener, ListenerOptions};

    pub fn runtime(workload: Workload) -> io::Result<tokio::runtime::Runtime> {
        match workload {
            Workload::HandshakeC64 => tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build(),
            _ => tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build(),
        }
    }

    fn other(error: mpconn_tokio::Error) -> io::Error {
        io::Error::other(error)
    }

    impl Link for Connection {
        async fn send(&mut self, payload: &[u8]) -> io::Result<()> {
            self.send_bytes(payload).await.map_err(other)
        }

        async fn queue(&mut self, payload: &[u8]) -> io::Result<()> {
            self.queue_bytes(payload).map_err(other)
        }

        async fn end_batch(&mut self) -> io::Result<()> {
            self.flush().await.map_err(other)
        }

        async fn recv(&mut self) -> io::Result<Frame<'_>> {
            self.recv_message(None).await.map_err(other)
        }
    }

    pub fn measure(case: Case<'_>, pipeline: bool) -> io::Result<f64> {
        let Case(workload, address, secs) = case;
        let address = Address::unix(address);
        // What `Client::connect(&address, Some(AUTHKEY))` does, or pipelined.
        let authenticated = ClientOptions::new()
            .authkey(Some(AUTHKEY))
            .handshake_config(HandshakeConfig::default().pipeline(pipeline));
        runtime(workload)?.block_on(async move {
            match workload {
                Workload::Handshake => {
                    one_at_a_time(secs, async || {
                        let connection = Client::connect_with(&address, &authenticated).await;
                        connection.map(drop).map_err(other)
                    })
                    .await
                }
                Workload::HandshakeC64 => {
                    let target = Arc::new((address, authenticated));
                    in_tasks(secs, move || {
                        let target = target.clone();
                        async move {
                            let (address, authenticated) = &*target;
                            let connection = Client::connect_with(address, authenticated).await;
                            connection.map(drop).map_err(other)
                        }
                    })
                    .await
                }
                _ => {
                    let connection = Client::connect(&address, None).await.map_err(other)?;
                    measure_messages(workload, connection, secs).await
                }
            }
        })
    }

    pub fn serve(workload: Workload, address: &Path) -> io::Result<()> {
        let address = Address::unix(address);
        runtime(workload)?.block_on(async move {
            let authkey = match workload {
                Workload::Handshake | Workload::HandshakeC64 => Some(AUTHKEY),
                _ => None,
            };
            let options = ListenerOptions::new()
                .authkey(authkey)
                .backlog(backlog(workload));
            let mut listener = Listener::bind_with(Some(address), &options)
                .await
                .map_err(other)?;
            ready()?;
            match workload {
                Workload::Handshake | Workload::HandshakeC64 => loop {
                    // Authenticated (or failed) in the listener's tasks; then closed.
                    let _ = listener.accept().await;
                },
                _ => serve_messages(workload, listener.accept().await.map_err(other)?).await,
            }
        })
    }
}

fn check_count(reply: &[u8], sent: u64) -> io::Result<()> {
    let received = u64::from_be_bytes(reply.try_into().map_err(io::Error::other)?);
    if received == sent {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "the receiver counted {received} messages, {sent} were sent"
        )))
    }
}

// ---- processes ------------------------------------------------------------------

/// A fresh socket path in a private temporary directory, removed on drop.
struct SocketDir(PathBuf);

impl SocketDir {
    fn new() -> io::Result<SocketDir> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "mpconn-e2e-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir(&dir)?;
        Ok(SocketDir(dir))
    }

    fn socket(&self) -> PathBuf {
        self.0.join("s")
    }
}

impl Drop for SocketDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A serving child process, killed on drop.
struct Server(Child);

impl Server {
    /// Starts this binary as the server of `workload` on `address`, and waits until
    /// it listens.
    fn start(rust: Rust, workload: Workload, address: &Path) -> io::Result<Server> {
        let child = Command::new(std::env::current_exe()?)
            .args(["--serve", rust.name(), workload.name()])
            .arg(address)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()?;
        let mut server = Server(child);
        let mut line = String::new();
        BufReader::new(server.0.stdout.as_mut().expect("piped")).read_line(&mut line)?;
        if line.trim() != "ready" {
            return Err(io::Error::other(format!(
                "the {} server did not start",
                rust.name()
            )));
        }
        Ok(server)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The child's side: `--serve <rust> <workload> <address>`.
fn serve(args: &[String]) -> io::Result<()> {
    let [rust, workload, address] = args else {
        return Err(io::Error::other(
            "usage: --serve <impl> <workload> <address>",
        ));
    };
    let rust = Rust::from_name(rust).ok_or_else(|| io::Error::other("unknown impl"))?;
    let workload =
        Workload::from_name(workload).ok_or_else(|| io::Error::other("unknown workload"))?;
    rust.serve(workload, Path::new(address))
}

/// Tells the measuring process that the server listens.
fn ready() -> io::Result<()> {
    println!("ready");
    io::stdout().flush()
}

/// One Rust measurement: a fresh server process, one timed exchange.
fn measure_rust(rust: Rust, workload: Workload, secs: f64) -> io::Result<f64> {
    let dir = SocketDir::new()?;
    let address = dir.socket();
    let server = Server::start(rust, workload, &address)?;
    let (done, finished) = std::sync::mpsc::channel::<()>();
    let pid = server.0.id().to_string();
    let limit = Duration::from_secs_f64(secs) + OVERRUN;
    let watchdog = thread::spawn(move || {
        // Dropping `done` disconnects: only a timeout means an overrun.
        if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = finished.recv_timeout(limit) {
            eprintln!(
                "  {} {}: overran, killing its server",
                rust.name(),
                workload.name()
            );
            let _ = Command::new("kill").args(["-9", &pid]).status();
        }
    });
    let result = rust.measure(workload, &address, secs);
    drop(done);
    let _ = watchdog.join();
    result
}

/// Every workload once under one CPython: `benches/cpython_baseline.py`.
fn measure_cpython(
    python: &support::Python,
    workloads: &[Workload],
    secs: f64,
) -> io::Result<BTreeMap<Workload, f64>> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("cpython_baseline.py");
    let child = Command::new(&python.path)
        .arg(&script)
        .arg("--secs")
        .arg(secs.to_string())
        .args(workloads.iter().map(|w| w.name()))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let limit = Duration::from_secs_f64(30.0 + 4.0 * secs * workloads.len() as f64);
    let (stdout, stderr, ok) = support::Reaped(Some(child)).finish(limit);
    if !ok {
        return Err(io::Error::other(format!(
            "{} baseline failed:\n{stderr}",
            python.label()
        )));
    }
    let mut figures = BTreeMap::new();
    for line in stdout.lines() {
        let mut fields = line.split_whitespace();
        let (Some(name), Some(value)) = (fields.next(), fields.next()) else {
            continue;
        };
        if let (Some(workload), Ok(value)) = (Workload::from_name(name), value.parse()) {
            figures.insert(workload, value);
        }
    }
    Ok(figures)
}

// ---- the table --------------------------------------------------------------------

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    if sorted.len() % 2 == 1 {
        sorted[mid]
    } else {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    }
}

fn human(value: f64) -> String {
    if value >= 1e6 {
        format!("{:.2} M", value / 1e6)
    } else if value >= 1e4 {
        format!("{:.1} k", value / 1e3)
    } else {
        format!("{value:.0}")
    }
}

fn ratio(value: f64, base: Option<f64>) -> String {
    match base {
        Some(base) if base > 0.0 => format!("{:.2}x", value / base),
        _ => "-".to_string(),
    }
}

fn env_number<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(text) => text
            .parse()
            .unwrap_or_else(|_| panic!("{name}={text:?} is not a number")),
        Err(_) => default,
    }
}

fn read_trimmed(path: &str) -> String {
    std::fs::read_to_string(path)
        .map(|text| text.trim().to_string())
        .unwrap_or_else(|_| "?".to_string())
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|line| line.starts_with("model name"))
                .and_then(|line| line.split(':').nth(1))
                .map(|name| name.trim().to_string())
        })
        .unwrap_or_else(|| "?".to_string());
    let cores = thread::available_parallelism().map_or(0, |n| n.get());
    let rustc = Command::new(std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into()))
        .arg("--version")
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .unwrap_or_else(|_| "?".to_string());
    format!(
        "{cpu}, {cores} cores, Linux {}, {rustc}",
        read_trimmed("/proc/sys/kernel/osrelease")
    )
}

fn load() -> String {
    read_trimmed("/proc/loadavg")
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--serve") {
        if let Err(error) = serve(&args[1..]) {
            eprintln!("e2e server: {error}");
            std::process::exit(1);
        }
        return;
    }
    if !args.iter().any(|arg| arg == "--bench") {
        // `cargo test --benches` runs bench targets without `--bench`: nothing to
        // check here, and a full comparison takes minutes.
        println!("e2e: run it with `cargo bench -p mpconn-benches --bench e2e`");
        return;
    }
    // Filters as criterion's: a workload whose name contains one; an exact name
    // picks that workload alone.
    let filters: Vec<&String> = args.iter().filter(|arg| !arg.starts_with('-')).collect();
    let exact: Vec<Workload> = Workload::ALL
        .iter()
        .copied()
        .filter(|w| filters.iter().any(|f| w.name() == f.as_str()))
        .collect();
    let workloads: Vec<Workload> = if exact.is_empty() {
        Workload::ALL
            .iter()
            .copied()
            .filter(|w| filters.is_empty() || filters.iter().any(|f| w.name().contains(f.as_str())))
            .collect()
    } else {
        exact
    };
    let runs: usize = env_number("MPCONN_BENCH_RUNS", 5);
    let secs: f64 = env_number("MPCONN_BENCH_SECS", 0.5);
    // MPCONN_BENCH_ROWS=raw,std,tokio,cpython picks rows (for profiling one of them).
    let rows = std::env::var("MPCONN_BENCH_ROWS").unwrap_or_default();
    let wanted = |name: &str| rows.is_empty() || rows.split(',').any(|row| row == name);
    let rusts: Vec<Rust> = Rust::ALL
        .iter()
        .copied()
        .filter(|r| wanted(r.name()))
        .collect();
    let pythons: Vec<support::Python> = [(3, 13), (3, 11)]
        .into_iter()
        .filter(|_| wanted("cpython"))
        .filter_map(|(major, minor)| support::python(major, minor))
        .collect();

    let load_before = load();
    let started = Instant::now();
    let mut samples: BTreeMap<(Workload, Row), Vec<f64>> = BTreeMap::new();
    for run in 1..=runs {
        eprintln!("run {run}/{runs} (load {})", load());
        for &workload in &workloads {
            for &rust in rusts.iter().filter(|r| r.measures(workload)) {
                match measure_rust(rust, workload, secs) {
                    Ok(value) => samples
                        .entry((workload, Row::Rust(rust)))
                        .or_default()
                        .push(value),
                    Err(error) => {
                        eprintln!("  {} {}: {error}", rust.name(), workload.name())
                    }
                }
            }
        }
        for python in &pythons {
            match measure_cpython(python, &workloads, secs) {
                Ok(figures) => {
                    for (workload, value) in figures {
                        let (major, minor) = python.version;
                        samples
                            .entry((workload, Row::CPython(major, minor)))
                            .or_default()
                            .push(value);
                    }
                }
                Err(error) => eprintln!("  {error}"),
            }
        }
    }

    let medians: BTreeMap<(Workload, Row), f64> = samples
        .iter()
        .map(|(key, values)| (key.clone(), median(values)))
        .collect();
    println!();
    println!("machine: {}", machine());
    println!(
        "load average: {load_before} before, {} after; {runs} runs of {secs} s each, {:.0} s in all",
        load(),
        started.elapsed().as_secs_f64()
    );
    println!();
    println!("| workload | implementation | median | unit | min - max | vs raw | vs CPython 3.13 | vs CPython 3.11 |");
    println!("| --- | --- | ---: | --- | --- | ---: | ---: | ---: |");
    for &workload in &workloads {
        let raw = medians.get(&(workload, Row::Rust(Rust::Raw))).copied();
        let py313 = medians.get(&(workload, Row::CPython(3, 13))).copied();
        let py311 = medians.get(&(workload, Row::CPython(3, 11))).copied();
        for ((w, row), values) in &samples {
            if *w != workload {
                continue;
            }
            let value = medians[&(*w, row.clone())];
            let (min, max) = values
                .iter()
                .fold((f64::MAX, f64::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
            println!(
                "| {} | {} | {} | {} | {} - {} | {} | {} | {} |",
                workload.title(),
                row.label(),
                human(value),
                workload.unit(),
                human(min),
                human(max),
                ratio(value, raw),
                ratio(value, py313),
                ratio(value, py311),
            );
        }
    }
    print_targets(&medians);
}

/// Issue 7's targets, judged on this run's medians.
fn print_targets(medians: &BTreeMap<(Workload, Row), f64>) {
    use Workload::*;
    let raw = Row::Rust(Rust::Raw);
    let py313 = Row::CPython(3, 13);
    let both = [Rust::Std, Rust::Tokio];
    let targets: [(Workload, &[Rust], &Row, f64, &str); 5] = [
        (PingPong64, &both, &raw, 0.9, "raw"),
        (Stream1MiB, &both, &raw, 0.9, "raw"),
        (Stream64, &both, &py313, 10.0, "CPython 3.13"),
        (
            Handshake,
            &[
                Rust::Std,
                Rust::StdPipelined,
                Rust::Tokio,
                Rust::TokioPipelined,
            ],
            &py313,
            2.0,
            "CPython 3.13",
        ),
        (
            HandshakeC64,
            &[Rust::Tokio, Rust::TokioPipelined],
            &py313,
            5.0,
            "CPython 3.13",
        ),
    ];
    println!();
    println!("targets (issue 7), on these medians:");
    for (workload, rows, base, factor, base_name) in targets {
        let Some(&base_value) = medians.get(&(workload, base.clone())) else {
            continue;
        };
        let verdicts: Vec<String> = rows
            .iter()
            .filter_map(|&rust| {
                let value = medians.get(&(workload, Row::Rust(rust)))?;
                let times = value / base_value;
                let verdict = if times >= factor { "met" } else { "missed" };
                Some(format!("{} {times:.2}x {verdict}", rust.label()))
            })
            .collect();
        if !verdicts.is_empty() {
            println!(
                "- {}: at least {factor}x {base_name}: {}",
                workload.title(),
                verdicts.join("; ")
            );
        }
    }
}
