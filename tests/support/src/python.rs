//! Finding the real CPython interpreters.
//!
//! The interpreters are found through pyenv (`$PYENV_ROOT` or `~/.pyenv`, then
//! `pyenv root`) and then `PATH` (`python2.7`, `python3.6`, ...). Under `CI=true` a
//! missing interpreter is a test failure, not a skip: the machines this project runs
//! on have all of them.
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Every CPython the interop tests expect (docs/protocol.md: 2.7 and 3.6 to 3.13).
pub const VERSIONS: [(u32, u32); 9] = [
    (2, 7),
    (3, 6),
    (3, 7),
    (3, 8),
    (3, 9),
    (3, 10),
    (3, 11),
    (3, 12),
    (3, 13),
];

/// One CPython interpreter on this machine.
#[derive(Debug, Clone)]
pub struct Python {
    /// `(major, minor)`.
    pub version: (u32, u32),
    /// The interpreter's executable.
    pub path: PathBuf,
}

impl Python {
    /// 3.12 and later deliver `{sha256}` challenges; older ones 20-byte MD5 ones.
    pub fn is_modern(&self) -> bool {
        self.version >= (3, 12)
    }

    /// 3.8 and later understand the `ff ff ff ff` + u64 header of messages over 2 GiB.
    pub fn has_long_frames(&self) -> bool {
        self.version >= (3, 8)
    }

    /// `CPython 3.13`, for messages.
    pub fn label(&self) -> String {
        format!("CPython {}.{}", self.version.0, self.version.1)
    }

    /// `python -c script args...`, unbuffered, stdin closed, stdout and stderr piped.
    pub fn command(&self, script: &str) -> Command {
        let mut command = self.unbuffered();
        command.arg("-c").arg(script);
        command
    }

    /// `python -u tests/python/<name> args...`, stdin closed, stdout and stderr piped.
    pub fn script(&self, name: &str) -> Command {
        let mut command = self.unbuffered();
        command.arg(script_path(name));
        command
    }

    /// `python -u`, stdin closed, stdout and stderr piped: a peer whose output is read
    /// line by line as it prints.
    fn unbuffered(&self) -> Command {
        let mut command = Command::new(&self.path);
        command
            .arg("-u")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    }
}

/// A script in the workspace's `tests/python/`, shared by every crate's tests.
pub fn script_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("python")
        .join(name)
}

/// True under CI (`CI=true`), where a missing interpreter is a failure.
pub fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

fn pyenv_roots() -> Vec<PathBuf> {
    let mut roots = Vec::new();
    if let Some(root) = std::env::var_os("PYENV_ROOT") {
        roots.push(PathBuf::from(root));
    }
    if let Some(home) = std::env::var_os("HOME") {
        roots.push(Path::new(&home).join(".pyenv"));
    }
    if let Ok(out) = Command::new("pyenv").arg("root").output() {
        if out.status.success() {
            let root = String::from_utf8_lossy(&out.stdout).trim().to_string();
            if !root.is_empty() {
                roots.push(PathBuf::from(root));
            }
        }
    }
    roots
}

fn find_in_pyenv(major: u32, minor: u32) -> Option<PathBuf> {
    for root in pyenv_roots() {
        let Ok(entries) = std::fs::read_dir(root.join("versions")) else {
            continue;
        };
        let mut candidates: Vec<PathBuf> = entries
            .flatten()
            .filter(|entry| {
                let name = entry.file_name().to_string_lossy().into_owned();
                let mut parts = name.split('.');
                parts.next() == Some(&major.to_string())
                    && parts.next() == Some(&minor.to_string())
                    && parts
                        .next()
                        .is_some_and(|patch| patch.chars().all(|c| c.is_ascii_digit()))
            })
            .map(|entry| {
                entry
                    .path()
                    .join("bin")
                    .join(format!("python{major}.{minor}"))
            })
            .filter(|path| path.is_file())
            .collect();
        candidates.sort();
        if let Some(newest) = candidates.pop() {
            return Some(newest);
        }
    }
    None
}

fn find_on_path(major: u32, minor: u32) -> Option<PathBuf> {
    let name = format!("python{major}.{minor}");
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(&name))
        .find(|path| path.is_file())
}

/// The interpreter for `major.minor`, or `None` (a failure under CI, a note otherwise).
pub fn python(major: u32, minor: u32) -> Option<Python> {
    let found = find_in_pyenv(major, minor).or_else(|| find_on_path(major, minor));
    match found {
        Some(path) => Some(Python {
            version: (major, minor),
            path,
        }),
        None if under_ci() => panic!(
            "CPython {major}.{minor} not found through pyenv or PATH, and CI=true: \
             this machine kind has it, so its absence is a failure"
        ),
        None => {
            eprintln!("note: CPython {major}.{minor} not found; its interop cases are skipped");
            None
        }
    }
}

/// Every expected interpreter that is present (all of them, under CI).
pub fn pythons() -> Vec<Python> {
    pythons_of(&VERSIONS)
}

/// The interpreters of `versions` that are present (all of them, under CI), named on
/// stderr so that a test run says which CPythons it ran against.
pub fn pythons_of(versions: &[(u32, u32)]) -> Vec<Python> {
    let found: Vec<Python> = versions
        .iter()
        .filter_map(|&(major, minor)| python(major, minor))
        .collect();
    let names: Vec<String> = found
        .iter()
        .map(|p| format!("{}.{}", p.version.0, p.version.1))
        .collect();
    eprintln!("CPython interpreters found: {}", names.join(", "));
    found
}

/// A child process that is killed if the test panics or forgets it.
pub struct Reaped(pub Option<Child>);

impl Reaped {
    /// The child, while it is not waited for.
    pub fn child(&mut self) -> &mut Child {
        self.0.as_mut().expect("child already waited for")
    }

    /// Waits for the child up to `limit`, then kills it; returns its stdout, stderr and
    /// whether it exited successfully.
    pub fn finish(mut self, limit: Duration) -> (String, String, bool) {
        let mut child = self.0.take().expect("child already waited for");
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                break Some(status);
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let mut stdout = String::new();
        let mut stderr = String::new();
        use std::io::Read;
        if let Some(mut out) = child.stdout.take() {
            let _ = out.read_to_string(&mut stdout);
        }
        if let Some(mut err) = child.stderr.take() {
            let _ = err.read_to_string(&mut stderr);
        }
        let ok = status.is_some_and(|s| s.success());
        if status.is_none() {
            stderr.push_str("\n[killed after the time limit]");
        }
        (stdout, stderr, ok)
    }
}

impl Drop for Reaped {
    fn drop(&mut self) {
        if let Some(child) = self.0.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
