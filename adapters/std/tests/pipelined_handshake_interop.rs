//! `HandshakeConfig::pipeline`: a Rust client that sends its challenge right behind its
//! answer, against every CPython `Listener` on the machine (2.7, 3.6 to 3.13), over a
//! Unix socket and TCP. With the right key the handshake completes and a message goes
//! both ways; with a wrong one CPython refuses the client, and the client reports an
//! authentication failure (it reads `#FAILURE#` before the reset that the unread,
//! pipelined challenge causes when CPython closes).

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::Reaped;
use mpconn::HandshakeConfig;
use mpconn_std::{Address, Client, ClientOptions};

const KEY: &[u8] = b"pipelined key";
const LIMIT: Duration = Duration::from_secs(30);

/// CPython's side: for each family, one accepted client that echoes a message
/// reversed, then one refused for a wrong key. Runs on 2.7 and 3.x alike.
const LISTENER: &str = r#"
import os, sys
from multiprocessing import AuthenticationError
from multiprocessing.connection import Listener
unix_path, tcp_file = sys.argv[1], sys.argv[2]
key = b'pipelined key'
listeners = [Listener(unix_path, 'AF_UNIX', authkey=key),
             Listener(('127.0.0.1', 0), 'AF_INET', authkey=key)]
with open(tcp_file + '.tmp', 'w') as f:
    f.write(str(listeners[1].address[1]))
os.rename(tcp_file + '.tmp', tcp_file)
for listener in listeners:
    conn = listener.accept()
    conn.send_bytes(conn.recv_bytes()[::-1])
    conn.close()
    try:
        listener.accept()
        print('wrong key accepted')
    except AuthenticationError:
        print('wrong key refused')
    listener.close()
"#;

fn wait_for_file(path: &Path) -> String {
    let deadline = Instant::now() + LIMIT;
    loop {
        if let Ok(text) = std::fs::read_to_string(path) {
            return text;
        }
        assert!(Instant::now() < deadline, "CPython did not start listening");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn client(key: &[u8]) -> ClientOptions {
    ClientOptions::new()
        .authkey(Some(key))
        .timeout(Some(LIMIT))
        .handshake_config(HandshakeConfig::default().pipeline(true))
}

#[test]
fn pipelined_client_is_accepted_by_every_cpython_listener_and_refused_with_a_wrong_key() {
    for python in common::pythons() {
        let dir = std::env::temp_dir().join(format!(
            "mpconn-pipelined-{}-{}{}",
            std::process::id(),
            python.version.0,
            python.version.1
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let unix_path = dir.join("s");
        let tcp_file = dir.join("port");
        let child = python
            .command(LISTENER)
            .arg(&unix_path)
            .arg(&tcp_file)
            .spawn()
            .expect("start CPython");
        let peer = Reaped(Some(child));
        let port: u16 = wait_for_file(&tcp_file).trim().parse().unwrap();
        let addresses = [Address::unix(&unix_path), Address::tcp("127.0.0.1", port)];

        for address in &addresses {
            let label = format!("{} over {address}", python.label());
            let mut conn = Client::connect_with(address, &client(KEY))
                .unwrap_or_else(|e| panic!("{label}: {e}"));
            conn.set_timeout(Some(LIMIT)).unwrap();
            conn.send_bytes(b"pipelined").unwrap();
            assert_eq!(conn.recv_bytes(None).unwrap(), b"denilepip", "{label}");
            drop(conn);
            let refused = Client::connect_with(address, &client(b"not the key")).unwrap_err();
            assert!(refused.is_authentication(), "{label}: {refused}");
        }

        let (stdout, stderr, ok) = peer.finish(LIMIT);
        let _ = std::fs::remove_dir_all(&dir);
        assert!(ok, "{}: {stderr}", python.label());
        assert_eq!(
            stdout.lines().collect::<Vec<_>>(),
            ["wrong key refused"; 2],
            "{}",
            python.label()
        );
    }
}
