//! Clients that try to stall a listener, an honest CPython client timed against them,
//! bursts of simultaneous connects, and the kernel's count of connects a listen queue
//! dropped: what every adapter's `stall` tests share.
//!
//! Everything here talks to loopback addresses only, and every loop is bounded: each
//! attacker stops when its [`Attack`] is dropped, and at the latest after
//! [`ATTACK_LIMIT`].
//!
//! Addresses are given as mpconn prints them: `host:port`, or a Unix socket path.

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::peer::{Peer, Program};
use crate::python::Python;

/// No attacker runs longer than this, even if its test forgets to stop it.
pub const ATTACK_LIMIT: Duration = Duration::from_secs(60);

/// How long a client of a [`burst`] waits for anything before it counts as left
/// waiting.
pub const BURST_CLIENT_LIMIT: Duration = Duration::from_secs(30);

/// How long a TCP connect of this module may take.
pub const CONNECT_LIMIT: Duration = Duration::from_secs(10);

/// A CPython listener without an authkey, for `Program::Code`: prints its port, accepts
/// one client and waits for its message, which a client with a key never sends (it
/// waits for a challenge: CPython's gh-123736).
pub const KEYLESS_CPYTHON_LISTENER: &str = r#"
from multiprocessing.connection import Listener
with Listener(("127.0.0.1", 0)) as listener:
    print(listener.address[1])
    conn = listener.accept()
    try:
        conn.recv_bytes()
    except EOFError:
        pass
"#;

/// A connected socket, TCP or Unix.
#[derive(Debug)]
pub enum Socket {
    /// A TCP connection.
    Tcp(TcpStream),
    /// A Unix stream socket.
    Unix(UnixStream),
}

impl Socket {
    /// Connects to `address`: `host:port`, else a Unix socket path. A TCP connect
    /// gives up after [`CONNECT_LIMIT`] (a full listen queue drops SYNs, and the
    /// kernel would retry for minutes).
    pub fn connect(address: &str) -> io::Result<Socket> {
        if is_tcp(address) {
            let addr = address
                .to_socket_addrs()?
                .next()
                .ok_or_else(|| io::Error::other(format!("{address} resolves to nothing")))?;
            let stream = TcpStream::connect_timeout(&addr, CONNECT_LIMIT)?;
            stream.set_nodelay(true)?;
            Ok(Socket::Tcp(stream))
        } else {
            Ok(Socket::Unix(UnixStream::connect(address)?))
        }
    }

    /// Limits each read and write.
    pub fn set_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        match self {
            Socket::Tcp(s) => s
                .set_read_timeout(timeout)
                .and_then(|()| s.set_write_timeout(timeout)),
            Socket::Unix(s) => s
                .set_read_timeout(timeout)
                .and_then(|()| s.set_write_timeout(timeout)),
        }
    }
}

