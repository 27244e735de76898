//! The `mpconn` command-line tool, end to end against CPython: `mpconn listen` serving
//! CPython clients, `mpconn send` talking to CPython listeners, with and without an
//! authkey, in bytes and in `--pickle` mode.
//!
//! The tool is built by the first test that needs it ([`common::mpconn`]).

mod common;

use std::path::Path;
use std::process::Command;

use common::Python;
use common::{check, start, Peer, Program};

const KEY: &str = "cli test key";

fn newest_python() -> Option<Python> {
    common::pythons().pop()
}

/// A CPython client: a wrong key first (it must be refused), then the right one,
/// two messages echoed back.
const ECHO_CLIENT: &str = r#"
import sys
from multiprocessing.connection import Client
from multiprocessing import AuthenticationError
address = sys.argv[1]
if ":" in address and "/" not in address:
    host, port = address.rsplit(":", 1)
    address = (host, int(port))
key = sys.argv[2].encode()
try:
    Client(address, authkey=b"wrong")
except AuthenticationError as e:
    print("refused: %s" % e)
else:
    raise SystemExit("a wrong key was accepted")
c = Client(address, authkey=key)
for message in [b"hello", b"\x00\xff bytes \\"]:
    c.send_bytes(message)
    assert c.recv_bytes() == message
c.close()
print("echoed")
"#;

fn listen_serves_cpython(address: &str) -> Result<(), String> {
    let Some(python) = newest_python() else {
        return Ok(());
    };
    let mut listener = start(&["listen", address, "--echo", "--clients", "1"], Some(KEY));
    let bound = listener.line()?;
    let client = Peer::spawn(&python, Program::Code(ECHO_CLIENT), &[&bound, KEY]);
    let client_out = client.finish()?;
    check(client_out.iter().any(|l| l.starts_with("refused")), || {
        format!("the wrong key was not refused: {client_out:?}")
    })?;
    let (stdout, stderr, ok) = listener.finish_with_stderr();
    check(ok, || format!("mpconn listen failed: {stderr}"))?;
    check(stdout[1..] == ["hello", "\\x00\\xff bytes \\\\"], || {
        format!("mpconn listen printed {stdout:?}")
    })?;
    check(stderr.contains("authentication failed"), || {
        format!("the failed handshake is not on stderr: {stderr}")
    })?;
    // --clients 1 ended it cleanly: a default socket file is gone with its directory.
    if !bound.contains(':') {
        check(!Path::new(&bound).exists(), || {
            format!("{bound} left behind")
        })?;
    }
    Ok(())
}

#[test]
fn listen_on_a_default_unix_socket_reports_a_wrong_key_and_echoes_for_the_right_one() {
    listen_serves_cpython_default().unwrap_or_else(|why| panic!("{why}"));
}

#[test]
fn listen_on_tcp_port_0_reports_a_wrong_key_and_echoes_for_the_right_one() {
    listen_serves_cpython("127.0.0.1:0").unwrap_or_else(|why| panic!("{why}"));
}

/// Like [`listen_serves_cpython`], without an ADDRESS argument.
fn listen_serves_cpython_default() -> Result<(), String> {
    let Some(python) = newest_python() else {
        return Ok(());
    };
    let mut listener = start(&["listen", "--echo", "--clients", "1"], Some(KEY));
    let bound = listener.line()?;
    check(bound.contains("/listener-"), || {
        format!("expected a fresh listener-XXXXXXXX path, got {bound}")
    })?;
    let client = Peer::spawn(&python, Program::Code(ECHO_CLIENT), &[&bound, KEY]);
    client.finish()?;
    let (stdout, stderr, ok) = listener.finish_with_stderr();
    check(ok && stdout.len() == 3, || {
        format!("mpconn listen: {stdout:?} {stderr}")
    })?;
    check(stderr.contains("authentication failed"), || stderr.clone())?;
    let dir = Path::new(&bound).parent().expect("a directory");
    check(!dir.exists(), || format!("{} left behind", dir.display()))
}

