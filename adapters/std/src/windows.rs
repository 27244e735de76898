//! Windows named pipes (`AF_PIPE`) as a [`Stream`](crate::stream::Stream): the pipe
//! layer of mpconn-net (`mpconn_net::pipe`) with the connection's timeout, which on a
//! socket is `SO_RCVTIMEO`/`SO_SNDTIMEO` and here the deadline of each pipe operation.

use std::cell::Cell;
use std::io;
use std::time::{Duration, Instant};

use mpconn_net::pipe::{self, PipeStream, Read};

/// One end of a connected named pipe, and the limit on each read and write.
#[derive(Debug)]
pub(crate) struct NamedPipe {
    pub(crate) pipe: PipeStream,
    /// `None`: block as long as it takes (a connection's default, as a socket's).
    pub(crate) timeout: Cell<Option<Duration>>,
    /// `Pipe(duplex=False)` hands out a read end and a write end.
    pub(crate) readable: bool,
    pub(crate) writable: bool,
    /// `poll` took an empty message off the pipe (a read of 0 bytes takes one, and
    /// only sees the others): the next read hands it to the core. CPython's
    /// `PipeConnection._got_empty_message`.
    got_empty: Cell<bool>,
}

impl NamedPipe {
    pub(crate) fn new(pipe: PipeStream) -> NamedPipe {
        NamedPipe {
            pipe,
            timeout: Cell::new(None),
            readable: true,
            writable: true,
            got_empty: Cell::new(false),
        }
    }

