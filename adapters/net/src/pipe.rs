//! Windows named pipes as CPython's `AF_PIPE` uses them (`PipeListener`, `PipeClient`,
//! `PipeConnection` in `Lib/multiprocessing/connection.py`): message-mode, duplex,
//! overlapped. One pipe message is one message of the protocol, without a header (the
//! core's [`Transport::Messages`](mpconn::Transport)).
//!
//! Every call of [`PipeStream`] and [`PipeListener`] blocks the thread until it is done
//! or its deadline passes; an I/O that times out is cancelled and waited for, so no
//! buffer is left lent to the OS and nothing that arrived is lost. [`PolledPipe`] and
//! [`PolledListener`] are the same pipes for event loops: nothing waits, operations
//! are polled with a `Waker`. The OS calls go through `windows-sys`; no crate
//! offers message-mode pipes with `ERROR_MORE_DATA` and deadlines (mio's and tokio's
//! pipes read through a buffer of their own, of 4 to 64 KiB, which hides where a longer
//! message ends).
//!
//! ```no_run
//! use mpconn_net::pipe::{PipeListener, PipeStream, Read};
//!
//! let listener = PipeListener::bind(r"\\.\pipe\demo")?;
//! let server = std::thread::spawn(move || listener.accept(None));
//! let client = PipeStream::connect(r"\\.\pipe\demo", None)?;
//! client.write_message(b"hello", None)?;
//! let server = server.join().unwrap()?;
//! let mut buf = [0; 16];
//! assert!(matches!(server.read(&mut buf, None)?, Read::Message(5)));
//! # Ok::<(), std::io::Error>(())
//! ```
#![allow(unsafe_code)]

use std::ffi::OsStr;
use std::io;
use std::os::windows::ffi::OsStrExt;
use std::os::windows::io::{AsRawHandle, FromRawHandle, OwnedHandle, RawHandle};
use std::ptr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use windows_sys::Win32::Foundation::{
    GetLastError, ERROR_BROKEN_PIPE, ERROR_IO_PENDING, ERROR_MORE_DATA, ERROR_NO_DATA,
    ERROR_OPERATION_ABORTED, ERROR_PIPE_BUSY, ERROR_PIPE_CONNECTED, ERROR_PIPE_NOT_CONNECTED,
    ERROR_SEM_TIMEOUT, GENERIC_READ, GENERIC_WRITE, HANDLE, INVALID_HANDLE_VALUE, WAIT_OBJECT_0,
    WAIT_TIMEOUT,
};
use windows_sys::Win32::Storage::FileSystem::{
    CreateFileW, ReadFile, WriteFile, FILE_FLAG_FIRST_PIPE_INSTANCE, FILE_FLAG_OVERLAPPED,
    OPEN_EXISTING, PIPE_ACCESS_DUPLEX,
};
use windows_sys::Win32::System::Pipes::{
    ConnectNamedPipe, CreateNamedPipeW, PeekNamedPipe, SetNamedPipeHandleState, WaitNamedPipeW,
    PIPE_READMODE_MESSAGE, PIPE_TYPE_MESSAGE, PIPE_UNLIMITED_INSTANCES, PIPE_WAIT,
};
use windows_sys::Win32::System::Threading::{CreateEventW, WaitForSingleObject, INFINITE};
use windows_sys::Win32::System::IO::{CancelIoEx, GetOverlappedResult, OVERLAPPED};

mod polled;
pub use polled::{PolledListener, PolledPipe};

/// The buffer sizes CPython gives its pipes (`BUFSIZE`).
pub const BUFSIZE: u32 = 8192;

/// How long [`PipeStream::connect`] waits at a time for a busy pipe (CPython's
/// `WaitNamedPipe(address, 1000)`), before it checks its deadline again.
const BUSY_WAIT: Duration = Duration::from_secs(1);

/// What one [`PipeStream::read`] got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Read {
    /// This many bytes, and the message ended with them.
    Message(usize),
    /// This many bytes (the whole buffer), and the message goes on (`ERROR_MORE_DATA`):
    /// [`PipeStream::remaining_in_message`] says how much is left.
    More(usize),
    /// The other end closed the pipe (`ERROR_BROKEN_PIPE`).
    Eof,
}

