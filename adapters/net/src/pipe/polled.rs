//! The named pipes for event loops: [`PolledPipe`] and [`PolledListener`].

use std::cell::UnsafeCell;
use std::collections::VecDeque;
use std::ffi::c_void;
use std::io;
use std::os::windows::io::{AsRawHandle, OwnedHandle};
use std::ptr::{self, NonNull};
use std::sync::{Mutex, MutexGuard};
use std::task::{ready, Poll, Waker};
use std::time::Instant;

use windows_sys::Win32::Foundation::{
    GetLastError, ERROR_IO_INCOMPLETE, ERROR_IO_PENDING, ERROR_MORE_DATA, ERROR_NO_DATA,
    ERROR_PIPE_CONNECTED, HANDLE, INVALID_HANDLE_VALUE, WAIT_OBJECT_0, WAIT_TIMEOUT,
};
use windows_sys::Win32::Storage::FileSystem::{ReadFile, WriteFile};
use windows_sys::Win32::System::Pipes::ConnectNamedPipe;
use windows_sys::Win32::System::Threading::{
    RegisterWaitForSingleObject, UnregisterWaitEx, WaitForSingleObject, INFINITE, WT_EXECUTEDEFAULT,
};
use windows_sys::Win32::System::IO::{CancelIoEx, GetOverlappedResult, OVERLAPPED};

use super::{
    is, last_error, message_len, new_instance, peek, read_outcome, wide, write_outcome, Done,
    Event, PipeListener, PipeStream, Read,
};
use crate::{Inbound, Outbound};

/// The first read of each message, the pipe's own buffer size: a message that fits is
/// read whole, one that does not is read on in reads of up to [`LARGE_READ`], sized by
/// what `PeekNamedPipe` says is left. (CPython reads 128 bytes first.)
const READ_SIZE: usize = super::BUFSIZE as usize;

/// The largest read, after `ERROR_MORE_DATA` said how much of the message is left:
/// bounds what a pipe holds for a peer's announced (and maybe refused) message.
const LARGE_READ: usize = 1024 * 1024;

/// Nothing panics while these locks are held, so a poisoned one guards sound data.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn raw(handle: &OwnedHandle) -> HANDLE {
    handle.as_raw_handle() as HANDLE
}

/// What a [`Slot`] shares with the OS (the `OVERLAPPED`) and with the thread pool (the
/// event it waits on, the waker it wakes): at one address for the slot's life, and
/// reached by the thread pool through a raw pointer, so the slot holds it by one too.
struct Shared {
    overlapped: UnsafeCell<OVERLAPPED>,
    event: Event,
    waker: Mutex<Option<Waker>>,
}

/// One overlapped operation at a time on a handle, started by [`start`](Slot::start)
/// and polled to its end by [`poll`](Slot::poll).
struct Slot {
    /// From `Box::into_raw`; freed by `drop` once no callback can run.
    shared: NonNull<Shared>,
    /// The thread-pool wait on `shared.event`.
    wait: HANDLE,
    /// The handle the operations run on: its owner keeps it open until the slot drops.
    handle: HANDLE,
    in_flight: bool,
}

// SAFETY: a slot is used by one thread at a time (its owner holds it behind a lock);
// the handles in it are valid in every thread, and the thread pool touches only
// `Shared::waker`, through its mutex.
unsafe impl Send for Slot {}

impl Slot {
    fn shared(&self) -> &Shared {
        // SAFETY: valid from `new` to `drop`; only shared references are made of it.
        unsafe { self.shared.as_ref() }
    }
}

/// The thread pool's callback when a slot's event is set: an operation ended.
///
/// # Safety
///
/// `context` is the `Shared` of the slot whose wait this is; the slot unregisters the
/// wait, and waits for this callback to return, before it frees it.
unsafe extern "system" fn ended(context: *mut c_void, _timed_out: bool) {
    // SAFETY: as the function's contract says.
    let shared = unsafe { &*(context as *const Shared) };
    let waker = lock(&shared.waker).take();
    if let Some(waker) = waker {
        waker.wake();
    }
}

