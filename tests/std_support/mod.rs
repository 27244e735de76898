//! Shared by the std adapter's tests (tests/std_*.rs): running CPython peers with
//! bounded waits, and the payloads both sides agree on.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::Duration;

use mpconn_std::{wait, Connection, Listener};

use crate::support::{Python, Reaped};

/// Every wait in these tests is bounded by this; nothing here takes near as long.
pub const LIMIT: Duration = Duration::from_secs(60);

/// A script in tests/python/.
pub fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("python")
        .join(name)
}

/// A running CPython whose stdout arrives line by line through a channel.
pub struct Peer {
    pub label: String,
    pub process: Reaped,
    lines: Receiver<String>,
    seen: Vec<String>,
}

impl Peer {
    /// `python -u <file> args...`, or `python -u -c <code> args...`.
    pub fn spawn(python: &Python, program: Program<'_>, args: &[&str]) -> Peer {
        let mut command = Command::new(&python.path);
        command.arg("-u");
        match program {
            Program::File(path) => command.arg(path),
            Program::Code(code) => command.arg("-c").arg(code),
        };
        command.args(args);
        Peer::start(python.label(), command)
    }

    /// Any program, with stdin closed and stdout and stderr captured.
    pub fn start(label: String, mut command: Command) -> Peer {
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("{label}: cannot start: {e}"));
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Peer {
            label,
            process: Reaped(Some(child)),
            lines,
            seen: Vec::new(),
        }
    }

    /// The next line of stdout, within [`LIMIT`].
    pub fn line(&mut self) -> Result<String, String> {
        match self.lines.recv_timeout(LIMIT) {
            Ok(line) => {
                self.seen.push(line.clone());
                Ok(line)
            }
            Err(_) => Err(format!("{}: no line of output in time", self.label)),
        }
    }

    /// Waits for the exit (killing it after [`LIMIT`]) and returns all of stdout; an
    /// error with stdout and stderr when it failed.
    pub fn finish(self) -> Result<Vec<String>, String> {
        let label = self.label.clone();
        let (stdout, stderr, ok) = self.finish_with_stderr();
        if ok {
            Ok(stdout)
        } else {
            Err(format!(
                "{label} failed\n--- stdout\n{}\n--- stderr\n{stderr}",
                stdout.join("\n")
            ))
        }
    }

    /// Waits for the exit (killing it after [`LIMIT`]): stdout lines, stderr, success.
    pub fn finish_with_stderr(mut self) -> (Vec<String>, String, bool) {
        let (_, stderr, ok) = self.process.finish(LIMIT);
        // The reader thread may still hold the last lines: take them until it ends.
        while let Ok(line) = self.lines.recv_timeout(LIMIT) {
            self.seen.push(line);
        }
        (self.seen, stderr, ok)
    }
}

/// What a [`Peer`] runs.
pub enum Program<'a> {
    File(PathBuf),
    Code(&'a str),
}

/// `n` bytes, byte `i` = `(i + seed) % 251`, as `pattern()` in std_peer.py.
pub fn pattern(n: usize, seed: usize) -> Vec<u8> {
    (0..n).map(|i| ((i + seed) % 251) as u8).collect()
}

/// Accepts within [`LIMIT`], so a peer that died cannot hang the test.
pub fn accept(listener: &mut Listener) -> mpconn_std::Result<Connection> {
    if wait(&[&*listener], Some(LIMIT))?.is_empty() {
        return Err(mpconn_std::Error::Timeout {
            during: mpconn_std::During::Accept,
            address: Some(listener.address().clone()),
        });
    }
    listener.accept()
}

/// Fails with `what` unless `ok`.
pub fn check(ok: bool, what: impl FnOnce() -> String) -> Result<(), String> {
    if ok {
        Ok(())
    } else {
        Err(what())
    }
}

/// Collects failures across interpreters, so one run reports all of them.
#[derive(Default)]
pub struct Failures(Vec<String>);

impl Failures {
    pub fn record(&mut self, label: &str, result: Result<(), String>) {
        match result {
            Ok(()) => eprintln!("{label}: ok"),
            Err(why) => self.0.push(format!("{label}: {why}")),
        }
    }

    pub fn assert_none(self) {
        assert!(self.0.is_empty(), "{}", self.0.join("\n\n"));
    }
}
