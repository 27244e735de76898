//! Waiting for several connections at once (CPython's `multiprocessing.connection.wait`).

use std::io;
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec};

use crate::connection::Connection;
use crate::listener::Listener;
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
}

impl Waitable for Connection {
    fn wait_fd(&self) -> Result<BorrowedFd<'_>> {
        Ok(self.as_fd())
    }

    fn ready_now(&self) -> bool {
        self.has_buffered_input()
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
}

macro_rules! waitable_fd {
    ($($ty:ty),*) => {$(
        impl Waitable for $ty {
            fn wait_fd(&self) -> Result<BorrowedFd<'_>> {
                Ok(self.as_fd())
            }
        }
    )*};
}

waitable_fd!(
    TcpStream,
    TcpListener,
    UnixStream,
    UnixListener,
    OwnedFd,
    BorrowedFd<'_>
);

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
    // Each descriptor, with the index of the object it stands for.
    let mut fds = Vec::new();
    for (i, object) in objects.iter().enumerate() {
        fds.extend(object.wait_fds()?.into_iter().map(|fd| (i, fd)));
    }
    let mut polls: Vec<PollFd<'_>> = fds
        .iter()
        .map(|(_, fd)| PollFd::new(fd, PollFlags::IN))
        .collect();
    poll_all(&mut polls, timeout)?;
    let mut ready: Vec<usize> = polls
        .iter()
        .zip(&fds)
        .filter(|(p, _)| !p.revents().is_empty())
        .map(|(_, (i, _))| *i)
        .collect();
    ready.dedup();
    Ok(ready)
}

/// Waits up to `timeout` for `fd` to be ready for `flags` (`IN`: readable; `OUT`:
/// writable), or closed, or in error.
pub(crate) fn poll_fd(
    fd: BorrowedFd<'_>,
    flags: PollFlags,
    timeout: Option<Duration>,
) -> io::Result<bool> {
    let mut polls = [PollFd::new(&fd, flags)];
    poll_all(&mut polls, timeout)?;
    Ok(!polls[0].revents().is_empty())
}

/// `poll(2)` until something is ready or the time is up, resuming after signals.
pub(crate) fn poll_all(polls: &mut [PollFd<'_>], timeout: Option<Duration>) -> io::Result<()> {
    let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
    loop {
        let left = match (timeout, deadline) {
            (None, _) => None,
            (Some(_), Some(deadline)) => Some(deadline.saturating_duration_since(Instant::now())),
            // A timeout too far away to represent: as good as none.
            (Some(_), None) => None,
        };
        let spec = left.map(|left| Timespec {
            tv_sec: left.as_secs().try_into().unwrap_or(i64::MAX),
            tv_nsec: left.subsec_nanos().into(),
        });
        match rustix::event::poll(polls, spec.as_ref()) {
            Ok(_) => return Ok(()),
            Err(rustix::io::Errno::INTR) => continue,
            Err(errno) => return Err(errno.into()),
        }
    }
}