/// A CPython listener with the key from the environment that echoes one client's
/// messages, as bytes or (with "pickle") as objects.
const ECHO_LISTENER: &str = r#"
import os, sys
from multiprocessing.connection import Listener
key = os.environ.get("MPCONN_AUTHKEY")
listener = Listener(("127.0.0.1", 0), authkey=key.encode() if key else None)
print("%s:%d" % listener.address)
sys.stdout.flush()
conn = listener.accept()
try:
    while True:
        if sys.argv[1] == "pickle":
            obj = conn.recv()
            print(repr(obj))
            conn.send(obj)
        else:
            conn.send_bytes(conn.recv_bytes())
except EOFError:
    print("done")
"#;

fn cpython_listener(python: &Python, mode: &str, key: Option<&str>) -> (Peer, String) {
    let mut command = Command::new(&python.path);
    command.args(["-u", "-c", ECHO_LISTENER, mode]);
    command.env_remove("MPCONN_AUTHKEY");
    if let Some(key) = key {
        command.env("MPCONN_AUTHKEY", key);
    }
    let mut peer = Peer::start(python.label(), command);
    let address = peer.line().expect("the CPython listener's address");
    (peer, address)
}

#[test]
fn send_with_an_authkey_file_prints_the_replies_of_a_cpython_listener() {
    let Some(python) = newest_python() else {
        return;
    };
    let (listener, address) = cpython_listener(&python, "bytes", Some(KEY));
    let key_file = std::env::temp_dir().join(format!("mpconn-cli-key-{}", std::process::id()));
    std::fs::write(&key_file, format!("{KEY}\n")).expect("write the key file");
    let key_path = key_file.to_str().expect("a UTF-8 temp path");
    let args = [
        "send",
        &address,
        "one",
        "",
        "tw\u{f6}",
        "--echo",
        "--authkey-file",
        key_path,
        "--timeout",
        "60",
    ];
    let sender = start(&args, None);
    let result = sender.finish();
    let _ = std::fs::remove_file(&key_file);
    assert_eq!(result.unwrap(), ["one", "", "tw\u{f6}"]);
    assert_eq!(
        listener.finish().unwrap().last().map(String::as_str),
        Some("done")
    );
}

#[test]
fn send_with_a_wrong_key_fails_with_an_authentication_error() {
    let Some(python) = newest_python() else {
        return;
    };
    let (listener, address) = cpython_listener(&python, "bytes", Some(KEY));
    let (stdout, stderr, ok) = start(&["send", &address, "x"], Some("wrong")).finish_with_stderr();
    assert!(!ok && stdout.is_empty(), "{stdout:?}");
    assert!(stderr.contains("authentication failed"), "{stderr}");
    let (_, listener_err, _) = listener.finish_with_stderr();
    assert!(
        listener_err.contains("AuthenticationError"),
        "{listener_err}"
    );
}

/// What `--pickle` takes is what Python's `repr` prints: CPython shows each object
/// with `repr` as it arrives, and `mpconn` shows CPython's echo the same way.
#[test]
fn pickle_mode_sends_python_literals_and_shows_replies_as_python_repr() {
    let Some(python) = newest_python() else {
        return;
    };
    let (listener, address) = cpython_listener(&python, "pickle", None);
    let messages = [
        "{'a': (1, 2), 3: {1, 2}}",
        "12345678901234567890123",
        r"b'x\x00'",
        "[True, None, 2.5, -0.0, frozenset({1}), bytearray(b'z')]",
        "'text \u{e9}'",
    ];
    let mut args = vec!["send", &address, "--pickle", "--echo"];
    args.extend(messages);
    let replies = start(&args, None).finish().unwrap();
    assert_eq!(replies, messages);
    let shown = listener.finish().unwrap();
    assert_eq!(shown[0], address);
    assert_eq!(shown[1..messages.len() + 1], messages);
    assert_eq!(shown[messages.len() + 1..], ["done"]);
}

/// Python 2.7 reads pickle protocol 2 at most: `--protocol 2` is for it. Its str
/// comes back as bytes, its long as an int.
#[test]
fn pickle_protocol_2_reaches_python_2_7() {
    let Some(python) = common::python(2, 7) else {
        return;
    };
    let (listener, address) = cpython_listener(&python, "pickle", None);
    let message = "({'k': [1, 's']}, b'raw', 100000000000000000000)";
    let args = [
        "send",
        &address,
        "--pickle",
        "--protocol",
        "2",
        "--echo",
        message,
    ];
    let replies = start(&args, None).finish().unwrap();
    assert_eq!(replies, [message]);
    let shown = listener.finish().unwrap();
    assert_eq!(
        shown[1],
        "({u'k': [1, u's']}, 'raw', 100000000000000000000L)"
    );
}

