//! `mpconn listen` and `mpconn send` against clients and listeners that would stall
//! them, and against signals: attackers do not delay an honest CPython client, a
//! burst of connects is served whole, a keyed `send` to a keyless CPython listener
//! gives up with a reason, SIGINT or SIGTERM leave nothing on disk, and failed
//! handshakes leave the process's descriptors and memory flat.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use common::{mpconn, start, Peer};
use mpconn_test_support::attack::{
    assert_burst_served, assert_failed_handshakes_leave_fds_and_rss_flat,
    assert_served_in_under_a_second, honest_cpython_client, Attack, Attackers, Overflows,
};
use mpconn_test_support::{attack, python, Reaped};

const KEY: &str = "cli stall test key";

/// An honest CPython client is served at once by `mpconn listen --echo` while
/// `attackers` run against it, and the listener drops them (one "timed out" line each).
fn honest_client_is_served_at_once(attackers: Attackers) {
    let Some(python) = python(3, 13) else { return };
    let timeout = attackers.handshake_timeout().as_secs_f64().to_string();
    let args = [
        "listen",
        "127.0.0.1:0",
        "--echo",
        "--clients",
        "1",
        "--timeout",
        &timeout,
    ];
    let mut listener = start(&args, Some(KEY));
    let address = listener.line().unwrap();
    let attack = attackers.assert_honest_client_served(&python, &address, KEY, "mpconn listen");
    drop(attack);
    let (_, stderr, ok) = listener.finish_with_stderr();
    assert!(ok, "{stderr}");
    attackers.assert_dropped(stderr.matches("timed out").count());
}

mpconn_test_support::honest_client_tests!(honest_client_is_served_at_once);

/// `mpconn listen 127.0.0.1:0 --echo` (with `key`), whose stderr nobody reads: its
/// lines for each client would fill a pipe. Returns it and its address.
fn quiet_listener(key: Option<&str>) -> (Reaped, String) {
    let mut command = Command::new(mpconn());
    command
        .args(["listen", "127.0.0.1:0", "--echo"])
        .env_remove("MPCONN_AUTHKEY")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    if let Some(key) = key {
        command.env("MPCONN_AUTHKEY", key);
    }
    let mut listener = Reaped(Some(command.spawn().unwrap()));
    let mut stdout = BufReader::new(listener.child().stdout.take().unwrap());
    let mut address = String::new();
    stdout.read_line(&mut address).unwrap();
    std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    (listener, address.trim_end().to_string())
}

#[test]
fn a_burst_of_1000_simultaneous_connects_is_served_whole() {
    let (_listener, address) = quiet_listener(None);
    assert_burst_served("mpconn listen", &address, 1000, Overflows::MustNotGrow);
}

#[test]
fn failed_handshakes_leave_descriptors_and_memory_flat() {
    let (mut listener, address) = quiet_listener(Some(KEY));
    let pid = listener.child().id().to_string();
    assert_failed_handshakes_leave_fds_and_rss_flat("mpconn listen", &address, &pid);
}

#[test]
fn keyed_send_to_a_keyless_cpython_listener_fails_within_its_timeout() {
    let Some(python) = python(3, 13) else { return };
    let (listener, port) = attack::keyless_cpython_listener(&python);
    let address = format!("127.0.0.1:{port}");
    let args = ["send", &address, "hi", "--echo", "--timeout", "1"];
    let (stdout, stderr, ok) = start(&args, Some(KEY)).finish_with_stderr();
    assert!(!ok && stdout.is_empty(), "{stdout:?}");
    assert!(stderr.contains(attack::NO_CHALLENGE_IN_1_S), "{stderr}");
    listener.finish().unwrap();
}

#[test]
fn keyless_send_to_a_keyed_listener_fails_and_says_the_listener_wants_an_authkey() {
    let mut listener = start(&["listen", "127.0.0.1:0", "--echo"], Some(KEY));
    let address = listener.line().unwrap();
    let (stdout, stderr, ok) =
        start(&["send", &address, "hi", "--echo"], None).finish_with_stderr();
    assert!(!ok, "exit status 0; stdout {stdout:?}");
    assert!(
        stdout.is_empty(),
        "the challenge was shown as the reply: {stdout:?}"
    );
    assert!(stderr.contains("the listener wants an authkey"), "{stderr}");
    drop(listener);
}

/// The signal masks of a process, from `/proc/PID/status`.
fn signal_mask(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"));
    u64::from_str_radix(line.trim(), 16).unwrap()
}