fn wide(name: &str) -> Vec<u16> {
    OsStr::new(name).encode_wide().chain(Some(0)).collect()
}

fn last_error() -> io::Error {
    io::Error::last_os_error()
}

fn is(error: &io::Error, code: u32) -> bool {
    error.raw_os_error() == Some(code as i32)
}

/// Milliseconds until `deadline` for a wait (`INFINITE` without one), at least 1 while
/// time is left, 0 once it passed.
fn millis_until(deadline: Option<Instant>) -> u32 {
    match deadline {
        None => INFINITE,
        Some(deadline) => {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                0
            } else {
                u32::try_from(left.as_millis().max(1)).unwrap_or(INFINITE - 1)
            }
        }
    }
}

/// A manual-reset event, for the overlapped I/O of one handle.
#[derive(Debug)]
struct Event(OwnedHandle);

impl Event {
    fn new() -> io::Result<Event> {
        Event::create(true)
    }

    /// An auto-reset event instead: the one a thread-pool wait is registered on
    /// ([`polled`]), which each wait satisfied resets.
    fn auto_reset() -> io::Result<Event> {
        Event::create(false)
    }

    fn create(manual_reset: bool) -> io::Result<Event> {
        // SAFETY: no security attributes, no name; the handle is checked and owned.
        let handle = unsafe { CreateEventW(ptr::null(), manual_reset.into(), 0, ptr::null()) };
        if handle.is_null() {
            return Err(last_error());
        }
        // SAFETY: a fresh handle that nothing else owns.
        Ok(Event(unsafe {
            OwnedHandle::from_raw_handle(handle as RawHandle)
        }))
    }

    fn raw(&self) -> HANDLE {
        self.0.as_raw_handle() as HANDLE
    }
}

/// How an overlapped operation ended: the bytes it moved, and the error it ended with
/// (`None`: success). `ERROR_MORE_DATA` comes with the bytes read.
struct Done {
    bytes: u32,
    error: Option<io::Error>,
}

/// Runs one overlapped operation on `handle` to its end: `start` begins it with the
/// `OVERLAPPED` it is given; this waits on `event` until it completes or `deadline`
/// passes, and then cancels it and waits for the cancellation, so that the OS holds no
/// pointer into the caller's buffer once this returns. A timed-out operation that
/// completed anyway is reported as done (nothing it moved is lost).
///
/// # Safety
///
/// `start` must start at most one overlapped operation on `handle` with the pointer it
/// is given, over memory that stays valid until this function returns.
unsafe fn overlapped(
    handle: HANDLE,
    event: &Event,
    deadline: Option<Instant>,
    start: impl FnOnce(*mut OVERLAPPED) -> i32,
) -> io::Result<Done> {
    // SAFETY: OVERLAPPED is plain data; all zeroes is its documented initial state.
    let mut ov: OVERLAPPED = unsafe { std::mem::zeroed() };
    ov.hEvent = event.raw();
    let started = start(&mut ov);
    // SAFETY: reads this thread's last error, set by the call that just failed.
    let code = if started == 0 {
        unsafe { GetLastError() }
    } else {
        0
    };
    if code == ERROR_IO_PENDING {
        // SAFETY: `event` is a valid handle for as long as this call.
        let waited = unsafe { WaitForSingleObject(event.raw(), millis_until(deadline)) };
        if waited != WAIT_OBJECT_0 {
            let failed = (waited != WAIT_TIMEOUT).then(last_error);
            // SAFETY: cancels only this operation, whose OVERLAPPED is still alive;
            // GetOverlappedResult below waits for it to end.
            unsafe { CancelIoEx(handle, &ov) };
            if let Some(error) = failed {
                let mut bytes = 0;
                // SAFETY: waits for the cancelled operation, before `ov` goes.
                unsafe { GetOverlappedResult(handle, &ov, &mut bytes, 1) };
                return Err(error);
            }
        }
    } else if code != 0 && code != ERROR_MORE_DATA {
        // Failed at once: nothing was started. (ERROR_MORE_DATA is done at once with
        // part of a message: GetOverlappedResult gives the count, and the same error.)
        return Ok(Done {
            bytes: 0,
            error: Some(io::Error::from_raw_os_error(code as i32)),
        });
    }
    let mut bytes = 0;
    // SAFETY: waits (bWait = TRUE) for the operation on `ov` to end, cancelled or not.
    let ok = unsafe { GetOverlappedResult(handle, &ov, &mut bytes, 1) };
    if ok != 0 {
        return Ok(Done { bytes, error: None });
    }
    let error = last_error();
    if is(&error, ERROR_OPERATION_ABORTED) {
        return Err(io::ErrorKind::TimedOut.into());
    }
    Ok(Done {
        bytes,
        error: Some(error),
    })
}

