//! Shared by the tokio and mio interop tests: running `tests/python/async_peer.py` under
//! a given CPython and reading what it reports.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::sync::mpsc;
use std::time::Duration;

use crate::support::{self, Python, Reaped};

/// The CPython side of the tests.
pub const PEER: &str = include_str!("../python/async_peer.py");

/// The interpreters issue 5 asks for: the last legacy-only one (2.7), the last one
/// with MD5-only challenges (3.11) and a modern one (3.13).
pub const VERSIONS: [(u32, u32); 3] = [(2, 7), (3, 11), (3, 13)];

/// The sizes every good session exchanges: empty, tiny, CPython's header/payload
/// concatenation limit and one past it, and 1 MiB.
pub const SIZES: [usize; 5] = [0, 1, 16384, 16385, 1 << 20];

/// How long any one peer process may run.
pub const PEER_LIMIT: Duration = Duration::from_secs(60);

/// The key both sides share, and one that differs from it.
pub const KEY: &[u8] = b"async interop key";
pub const WRONG_KEY: &[u8] = b"not the key";

/// The interpreters of [`VERSIONS`] found on this machine (all of them under CI).
pub fn pythons() -> Vec<Python> {
    VERSIONS
        .iter()
        .filter_map(|&(major, minor)| support::python(major, minor))
        .collect()
}

/// The same size-dependent pattern as `payload` in async_peer.py.
pub fn payload(n: usize) -> Vec<u8> {
    (0..n).map(|i| ((i + n % 251) % 251) as u8).collect()
}

pub fn hex(key: &[u8]) -> String {
    key.iter().map(|b| format!("{b:02x}")).collect()
}

/// The greeting a peer in the "echo" role sends first.
pub fn greeting(python: &Python) -> Vec<u8> {
    format!("python {}.{}", python.version.0, python.version.1).into_bytes()
}

/// A running async_peer.py whose stdout lines arrive on a channel as they are printed.
pub struct Peer {
    pub label: String,
    process: Reaped,
    lines: mpsc::Receiver<String>,
}

impl Peer {
    pub fn spawn(python: &Python, args: &[&str]) -> Peer {
        let mut command = python.command(PEER);
        command.args(args);
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("{}: cannot start: {e}", python.label()));
        let stdout = child.stdout.take().expect("stdout is piped");
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        Peer {
            label: python.label(),
            process: Reaped(Some(child)),
            lines,
        }
    }

    /// Reads the `ADDRESS name spelling` lines up to `READY`.
    pub fn addresses(&mut self) -> HashMap<String, String> {
        let mut found = HashMap::new();
        loop {
            let line = self.next_line();
            if line == "READY" {
                return found;
            }
            let mut words = line.splitn(3, ' ');
            match (words.next(), words.next(), words.next()) {
                (Some("ADDRESS"), Some(name), Some(spelling)) => {
                    found.insert(name.to_string(), spelling.to_string());
                }
                _ => panic!("{}: unexpected line before READY: {line:?}", self.label),
            }
        }
    }

    fn next_line(&mut self) -> String {
        match self.lines.recv_timeout(PEER_LIMIT) {
            Ok(line) => line,
            Err(_) => {
                let (_, stderr, _) = std::mem::replace(&mut self.process, Reaped(None))
                    .finish(Duration::from_secs(1));
                panic!("{}: no more output; stderr:\n{stderr}", self.label)
            }
        }
    }

    /// Waits for the process to end and checks that it reported exactly `expected`
    /// (one `CASE i ...` line per case) and `DONE`, and exited cleanly.
    pub fn expect_cases(mut self, expected: &[&str]) {
        let (_, stderr, ok) = std::mem::replace(&mut self.process, Reaped(None)).finish(PEER_LIMIT);
        // The reader thread ends at the end of the pipe, once the process is gone.
        let mut reported = Vec::new();
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(5)) {
            reported.push(line);
        }
        let mut wanted: Vec<String> = expected
            .iter()
            .enumerate()
            .map(|(i, outcome)| format!("CASE {i} {outcome}"))
            .collect();
        wanted.push("DONE".to_string());
        assert_eq!(reported, wanted, "{}: stderr:\n{stderr}", self.label);
        assert!(
            ok,
            "{}: exited with a failure; stderr:\n{stderr}",
            self.label
        );
    }
}
