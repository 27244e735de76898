//! What the tests that run the `echo_loop` example share (`interop`, `loop`, `stall`,
//! `windows`): the loop serving in a thread of its own and a tally of what it noted, a
//! client registered with a `Poll` of its own, and waiting on it for the next message.
//! Each test declares `mod echo_loop` and this, and uses what it needs.
#![allow(dead_code)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use mpconn_mio::mio::{Events, Interest, Poll, Token};
use mpconn_mio::{Connection, Error, Listener};

use crate::echo_loop::{EchoLoop, Note};

/// How long any one message may take to arrive.
pub const MESSAGE_LIMIT: Duration = Duration::from_secs(30);

/// An echo loop, turning every 20 ms until [`stop`](Self::stop).
pub struct EchoThread {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Vec<Note>>,
}

impl EchoThread {
    /// With a 20 s handshake deadline.
    pub fn start(listener: Listener) -> EchoThread {
        EchoThread::with_handshake_timeout(listener, Duration::from_secs(20))
    }

    pub fn with_handshake_timeout(listener: Listener, handshake_timeout: Duration) -> EchoThread {
        let stop = Arc::new(AtomicBool::new(false));
        let thread = std::thread::spawn({
            let stop = stop.clone();
            move || {
                let mut server = EchoLoop::new(listener, handshake_timeout).unwrap();
                let mut notes = Vec::new();
                server
                    .run_until(
                        Duration::from_millis(20),
                        || stop.load(Ordering::Relaxed),
                        |note| notes.push(note),
                    )
                    .unwrap();
                notes
            }
        });
        EchoThread { stop, thread }
    }

    /// Stops the loop at its next turn; returns everything it noted.
    pub fn stop(self) -> Vec<Note> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap()
    }
}

/// What a loop's notes come to: (handshakes that passed, clients dropped for a failed
/// authentication, why every other client was dropped or accept failed).
pub fn tally(notes: Vec<Note>) -> (usize, usize, Vec<String>) {
    let mut established = 0;
    let mut refused = 0;
    let mut other = Vec::new();
    for note in notes {
        match note {
            Note::Established(_) => established += 1,
            // The listener names the client it refused, then says why.
            Note::Dropped(_, why)
                if why.starts_with("authentication handshake with ")
                    && why.contains(": authentication failed") =>
            {
                refused += 1
            }
            Note::Dropped(_, why) => other.push(why),
            Note::AcceptFailed(why) => other.push(why),
            Note::Accepted(..) | Note::Closed(_) => {}
        }
    }
    (established, refused, other)
}

/// `connection` registered for reading and writing with a new `Poll`, as `Token(0)`.
pub fn registered(mut connection: Connection) -> (Poll, Connection) {
    let poll = Poll::new().unwrap();
    poll.registry()
        .register(
            &mut connection,
            Token(0),
            Interest::READABLE | Interest::WRITABLE,
        )
        .unwrap();
    (poll, connection)
}

/// Waits (never blocking in the connection itself) until one whole message is in.
pub fn next_message(poll: &mut Poll, connection: &mut Connection) -> Result<Vec<u8>, Error> {
    next(poll, connection, |c| c.recv_bytes(None))
}

/// Flushes and polls until `receive` has something, for [`MESSAGE_LIMIT`] at most.
pub fn next<T>(
    poll: &mut Poll,
    connection: &mut Connection,
    mut receive: impl FnMut(&mut Connection) -> Result<Option<T>, Error>,
) -> Result<T, Error> {
    let deadline = Instant::now() + MESSAGE_LIMIT;
    let mut events = Events::with_capacity(8);
    loop {
        connection.flush()?;
        if let Some(message) = receive(connection)? {
            return Ok(message);
        }
        let left = deadline
            .checked_duration_since(Instant::now())
            .expect("no message in time");
        poll.poll(&mut events, Some(left))?;
    }
}
