//! The sans-IO core against every real CPython on the machine, over real sockets.
//!
//! No adapter here: each test drives [`mpconn::Connection`] with a small blocking loop
//! of its own (write what the core wants written, read, feed) over a TCP loopback
//! socket (Rust serves a CPython `Client`) or a Unix socket (Rust calls a CPython
//! `Listener`). One CPython process per (version, direction) runs
//! `tests/python/core_peer.py`, which plays every case of that direction over one
//! connection each, in the order the test passes them on its command line; the
//! script's docstring describes CPython's half of each case.
//!
//! Unix only: there is no CPython for Windows on the machines that run the Windows
//! build (under Wine).
#![cfg(unix)]

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use mpconn::connection::State;
use mpconn::{AuthFailure, Connection, Digest, Error, HandshakeConfig, RecvBuf, Role};
// Nonces differ from run to run; the seed is printed on failure.
use mpconn_test_support::{Python, Reaped, SplitMix};

/// The authkey both sides use, unless a case says otherwise (as in core_peer.py).
const KEY: &[u8] = b"core interop key";
/// What Rust uses in the wrong-key cases.
const WRONG_KEY: &[u8] = b"core interop key, but not that one";
/// Message sizes sent both ways: empty, tiny, CPython's one-write limit and one past
/// it (header and payload in separate writes), and a large one.
const SIZES: [usize; 5] = [0, 1, 16384, 16385, 1024 * 1024];
/// Longest a blocking read or write may wait before the case fails.
const IO_TIMEOUT: Duration = Duration::from_secs(20);
/// Longest the CPython process may take to connect or to listen.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest the CPython process may run after the last case.
const PEER_LIMIT: Duration = Duration::from_secs(30);

/// `size` bytes, byte i = (i * 31 + seed) % 251: the same as core_peer.py's `pattern`.
fn pattern(size: usize, seed: u8) -> Vec<u8> {
    (0..size)
        .map(|i| ((i % 251 * 31 + usize::from(seed)) % 251) as u8)
        .collect()
}

/// One connection's worth of behaviour; core_peer.py knows each by `name()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Case {
    /// SIZES messages both ways, queued by Rust before the handshake.
    Messages,
    /// Rust has another key: both sides fail the way CPython does.
    WrongKey,
    /// No authkey on either side: no handshake.
    NoKey,
    /// `b""` on both sides: a key like any other, the handshake runs.
    EmptyKey,
    /// CPython's `Listener(authkey=b"")`, which skips the handshake before 3.13.
    EmptyKeyListener,
    /// Rust delivers CPython-3.11-style challenges (`HandshakeConfig::legacy(true)`).
    RustLegacy,
    /// Rust asks for this digest; CPython uses a plain `Listener` / `Client`.
    RustDigest(Digest),
    /// Both sides ask for this digest (CPython >= 3.12, through its own
    /// `deliver_challenge(conn, key, digest_name=...)`).
    BothDigest(Digest),
}

impl Case {
    fn name(self) -> String {
        match self {
            Case::Messages => "messages".into(),
            Case::WrongKey => "wrong_key".into(),
            Case::NoKey => "no_key".into(),
            Case::EmptyKey => "empty_key".into(),
            Case::EmptyKeyListener => "empty_key_listener".into(),
            Case::RustLegacy => "rust_legacy".into(),
            Case::RustDigest(digest) => format!("rust_digest_{digest}"),
            Case::BothDigest(digest) => format!("digest_{digest}"),
        }
    }

    /// The authkey and handshake options of the Rust side against `python`.
    fn rust_side(self, python: &Python) -> (Option<&'static [u8]>, HandshakeConfig) {
        let config = HandshakeConfig::default();
        match self {
            Case::Messages => (Some(KEY), config),
            Case::WrongKey => (Some(WRONG_KEY), config),
            Case::NoKey => (None, config),
            Case::EmptyKey => (Some(b""), config),
            // CPython <= 3.12's Listener tests `if self._authkey:`, so b"" means no
            // handshake there: a client that insisted on one would wait forever.
            Case::EmptyKeyListener if python.version >= (3, 13) => (Some(b""), config),
            Case::EmptyKeyListener => (None, config),
            Case::RustLegacy => (Some(KEY), config.legacy(true)),
            Case::RustDigest(digest) | Case::BothDigest(digest) => {
                (Some(KEY), config.digest(digest))
            }
        }
    }
}

