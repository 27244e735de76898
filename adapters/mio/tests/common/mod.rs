//! What the tests that run the `echo_loop` example share (`interop`, `loop`, `stall`):
//! the loop serving in a thread of its own, and a client registered with a `Poll` of
//! its own. Each test declares `mod echo_loop` and this, and uses what it needs.
#![allow(dead_code)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use mpconn_mio::mio::{Interest, Poll, Token};
use mpconn_mio::{Connection, Listener};

use crate::echo_loop::{EchoLoop, Note};

/// An echo loop with a 20 s handshake deadline, turning every 20 ms until [`stop`](Self::stop).
pub struct EchoThread {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Vec<Note>>,
}

impl EchoThread {
    pub fn start(listener: Listener) -> EchoThread {
        let stop = Arc::new(AtomicBool::new(false));
        let thread = std::thread::spawn({
            let stop = stop.clone();
            move || {
                let mut server = EchoLoop::new(listener, Duration::from_secs(20)).unwrap();
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
