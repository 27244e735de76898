//! The `echo_loop` example serving in a thread of its own, for the tests that need a
//! running server (`interop`, `loop`). Each test declares `mod echo_loop` and this.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use mpconn_mio::Listener;

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
