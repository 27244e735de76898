//! The handshakes a blocking [`Listener`](crate::Listener) runs side by side, in the
//! thread that calls `accept`: a `poll(2)` loop over the listening socket and every
//! pending connection, each with its own deadline, so that a client that stays silent
//! or trickles its answer delays nobody else. The sockets stay blocking, as `accept`
//! returns them: each read and write of a handshake is non-blocking by itself
//! (`MSG_DONTWAIT`), which spares two ioctl(2)s a client.
//!
//! Each pending connection is driven through [`Connection::handshake_step`], which
//! reads and writes what it can without blocking and says what it waits for; this
//! module owns the readiness and the clock, never the protocol.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags};

use mpconn_net::During;

use crate::address::Address;
use crate::connection::{Connection, Step};
use crate::sys::{poll_all, Pollable as BorrowedFd};
use crate::{Error, Result};

/// A client whose handshake runs.
#[derive(Debug)]
struct Handshake {
    conn: Connection,
    peer: Address,
    deadline: Option<Instant>,
    /// What its last step waits for: [`Step::Read`] or [`Step::Write`].
    waits: Step,
}

/// A client whose handshake ended, waiting for `accept` to hand it over: its
/// connection or its error.
pub(crate) type Outcome = (Address, Result<Connection>);

/// The pending handshakes of one listener, and the outcomes not yet handed over.
#[derive(Debug)]
pub(crate) struct Pending {
    running: Vec<Handshake>,
    finished: VecDeque<Outcome>,
    /// At most this many clients are running or finished at once.
    limit: usize,
    /// Which of the last `poll(2)`'s descriptors were ready (kept for its capacity).
    ready: Vec<bool>,
}

impl Pending {
    pub(crate) fn new(limit: usize) -> Pending {
        Pending {
            running: Vec::new(),
            finished: VecDeque::new(),
            limit: limit.max(1),
            ready: Vec::new(),
        }
    }

    /// True while another client may be taken off the listen queue.
    pub(crate) fn has_room(&self) -> bool {
        self.running.len() + self.finished.len() < self.limit
    }

    /// The oldest outcome not yet handed over.
    pub(crate) fn next_finished(&mut self) -> Option<Outcome> {
        self.finished.pop_front()
    }

    /// The descriptors of the handshakes under way.
    pub(crate) fn fds(&self) -> impl Iterator<Item = BorrowedFd<'_>> {
        self.running.iter().filter_map(|h| h.conn.pollable().ok())
    }

    /// True when no handshake is under way and no outcome waits.
    pub(crate) fn is_idle(&self) -> bool {
        self.running.is_empty() && self.finished.is_empty()
    }

    /// True when an outcome waits: `accept` returns without blocking.
    pub(crate) fn has_finished(&self) -> bool {
        !self.finished.is_empty()
    }

    /// Starts the handshake of a client just accepted: its first step (the
    /// challenge) runs at once.
    pub(crate) fn start(&mut self, conn: Connection, peer: Address, timeout: Option<Duration>) {
        // Only what poll(2) can watch runs here (a named pipe's handshake has a thread).
        if let Err(error) = conn.pollable() {
            self.finished.push_back((peer, Err(error)));
            return;
        }
        let deadline = timeout.and_then(|timeout| Instant::now().checked_add(timeout));
        self.running.push(Handshake {
            conn,
            peer,
            deadline,
            waits: Step::Read,
        });
        self.step(self.running.len() - 1, false);
    }

    /// Runs one step of the `i`th running handshake (`readable`: its socket was
    /// reported readable) and files it: still running, in its place, or finished.
    /// Returns true if it finished (the next one is the `i`th now).
    fn step(&mut self, i: usize, readable: bool) -> bool {
        let handshake = &mut self.running[i];
        let outcome = match handshake.conn.handshake_step(readable) {
            Ok(Step::Done) => Ok(()),
            Ok(waits) => {
                handshake.waits = waits;
                return false;
            }
            Err(error) => Err(error),
        };
        let handshake = self.running.remove(i);
        let outcome = outcome
            .and_then(|()| handshake.conn.set_blocking())
            .map(|()| handshake.conn);
        self.finished.push_back((handshake.peer, outcome));
        true
    }

    /// Waits until the listening socket (if given, and watched only while there is
    /// room) has a client or a handshake can move on, and moves those on; a handshake
    /// past its deadline fails with [`Error::Timeout`]. Returns whether the listening
    /// socket was reported ready: the caller accepts then, and only then, so that no
    /// `accept(2)` fails with EAGAIN after each step of a handshake.
    /// A failing `poll(2)` is [`Error::Accept`], without the listener's address.
    /// Without `block`, it only moves on what is ready now.
    pub(crate) fn wait(&mut self, listener: Option<BorrowedFd<'_>>, block: bool) -> Result<bool> {
        self.expire();
        if self.has_finished() {
            return Ok(false);
        }
        let listener = listener.filter(|_| self.has_room());
        let timeout = match block {
            true => self
                .running
                .iter()
                .filter_map(|h| h.deadline)
                .min()
                .map(|deadline| deadline.saturating_duration_since(Instant::now())),
            false => Some(Duration::ZERO),
        };
        let listener_ready = {
            let mut polls = Vec::with_capacity(self.running.len() + 1);
            // Every running handshake is on a socket (`start` sees to it), so the
            // readiness below lines up with `running`.
            polls.extend(self.running.iter().filter_map(|h| {
                let flags = match h.waits {
                    Step::Write => PollFlags::OUT,
                    _ => PollFlags::IN,
                };
                Some(PollFd::from_borrowed_fd(h.conn.pollable().ok()?, flags))
            }));
            if let Some(fd) = listener {
                polls.push(PollFd::from_borrowed_fd(fd, PollFlags::IN));
            }
            // poll(2) failing is the listener's own trouble, not a client's.
            poll_all(&mut polls, timeout).map_err(|source| Error::Accept {
                source,
                address: None,
            })?;
            self.ready.clear();
            self.ready
                .extend(polls.iter().map(|p| !p.revents().is_empty()));
            listener.is_some() && self.ready.pop() == Some(true)
        };
        // Step the ready ones, oldest first; the others keep their places.
        let (mut i, mut polled) = (0, 0);
        while i < self.running.len() {
            let ready = self.ready.get(polled).copied().unwrap_or(false);
            polled += 1;
            let readable = self.running[i].waits == Step::Read;
            if !(ready && self.step(i, readable)) {
                i += 1;
            }
        }
        self.expire();
        Ok(listener_ready)
    }

    /// Fails every handshake whose deadline passed (in place: nothing is allocated
    /// when none did).
    fn expire(&mut self) {
        let now = Instant::now();
        let expired = |h: &Handshake| h.deadline.is_some_and(|deadline| deadline <= now);
        let mut i = 0;
        while i < self.running.len() {
            if !expired(&self.running[i]) {
                i += 1;
                continue;
            }
            let handshake = self.running.remove(i);
            let error = Error::Timeout {
                during: During::Handshake,
                address: None,
            };
            self.finished.push_back((handshake.peer, Err(error)));
        }
    }
}
