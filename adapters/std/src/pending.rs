//! The handshakes a blocking [`Listener`](crate::Listener) runs side by side, in the
//! thread that calls `accept`: a `poll(2)` loop over the listening socket and every
//! pending connection (non-blocking), each with its own deadline, so that a client
//! that stays silent or trickles its answer delays nobody else.
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
/// connection (blocking again) or its error.
pub(crate) type Outcome = (Address, Result<Connection>);

/// The pending handshakes of one listener, and the outcomes not yet handed over.
#[derive(Debug)]
pub(crate) struct Pending {
    running: Vec<Handshake>,
    finished: VecDeque<Outcome>,
    /// At most this many clients are running or finished at once.
    limit: usize,
}

impl Pending {
    pub(crate) fn new(limit: usize) -> Pending {
        Pending {
            running: Vec::new(),
            finished: VecDeque::new(),
            limit: limit.max(1),
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

    /// True when an outcome waits: `accept` returns without blocking.
    pub(crate) fn has_finished(&self) -> bool {
        !self.finished.is_empty()
    }

    /// Starts the handshake of a client just accepted: its first step (the
    /// challenge) runs at once.
    pub(crate) fn start(&mut self, conn: Connection, peer: Address, timeout: Option<Duration>) {
        let deadline = timeout.and_then(|timeout| Instant::now().checked_add(timeout));
        let started = conn.set_nonblocking(true).map(|()| Handshake {
            conn,
            peer: peer.clone(),
            deadline,
            waits: Step::Read,
        });
        match started {
            Ok(handshake) => self.step(handshake),
            Err(error) => self.finished.push_back((peer, Err(error))),
        }
    }

    /// Runs one step of `handshake` and files it: still running, or finished.
    fn step(&mut self, mut handshake: Handshake) {
        let outcome = match handshake.conn.handshake_step() {
            Ok(Step::Done) => handshake
                .conn
                .set_nonblocking(false)
                .map(|()| handshake.conn),
            Ok(waits) => {
                handshake.waits = waits;
                self.running.push(handshake);
                return;
            }
            Err(error) => Err(error),
        };
        self.finished.push_back((handshake.peer, outcome));
    }

    /// Waits until the listening socket (if given, and watched only while there is
    /// room) has a client or a handshake can move on, and moves those on; a handshake
    /// past its deadline fails with [`Error::Timeout`]. The caller accepts next.
    /// A failing `poll(2)` is [`Error::Accept`], without the listener's address.
    /// Without `block`, it only moves on what is ready now.
    pub(crate) fn wait(&mut self, listener: Option<BorrowedFd<'_>>, block: bool) -> Result<()> {
        self.expire();
        if self.has_finished() {
            return Ok(());
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
        let ready = {
            // Only sockets run here (a named pipe's handshake has a thread of its own).
            let fds: Vec<BorrowedFd<'_>> = self
                .running
                .iter()
                .filter_map(|h| h.conn.pollable().ok())
                .collect();
            let mut polls: Vec<PollFd<'_>> = fds
                .iter()
                .zip(&self.running)
                .map(|(fd, h)| {
                    let flags = match h.waits {
                        Step::Write => PollFlags::OUT,
                        _ => PollFlags::IN,
                    };
                    PollFd::new(fd, flags)
                })
                .collect();
            if let Some(fd) = &listener {
                polls.push(PollFd::new(fd, PollFlags::IN));
            }
            // poll(2) failing is the listener's own trouble, not a client's.
            poll_all(&mut polls, timeout).map_err(|source| Error::Accept {
                source,
                address: None,
            })?;
            let ready: Vec<bool> = polls[..self.running.len()]
                .iter()
                .map(|p| !p.revents().is_empty())
                .collect();
            ready
        };
        // Step the ready ones, oldest first; the others keep their places.
        let mut ready = ready.into_iter();
        let running = std::mem::take(&mut self.running);
        for handshake in running {
            if ready.next().unwrap_or(false) {
                self.step(handshake);
            } else {
                self.running.push(handshake);
            }
        }
        self.expire();
        Ok(())
    }

    /// Fails every handshake whose deadline passed.
    fn expire(&mut self) {
        let now = Instant::now();
        let (expired, running): (Vec<_>, Vec<_>) = std::mem::take(&mut self.running)
            .into_iter()
            .partition(|h| h.deadline.is_some_and(|deadline| deadline <= now));
        self.running = running;
        for handshake in expired {
            let error = Error::Timeout {
                during: During::Handshake,
                address: None,
            };
            self.finished.push_back((handshake.peer, Err(error)));
        }
    }
}
