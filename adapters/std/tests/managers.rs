//! A Rust client calling a CPython `multiprocessing.managers` server: the handshake,
//! then pickled `(id, methodname, args, kwds)` requests answered with
//! `('#RETURN', result)`, exactly as `managers.dispatch` does it.

mod common;

use std::io::{BufRead, BufReader};
use std::sync::mpsc;
use std::time::Duration;

use common::{Python, Reaped};
use mpconn_std::pickle::{Protocol, Value};
use mpconn_std::{Address, Client, ClientOptions, Connection};

const KEY: &[u8] = b"managers key";
const LIMIT: Duration = Duration::from_secs(20);

/// Serves a BaseManager on 127.0.0.1 and prints its port; works on 2.7 and 3.x.
const SERVER: &str = r#"
import sys
from multiprocessing.managers import BaseManager
class Manager(BaseManager):
    pass
manager = Manager(address=('127.0.0.1', 0), authkey=b'managers key')
server = manager.get_server()
sys.stdout.write('%d\n' % server.address[1])
sys.stdout.flush()
server.serve_forever()
"#;

/// Starts the manager server and returns it with its address.
fn start_manager(python: &Python) -> (Reaped, Address) {
    let mut server = Reaped(Some(python.command(SERVER).spawn().expect("spawn CPython")));
    let stdout = server.child().stdout.take().expect("piped stdout");
    let (sender, port) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = sender.send(line);
    });
    let line = port
        .recv_timeout(LIMIT)
        .unwrap_or_else(|_| panic!("{}: the manager printed no port", python.label()));
    let Ok(port) = line.trim().parse::<u16>() else {
        let (_, stderr, _) = server.finish(Duration::from_secs(1));
        panic!("{}: no port in {line:?}; stderr: {stderr}", python.label())
    };
    (
        server,
        format!("127.0.0.1:{port}").parse().expect("address"),
    )
}

fn connect(address: &Address, key: &[u8]) -> mpconn_std::Result<Connection> {
    let options = ClientOptions::new().authkey(Some(key)).timeout(Some(LIMIT));
    Client::connect_with(address, &options)
}

/// `managers.dispatch(conn, None, method)`: the reply's kind and result.
fn dispatch(python: &Python, conn: &mut Connection, method: &str) -> (String, Value) {
    let request = Value::tuple(vec![
        Value::None,
        Value::str(method),
        Value::tuple(vec![]),
        Value::dict(vec![]),
    ]);
    // Python 2.7 reads pickles up to protocol 2, and writes its str as bytes.
    let protocol = match python.version < (3, 0) {
        true => Protocol::V2,
        false => Protocol::default(),
    };
    conn.set_timeout(Some(LIMIT)).expect("timeout");
    conn.send_value_with(&request, protocol)
        .expect("send the request");
    let reply = conn.recv_value().expect("receive the reply");
    match reply.as_items() {
        Some([Value::Str(kind), result]) if matches!(reply, Value::Tuple(_)) => {
            (kind.to_string(), result.clone())
        }
        Some([Value::Bytes(kind), result]) if matches!(reply, Value::Tuple(_)) => {
            (String::from_utf8_lossy(kind).into_owned(), result.clone())
        }
        _ => panic!("{}: unexpected reply {reply}", python.label()),
    }
}

#[test]
fn rust_client_calls_a_cpython_manager_server() {
    for (major, minor) in [(2, 7), (3, 8), (3, 11), (3, 13)] {
        let Some(python) = common::python(major, minor) else {
            continue;
        };
        let (server, address) = start_manager(&python);
        // A manager serves one request per connection, as `managers.dispatch` uses it.
        for (method, expected) in [("number_of_objects", Value::Int(0)), ("dummy", Value::None)] {
            let mut conn = connect(&address, KEY).expect("connect with the right key");
            assert_eq!(
                dispatch(&python, &mut conn, method),
                ("#RETURN".to_string(), expected),
                "{}: {method}",
                python.label()
            );
        }
        drop(server);
    }
}

#[test]
fn cpython_manager_server_rejects_a_rust_client_with_the_wrong_key() {
    for (major, minor) in [(2, 7), (3, 13)] {
        let Some(python) = common::python(major, minor) else {
            continue;
        };
        let (server, address) = start_manager(&python);
        let error = connect(&address, b"not the key").expect_err("a wrong key must not connect");
        assert!(
            error.is_authentication(),
            "{}: expected an authentication error, got {error}",
            python.label()
        );
        // The server survives a bad client and still answers a good one.
        let mut conn = connect(&address, KEY).expect("connect with the right key");
        assert_eq!(
            dispatch(&python, &mut conn, "dummy").0,
            "#RETURN",
            "{}",
            python.label()
        );
        drop(server);
    }
}