/// One end of a connected named pipe, in message mode (CPython's `PipeConnection`
/// handle). Reads and writes block until done or their deadline passes.
#[derive(Debug)]
pub struct PipeStream {
    handle: OwnedHandle,
    read_event: Event,
    write_event: Event,
    /// One read and one write at a time: the OVERLAPPED of each is on its caller's
    /// stack for as long as it runs.
    reading: Mutex<()>,
    writing: Mutex<()>,
}

impl PipeStream {
    fn from_handle(handle: OwnedHandle) -> io::Result<PipeStream> {
        Ok(PipeStream {
            handle,
            read_event: Event::new()?,
            write_event: Event::new()?,
            reading: Mutex::new(()),
            writing: Mutex::new(()),
        })
    }

    fn raw(&self) -> HANDLE {
        self.handle.as_raw_handle() as HANDLE
    }

    /// Connects to the listener at `name` (CPython's `PipeClient`): while every
    /// instance is busy (`ERROR_PIPE_BUSY`) it waits for one, until `deadline` (`None`:
    /// as long as it takes); the pipe is then switched to message reads. A name no
    /// listener has is `NotFound` at once.
    pub fn connect(name: &str, deadline: Option<Instant>) -> io::Result<PipeStream> {
        let wide = wide(name);
        loop {
            // SAFETY: `wide` is NUL-terminated; no security attributes, no template.
            let handle = unsafe {
                CreateFileW(
                    wide.as_ptr(),
                    GENERIC_READ | GENERIC_WRITE,
                    0,
                    ptr::null(),
                    OPEN_EXISTING,
                    FILE_FLAG_OVERLAPPED,
                    ptr::null_mut(),
                )
            };
            if handle != INVALID_HANDLE_VALUE {
                // SAFETY: a fresh handle that nothing else owns.
                let handle = unsafe { OwnedHandle::from_raw_handle(handle as RawHandle) };
                let mode = PIPE_READMODE_MESSAGE;
                // SAFETY: `handle` is a pipe handle; only the mode is set.
                let set = unsafe {
                    SetNamedPipeHandleState(
                        handle.as_raw_handle() as HANDLE,
                        &mode,
                        ptr::null(),
                        ptr::null(),
                    )
                };
                if set == 0 {
                    return Err(last_error());
                }
                return PipeStream::from_handle(handle);
            }
            let error = last_error();
            if !is(&error, ERROR_PIPE_BUSY) && !is(&error, ERROR_SEM_TIMEOUT) {
                return Err(error);
            }
            let wait = match deadline {
                None => BUSY_WAIT,
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Err(io::ErrorKind::TimedOut.into());
                    }
                    left.min(BUSY_WAIT)
                }
            };
            // SAFETY: `wide` is NUL-terminated. Its result does not matter: the next
            // CreateFileW says whether an instance is free.
            unsafe { WaitNamedPipeW(wide.as_ptr(), wait.as_millis().max(1) as u32) };
        }
    }

    /// Reads the next message, or the next part of one, into `buf` (empty: an empty
    /// message, or a probe for one). See [`Read`].
    pub fn read(&self, buf: &mut [u8], deadline: Option<Instant>) -> io::Result<Read> {
        let _one = self.reading.lock().unwrap_or_else(|e| e.into_inner());
        let len = u32::try_from(buf.len()).unwrap_or(u32::MAX);
        let ptr = buf.as_mut_ptr();
        // SAFETY: one ReadFile into `buf`, which outlives the call (overlapped waits).
        let done = unsafe {
            overlapped(self.raw(), &self.read_event, deadline, |ov| {
                ReadFile(self.raw(), ptr, len, ptr::null_mut(), ov)
            })
        }?;
        read_outcome(done)
    }

    /// After [`Read::More`]: the bytes of the message still in the pipe
    /// (`PeekNamedPipe`'s `lpBytesLeftThisMessage`, as CPython's `_get_more_data`).
    pub fn remaining_in_message(&self) -> io::Result<u64> {
        let (_, left) = self.peek()?;
        Ok(left.into())
    }

    /// `PeekNamedPipe`: the bytes available in all, and left in this message.
    fn peek(&self) -> io::Result<(u32, u32)> {
        peek(self.raw())
    }

    /// True when bytes wait in the pipe (`PeekNamedPipe`), so that a read would not
    /// block. An empty message waits too, but has no bytes to see: a reader waiting
    /// for data finds it with [`read`](Self::read).
    pub fn has_bytes(&self) -> io::Result<bool> {
        match self.peek() {
            Ok((avail, _)) => Ok(avail > 0),
            Err(e) if is(&e, ERROR_BROKEN_PIPE) => Ok(true),
            Err(e) => Err(e),
        }
    }

    /// Writes `message` as one pipe message (an empty one too), whole, as CPython's
    /// `PipeConnection._send_bytes` does.
    pub fn write_message(&self, message: &[u8], deadline: Option<Instant>) -> io::Result<()> {
        let _one = self.writing.lock().unwrap_or_else(|e| e.into_inner());
        let len = message_len(message)?;
        // SAFETY: one WriteFile of `message`, which outlives the call.
        let done = unsafe {
            overlapped(self.raw(), &self.write_event, deadline, |ov| {
                WriteFile(self.raw(), message.as_ptr(), len, ptr::null_mut(), ov)
            })
        }?;
        write_outcome(done, len)
    }
}