#[test]
fn a_protocol_above_5_is_refused() {
    let (_, stderr, ok) = start(
        &["send", "127.0.0.1:1", "--pickle", "--protocol", "6", "1"],
        None,
    )
    .finish_with_stderr();
    assert!(!ok);
    assert!(stderr.contains("--protocol is 0 to 5"), "{stderr}");
}

/// `mpconn listen --pickle` for `clients` clients, after the newest CPython ran `sends`
/// with `c` a `Client` connected to it (`host`, `port` its address): the listener, to
/// finish. `None` without CPython.
fn pickle_listener_fed(clients: usize, sends: &str) -> Option<Peer> {
    let python = newest_python()?;
    let clients = clients.to_string();
    let args = ["listen", "127.0.0.1:0", "--pickle", "--clients", &clients];
    let mut listener = start(&args, None);
    let bound = listener.line().unwrap();
    let code = format!(
        "import sys\nfrom multiprocessing.connection import Client\n\
         host, port = sys.argv[1].rsplit(\":\", 1)\nc = Client((host, int(port)))\n{sends}"
    );
    Peer::spawn(&python, Program::Code(&code), &[&bound])
        .finish()
        .unwrap();
    Some(listener)
}

#[test]
fn listen_in_pickle_mode_shows_cpython_objects_as_python_repr() {
    let sends = r#"
c.send({"n": 1, 2: (3, b"\xff"), "s": {1.5}})
c.send(None)
c.send(2 ** 80)
c.close()
"#;
    let Some(listener) = pickle_listener_fed(1, sends) else {
        return;
    };
    let shown = listener.finish().unwrap();
    assert_eq!(
        shown[1..],
        [
            r"{'n': 1, 2: (3, b'\xff'), 's': {1.5}}",
            "None",
            "1208925819614629174706176"
        ]
    );
}

/// A list nested 100,000 deep (CPython loads it; a recursive unpickler overflows its
/// stack and aborts the process) is one line saying why it cannot be shown, and the
/// listener goes on to serve the next client.
#[test]
fn listen_in_pickle_mode_survives_a_list_nested_100_000_deep() {
    let sends = r#"
# pickle.dumps recurses, so the pickle is written by hand: [[[...]]], protocol 2.
c.send_bytes(b"\x80\x02" + b"]" * 100000 + b"a" * 99999 + b".")
c.close()
c = Client((host, int(port)))
c.send((1, 2))
c.close()
"#;
    let Some(listener) = pickle_listener_fed(2, sends) else {
        return;
    };
    let (shown, stderr, ok) = listener.finish_with_stderr();
    assert!(ok, "mpconn listen failed: {stderr}");
    assert_eq!(shown.len(), 3, "{shown:?} {stderr}");
    assert!(
        shown[1].starts_with("(cannot unpickle: ")
            && shown[1].contains("the nesting depth exceeds the limit of 1000")
            && shown[1].ends_with("... (200002 bytes)"),
        "{}",
        shown[1]
    );
    assert_eq!(shown[2], "(1, 2)");
}

#[test]
fn the_authkey_is_not_accepted_on_the_command_line() {
    let (_, stderr, ok) =
        start(&["send", "127.0.0.1:1", "--authkey", "secret", "x"], None).finish_with_stderr();
    assert!(!ok);
    assert!(stderr.contains("unknown option --authkey"), "{stderr}");
}

#[test]
fn send_gives_up_on_a_reply_that_never_comes() {
    // `mpconn listen` without --echo prints and never answers.
    let mut listener = start(&["listen", "127.0.0.1:0", "--clients", "1"], None);
    let address = listener.line().unwrap();
    let args = ["send", &address, "x", "--echo", "--timeout", "0.5"];
    let (stdout, stderr, ok) = start(&args, None).finish_with_stderr();
    assert!(!ok && stdout.is_empty(), "{stdout:?}");
    assert!(stderr.contains("timed out receiving"), "{stderr}");
    assert_eq!(listener.finish().unwrap()[1..], ["x"]);
}

