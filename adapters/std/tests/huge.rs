//! One message larger than 2 GiB each way between a Rust listener and a CPython 3.8+
//! client: the `ff ff ff ff` + u64 header of docs/protocol.md section 1, which CPython
//! understands since 3.8.
//!
//! Ignored by default: it moves 4 GiB and needs several GiB of memory on each side.
//! `.ci/run` runs it in release mode:
//!
//!     cargo test --release -p mpconn --test std_huge -- --ignored --nocapture
//!
//! It runs against the oldest and the newest CPython with long frames (3.8 and 3.13 on
//! this project's machines); `MPCONN_HUGE_PYTHON=3.11` picks one version instead.

mod common;

use std::time::{Duration, Instant};

use common::Python;
use common::{accept, Peer, Program};
use mpconn_std::Listener;

/// 2 GiB + 1 byte: the smallest payload that needs the long header.
const HUGE: usize = (1 << 31) + 1;
const LIMIT: Duration = Duration::from_secs(600);

/// The CPython side: sends `n` bytes of pattern 0 (byte i = i % 251), then checks
/// that the reply is `n` bytes of pattern 1 (byte i = (i + 1) % 251), a chunk at a
/// time, without keeping a second copy.
const CLIENT: &str = r#"
import resource, sys, time
from multiprocessing.connection import Client
address, n = sys.argv[1], int(sys.argv[2])
block = bytes(bytearray(range(251)))
conn = Client(address)
big = block * (n // 251 + 1)
start = time.time()
conn.send_bytes(big, 0, n)
sent = time.time()
del big
reply = conn.recv_bytes()
received = time.time()
assert len(reply) == n, "reply of %d bytes" % len(reply)
chunk = 64 * 251 * 4096
reference = block * (chunk // 251 + 2)
for offset in range(0, n, chunk):
    part = reply[offset:offset + chunk]
    shift = (offset + 1) % 251
    assert part == reference[shift:shift + len(part)], "reply differs near %d" % offset
print("send %.1f s, receive %.1f s, peak RSS %d MiB" % (
    sent - start, received - sent,
    resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024))
print("OK")
"#;

/// Byte i of pattern `seed` is `(i + seed) % 251`.
fn pattern(n: usize, seed: usize) -> Vec<u8> {
    let block: Vec<u8> = (0..251).map(|i| ((i + seed) % 251) as u8).collect();
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let take = (n - out.len()).min(block.len());
        out.extend_from_slice(&block[..take]);
    }
    out
}

fn matches_pattern(bytes: &[u8], seed: usize) -> bool {
    let block: Vec<u8> = (0..251).map(|i| ((i + seed) % 251) as u8).collect();
    bytes
        .chunks(251)
        .all(|chunk| chunk == &block[..chunk.len()])
}

/// This process's peak resident memory, from /proc (Linux).
fn peak_rss_mib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024)
}

fn huge_round_trip(python: &Python) -> Result<(), String> {
    let mut listener = Listener::bind(None, None).map_err(|e| e.to_string())?;
    let address = listener.address().to_string();
    let peer = Peer::spawn(
        python,
        Program::Code(CLIENT),
        &[&address, &HUGE.to_string()],
    );
    let ours = (|| -> Result<(), String> {
        let mut conn = accept(&mut listener).map_err(|e| format!("accept: {e}"))?;
        conn.set_timeout(Some(LIMIT)).map_err(|e| e.to_string())?;
        let start = Instant::now();
        let got = conn
            .recv_bytes(None)
            .map_err(|e| format!("receiving: {e}"))?;
        let received = start.elapsed();
        if got.len() != HUGE || !matches_pattern(&got, 0) {
            return Err(format!(
                "received {} bytes, not the expected pattern",
                got.len()
            ));
        }
        drop(got);
        let reply = pattern(HUGE, 1);
        let start = Instant::now();
        conn.send_bytes(&reply)
            .map_err(|e| format!("sending: {e}"))?;
        eprintln!(
            "{}: Rust received 2 GiB + 1 in {:.1} s, sent it in {:.1} s; Rust peak RSS {} MiB",
            python.label(),
            received.as_secs_f64(),
            start.elapsed().as_secs_f64(),
            peak_rss_mib().map_or("?".into(), |m| m.to_string()),
        );
        Ok(())
    })();
    let theirs = peer.finish();
    match (ours, theirs) {
        (Ok(()), Ok(lines)) if lines.last().map(String::as_str) == Some("OK") => {
            eprintln!("{}: {}", python.label(), lines[0]);
            Ok(())
        }
        (Ok(()), Ok(lines)) => Err(format!("CPython did not finish: {lines:?}")),
        (Ok(()), Err(theirs)) => Err(theirs),
        (Err(ours), theirs) => Err(format!("{ours}\n{theirs:?}")),
    }
}

#[test]
#[ignore = "moves 4 GiB with several GiB of memory per side; .ci/run runs it in release"]
fn messages_over_2_gib_cross_both_ways_with_cpython_3_8_and_later() {
    let long: Vec<Python> = common::pythons()
        .into_iter()
        .filter(Python::has_long_frames)
        .collect();
    let chosen: Vec<&Python> = match std::env::var("MPCONN_HUGE_PYTHON") {
        Ok(version) => long
            .iter()
            .filter(|p| format!("{}.{}", p.version.0, p.version.1) == version)
            .collect(),
        Err(_) => {
            let mut ends: Vec<&Python> = long.first().into_iter().chain(long.last()).collect();
            ends.dedup_by_key(|p| p.version);
            ends
        }
    };
    assert!(!chosen.is_empty(), "no CPython 3.8+ to run against");
    for python in chosen {
        if let Err(why) = huge_round_trip(python) {
            panic!("{}: {why}", python.label());
        }
    }
}