/// The cases for one direction against `python`, in the order both sides run them.
fn cases(python: &Python, rust_role: Role) -> Vec<Case> {
    let mut cases = vec![Case::Messages, Case::WrongKey, Case::NoKey, Case::EmptyKey];
    if rust_role == Role::Client {
        cases.push(Case::EmptyKeyListener);
    }
    cases.push(Case::RustLegacy);
    cases.extend(Digest::ALL.map(Case::RustDigest));
    if python.is_modern() {
        cases.extend(Digest::ALL.map(Case::BothDigest));
    }
    cases
}

/// Why a case failed on the Rust side.
#[derive(Debug)]
enum Failure {
    Io(io::Error),
    Protocol(Error),
    Unexpected(String),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Io(error) => write!(f, "I/O error: {error}"),
            Failure::Protocol(error) => write!(f, "protocol error: {error} ({error:?})"),
            Failure::Unexpected(what) => f.write_str(what),
        }
    }
}

impl From<io::Error> for Failure {
    fn from(error: io::Error) -> Self {
        match error.kind() {
            // What a socket timeout looks like on Unix.
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => Failure::Unexpected(format!(
                "CPython neither sent nor took bytes for {IO_TIMEOUT:?} ({error})"
            )),
            _ => Failure::Io(error),
        }
    }
}

/// A core connection driven over a blocking socket: the whole I/O loop of this file,
/// as thin as an adapter's: write what the core hands out, read where it says.
struct Driven<S> {
    socket: S,
    conn: Connection,
}

impl<S: Read + Write> Driven<S> {
    fn new(socket: S, conn: Connection) -> Self {
        Driven { socket, conn }
    }

    /// Writes everything the core wants written.
    fn flush(&mut self) -> Result<(), Failure> {
        while self.conn.wants_write() {
            let n = self.socket.write(self.conn.pending_output())?;
            if n == 0 {
                return Err(Failure::Unexpected("the socket took no bytes".into()));
            }
            self.conn.consume_output(n);
        }
        Ok(())
    }

    /// Sends one message, a large one straight from `payload` in vectored writes.
    fn send(&mut self, payload: &[u8]) -> Result<(), Failure> {
        let mut send = self.conn.send_direct(payload).map_err(Failure::Protocol)?;
        while !send.is_done() {
            let slices = send.slices().map(io::IoSlice::new);
            let n = self.socket.write_vectored(&slices)?;
            if n == 0 {
                return Err(Failure::Unexpected("the socket took no bytes".into()));
            }
            send.advance(n);
        }
        Ok(())
    }

    /// Reads once, into the core's buffer or onto the payload arriving.
    fn read_some(&mut self) -> Result<(), Failure> {
        let n = match self.conn.recv_buf() {
            RecvBuf::Buffer(room) => self.socket.read(room)?,
            RecvBuf::Payload { buf, limit } => {
                (&mut self.socket).take(limit as u64).read_to_end(buf)?
            }
        };
        if n == 0 {
            self.conn.received_eof();
        } else {
            self.conn
                .received(n)
                .map_err(|misuse| Failure::Unexpected(misuse.to_string()))?;
        }
        Ok(())
    }

    /// Runs the handshake: write while the core wants to (a failure's `#FAILURE#`
    /// included, as CPython does before it raises), then its state says what next.
    fn handshake(&mut self) -> Result<(), Failure> {
        loop {
            self.flush()?;
            match self.conn.state() {
                State::Established => return Ok(()),
                State::Failed(error) => return Err(Failure::Protocol(error.clone())),
                State::Handshaking => self.read_some()?,
            }
        }
    }

    fn recv(&mut self) -> Result<Vec<u8>, Failure> {
        loop {
            if let Some(message) = self.conn.next_message().map_err(Failure::Protocol)? {
                return Ok(message.into_vec());
            }
            self.flush()?;
            self.read_some()?;
        }
    }

    /// The peer must close cleanly, between messages (CPython's EOFError).
    fn expect_closed(&mut self) -> Result<(), Failure> {
        self.flush()?;
        match self.recv() {
            Ok(message) => Err(Failure::Unexpected(format!(
                "expected the peer to close, got a message of {} bytes",
                message.len()
            ))),
            Err(Failure::Protocol(Error::Closed)) => Ok(()),
            Err(other) => Err(other),
        }
    }
}

fn check_message(what: &str, got: &[u8], expected: &[u8]) -> Result<(), Failure> {
    if got == expected {
        return Ok(());
    }
    let first = got.iter().zip(expected).position(|(a, b)| a != b);
    Err(Failure::Unexpected(format!(
        "{what}: got {} bytes, expected {}; first difference at {first:?}",
        got.len(),
        expected.len()
    )))
}

