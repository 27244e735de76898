//! What `poll(2)` (WSAPoll on Windows, through rustix) waits on: a file descriptor on
//! Unix, a socket on Windows, under one name so that the listener's handshakes and
//! `wait` are written once.

use std::io;
use std::time::{Duration, Instant};

#[cfg(unix)]
pub use std::os::fd::{AsFd as AsPollable, BorrowedFd as Pollable, OwnedFd as OwnedPollable};
#[cfg(windows)]
pub use std::os::windows::io::{
    AsSocket as AsPollable, BorrowedSocket as Pollable, OwnedSocket as OwnedPollable,
};

use rustix::event::{PollFd, PollFlags, Timespec};

/// Borrows what `poll` waits on.
#[inline]
pub(crate) fn pollable<T: AsPollable + ?Sized>(object: &T) -> Pollable<'_> {
    #[cfg(unix)]
    return object.as_fd();
    #[cfg(windows)]
    return object.as_socket();
}

/// Waits up to `timeout` for `fd` to be ready for `flags` (`IN`: readable; `OUT`:
/// writable), or closed, or in error.
pub(crate) fn poll_fd(
    fd: Pollable<'_>,
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
            tv_nsec: left.subsec_nanos() as _,
        });
        match rustix::event::poll(polls, spec.as_ref()) {
            Ok(_) => return Ok(()),
            Err(rustix::io::Errno::INTR) => continue,
            Err(errno) => return Err(errno.into()),
        }
    }
}