impl Slot {
    fn new(handle: HANDLE) -> io::Result<Slot> {
        let shared = Box::new(Shared {
            // SAFETY: OVERLAPPED is plain data; all zeroes is its initial state.
            overlapped: UnsafeCell::new(unsafe { std::mem::zeroed() }),
            event: Event::auto_reset()?,
            waker: Mutex::new(None),
        });
        let mut wait = ptr::null_mut();
        // SAFETY: the event and the context stay valid while the wait is registered:
        // they are not freed unless it is unregistered (and its callback waited for).
        let registered = unsafe {
            RegisterWaitForSingleObject(
                &mut wait,
                shared.event.raw(),
                Some(ended),
                ptr::from_ref::<Shared>(&shared).cast(),
                INFINITE,
                WT_EXECUTEDEFAULT,
            )
        };
        if registered == 0 {
            return Err(last_error());
        }
        Ok(Slot {
            shared: NonNull::from(Box::leak(shared)),
            wait,
            handle,
            in_flight: false,
        })
    }

    /// Starts an operation: `start` begins it with the `OVERLAPPED` it is given.
    /// `Some` when it ended at once (failed to start included), `None` while it is in
    /// flight: [`poll`](Self::poll) it then.
    ///
    /// # Safety
    ///
    /// No operation is in flight; `start` starts at most one overlapped operation on the
    /// slot's handle with the pointer given, over memory that stays valid until the
    /// slot has polled it to its end or has been dropped.
    unsafe fn start(&mut self, start: impl FnOnce(*mut OVERLAPPED) -> i32) -> Option<Done> {
        debug_assert!(!self.in_flight, "one operation at a time in a slot");
        let overlapped = self.shared().overlapped.get();
        // SAFETY: no operation is in flight, so nothing else uses the OVERLAPPED.
        unsafe {
            overlapped.write(std::mem::zeroed());
            (*overlapped).hEvent = self.shared().event.raw();
        }
        let started = start(overlapped);
        // SAFETY: reads this thread's last error, set by the call that just failed.
        let code = if started == 0 {
            unsafe { GetLastError() }
        } else {
            0
        };
        match code {
            ERROR_IO_PENDING => {
                self.in_flight = true;
                None
            }
            // Done at once (ERROR_MORE_DATA: with part of a message): the OVERLAPPED
            // holds the count.
            0 | ERROR_MORE_DATA => {
                self.in_flight = true;
                self.result()
            }
            // Failed at once: nothing was started.
            code => Some(Done {
                bytes: 0,
                error: Some(io::Error::from_raw_os_error(code as i32)),
            }),
        }
    }

    /// The operation's end if it has ended (then none is in flight any more).
    fn result(&mut self) -> Option<Done> {
        let mut bytes = 0;
        // SAFETY: the OVERLAPPED of the operation in flight; with bWait FALSE this only
        // reads its state.
        let ok = unsafe {
            GetOverlappedResult(self.handle, self.shared().overlapped.get(), &mut bytes, 0)
        };
        let error = (ok == 0).then(last_error);
        if error.as_ref().is_some_and(|e| is(e, ERROR_IO_INCOMPLETE)) {
            return None;
        }
        self.in_flight = false;
        Some(Done { bytes, error })
    }

    /// The operation in flight: its end, or `Pending` with `waker` to be woken at it.
    fn poll(&mut self, waker: &Waker) -> Poll<Done> {
        {
            // Left before the look, so that an end right after it still wakes.
            let mut left = lock(&self.shared().waker);
            if !left.as_ref().is_some_and(|old| old.will_wake(waker)) {
                *left = Some(waker.clone());
            }
        }
        match self.result() {
            Some(done) => Poll::Ready(done),
            None => Poll::Pending,
        }
    }