#[test]
fn version_prints_the_package_version() {
    for flag in ["--version", "-V"] {
        let (stdout, stderr, ok) = start(&[flag], None).finish_with_stderr();
        assert!(ok, "mpconn {flag} failed: {stderr}");
        assert_eq!(
            stdout,
            [format!("mpconn {}", env!("CARGO_PKG_VERSION"))],
            "{flag}"
        );
    }
}

/// A usage error is one line on what was wrong and the hint, with status 2; the help
/// only for `--help`.
#[test]
fn a_usage_error_is_one_line_and_a_hint_with_status_2() {
    for args in [
        &["send", "127.0.0.1:1", "--bogus"][..],
        &["frobnicate"],
        &[],
        &["listen", "--timeout"],
    ] {
        let output = Command::new(common::mpconn())
            .args(args)
            .env_remove("MPCONN_AUTHKEY")
            .output()
            .expect("run mpconn");
        let stderr = String::from_utf8_lossy(&output.stderr);
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(output.stdout.is_empty(), "{args:?}");
        assert_eq!(lines.len(), 2, "{args:?}: {stderr}");
        assert!(lines[0].starts_with("mpconn: "), "{args:?}: {stderr}");
        assert_eq!(lines[1], "try 'mpconn --help'", "{args:?}");
    }
    let (stdout, _, ok) = start(&["--help"], None).finish_with_stderr();
    assert!(ok && stdout.iter().any(|l| l == "USAGE:"), "{stdout:?}");
}

/// `mpconn send ADDRESS` with input `lines`: its stdout, stderr and success.
fn send_from_stdin(args: &[&str], lines: &[u8]) -> (String, String, bool) {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = Command::new(common::mpconn())
        .args(args)
        .env_remove("MPCONN_AUTHKEY")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start mpconn send");
    let mut stdin = child.stdin.take().expect("piped stdin");
    stdin.write_all(lines).expect("write mpconn's stdin");
    drop(stdin); // end of input
    let output = child.wait_with_output().expect("wait for mpconn send");
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
        output.status.success(),
    )
}

/// Without MESSAGE arguments each line of stdin is one message, in order: an empty
/// line is an empty message, CR LF ends a line as LF does, and the last line needs no
/// newline.
#[test]
fn send_without_messages_sends_each_line_of_stdin_in_order() {
    let mut listener = start(&["listen", "127.0.0.1:0", "--echo", "--clients", "1"], None);
    let address = listener.line().unwrap();
    let input = "first\n\nthird \u{e9}\r\nlast";
    let (stdout, stderr, ok) = send_from_stdin(&["send", &address, "--echo"], input.as_bytes());
    assert!(ok, "mpconn send failed: {stderr}");
    let expected = ["first", "", "third \u{e9}", "last"];
    assert_eq!(stdout.lines().collect::<Vec<_>>(), expected, "the echoes");
    let (shown, stderr, ok) = listener.finish_with_stderr();
    assert!(ok, "mpconn listen failed: {stderr}");
    assert_eq!(shown[1..], expected, "what the listener received");
}

/// With `--pickle` each line of stdin is a Python literal, reaching CPython as the
/// object, in order.
#[test]
fn send_pickle_reads_python_literals_from_stdin_for_cpython() {
    let Some(python) = newest_python() else {
        return;
    };
    let (listener, address) = cpython_listener(&python, "pickle", None);
    let messages = ["{'a': (1, 2), 3: {1, 2}}", "None", "[b'x\\x00', 2.5]"];
    let input = format!("{}\n{}\n\n{}\n", messages[0], messages[1], messages[2]);
    let (stdout, stderr, ok) =
        send_from_stdin(&["send", &address, "--pickle", "--echo"], input.as_bytes());
    assert!(ok, "mpconn send failed: {stderr}");
    assert_eq!(stdout.lines().collect::<Vec<_>>(), messages, "the echoes");
    let shown = listener.finish().unwrap();
    assert_eq!(shown[1..messages.len() + 1], messages);
    assert_eq!(shown[messages.len() + 1..], ["done"]);
}