/// What a finished read of a pipe got (see [`Read`]).
fn read_outcome(done: Done) -> io::Result<Read> {
    let bytes = done.bytes as usize;
    match done.error {
        None => Ok(Read::Message(bytes)),
        Some(e) if is(&e, ERROR_MORE_DATA) => Ok(Read::More(bytes)),
        Some(e)
            if is(&e, ERROR_BROKEN_PIPE)
                || is(&e, ERROR_PIPE_NOT_CONNECTED)
                || is(&e, ERROR_NO_DATA) =>
        {
            Ok(Read::Eof)
        }
        Some(e) => Err(e),
    }
}

/// What a finished write of a `len`-byte message comes to: all of it, or an error.
fn write_outcome(done: Done, len: u32) -> io::Result<()> {
    match done.error {
        None if done.bytes == len => Ok(()),
        None => Err(io::Error::new(
            io::ErrorKind::WriteZero,
            format!("the pipe took {} of a {len}-byte message", done.bytes),
        )),
        Some(e) if is(&e, ERROR_NO_DATA) || is(&e, ERROR_PIPE_NOT_CONNECTED) => {
            Err(io::ErrorKind::BrokenPipe.into())
        }
        Some(e) => Err(e),
    }
}

/// A message's length as a pipe write takes it.
fn message_len(message: &[u8]) -> io::Result<u32> {
    u32::try_from(message.len()).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "a pipe message holds at most 4 GiB - 1 bytes",
        )
    })
}

/// `PeekNamedPipe` on `handle`: the bytes available in all, and left in this message.
fn peek(handle: HANDLE) -> io::Result<(u32, u32)> {
    let (mut avail, mut left) = (0, 0);
    // SAFETY: no buffer is read into; both counts are written to locals.
    let ok = unsafe {
        PeekNamedPipe(
            handle,
            ptr::null_mut(),
            0,
            ptr::null_mut(),
            &mut avail,
            &mut left,
        )
    };
    if ok == 0 {
        return Err(last_error());
    }
    Ok((avail, left))
}

impl AsRawHandle for PipeStream {
    fn as_raw_handle(&self) -> RawHandle {
        self.handle.as_raw_handle()
    }
}