    /// Starts an operation and polls it, as [`start`](Self::start) and
    /// [`poll`](Self::poll) do.
    ///
    /// # Safety
    ///
    /// As [`start`](Self::start)'s.
    unsafe fn start_and_poll(
        &mut self,
        waker: &Waker,
        start: impl FnOnce(*mut OVERLAPPED) -> i32,
    ) -> Poll<Done> {
        // SAFETY: the caller's contract is `start`'s.
        match unsafe { self.start(start) } {
            Some(done) => Poll::Ready(done),
            None => self.poll(waker),
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        // SAFETY: INVALID_HANDLE_VALUE makes this wait for a callback that is running;
        // none runs after it.
        let unregistered = unsafe { UnregisterWaitEx(self.wait, INVALID_HANDLE_VALUE) } != 0;
        if self.in_flight && self.result().is_none() {
            // SAFETY: cancels this slot's operation only; the loop waits for its end
            // (the event, no longer waited on by the pool, is set by it) before the
            // OVERLAPPED and the buffer go.
            unsafe { CancelIoEx(self.handle, self.shared().overlapped.get()) };
            while self.result().is_none() {
                // SAFETY: the slot's own event, valid for as long as the slot.
                let waited = unsafe { WaitForSingleObject(self.shared().event.raw(), 100) };
                debug_assert!(
                    waited == WAIT_OBJECT_0 || waited == WAIT_TIMEOUT,
                    "{waited}"
                );
            }
        }
        // A wait that could not be unregistered may still call back: its context is
        // left alone (a leak, never a use after free).
        if unregistered {
            // SAFETY: from `Box::leak` in `new`; no operation and no callback uses it
            // any more, and nothing else frees it.
            drop(unsafe { Box::from_raw(self.shared.as_ptr()) });
        }
    }
}

/// How a read that ended goes to the core: its bytes, how many the core took, and what
/// follows them.
struct Got {
    len: usize,
    handed: usize,
    end: End,
}

#[derive(Clone, Copy)]
enum End {
    /// The message ends with these bytes.
    Message,
    /// `rest` more bytes of the message are in the pipe (`PeekNamedPipe`; 0 when it
    /// could not say).
    More { rest: u64 },
    /// The other end closed the pipe.
    Eof,
}

/// The read side of a [`PolledPipe`]. `slot` comes first: it drops (cancelling and
/// waiting for a read in flight) before the buffer the read fills.
struct Reading {
    slot: Slot,
    buf: Vec<u8>,
    /// The size of the next read.
    size: usize,
    got: Option<Got>,
}

/// The write side: the message in flight is a copy of the caller's, so the caller may
/// stop polling (or move its buffer) while the OS writes it.
struct Writing {
    slot: Slot,
    buf: Vec<u8>,
}

/// One end of a connected named pipe, in message mode, for an event loop: CPython's
/// `PipeConnection` handle, with reads and writes that are polled. One read and one
/// write may be under way at once, each from its own task: the pipe is `Sync`.
///
/// These pipes and [`PolledListener`] never wait. An operation (a read, a write, a
/// listener's connect) is started, then polled with a [`Waker`] that is woken when it
/// ends, as a future is.
///
/// An operation belongs to the pipe, not to the call that started it: its `OVERLAPPED`
/// and buffer live in the pipe until the operation ends. So a poll that is not repeated
/// (a future dropped, a `select!` that took another branch) loses nothing: the next poll
/// finds the operation where it was, and what it read is handed out then. Dropping the
/// pipe cancels what is in flight and waits for it, so the OS never holds a pointer
/// into freed memory.
///
/// The wake-up comes from the thread pool: each operation slot has an auto-reset event,
/// watched by one `RegisterWaitForSingleObject` wait for the slot's whole life, whose
/// callback wakes the waker the last poll left. Neither tokio's nor mio's `NamedPipe`
/// can stand in: both read through a buffer of their own (mio's, of 4 to 64 KiB), which
/// hides where a longer message ends, and CPython's pipes have no header to find it by.
///
/// ```no_run
/// use std::task::{Poll, Waker};
/// use mpconn_net::pipe::{PolledListener, PolledPipe};
///
/// let listener = PolledListener::bind(r"\\.\pipe\polled-demo")?;
/// let waker = Waker::noop(); // an event loop's waker, in real code
/// assert!(listener.poll_accept(waker).is_pending()); // nobody yet: no wait either
/// let client = PolledPipe::connect(r"\\.\pipe\polled-demo", None)?;
/// let server = loop {
///     if let Poll::Ready(server) = listener.poll_accept(waker) {
///         break server?;
///     }
/// };
/// while client.poll_write_message(waker, b"hello").is_pending() {}
/// let mut core = mpconn::Connection::established().with_transport(mpconn::Transport::Messages);
/// while core.next_message().unwrap().is_none() {
///     while server.poll_read_into(waker, &mut core).is_pending() {}
/// }
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct PolledPipe {
    read: Mutex<Reading>,
    write: Mutex<Writing>,
    /// Last: it closes after both slots have ended their operations.
    handle: OwnedHandle,
}

impl std::fmt::Debug for PolledPipe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolledPipe")
            .field("handle", &self.handle)
            .finish_non_exhaustive()
    }
}