/// Runs one case over a fresh socket, with the Rust side in `role`.
fn run_case<S: Read + Write>(
    case: Case,
    role: Role,
    socket: S,
    python: &Python,
    rng: &mut SplitMix,
) -> Result<(), Failure> {
    let (authkey, config) = case.rust_side(python);
    let conn = match role {
        Role::Server => Connection::server(authkey, &config, rng),
        Role::Client => Connection::client(authkey, &config, rng),
    };
    let mut peer = Driven::new(socket, conn);
    match case {
        Case::WrongKey => {
            let expected = match role {
                // We delivered the challenge: CPython's answer does not match.
                Role::Server => AuthFailure::WrongDigest,
                // CPython delivered it and answered our MAC with #FAILURE#.
                Role::Client => AuthFailure::DigestRejected,
            };
            match peer.handshake() {
                Err(Failure::Protocol(Error::Authentication(why))) if why == expected => Ok(()),
                Err(other) => Err(other),
                Ok(()) => Err(Failure::Unexpected(
                    "the handshake succeeded with a wrong key".into(),
                )),
            }
        }
        Case::Messages => {
            // The first three queued before the handshake: held, then sent once it
            // succeeds; the two large ones after it, straight from the caller's slice.
            let (early, late) = SIZES.split_at(3);
            for &size in early {
                peer.send(&pattern(size, 1))?;
            }
            peer.handshake()?;
            peer.flush()?;
            for &size in late {
                peer.send(&pattern(size, 1))?;
            }
            for size in SIZES {
                let message = peer.recv()?;
                check_message(
                    &format!("message of {size} bytes from CPython"),
                    &message,
                    &pattern(size, 2),
                )?;
            }
            // Dropping the socket closes it: CPython expects EOFError now.
            Ok(())
        }
        _ => {
            let name = case.name();
            peer.send(format!("ping {name}").as_bytes())?;
            peer.handshake()?;
            let pong = peer.recv()?;
            check_message("pong", &pong, format!("pong {name}").as_bytes())?;
            peer.expect_closed()
        }
    }
}

/// Fails early, with its status, if the CPython process has already exited.
fn still_running(peer: &mut Reaped) -> Result<(), String> {
    match peer.child().try_wait() {
        Ok(Some(status)) => Err(format!(
            "CPython exited ({status}) while Rust waited for it"
        )),
        Ok(None) => Ok(()),
        Err(error) => Err(format!("try_wait: {error}")),
    }
}