/// A listening named pipe (CPython's `PipeListener`): it keeps one free instance ready,
/// the first created with `FILE_FLAG_FIRST_PIPE_INSTANCE` so that a name already taken
/// fails to bind, as CPython's does.
#[derive(Debug)]
pub struct PipeListener {
    name: String,
    wide: Vec<u16>,
    /// The free instances, oldest first, at most two: the one `accept` waits on, and a
    /// spare (CPython's `_handle_queue`). A client may take either, so neither is ever
    /// closed while free.
    ready: Mutex<std::collections::VecDeque<OwnedHandle>>,
    event: Event,
}

impl PipeListener {
    /// Creates the first instance of the pipe `name` (`\\.\pipe\...`); an existing
    /// listener of that name makes this fail (`PermissionDenied`, access denied).
    pub fn bind(name: &str) -> io::Result<PipeListener> {
        let wide = wide(name);
        let first = new_instance(&wide, true)?;
        Ok(PipeListener {
            name: name.to_string(),
            wide,
            ready: Mutex::new(std::collections::VecDeque::from([first])),
            event: Event::new()?,
        })
    }

    /// The pipe's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Waits for the next client, until `deadline` (`None`: as long as it takes), as
    /// CPython's `accept`: a spare free instance is made first, then the oldest free
    /// one is connected; a client that connected (even wrote and left) before it
    /// waited counts (`ERROR_PIPE_CONNECTED`, `ERROR_NO_DATA`). A client may also
    /// have taken the spare: it is looked at (without waiting) before the wait. On a
    /// timeout both free instances stay, in their order; none is ever closed with a
    /// client on it.
    pub fn accept(&self, deadline: Option<Instant>) -> io::Result<PipeStream> {
        let mut ready = self.ready.lock().unwrap_or_else(|e| e.into_inner());
        // A spare first, so that a client arriving meanwhile finds a free instance.
        if ready.len() < 2 {
            ready.push_back(new_instance(&self.wide, false)?);
        }
        if let Some(spare) = ready.get(1) {
            if self.connect(spare, Some(Instant::now()))? {
                let Some(spare) = ready.remove(1) else {
                    return Err(io::Error::other("a pipe listener lost its spare instance"));
                };
                return PipeStream::from_handle(spare);
            }
        }
        let Some(oldest) = ready.front() else {
            return Err(io::Error::other("a pipe listener without a free instance"));
        };
        if !self.connect(oldest, deadline)? {
            return Err(io::ErrorKind::TimedOut.into());
        }
        match ready.pop_front() {
            Some(handle) => PipeStream::from_handle(handle),
            None => Err(io::Error::other("a pipe listener lost its instance")),
        }
    }

    /// `ConnectNamedPipe` on a free instance until `deadline`: true once a client is
    /// on it, false when the time ran out (the instance stays free).
    fn connect(&self, handle: &OwnedHandle, deadline: Option<Instant>) -> io::Result<bool> {
        let raw = handle.as_raw_handle() as HANDLE;
        // SAFETY: one ConnectNamedPipe on `handle`, which outlives the call.
        let done =
            unsafe { overlapped(raw, &self.event, deadline, |ov| ConnectNamedPipe(raw, ov)) };
        match done {
            Ok(Done { error: None, .. }) => Ok(true),
            Ok(Done { error: Some(e), .. })
                if is(&e, ERROR_PIPE_CONNECTED) || is(&e, ERROR_NO_DATA) =>
            {
                Ok(true)
            }
            Ok(Done { error: Some(e), .. }) => Err(e),
            Err(e) if e.kind() == io::ErrorKind::TimedOut => Ok(false),
            Err(e) => Err(e),
        }
    }
}

/// One instance of a message-mode, duplex, overlapped pipe, with CPython's options.
fn new_instance(wide: &[u16], first: bool) -> io::Result<OwnedHandle> {
    let mut open = PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED;
    if first {
        open |= FILE_FLAG_FIRST_PIPE_INSTANCE;
    }
    // SAFETY: `wide` is NUL-terminated; no security attributes.
    let handle = unsafe {
        CreateNamedPipeW(
            wide.as_ptr(),
            open,
            PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE | PIPE_WAIT,
            PIPE_UNLIMITED_INSTANCES,
            BUFSIZE,
            BUFSIZE,
            0,
            ptr::null(),
        )
    };
    if handle == INVALID_HANDLE_VALUE {
        return Err(last_error());
    }
    // SAFETY: a fresh handle that nothing else owns.
    Ok(unsafe { OwnedHandle::from_raw_handle(handle as RawHandle) })
}