impl Read for Socket {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Socket::Tcp(s) => s.read(buf),
            Socket::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Socket {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Socket::Tcp(s) => s.write(buf),
            Socket::Unix(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn is_tcp(address: &str) -> bool {
    !address.contains('/') && address.contains(':')
}

/// Attackers against one listener; dropping it stops and joins them all.
#[derive(Debug)]
pub struct Attack {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    /// Connections the attackers opened, in all.
    opened: Arc<AtomicUsize>,
}

impl Attack {
    /// `silent` clients that connect and never send a byte, `slowloris` clients that
    /// send the start of an answer to the challenge one byte every `drip`, and
    /// `reopening` clients that connect, say nothing and connect again as soon as the
    /// listener drops them. Returns once the silent and slowloris clients are all
    /// connected.
    pub fn start(
        address: &str,
        silent: usize,
        slowloris: usize,
        reopening: usize,
        drip: Duration,
    ) -> io::Result<Attack> {
        let mut attack = Attack {
            stop: Arc::new(AtomicBool::new(false)),
            threads: Vec::new(),
            opened: Arc::new(AtomicUsize::new(0)),
        };
        let held = (0..silent)
            .map(|_| Socket::connect(address))
            .collect::<io::Result<Vec<_>>>()?;
        let dripping = (0..slowloris)
            .map(|_| Socket::connect(address))
            .collect::<io::Result<Vec<_>>>()?;
        attack
            .opened
            .fetch_add(silent + slowloris, Ordering::Relaxed);
        let stop = attack.stop.clone();
        attack.threads.push(std::thread::spawn(move || {
            hold_and_drip(held, dripping, drip, &stop)
        }));
        for _ in 0..reopening {
            let (stop, opened, address) = (
                attack.stop.clone(),
                attack.opened.clone(),
                address.to_string(),
            );
            attack
                .threads
                .push(std::thread::spawn(move || reopen(&address, &stop, &opened)));
        }
        Ok(attack)
    }

    /// 50 silent and 50 slowloris clients (a byte every 50 ms) and 5 re-openers,
    /// returned once the re-openers have come back: the listener (whose handshake
    /// timeout must be short) dropped the first ones and at least 110 connections were
    /// opened in all. Panics if that takes over 20 s.
    pub fn reopened(address: &str) -> Attack {
        let attack = Attack::start(address, 50, 50, 5, Duration::from_millis(50)).unwrap();
        let waited = Instant::now();
        while attack.opened() < 110 && waited.elapsed() < Duration::from_secs(20) {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(attack.opened() >= 110, "the attackers did not re-open");
        attack
    }

    /// How many connections the attackers opened so far.
    pub fn opened(&self) -> usize {
        self.opened.load(Ordering::Relaxed)
    }
}

/// [`KEYLESS_CPYTHON_LISTENER`] under `python`, and the TCP port it listens on
/// (127.0.0.1).
pub fn keyless_cpython_listener(python: &Python) -> (Peer, u16) {
    let mut listener = Peer::spawn(python, Program::Code(KEYLESS_CPYTHON_LISTENER), &[]);
    let port = listener.line().unwrap().parse().unwrap();
    (listener, port)
}

impl Drop for Attack {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// Sleeps up to `total` in short steps, returning early once `stop` is set; false
/// when the attack is over.
fn pause(total: Duration, stop: &AtomicBool, started: Instant) -> bool {
    let until = Instant::now() + total;
    while Instant::now() < until {
        if stop.load(Ordering::Relaxed) || started.elapsed() > ATTACK_LIMIT {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10).min(total));
    }
    !stop.load(Ordering::Relaxed) && started.elapsed() <= ATTACK_LIMIT
}

/// Keeps the silent connections open and drips the slowloris ones: the length
/// header of a 40-byte answer, then one byte of it per `drip`, never the whole.
fn hold_and_drip(held: Vec<Socket>, mut dripping: Vec<Socket>, drip: Duration, stop: &AtomicBool) {
    let started = Instant::now();
    let header = 40u32.to_be_bytes();
    let mut sent = 0;
    while pause(drip, stop, started) {
        // 4 header bytes and at most 39 of the 40 of the payload.
        if sent < header.len() + 39 {
            let byte = header.get(sent).copied().unwrap_or(b'x');
            // A client the listener dropped is dropped here too.
            dripping.retain_mut(|socket| socket.write_all(&[byte]).is_ok());
            sent += 1;
        }
    }
    drop(held);
}

/// Connects, waits for the listener to drop the connection (reading whatever it
/// sends), and connects again at once, until stopped.
fn reopen(address: &str, stop: &AtomicBool, opened: &AtomicUsize) {
    let started = Instant::now();
    let mut buf = [0; 256];
    while !stop.load(Ordering::Relaxed) && started.elapsed() <= ATTACK_LIMIT {
        let Ok(mut socket) = Socket::connect(address) else {
            // Refused (the listener is gone or its queue is full): try again soon.
            if !pause(Duration::from_millis(10), stop, started) {
                return;
            }
            continue;
        };
        opened.fetch_add(1, Ordering::Relaxed);
        // Short reads, so that a stop is seen soon.
        let _ = socket.set_timeout(Some(Duration::from_millis(50)));
        loop {
            match socket.read(&mut buf) {
                Ok(0) => break,
                Ok(_) => continue,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    if stop.load(Ordering::Relaxed) || started.elapsed() > ATTACK_LIMIT {
                        return;
                    }
                }
                Err(_) => break,
            }
        }
    }
}

/// CPython's `Client(address, authkey)`, one message echoed, timed from just before
/// `Client()` to the echo: prints `served in SECONDS`.
const HONEST_CLIENT: &str = r#"
import sys, time
from multiprocessing.connection import Client
address = sys.argv[1]
if ":" in address and "/" not in address:
    host, port = address.rsplit(":", 1)
    address = (host, int(port))
key = sys.argv[2].encode() if len(sys.argv) > 2 else None
started = time.monotonic()
c = Client(address, authkey=key)
c.send_bytes(b"honest")
assert c.recv_bytes() == b"honest"
print("served in %.6f" % (time.monotonic() - started))
c.close()
"#;

/// Runs an honest CPython client against `address` (with `key`, if any) and returns
/// how long it took from connecting to receiving its echo. The listener must echo
/// each message back.
pub fn honest_cpython_client(
    python: &Python,
    address: &str,
    key: Option<&str>,
) -> Result<Duration, String> {
    let mut args = vec![address];
    args.extend(key);
    let client = Peer::spawn(python, Program::Code(HONEST_CLIENT), &args);
    let lines = client.finish()?;
    let seconds = lines
        .iter()
        .find_map(|line| line.strip_prefix("served in "))
        .and_then(|s| s.parse::<f64>().ok())
        .ok_or_else(|| format!("the honest client printed {lines:?}"))?;
    Ok(Duration::from_secs_f64(seconds))
}

/// What a keyed client with a 1 s handshake timeout reports of a keyless CPython
/// listener (which never sends a challenge).
pub const NO_CHALLENGE_IN_1_S: &str =
    "no challenge from the listener within 1 s: does it have an authkey?";

/// The two attacks every listener's stall tests put an honest client through.
#[derive(Clone, Copy, Debug)]
pub enum Attackers {
    /// 50 silent and 50 slowloris clients (a byte every 200 ms), under the default
    /// 20 s handshake timeout.
    SilentAndSlowloris,
    /// [`Attack::reopened`], under a 200 ms handshake timeout so that the attackers are
    /// dropped, and re-open, many times during the test.
    Reopening,
}

impl Attackers {
    /// The handshake timeout the listener under attack has.
    pub fn handshake_timeout(self) -> Duration {
        match self {
            Attackers::SilentAndSlowloris => Duration::from_secs(20),
            Attackers::Reopening => Duration::from_millis(200),
        }
    }

    /// Starts them against the listener at `address`, asserts that an honest CPython
    /// client (with `key`) is served there in under a second among them (`who` names
    /// the listener), and returns the attack, still running until it is dropped.
    pub fn assert_honest_client_served(
        self,
        python: &Python,
        address: &str,
        key: &str,
        who: &str,
    ) -> Attack {
        let (attack, who) = match self {
            Attackers::SilentAndSlowloris => (
                Attack::start(address, 50, 50, 0, Duration::from_millis(200)).unwrap(),
                who.to_string(),
            ),
            Attackers::Reopening => (
                Attack::reopened(address),
                format!("{who}, re-opening attackers"),
            ),
        };
        let took = honest_cpython_client(python, address, Some(key)).unwrap();
        assert_served_in_under_a_second(&who, took);
        attack
    }

    /// Asserts that the listener dropped enough of them: `dropped` clients failed their
    /// handshakes (at least the 100 slow ones of the re-opening attack; any number of
    /// the others, which the test does not wait for).
    pub fn assert_dropped(self, dropped: usize) {
        let least = match self {
            Attackers::SilentAndSlowloris => 0,
            Attackers::Reopening => 100,
        };
        assert!(dropped >= least, "only {dropped} attackers were dropped");
    }
}

/// Asserts the issue's bound: an honest client is served in under a second whatever
/// the attackers do.
pub fn assert_served_in_under_a_second(who: &str, took: Duration) {
    eprintln!("{who}: honest CPython client served in {took:?}");
    assert!(
        took < Duration::from_secs(1),
        "{who}: the honest CPython client took {took:?} to be served (the bound is 1 s): \
         the attackers stalled the listener"
    );
}

/// What a [`burst`] saw.
#[derive(Debug)]
pub struct Burst {
    /// Clients whose message came back.
    pub served: usize,
    /// The failures of the others, one line each.
    pub failures: Vec<String>,
    /// From the release of the clients to the last one's end.
    pub took: Duration,
}

/// `n` clients, each on its own thread, connect at the same instant to a listener
/// without an authkey that echoes every message, send one message and wait for it to
/// come back, each within [`BURST_CLIENT_LIMIT`]. A client whose connect was lost in
/// a full listen queue waits for an answer that never comes, and fails.
pub fn burst(address: &str, n: usize) -> Burst {
    let gate = Arc::new(Barrier::new(n + 1));
    let clients: Vec<_> = (0..n)
        .map(|i| {
            let (gate, address) = (gate.clone(), address.to_string());
            std::thread::Builder::new()
                .stack_size(64 * 1024)
                .spawn(move || {
                    gate.wait();
                    echo_once(&address, i)
                })
                .expect("spawning a burst client")
        })
        .collect();
    gate.wait();
    let started = Instant::now();
    let mut served = 0;
    let mut failures = Vec::new();
    for (i, client) in clients.into_iter().enumerate() {
        match client.join() {
            Ok(Ok(())) => served += 1,
            Ok(Err(e)) => failures.push(format!("client {i}: {e}")),
            Err(_) => failures.push(format!("client {i}: panicked")),
        }
    }
    Burst {
        served,
        failures,
        took: started.elapsed(),
    }
}

fn echo_once(address: &str, i: usize) -> io::Result<()> {
    let mut socket = Socket::connect(address)?;
    socket.set_timeout(Some(BURST_CLIENT_LIMIT))?;
    let message = format!("burst client {i}");
    let mut frame = (message.len() as u32).to_be_bytes().to_vec();
    frame.extend_from_slice(message.as_bytes());
    socket.write_all(&frame)?;
    let mut back = vec![0; frame.len()];
    socket.read_exact(&mut back)?;
    if back != frame {
        return Err(io::Error::other(format!("echo was {back:?}")));
    }
    Ok(())
}

/// `TcpExt: ListenOverflows` from `/proc/net/netstat`: how many connects, machine
/// wide, found a listen queue full (Linux then drops the SYN or the final ACK).
pub fn listen_overflows() -> io::Result<u64> {
    let text = std::fs::read_to_string("/proc/net/netstat")?;
    let mut lines = text.lines().filter(|line| line.starts_with("TcpExt:"));
    let (Some(names), Some(values)) = (lines.next(), lines.next()) else {
        return Err(io::Error::other("no TcpExt lines in /proc/net/netstat"));
    };
    names
        .split_whitespace()
        .zip(values.split_whitespace())
        .find(|(name, _)| *name == "ListenOverflows")
        .and_then(|(_, value)| value.parse().ok())
        .ok_or_else(|| io::Error::other("no ListenOverflows in /proc/net/netstat"))
}

/// What [`assert_burst_served`] asserts of `ListenOverflows`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overflows {
    /// That it did not grow: the listen queue held the whole burst.
    MustNotGrow,
    /// Nothing; it is printed. For a burst larger than the largest queue Linux
    /// allows (`net.core.somaxconn`), where a connect that finds the queue full is
    /// served after its SYN is retransmitted: lost is what must not happen.
    Printed,
}

/// Runs `burst` of `n` clients against `address` and asserts that every client was
/// served and, as `overflows` says, that no connect overflowed a listen queue
/// meanwhile (printing the counter before and after).
pub fn assert_burst_served(who: &str, address: &str, n: usize, overflows: Overflows) {
    // One burst at a time in a test binary: the counter is the machine's, and another
    // burst's overflows would be counted against this one.
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let _alone = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let before = listen_overflows().expect("reading /proc/net/netstat");
    let outcome = burst(address, n);
    let after = listen_overflows().expect("reading /proc/net/netstat");
    eprintln!(
        "{who}: {} of {n} simultaneous clients served in {:?}; ListenOverflows {before} -> {after}",
        outcome.served, outcome.took
    );
    assert!(
        outcome.failures.is_empty(),
        "{who}: {} of {n} clients were not served; the first: {:?}",
        outcome.failures.len(),
        &outcome.failures[..outcome.failures.len().min(5)]
    );
    if overflows == Overflows::MustNotGrow {
        assert_eq!(
            after, before,
            "{who}: connects overflowed a listen queue during the burst"
        );
    }
}

/// `n` clients that each fail the handshake of a keyed listener at `address`, four
/// at a time, in turn: one answers the challenge with a wrong digest, one closes
/// after reading the challenge, one declares a 1 GiB answer and sends a few bytes of
/// it. Returns how many were answered `#FAILURE#` or closed by the listener, which
/// is all of them unless the listener misbehaves.
pub fn failed_handshakes(address: &str, n: usize) -> usize {
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let address = address.to_string();
            std::thread::spawn(move || {
                (t..n)
                    .step_by(4)
                    .filter(|&i| fail_one_handshake(&address, i).is_ok())
                    .count()
            })
        })
        .collect();
    threads.into_iter().map(|t| t.join().unwrap_or(0)).sum()
}

