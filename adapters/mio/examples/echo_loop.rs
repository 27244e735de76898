//! A single-threaded `mio` event loop that serves many `multiprocessing.connection`
//! clients at once and echoes every message back: the pattern for embedding the
//! protocol in a loop of your own.
//!
//! ```text
//! MPCONN_AUTHKEY=secret cargo run -p mpconn-mio --example echo_loop -- 127.0.0.1:6000
//! ```
//!
//! and from Python, in another terminal:
//!
//! ```text
//! python3 -c "from multiprocessing.connection import Client
//! c = Client(('127.0.0.1', 6000), authkey=b'secret'); c.send_bytes(b'hi'); print(c.recv_bytes())"
//! ```
//!
//! Without an address it binds a fresh Unix socket, as CPython's `Listener()` does, and
//! prints it first. Without `MPCONN_AUTHKEY` there is no handshake.
//!
//! What it shows:
//! - one `Poll`, one `Listener`, any number of `Connection`s, one token each;
//! - every connection registered for `READABLE | WRITABLE`; on any event, `flush` and then
//!   `recv_bytes` until `Ok(None)` (mio is edge-triggered);
//! - handshakes run side by side, each under its handshake timeout; the loop owns the
//!   clock: its poll timeout wakes it by the earliest `Connection::handshake_deadline`,
//!   and a connection past it fails its next call (`Error::Timeout`) and is
//!   dropped;
//! - backpressure: a connection whose echoes are not all written yet is not read from, so
//!   a client that sends without reading cannot grow the server's memory. The writable
//!   event that follows resumes it.

use std::collections::HashMap;
use std::io;
use std::time::{Duration, Instant};

use mpconn_mio::mio::{Events, Interest, Poll, Token};
use mpconn_mio::{Address, Connection, Error, Listener};

const LISTENER: Token = Token(usize::MAX);

/// What the loop did, for whoever runs it to log or count.
#[derive(Debug)]
pub enum Note {
    /// A client connected (its handshake, if any, is under way).
    Accepted(Token, Option<Address>),
    /// A client finished its handshake; messages flow.
    Established(Token),
    /// A client closed the connection between two messages.
    Closed(Token),
    /// A client was dropped: failed handshake, handshake deadline, protocol or socket error.
    Dropped(Token, String),
    /// The listener refused one accept (for instance, out of file descriptors).
    AcceptFailed(String),
}

struct Client {
    connection: Connection,
}

/// The server: a listener and its clients on one `Poll`.
pub struct EchoLoop {
    poll: Poll,
    events: Events,
    listener: Listener,
    clients: HashMap<Token, Client>,
    next_token: usize,
    handshake_timeout: Duration,
}