impl PolledPipe {
    /// Takes over a connected pipe.
    pub fn new(pipe: PipeStream) -> io::Result<PolledPipe> {
        PolledPipe::from_handle(pipe.handle)
    }

    fn from_handle(handle: OwnedHandle) -> io::Result<PolledPipe> {
        Ok(PolledPipe {
            read: Mutex::new(Reading {
                slot: Slot::new(raw(&handle))?,
                buf: Vec::new(),
                size: READ_SIZE,
                got: None,
            }),
            write: Mutex::new(Writing {
                slot: Slot::new(raw(&handle))?,
                buf: Vec::new(),
            }),
            handle,
        })
    }

    /// Connects to the listener at `name`, as [`PipeStream::connect`] does: this one
    /// call blocks, while every instance of the pipe is busy, until `deadline`.
    pub fn connect(name: &str, deadline: Option<Instant>) -> io::Result<PolledPipe> {
        PolledPipe::new(PipeStream::connect(name, deadline)?)
    }

    /// Ready once a read has ended (its bytes, or the end of the pipe, wait to be
    /// handed out by [`poll_read_into`](Self::poll_read_into)); starts one if none is
    /// under way. CPython's `poll()` on a pipe, without a timeout.
    pub fn poll_readable(&self, waker: &Waker) -> Poll<io::Result<()>> {
        let mut reading = lock(&self.read);
        self.poll_got(&mut reading, waker)
    }

    /// Ready once `reading` holds an ended read (`reading.got`).
    fn poll_got(&self, reading: &mut Reading, waker: &Waker) -> Poll<io::Result<()>> {
        if reading.got.is_none() {
            let done = match reading.slot.in_flight {
                true => ready!(reading.slot.poll(waker)),
                false => {
                    let size = reading.size;
                    if reading.buf.len() < size {
                        reading.buf.resize(size, 0);
                    }
                    let (handle, buf) = (raw(&self.handle), reading.buf.as_mut_ptr());
                    // SAFETY: no read is in flight; one ReadFile of `size` bytes into
                    // `buf`, which is not resized while the read is in flight and which
                    // outlives the slot (`Reading`'s field order).
                    ready!(unsafe {
                        reading.slot.start_and_poll(waker, |overlapped| {
                            ReadFile(handle, buf, size as u32, ptr::null_mut(), overlapped)
                        })
                    })
                }
            };
            let (len, end) = match read_outcome(done)? {
                Read::Message(len) => (len, End::Message),
                Read::More(len) => {
                    let rest = peek(raw(&self.handle)).map_or(0, |(_, left)| left.into());
                    (len, End::More { rest })
                }
                Read::Eof => (0, End::Eof),
            };
            reading.got = Some(Got {
                len,
                handed: 0,
                end,
            });
        }
        Poll::Ready(Ok(()))
    }