    /// Waits up to `timeout` (`None`: as long as it takes) for a message, or the end of
    /// the pipe, as CPython's `_poll` does: a read of 0 bytes, which returns at once
    /// with "more data" while a message waits and takes an empty one whole.
    pub(crate) fn poll(&self, timeout: Option<Duration>) -> io::Result<bool> {
        if self.got_empty.get() {
            return Ok(true);
        }
        let deadline = timeout.and_then(|timeout| Instant::now().checked_add(timeout));
        match self.pipe.read(&mut [], deadline) {
            Ok(Read::Message(_)) => {
                self.got_empty.set(true);
                Ok(true)
            }
            Ok(Read::More(_) | Read::Eof) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::TimedOut => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn deadline(&self) -> Option<Instant> {
        self.timeout
            .get()
            .and_then(|timeout| Instant::now().checked_add(timeout))
    }

    pub(crate) fn read_into(&self, core: &mut mpconn::Connection) -> io::Result<usize> {
        if self.got_empty.replace(false) {
            core.received_message_end()
                .map_err(|e| io::Error::other(e.to_string()))?;
            return Ok(0);
        }
        pipe::read_into(core, &self.pipe, self.deadline())
    }

    pub(crate) fn write_from(&self, core: &mut mpconn::Connection) -> io::Result<usize> {
        pipe::write_from(core, &self.pipe, self.deadline())
    }

    pub(crate) fn write_direct(&self, send: &mut mpconn::DirectSend<'_>) -> io::Result<usize> {
        pipe::write_direct(send, &self.pipe, self.deadline())
    }
}

/// A named-pipe listener's clients, accepted and authenticated off the caller's thread:
/// pipes have no `poll(2)`, so where a socket listener runs its handshakes side by side
/// in one `poll` loop, this runs each in a thread of its own, with its own deadline,
/// and a silent client delays nobody. At most `limit` clients are held at once
/// (running, or finished and not yet taken), as on a socket listener.
#[derive(Debug)]
pub(crate) struct PipeAcceptor {
    outcomes: std::sync::mpsc::Receiver<crate::pending::Outcome>,
    /// An outcome `ready` took off the channel, for the next `accept`.
    next: std::sync::Mutex<Option<crate::pending::Outcome>>,
    held: std::sync::Arc<Held>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// The clients held, and whether the listener closed.
#[derive(Debug, Default)]
struct Held {
    count: std::sync::Mutex<usize>,
    room: std::sync::Condvar,
    closed: std::sync::atomic::AtomicBool,
}

/// How often the accepting thread looks whether its listener closed.
const CLOSE_CHECK: Duration = Duration::from_millis(100);

/// What a pipe client's handshake needs.
#[derive(Debug, Clone)]
pub(crate) struct Serve {
    pub(crate) address: mpconn_net::Address,
    pub(crate) authkey: Option<mpconn::AuthKey>,
    pub(crate) config: mpconn::HandshakeConfig,
    pub(crate) timeout: Option<Duration>,
    pub(crate) limit: usize,
}

impl PipeAcceptor {
    pub(crate) fn start(listener: mpconn_net::pipe::PipeListener, serve: Serve) -> PipeAcceptor {
        use std::sync::atomic::Ordering;
        let (sender, outcomes) = std::sync::mpsc::channel();
        let held = std::sync::Arc::new(Held::default());
        let thread = {
            let held = held.clone();
            std::thread::spawn(move || {
                while !held.closed.load(Ordering::Relaxed) {
                    // Wait for room before taking another client off the pipe.
                    let mut count = held.count.lock().unwrap_or_else(|e| e.into_inner());
                    while *count >= serve.limit.max(1) && !held.closed.load(Ordering::Relaxed) {
                        count = held
                            .room
                            .wait_timeout(count, CLOSE_CHECK)
                            .unwrap_or_else(|e| e.into_inner())
                            .0;
                    }
                    drop(count);
                    let pipe = match listener.accept(Instant::now().checked_add(CLOSE_CHECK)) {
                        Ok(pipe) => pipe,
                        Err(e) if e.kind() == io::ErrorKind::TimedOut => continue,
                        Err(e) => {
                            let error = mpconn_net::accept_error(e, &serve.address);
                            *held.count.lock().unwrap_or_else(|e| e.into_inner()) += 1;
                            if sender.send((serve.address.clone(), Err(error))).is_err() {
                                return;
                            }
                            std::thread::sleep(CLOSE_CHECK);
                            continue;
                        }
                    };
                    *held.count.lock().unwrap_or_else(|e| e.into_inner()) += 1;
                    let (sender, serve) = (sender.clone(), serve.clone());
                    std::thread::spawn(move || {
                        let outcome = handshake(pipe, &serve);
                        let _ = sender.send((serve.address.clone(), outcome));
                    });
                }
            })
        };
        PipeAcceptor {
            outcomes,
            next: std::sync::Mutex::new(None),
            held,
            thread: Some(thread),
        }
    }

    /// The next client whose handshake ended (its connection, or its error).
    pub(crate) fn accept(&self) -> crate::Result<crate::pending::Outcome> {
        let kept = self.next.lock().unwrap_or_else(|e| e.into_inner()).take();
        let outcome = match kept {
            Some(outcome) => outcome,
            None => self
                .outcomes
                .recv()
                .map_err(|_| crate::Error::ListenerClosed)?,
        };
        let mut count = self.held.count.lock().unwrap_or_else(|e| e.into_inner());
        *count = count.saturating_sub(1);
        self.held.room.notify_one();
        Ok(outcome)
    }
}

impl PipeAcceptor {
    /// True when `accept` has an outcome to return, or one comes within `timeout`
    /// (for `wait`).
    pub(crate) fn ready(&self, timeout: Duration) -> bool {
        let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
        if next.is_none() {
            *next = self.outcomes.recv_timeout(timeout).ok();
        }
        next.is_some()
    }
}

impl Drop for PipeAcceptor {
    fn drop(&mut self) {
        self.held
            .closed
            .store(true, std::sync::atomic::Ordering::Relaxed);
        self.held.room.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A client's handshake on its pipe, to its deadline.
fn handshake(pipe: PipeStream, serve: &Serve) -> crate::Result<crate::Connection> {
    let core = mpconn_net::new_core(
        mpconn::Role::Server,
        serve.authkey.as_ref().map(mpconn::AuthKey::as_bytes),
        &serve.config,
    );
    let stream = crate::stream::Stream::Pipe(NamedPipe::new(pipe));
    let mut connection = crate::Connection::new(stream, core);
    if serve.authkey.is_some() {
        let deadline = serve
            .timeout
            .and_then(|timeout| Instant::now().checked_add(timeout));
        connection.handshake(deadline)?;
    }
    Ok(connection)
}