fn accept(listener: &TcpListener, peer: &mut Reaped) -> Result<TcpStream, String> {
    let deadline = Instant::now() + CONNECT_TIMEOUT;
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                let prepare = |stream: &TcpStream| -> io::Result<()> {
                    stream.set_nonblocking(false)?;
                    stream.set_read_timeout(Some(IO_TIMEOUT))?;
                    stream.set_write_timeout(Some(IO_TIMEOUT))
                };
                prepare(&stream).map_err(|e| format!("accepted socket: {e}"))?;
                return Ok(stream);
            }
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
            Err(error) => return Err(format!("accept: {error}")),
        }
        still_running(peer)?;
        if Instant::now() >= deadline {
            return Err("CPython did not connect in time".into());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn connect(path: &Path, peer: &mut Reaped) -> Result<UnixStream, String> {
    let deadline = Instant::now() + CONNECT_TIMEOUT;
    loop {
        match UnixStream::connect(path) {
            Ok(stream) => {
                let prepare = |stream: &UnixStream| -> io::Result<()> {
                    stream.set_read_timeout(Some(IO_TIMEOUT))?;
                    stream.set_write_timeout(Some(IO_TIMEOUT))
                };
                prepare(&stream).map_err(|e| format!("connected socket: {e}"))?;
                return Ok(stream);
            }
            // Not bound yet, or bound and not yet listening.
            Err(error)
                if matches!(
                    error.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused
                ) => {}
            Err(error) => return Err(format!("connect {}: {error}", path.display())),
        }
        still_running(peer)?;
        if Instant::now() >= deadline {
            return Err(format!(
                "CPython did not listen on {} in time",
                path.display()
            ));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A private directory for one test's Unix sockets, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(label: &str) -> TempDir {
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let path = std::env::temp_dir().join(format!(
            "mpconn-core-{label}-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir(&path).expect("create a temporary directory");
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Waits for the CPython process and fails the test, with everything both sides said,
/// unless both the Rust side and CPython passed every case.
fn conclude(
    python: &Python,
    what: &str,
    cases: &[Case],
    seed: u64,
    outcome: Result<(), String>,
    peer: Reaped,
) {
    // After a Rust-side failure CPython is probably stuck waiting: don't wait long.
    let limit = if outcome.is_ok() {
        PEER_LIMIT
    } else {
        Duration::from_secs(2)
    };
    let (stdout, stderr, exited_ok) = peer.finish(limit);
    let expected: Vec<String> = cases
        .iter()
        .map(|case| format!("ok {}", case.name()))
        .collect();
    let reported: Vec<&str> = stdout.lines().collect();
    if outcome.is_err() || !exited_ok || reported != expected {
        panic!(
            "{what}, {}: Rust side: {outcome:?} (rng seed {seed:#x})\n\
             CPython exited ok: {exited_ok}\nCPython stdout:\n{stdout}\nCPython stderr:\n{stderr}",
            python.label()
        );
    }
}

/// Rust serves (Connection::server over TCP) a CPython `Client` for every case.
fn rust_server_against_cpython_client(major: u32, minor: u32) {
    let Some(python) = mpconn_test_support::python(major, minor) else {
        return;
    };
    let cases = cases(&python, Role::Server);
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    listener.set_nonblocking(true).expect("non-blocking accept");
    let port = listener.local_addr().expect("local address").port();
    let mut command = python.script("core_peer.py");
    command.args(["client", "127.0.0.1", &port.to_string()]);
    every_case(
        &python,
        "Rust server, CPython client",
        Role::Server,
        &cases,
        command,
        |_, peer| accept(&listener, peer),
    );
}

/// Rust connects (Connection::client over a Unix socket) to a CPython `Listener`
/// for every case.
fn rust_client_against_cpython_listener(major: u32, minor: u32) {
    let Some(python) = mpconn_test_support::python(major, minor) else {
        return;
    };
    let cases = cases(&python, Role::Client);
    let dir = TempDir::new(&format!("{major}{minor}"));
    let mut command = python.script("core_peer.py");
    command.arg("server").arg(&dir.0);
    every_case(
        &python,
        "Rust client, CPython listener",
        Role::Client,
        &cases,
        command,
        |index, peer| connect(&dir.0.join(format!("{index}.sock")), peer),
    );
}

/// Starts CPython's side (`command`, told the cases), runs every case with the Rust
/// side in `role` over the socket `socket` opens for the case of that index, and
/// concludes.
fn every_case<S: Read + Write>(
    python: &Python,
    what: &str,
    role: Role,
    cases: &[Case],
    mut command: std::process::Command,
    mut socket: impl FnMut(usize, &mut Reaped) -> Result<S, String>,
) {
    command.args(cases.iter().map(|case| case.name()));
    let mut peer = Reaped(Some(command.spawn().expect("start CPython")));
    let mut rng = SplitMix::from_clock();
    let seed = rng.seed();
    let outcome = cases.iter().enumerate().try_for_each(|(index, &case)| {
        let socket = socket(index, &mut peer)?;
        run_case(case, role, socket, python, &mut rng)
            .map_err(|failure| format!("case {}: {failure}", case.name()))
    });
    conclude(python, what, cases, seed, outcome, peer);
}

macro_rules! interop_tests {
    ($(($major:literal, $minor:literal) => $serves:ident, $calls:ident;)*) => {$(
        #[test]
        fn $serves() {
            rust_server_against_cpython_client($major, $minor);
        }

        #[test]
        fn $calls() {
            rust_client_against_cpython_listener($major, $minor);
        }
    )*};
}

interop_tests! {
    (2, 7) => rust_server_serves_cpython_2_7_client, rust_client_calls_cpython_2_7_listener;
    (3, 6) => rust_server_serves_cpython_3_6_client, rust_client_calls_cpython_3_6_listener;
    (3, 7) => rust_server_serves_cpython_3_7_client, rust_client_calls_cpython_3_7_listener;
    (3, 8) => rust_server_serves_cpython_3_8_client, rust_client_calls_cpython_3_8_listener;
    (3, 9) => rust_server_serves_cpython_3_9_client, rust_client_calls_cpython_3_9_listener;
    (3, 10) => rust_server_serves_cpython_3_10_client, rust_client_calls_cpython_3_10_listener;
    (3, 11) => rust_server_serves_cpython_3_11_client, rust_client_calls_cpython_3_11_listener;
    (3, 12) => rust_server_serves_cpython_3_12_client, rust_client_calls_cpython_3_12_listener;
    (3, 13) => rust_server_serves_cpython_3_13_client, rust_client_calls_cpython_3_13_listener;
}