    /// One read into the room the core lends, as [`super::read_into`] does with a
    /// blocking pipe, and commits it: the end of a pipe message is the end of a
    /// message, `ERROR_MORE_DATA` is followed by what is left of it
    /// ([`Inbound::message_remaining`]), the end of the pipe is the end of the stream
    /// (the core is told: nothing to tell the caller). Starts a read if none is under
    /// way; `Pending` until it ends.
    pub fn poll_read_into(&self, waker: &Waker, core: &mut impl Inbound) -> Poll<io::Result<()>> {
        let misuse = |e: mpconn::Misuse| io::Error::other(e.to_string());
        let mut reading = lock(&self.read);
        ready!(self.poll_got(&mut reading, waker))?;
        let reading = &mut *reading;
        let Some(got) = &mut reading.got else {
            return Poll::Ready(Err(io::Error::other("a pipe read ended with nothing")));
        };
        if let End::Eof = got.end {
            // Kept: every later read is at the end too.
            core.received_eof();
            return Poll::Ready(Ok(()));
        }
        let n = core.recv_buf().fill(&reading.buf[got.handed..got.len]);
        if n > 0 {
            core.received(n).map_err(misuse)?;
        }
        got.handed += n;
        let here = (got.len - got.handed) as u64;
        match got.end {
            End::Message if here == 0 => {
                core.received_message_end().map_err(misuse)?;
                reading.got = None;
                reading.size = READ_SIZE;
                if reading.buf.len() > READ_SIZE {
                    reading.buf = Vec::new();
                }
            }
            End::Message => core.message_remaining(here).map_err(misuse)?,
            End::More { rest } => {
                if here + rest > 0 {
                    core.message_remaining(here + rest).map_err(misuse)?;
                }
                if here == 0 {
                    reading.got = None;
                    let rest = usize::try_from(rest).unwrap_or(usize::MAX);
                    reading.size = rest.clamp(READ_SIZE, LARGE_READ);
                }
            }
            End::Eof => {}
        }
        Poll::Ready(Ok(()))
    }

    /// Writes `message` as one pipe message: `Ready` once the whole of it is written.
    /// `Pending` leaves it in flight (a copy): the next call, with the same message,
    /// waits for that write instead of starting another, so a caller that takes the
    /// message off its queue only when this is `Ready` neither loses nor repeats it.
    pub fn poll_write_message(&self, waker: &Waker, message: &[u8]) -> Poll<io::Result<()>> {
        let mut writing = lock(&self.write);
        let writing = &mut *writing;
        let done = if writing.slot.in_flight {
            if writing.buf.len() != message.len() {
                return Poll::Ready(Err(io::Error::other(format!(
                    "a {}-byte pipe message is still being written, not this {}-byte one",
                    writing.buf.len(),
                    message.len()
                ))));
            }
            ready!(writing.slot.poll(waker))
        } else {
            let len = message_len(message)?;
            writing.buf.clear();
            writing.buf.extend_from_slice(message);
            let (handle, buf) = (raw(&self.handle), writing.buf.as_ptr());
            // SAFETY: no write is in flight; one WriteFile of `buf`, which is not
            // changed while the write is in flight and which outlives the slot.
            ready!(unsafe {
                writing.slot.start_and_poll(waker, |overlapped| {
                    WriteFile(handle, buf, len, ptr::null_mut(), overlapped)
                })
            })
        };
        let len = writing.buf.len() as u32;
        if writing.buf.capacity() > LARGE_READ {
            writing.buf = Vec::new();
        }
        Poll::Ready(write_outcome(done, len))
    }

    /// Writes the core's next queued message (an empty one too), as
    /// [`super::write_from`] does, and takes it off the queue once it is written.
    /// `Ready(Ok(0))` at once when nothing is queued.
    pub fn poll_write_from(
        &self,
        waker: &Waker,
        core: &mut impl Outbound,
    ) -> Poll<io::Result<usize>> {
        if !core.wants_write() {
            return Poll::Ready(Ok(0));
        }
        ready!(self.poll_write_message(waker, core.pending_output()))?;
        let n = core.pending_output().len();
        core.consume_output(n);
        Poll::Ready(Ok(n))
    }

    /// Writes what a [`DirectSend`](mpconn::DirectSend) hands out next, one message, as
    /// [`super::write_direct`] does, and marks it sent once it is written.
    pub fn poll_write_direct(
        &self,
        waker: &Waker,
        send: &mut mpconn::DirectSend<'_>,
    ) -> Poll<io::Result<usize>> {
        let message = super::direct_message(send);
        let n = message.len();
        ready!(self.poll_write_message(waker, message))?;
        send.advance(n);
        Poll::Ready(Ok(n))
    }
}

impl AsRawHandle for PolledPipe {
    fn as_raw_handle(&self) -> std::os::windows::io::RawHandle {
        self.handle.as_raw_handle()
    }
}