impl EchoLoop {
    /// Registers `listener` on a new `Poll`.
    pub fn new(mut listener: Listener, handshake_timeout: Duration) -> io::Result<EchoLoop> {
        let poll = Poll::new()?;
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)?;
        Ok(EchoLoop {
            poll,
            events: Events::with_capacity(256),
            listener,
            clients: HashMap::new(),
            next_token: 0,
            handshake_timeout,
        })
    }

    /// How many clients are connected now.
    pub fn clients(&self) -> usize {
        self.clients.len()
    }

    /// One turn of the loop: waits for readiness (at most `max_wait`, and never past the
    /// next handshake deadline), serves what is ready, drops clients past their deadline.
    pub fn turn(&mut self, max_wait: Option<Duration>) -> io::Result<Vec<Note>> {
        let mut notes = Vec::new();
        let now = Instant::now();
        let next_deadline = self
            .clients
            .values()
            .filter_map(|c| c.connection.handshake_deadline())
            .min();
        let wait = match (next_deadline, max_wait) {
            (Some(deadline), Some(max)) => Some(deadline.saturating_duration_since(now).min(max)),
            (Some(deadline), None) => Some(deadline.saturating_duration_since(now)),
            (None, max) => max,
        };
        match self.poll.poll(&mut self.events, wait) {
            Ok(()) => {}
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
        let ready: Vec<Token> = self.events.iter().map(|event| event.token()).collect();
        for token in ready {
            if token == LISTENER {
                self.accept_all(&mut notes)?;
            } else {
                self.serve(token, &mut notes);
            }
        }
        self.drop_late_handshakes(&mut notes);
        Ok(notes)
    }

    /// Runs until `stop` says so (checked at least every `tick`).
    pub fn run_until(
        &mut self,
        tick: Duration,
        mut stop: impl FnMut() -> bool,
        mut on_note: impl FnMut(Note),
    ) -> io::Result<()> {
        while !stop() {
            for note in self.turn(Some(tick))? {
                on_note(note);
            }
        }
        Ok(())
    }

    fn accept_all(&mut self, notes: &mut Vec<Note>) -> io::Result<()> {
        loop {
            match self.listener.accept() {
                Ok(Some(mut connection)) => {
                    let token = Token(self.next_token);
                    self.next_token += 1;
                    self.poll.registry().register(
                        &mut connection,
                        token,
                        Interest::READABLE | Interest::WRITABLE,
                    )?;
                    if connection.is_handshaking() {
                        connection.set_handshake_timeout(Some(self.handshake_timeout));
                    }
                    notes.push(Note::Accepted(
                        token,
                        self.listener.last_accepted().cloned(),
                    ));
                    self.clients.insert(token, Client { connection });
                    // Bytes may already be waiting (a client that sent its answer quickly).
                    self.serve(token, notes);
                }
                Ok(None) => return Ok(()),
                Err(Error::ListenerClosed) => return Ok(()),
                Err(error) => notes.push(Note::AcceptFailed(error.to_string())),
            }
        }
    }

    fn serve(&mut self, token: Token, notes: &mut Vec<Note>) {
        let Some(client) = self.clients.get_mut(&token) else {
            return; // an event for a client dropped earlier in this turn
        };
        let was_handshaking = client.connection.is_handshaking();
        let served = echo(&mut client.connection);
        // Noted even when the client then left: a quick client can finish its
        // handshake, have its message echoed and close, all within this one call.
        if was_handshaking && client.connection.is_established() {
            notes.push(Note::Established(token));
        }
        match served {
            Ok(()) => {}
            Err(error) if error.is_eof() => {
                self.remove(token);
                notes.push(Note::Closed(token));
            }
            Err(error) => {
                self.remove(token);
                notes.push(Note::Dropped(token, error.to_string()));
            }
        }
    }

    /// Serves every connection past its handshake deadline: its call fails with
    /// `Error::Timeout` and it is dropped.
    fn drop_late_handshakes(&mut self, notes: &mut Vec<Note>) {
        let now = Instant::now();
        let late: Vec<Token> = self
            .clients
            .iter()
            .filter(|(_, client)| {
                client
                    .connection
                    .handshake_deadline()
                    .is_some_and(|deadline| deadline <= now)
            })
            .map(|(token, _)| *token)
            .collect();
        for token in late {
            self.serve(token, notes);
        }
    }

    fn remove(&mut self, token: Token) {
        if let Some(mut client) = self.clients.remove(&token) {
            let _ = self.poll.registry().deregister(&mut client.connection);
        }
    }
}

/// Writes what is queued, then echoes whole messages for as long as the socket has some
/// and the echoes are written; stops reading while echoes are still queued (the next
/// writable event brings it back here).
fn echo(connection: &mut Connection) -> Result<(), Error> {
    connection.flush()?;
    while !connection.wants_write() {
        match connection.recv_bytes(None)? {
            Some(message) => connection.send_bytes(&message)?,
            None => break,
        }
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let address: Option<Address> = std::env::args().nth(1).map(|s| s.parse()).transpose()?;
    let authkey = std::env::var_os("MPCONN_AUTHKEY").map(|key| key.into_encoded_bytes());
    let listener = Listener::bind(address, authkey.as_deref())?;
    println!("{}", listener.address());
    let mut server = EchoLoop::new(listener, Duration::from_secs(20))?;
    server.run_until(
        Duration::from_secs(3600),
        || false,
        |note| eprintln!("{note:?}"),
    )?;
    Ok(())
}
