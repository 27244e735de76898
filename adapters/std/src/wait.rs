//! Waiting for several connections at once (CPython's `multiprocessing.connection.wait`).

use std::net::{TcpListener, TcpStream};
#[cfg(unix)]
use std::os::unix::net::{UnixListener, UnixStream};
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags};

use crate::connection::Connection;
use crate::listener::Listener;
use crate::sys::{poll_all, pollable, OwnedPollable, Pollable as BorrowedFd};
use crate::Result;

/// Something [`wait`] can wait on: a [`Connection`], a [`Listener`] (ready when a
/// client connected or a handshake under way moved on: its
/// [`accept`](Listener::accept) then makes progress, though, as CPython's, it may
/// still wait for a handshake to finish), a socket, or a file descriptor.
pub trait Waitable {
    /// The descriptor to watch for input.
    fn wait_fd(&self) -> Result<BorrowedFd<'_>>;

    /// Every descriptor whose input makes it ready (default: [`wait_fd`](Self::wait_fd)
    /// alone). A [`Listener`] adds the connections whose handshakes are under way:
    /// their progress is what its next `accept` returns.
    ///
    /// ```
    /// use mpconn_std::{Listener, Waitable};
    ///
    /// let listener = Listener::bind(None, Some(b"secret"))?;
    /// assert_eq!(listener.wait_fds()?.len(), 1); // no handshake under way yet
    /// # Ok::<(), mpconn_std::Error>(())
    /// ```
    fn wait_fds(&self) -> Result<Vec<BorrowedFd<'_>>> {
        Ok(vec![self.wait_fd()?])
    }

    /// True when it is ready without the OS's help: a connection holding received
    /// bytes that a `poll(2)` on its descriptor cannot see.
    fn ready_now(&self) -> bool {
        false
    }

    /// For what `poll(2)` cannot wait on (a Windows named pipe, which has no socket):
    /// whether it is ready within `timeout`, as its own poll says; `None` (the default)
    /// for everything `wait_fd` covers.
    fn poll_itself(&self, timeout: Duration) -> Option<Result<bool>> {
        let _ = timeout;
        None
    }
}

impl<T: Waitable + ?Sized> Waitable for &T {
    fn wait_fd(&self) -> Result<BorrowedFd<'_>> {
        (**self).wait_fd()
    }

    fn wait_fds(&self) -> Result<Vec<BorrowedFd<'_>>> {
        (**self).wait_fds()
    }

    fn ready_now(&self) -> bool {
        (**self).ready_now()
    }

    fn poll_itself(&self, timeout: Duration) -> Option<Result<bool>> {
        (**self).poll_itself(timeout)
    }
}

impl Waitable for Connection {
    fn wait_fd(&self) -> Result<BorrowedFd<'_>> {
        self.pollable()
    }

    fn ready_now(&self) -> bool {
        self.has_buffered_input()
    }

    fn poll_itself(&self, timeout: Duration) -> Option<Result<bool>> {
        self.is_named_pipe().then(|| self.poll(Some(timeout)))
    }
}

impl Waitable for Listener {
    fn wait_fd(&self) -> Result<BorrowedFd<'_>> {
        self.socket_fd()
    }

    fn wait_fds(&self) -> Result<Vec<BorrowedFd<'_>>> {
        let mut fds = vec![self.socket_fd()?];
        fds.extend(self.handshake_fds());
        Ok(fds)
    }

    fn ready_now(&self) -> bool {
        self.has_finished()
    }

    fn poll_itself(&self, timeout: Duration) -> Option<Result<bool>> {
        self.pipe_ready(timeout).map(Ok)
    }
}

macro_rules! waitable_fd {
    ($($ty:ty),*) => {$(
        impl Waitable for $ty {
            fn wait_fd(&self) -> Result<BorrowedFd<'_>> {
                Ok(pollable(self))
            }
        }
    )*};
}

waitable_fd!(TcpStream, TcpListener, OwnedPollable, BorrowedFd<'_>);
#[cfg(unix)]
waitable_fd!(UnixStream, UnixListener);

/// Waits until at least one of `objects` is ready to read, or `timeout` passes
/// (`None`: without limit), and returns the indices of the ready ones, in order
/// (CPython's `wait`, which returns the objects themselves). An empty result means
/// the time ran out. A connection whose peer closed counts as ready: its next receive
/// reports the end of file.
///
/// ```
/// use std::time::Duration;
/// use mpconn_std::{pipe, wait};
///
/// let (mut a1, b1) = pipe(true)?;
/// let (_a2, b2) = pipe(true)?;
/// a1.send_bytes(b"ping")?;
/// assert_eq!(wait(&[&b1, &b2], Some(Duration::from_secs(5)))?, vec![0]);
/// assert!(wait(&[&b2], Some(Duration::ZERO))?.is_empty());
/// # Ok::<(), mpconn_std::Error>(())
/// ```
pub fn wait<W: Waitable>(objects: &[W], timeout: Option<Duration>) -> Result<Vec<usize>> {
    let ready: Vec<usize> = (0..objects.len())
        .filter(|&i| objects[i].ready_now())
        .collect();
    if !ready.is_empty() {
        return Ok(ready);
    }
    // Each descriptor, with the index of the object it stands for; the objects that
    // poll themselves (Windows named pipes) apart.
    let mut fds = Vec::new();
    let mut by_themselves = Vec::new();
    for (i, object) in objects.iter().enumerate() {
        match object.poll_itself(Duration::ZERO) {
            Some(now) => {
                if now? {
                    return Ok(vec![i]);
                }
                by_themselves.push(i);
            }
            None => fds.extend(object.wait_fds()?.into_iter().map(|fd| (i, fd))),
        }
    }
    let mut polls: Vec<PollFd<'_>> = fds
        .iter()
        .map(|(_, fd)| PollFd::new(fd, PollFlags::IN))
        .collect();
    let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
    loop {
        // With objects that poll themselves, sockets and they take turns, a slice at a
        // time (CPython's wait waits on all of them at once in WaitForMultipleObjects).
        let slice = match by_themselves.is_empty() {
            true => timeout,
            false => Some(SLICE),
        };
        let slice = match (slice, deadline) {
            (Some(slice), Some(deadline)) => {
                Some(slice.min(deadline.saturating_duration_since(Instant::now())))
            }
            (slice, _) => slice,
        };
        if polls.is_empty() && !by_themselves.is_empty() {
            // Nothing for poll(2) (WSAPoll refuses an empty set): only the time slice.
            std::thread::sleep(slice.unwrap_or(SLICE));
        } else {
            poll_all(&mut polls, slice)?;
        }
        let mut ready: Vec<usize> = polls
            .iter()
            .zip(&fds)
            .filter(|(p, _)| !p.revents().is_empty())
            .map(|(_, (i, _))| *i)
            .collect();
        for &i in &by_themselves {
            if objects[i].poll_itself(Duration::ZERO).transpose()? == Some(true) {
                ready.push(i);
            }
        }
        ready.sort_unstable();
        ready.dedup();
        let out_of_time = deadline.is_some_and(|deadline| Instant::now() >= deadline);
        if !ready.is_empty() || by_themselves.is_empty() || out_of_time {
            return Ok(ready);
        }
    }
}

/// How long `wait` lets the sockets' `poll(2)` run before it asks the objects that poll
/// themselves again.
const SLICE: Duration = Duration::from_millis(5);