/// A free instance of a listening pipe, with its connect. `slot` first: it drops
/// (cancelling a connect in flight) before the handle closes.
struct Instance {
    slot: Slot,
    handle: OwnedHandle,
}

impl Instance {
    fn new(wide: &[u16], first: bool) -> io::Result<Instance> {
        let handle = new_instance(wide, first)?;
        Ok(Instance {
            slot: Slot::new(raw(&handle))?,
            handle,
        })
    }

    /// The instance's connect, started if it is not under way: true once a client is
    /// on it (one that connected, even wrote and left, before the connect counts:
    /// `ERROR_PIPE_CONNECTED`, `ERROR_NO_DATA`).
    fn poll_connected(&mut self, waker: &Waker) -> Poll<io::Result<()>> {
        let done = match self.slot.in_flight {
            true => ready!(self.slot.poll(waker)),
            false => {
                let handle = raw(&self.handle);
                // SAFETY: no connect is in flight; one ConnectNamedPipe on the handle,
                // which outlives the slot (`Instance`'s field order).
                ready!(unsafe {
                    self.slot
                        .start_and_poll(waker, |overlapped| ConnectNamedPipe(handle, overlapped))
                })
            }
        };
        Poll::Ready(match done.error {
            None => Ok(()),
            Some(e) if is(&e, ERROR_PIPE_CONNECTED) || is(&e, ERROR_NO_DATA) => Ok(()),
            Some(e) => Err(e),
        })
    }
}

/// A listening named pipe for an event loop: CPython's `PipeListener`, whose
/// [`poll_accept`](Self::poll_accept) never waits. Two free instances are kept, each
/// with its connect under way, so a client that takes either is seen at once; the
/// first was created with `FILE_FLAG_FIRST_PIPE_INSTANCE`, so that a name already
/// taken fails to bind, as CPython's does.
pub struct PolledListener {
    name: String,
    wide: Vec<u16>,
    free: Mutex<VecDeque<Instance>>,
}

impl std::fmt::Debug for PolledListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PolledListener({:?})", self.name)
    }
}

impl PolledListener {
    /// Creates the first instance of the pipe `name` (`\\.\pipe\...`); an existing
    /// listener of that name makes this fail (`PermissionDenied`, access denied).
    pub fn bind(name: &str) -> io::Result<PolledListener> {
        let wide = wide(name);
        let first = Instance::new(&wide, true)?;
        Ok(PolledListener {
            name: name.to_string(),
            wide,
            free: Mutex::new(VecDeque::from([first])),
        })
    }

    /// Takes over a listening pipe (what [`bind`](crate::bind) makes of an `AF_PIPE`
    /// address), its free instances and all: a client already on one is accepted by
    /// the first poll.
    pub fn new(listener: PipeListener) -> io::Result<PolledListener> {
        let PipeListener {
            name, wide, ready, ..
        } = listener;
        let handles = ready.into_inner().unwrap_or_else(|e| e.into_inner());
        let mut free = VecDeque::with_capacity(2);
        for handle in handles {
            free.push_back(Instance {
                slot: Slot::new(raw(&handle))?,
                handle,
            });
        }
        Ok(PolledListener {
            name,
            wide,
            free: Mutex::new(free),
        })
    }

    /// The pipe's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The next client, if one is on a free instance; `Pending` (with `waker` to be
    /// woken when one comes) otherwise. The instance it took is replaced at the next
    /// call. An instance whose connect failed is closed, and its error returned.
    pub fn poll_accept(&self, waker: &Waker) -> Poll<io::Result<PolledPipe>> {
        let mut free = lock(&self.free);
        while free.len() < 2 {
            match Instance::new(&self.wide, false) {
                Ok(instance) => free.push_back(instance),
                Err(error) => return Poll::Ready(Err(error)),
            }
        }
        for at in 0..free.len() {
            let Poll::Ready(connected) = free[at].poll_connected(waker) else {
                continue;
            };
            let Some(Instance { slot, handle }) = free.remove(at) else {
                break;
            };
            // Its connect has ended: nothing is in flight in it.
            drop(slot);
            return Poll::Ready(connected.and_then(|()| PolledPipe::from_handle(handle)));
        }
        Poll::Pending
    }
}