/// Starts `mpconn listen ARGS...`, sends it `signal` once it is serving, and returns
/// the address it printed and how it ended.
///
/// It is spawned directly by the test, so its SIGINT is not inherited as ignored (a
/// background job of a non-interactive shell would be); that is checked, and that
/// mpconn catches the signal, before it is sent.
fn listen_then_signal(args: &[&str], signal: i32) -> (String, ExitStatus) {
    let mut command = Command::new(mpconn());
    command
        .args(["listen"])
        .args(args)
        .env("MPCONN_AUTHKEY", KEY)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = Reaped(Some(command.spawn().unwrap()));
    let pid = child.child().id();
    let mut stdout = BufReader::new(child.child().stdout.take().unwrap());
    let mut address = String::new();
    stdout.read_line(&mut address).unwrap();
    let address = address.trim_end().to_string();
    let bit = 1 << (signal - 1);
    assert_eq!(
        signal_mask(pid, "SigIgn:") & bit,
        0,
        "signal {signal} is ignored"
    );
    assert_ne!(
        signal_mask(pid, "SigCgt:") & bit,
        0,
        "signal {signal} is not caught"
    );
    let sent = Command::new("kill")
        .args([format!("-{signal}"), pid.to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.child().try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "mpconn listen ignored signal {signal}"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    child.0 = None;
    (address, status)
}

const SIGINT: i32 = 2;
const SIGTERM: i32 = 15;

fn signal_on_the_default_address_leaves_nothing(signal: i32) {
    let (address, status) = listen_then_signal(&[], signal);
    assert_eq!(status.code(), Some(128 + signal), "{status}");
    let path = Path::new(&address);
    assert!(!path.exists(), "{address} left behind");
    let dir = path.parent().unwrap();
    assert!(!dir.exists(), "{} left behind", dir.display());
}

fn signal_on_a_path_leaves_nothing(signal: i32) {
    let dir = std::env::temp_dir().join(format!("mpconn-stall-{}-{signal}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("listener.sock");
    let (address, status) = listen_then_signal(&[path.to_str().unwrap()], signal);
    assert_eq!(status.code(), Some(128 + signal), "{status}");
    assert_eq!(Path::new(&address), path);
    assert!(!path.exists(), "{address} left behind");
    // The directory is the caller's: it stays.
    std::fs::remove_dir(&dir).unwrap();
}

#[test]
fn sigint_on_the_default_address_removes_the_socket_and_its_directory() {
    signal_on_the_default_address_leaves_nothing(SIGINT);
}

#[test]
fn sigterm_on_the_default_address_removes_the_socket_and_its_directory() {
    signal_on_the_default_address_leaves_nothing(SIGTERM);
}

#[test]
fn sigint_on_a_path_removes_the_socket_file() {
    signal_on_a_path_leaves_nothing(SIGINT);
}

#[test]
fn sigterm_on_a_path_removes_the_socket_file() {
    signal_on_a_path_leaves_nothing(SIGTERM);
}

/// Connects to `address` and resets the connection at once (`SO_LINGER` 0).
fn connect_and_reset(address: &str) {
    let stream = std::net::TcpStream::connect(address).unwrap();
    let socket = socket2::Socket::from(stream);
    socket.set_linger(Some(Duration::ZERO)).unwrap();
    drop(socket);
}

#[test]
fn clients_that_reset_their_connections_cost_no_pause() {
    let Some(python) = python(3, 13) else { return };
    let mut listener = start(
        &["listen", "127.0.0.1:0", "--echo", "--clients", "1"],
        Some(KEY),
    );
    let address = listener.line().unwrap();
    // Each used to cost a 100 ms rest, as if accept(2) itself had failed: 5 s.
    for _ in 0..50 {
        connect_and_reset(&address);
    }
    let took = honest_cpython_client(&python, &address, Some(KEY)).unwrap();
    assert_served_in_under_a_second("mpconn listen, after 50 resets", took);
    let (_, stderr, ok) = listener.finish_with_stderr();
    assert!(ok, "{stderr}");
    // Each reset was one client's failure, reported as such.
    let failures = stderr
        .lines()
        .filter(|line| line.starts_with("mpconn: client "))
        .filter(|line| !line.ends_with(" connected") && !line.ends_with(" closed the connection"))
        .count();
    assert_eq!(failures, 50, "{stderr}");
    assert!(!stderr.contains("cannot accept"), "{stderr}");
}

#[test]
fn out_of_descriptors_it_rests_and_serves_again_once_they_free() {
    let Some(python) = python(3, 13) else { return };
    // 16 descriptors: the tool's own and room for a few clients. 20 silent clients
    // exhaust them (accept(2) fails with EMFILE) until their 0.5 s timeout frees them.
    let mpconn = mpconn().to_str().unwrap().to_string();
    let mut command = Command::new("sh");
    command
        .args(["-c", "ulimit -n 16 && exec \"$0\" \"$@\""])
        .arg(&mpconn)
        .args(["listen", "127.0.0.1:0", "--echo", "--clients", "1"])
        .args(["--timeout", "0.5"])
        .env("MPCONN_AUTHKEY", KEY);
    let mut listener = Peer::start("mpconn listen (ulimit -n 16)".into(), command);
    let address = listener.line().unwrap();
    let attack = Attack::start(&address, 20, 0, 0, Duration::from_millis(50)).unwrap();
    honest_cpython_client(&python, &address, Some(KEY)).unwrap();
    drop(attack);
    let (_, stderr, ok) = listener.finish_with_stderr();
    assert!(ok, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "the listener at {address} cannot accept: Too many open files"
        )),
        "accept(2) never ran out of descriptors: {stderr}"
    );
}
