//! CPython peers: a child process whose stdout arrives line by line, with every wait
//! bounded, and the small helpers the interop tests share.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::Duration;

use crate::python::{Python, Reaped};

/// Every wait on a peer is bounded by this; nothing takes near as long.
pub const LIMIT: Duration = Duration::from_secs(60);

/// A running CPython whose stdout arrives line by line through a channel.
pub struct Peer {
    /// `CPython 3.13`, or what the peer was started as.
    pub label: String,
    /// The process; killed when dropped.
    pub process: Reaped,
    lines: Receiver<String>,
    seen: Vec<String>,
}

/// What a [`Peer`] runs.
pub enum Program<'a> {
    /// A script file.
    File(PathBuf),
    /// Code for `python -c`.
    Code(&'a str),
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

    /// The next line of stdout; panics with the peer's stderr when none comes in time.
    pub fn next_line(&mut self) -> String {
        match self.line() {
            Ok(line) => line,
            Err(why) => {
                let (_, stderr, _) = std::mem::replace(&mut self.process, Reaped(None))
                    .finish(Duration::from_secs(1));
                panic!("{why}; stderr:\n{stderr}")
            }
        }
    }

    /// Reads `ADDRESS name spelling` lines up to `READY`.
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

    /// Waits for the exit and checks that the peer reported exactly `expected` (one
    /// `CASE i ...` line per case, after the lines already read) and `DONE`, and exited
    /// cleanly.
    pub fn expect_cases(self, expected: &[&str]) {
        let label = self.label.clone();
        let already = self.seen.len();
        let (lines, stderr, ok) = self.finish_with_stderr();
        let mut wanted: Vec<String> = expected
            .iter()
            .enumerate()
            .map(|(i, outcome)| format!("CASE {i} {outcome}"))
            .collect();
        wanted.push("DONE".to_string());
        assert_eq!(lines[already..], wanted[..], "{label}: stderr:\n{stderr}");
        assert!(ok, "{label}: exited with a failure; stderr:\n{stderr}");
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
        let (_, stderr, ok) = std::mem::replace(&mut self.process, Reaped(None)).finish(LIMIT);
        // The reader thread may still hold the last lines: take them until it ends.
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(5)) {
            self.seen.push(line);
        }
        (self.seen, stderr, ok)
    }
}

/// `n` bytes, byte `i` = `(i + seed) % 251`, as `pattern()` in std_peer.py.
pub fn pattern(n: usize, seed: usize) -> Vec<u8> {
    (0..n).map(|i| ((i + seed) % 251) as u8).collect()
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
    /// Records one interpreter's outcome (`ok` lines go to stderr).
    pub fn record(&mut self, label: &str, result: Result<(), String>) {
        match result {
            Ok(()) => eprintln!("{label}: ok"),
            Err(why) => self.0.push(format!("{label}: {why}")),
        }
    }

    /// Panics with every recorded failure, if any.
    pub fn assert_none(self) {
        assert!(self.0.is_empty(), "{}", self.0.join("\n\n"));
    }
}

/// A `#[test]` named `$name` that binds `$krate::Listener` (a default Unix one) with an
/// authkey and checks with [`assert_redacted`] that its `Debug` output hides the key:
/// the same test for every adapter whose listener holds the key.
#[macro_export]
macro_rules! listener_redaction_test {
    ($name:ident, $krate:ident) => {
        #[test]
        fn $name() {
            const KEY: &[u8] = b"correct horse battery staple";
            let options = $krate::ListenerOptions::new().authkey(Some(KEY));
            let listener =
                $krate::Listener::bind_with(None, &options).expect("bind a default Unix listener");
            let what = concat!(stringify!($krate), "::Listener");
            $crate::assert_redacted(what, format!("{listener:?}"), KEY);
        }
    };
}

/// Panics unless `debug` (the `Debug` output of `what`) hides `key`, in text and as
/// bytes, and says it is redacted.
pub fn assert_redacted(what: &str, debug: String, key: &[u8]) {
    let text = String::from_utf8_lossy(key);
    assert!(
        !debug.contains(&*text),
        "{what} leaks the authkey in its Debug output: {debug}"
    );
    assert!(
        !debug.contains(&format!("{key:?}")),
        "{what} leaks the authkey bytes in its Debug output: {debug}"
    );
    assert!(
        debug.contains("redacted"),
        "{what} should say the key is redacted: {debug}"
    );
}