/// CPython's `Pipe(duplex)` on Windows: two ends of a fresh named pipe
/// ([`Address::fresh_pipe`](crate::Address::fresh_pipe)), connected to each other.
/// `duplex = false` gives the same pair (the caller only reads one and writes the
/// other), as the pipe's access is checked by neither CPython nor this.
pub fn pair() -> io::Result<(PipeStream, PipeStream)> {
    let address = crate::Address::fresh_pipe()?;
    let name = address.pipe_name().unwrap_or_default();
    let listener = PipeListener::bind(name)?;
    let client = PipeStream::connect(name, Some(Instant::now() + Duration::from_secs(20)))?;
    let server = listener.accept(Some(Instant::now() + Duration::from_secs(20)))?;
    Ok((server, client))
}

/// One read of `pipe` into the room the core lends, as [`crate::read_into`] does on a
/// socket, for a core on [`Transport::Messages`](mpconn::Transport): the end of a pipe
/// message is the end of a message, `ERROR_MORE_DATA` is followed by what
/// `PeekNamedPipe` says is left of it ([`mpconn::Connection::message_remaining`]), and
/// the end of the pipe is the end of the stream. Returns the bytes read; `Ok(0)` after
/// an empty message or at the end.
///
/// A payload's own buffer is zeroed before the read here (a pipe read takes a slice),
/// unlike a socket's.
pub fn read_into(
    core: &mut mpconn::Connection,
    pipe: &PipeStream,
    deadline: Option<Instant>,
) -> io::Result<usize> {
    let outcome = match core.recv_buf() {
        mpconn::RecvBuf::Buffer(room) => pipe.read(room, deadline)?,
        mpconn::RecvBuf::Payload { buf, limit } => {
            let before = buf.len();
            buf.resize(before + limit, 0);
            let read = pipe.read(&mut buf[before..], deadline);
            let n = match &read {
                Ok(Read::Message(n) | Read::More(n)) => *n,
                _ => 0,
            };
            buf.truncate(before + n);
            read?
        }
    };
    let misuse = |e: mpconn::Misuse| io::Error::other(e.to_string());
    match outcome {
        Read::Message(n) => {
            core.received(n).map_err(misuse)?;
            core.received_message_end().map_err(misuse)?;
            Ok(n)
        }
        Read::More(n) => {
            core.received(n).map_err(misuse)?;
            let left = pipe.remaining_in_message()?;
            if left > 0 {
                core.message_remaining(left).map_err(misuse)?;
            }
            Ok(n)
        }
        Read::Eof => {
            core.received_eof();
            Ok(0)
        }
    }
}

/// Writes the core's next queued message as one pipe message, as
/// [`crate::write_from`] writes a socket's queue, and takes it off the queue. Returns
/// its length.
pub fn write_from(
    core: &mut mpconn::Connection,
    pipe: &PipeStream,
    deadline: Option<Instant>,
) -> io::Result<usize> {
    let message = core.pending_output();
    let n = message.len();
    pipe.write_message(message, deadline)?;
    core.consume_output(n);
    Ok(n)
}

/// Writes what a [`DirectSend`](mpconn::DirectSend) on
/// [`Transport::Messages`](mpconn::Transport) hands out next, one message: a message
/// queued before it, or its payload. Returns its length.
pub fn write_direct(
    send: &mut mpconn::DirectSend<'_>,
    pipe: &PipeStream,
    deadline: Option<Instant>,
) -> io::Result<usize> {
    let message = direct_message(send);
    let n = message.len();
    pipe.write_message(message, deadline)?;
    send.advance(n);
    Ok(n)
}

/// The one message a [`DirectSend`](mpconn::DirectSend) on the message transport hands
/// out next: a message queued before it, or its payload.
fn direct_message<'a>(send: &'a mpconn::DirectSend<'_>) -> &'a [u8] {
    let [queued, header, payload] = send.slices();
    debug_assert!(header.is_empty(), "a message transport writes no header");
    if queued.is_empty() {
        payload
    } else {
        queued
    }
}