fn fail_one_handshake(address: &str, i: usize) -> io::Result<()> {
    let mut socket = Socket::connect(address)?;
    socket.set_timeout(Some(BURST_CLIENT_LIMIT))?;
    let mut header = [0; 4];
    socket.read_exact(&mut header)?;
    let mut challenge = vec![0; u32::from_be_bytes(header) as usize];
    socket.read_exact(&mut challenge)?;
    match i % 3 {
        0 => {
            let mut answer = 32u32.to_be_bytes().to_vec();
            answer.extend_from_slice(&[0x5a; 32]);
            socket.write_all(&answer)?;
        }
        1 => return Ok(()), // closes
        _ => {
            socket.write_all(&(1u32 << 30).to_be_bytes())?;
            socket.write_all(b"partial")?;
        }
    }
    // The listener's verdict (#FAILURE#) or its closing: either ends it.
    let mut rest = Vec::new();
    match socket.read_to_end(&mut rest) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::ConnectionReset => Ok(()),
        Err(e) => Err(e),
    }
}

/// The open file descriptors of process `pid` (`"self"` for this one).
pub fn open_fds(pid: &str) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|dir| dir.count())
        .unwrap_or(0)
}

/// The resident set size of process `pid` (`"self"` for this one), in KiB.
pub fn rss_kib(pid: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmRSS:"))
                .and_then(|kib| kib.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// The listener's descriptors once they settle: a connection just refused may be
/// closed a moment after its client saw the end (a task, a thread), so this waits up
/// to 5 s for the count to stop falling.
fn settled_fds(pid: &str) -> usize {
    let mut last = open_fds(pid);
    for _ in 0..50 {
        std::thread::sleep(Duration::from_millis(100));
        let now = open_fds(pid);
        if now == last {
            return now;
        }
        last = now;
    }
    last
}

/// 12,000 failed handshakes against `address`, served by process `pid` (`"self"` when
/// in this one, which must then run nothing else): 2,000 to warm up (allocator arenas,
/// buffers), then 5,000 twice. Prints the listener's descriptors and RSS after each
/// round and asserts that the last round left the descriptors where the one before
/// did, and the RSS within 4 MiB of it.
pub fn assert_failed_handshakes_leave_fds_and_rss_flat(who: &str, address: &str, pid: &str) {
    let mut seen = vec![(open_fds(pid), rss_kib(pid))];
    for n in [2000, 5000, 5000] {
        assert_eq!(
            failed_handshakes(address, n),
            n,
            "{who}: a failing client was not refused"
        );
        seen.push((settled_fds(pid), rss_kib(pid)));
    }
    eprintln!(
        "{who}: (fds, RSS KiB) before, after 2,000, 7,000 and 12,000 failed handshakes: {seen:?}"
    );
    let [.., (fds1, rss1), (fds2, rss2)] = seen[..] else {
        unreachable!()
    };
    assert_eq!(fds2, fds1, "{who}: failed handshakes leaked descriptors");
    assert!(
        rss2 <= rss1 + 4096,
        "{who}: RSS grew from {rss1} to {rss2} KiB over 5,000 failed handshakes"
    );
}

/// The two stall tests of an honest client among [`Attackers`], each a call of
/// `$run(attackers)`: `#[test]`s, or with `async` and a test attribute, async ones.
#[macro_export]
macro_rules! honest_client_tests {
    ($run:ident) => {
        $crate::honest_client_tests!(@tests [#[test]] [] $run []);
    };
    (async #[$attr:meta] $run:ident) => {
        $crate::honest_client_tests!(@tests [#[$attr]] [async] $run [.await]);
    };
    (@tests [$($attr:tt)*] [$($async:tt)*] $run:ident [$($await:tt)*]) => {
        $($attr)*
        $($async)* fn honest_cpython_client_is_served_at_once_among_50_silent_and_50_slowloris_clients() {
            $run($crate::attack::Attackers::SilentAndSlowloris)$($await)*;
        }

        $($attr)*
        $($async)* fn honest_cpython_client_is_served_at_once_while_5_attackers_reopen_their_connections() {
            $run($crate::attack::Attackers::Reopening)$($await)*;
        }
    };
}
