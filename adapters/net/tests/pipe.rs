//! Windows named pipes (`AF_PIPE`) as CPython's `PipeConnection` uses them, Rust to Rust
//! (run under Wine here: there is no CPython for Windows on this machine kind, so the
//! format is pinned by checking each pipe message's bytes against what CPython's
//! `_send_bytes` writes: the message itself, one pipe message, no header).

#![cfg(windows)]

use std::io;
use std::thread;
use std::time::{Duration, Instant};

use mpconn_net::pipe::{self, PipeListener, PipeStream, Read};
use mpconn_net::{bind, connect, Address, ClientOptions, Family, ListenerOptions, Listening};

/// Long enough for any honest step here; a hang fails instead of blocking forever.
fn soon() -> Option<Instant> {
    Some(Instant::now() + Duration::from_secs(20))
}

fn fresh_name() -> String {
    Address::fresh_pipe()
        .unwrap()
        .pipe_name()
        .unwrap()
        .to_string()
}

/// Reads one whole message as CPython's `_recv_bytes` does: a first read of 128 bytes,
/// then, on `ERROR_MORE_DATA`, what `PeekNamedPipe` says is left.
fn recv_message(pipe: &PipeStream) -> io::Result<Option<Vec<u8>>> {
    let mut message = vec![0; 128];
    match pipe.read(&mut message, soon())? {
        Read::Message(n) => {
            message.truncate(n);
            Ok(Some(message))
        }
        Read::More(n) => {
            assert_eq!(n, 128);
            let left = pipe.remaining_in_message()? as usize;
            assert!(left > 0);
            message.resize(n + left, 0);
            match pipe.read(&mut message[n..], soon())? {
                Read::Message(m) => assert_eq!(m, left),
                other => panic!("the rest of the message: {other:?}"),
            }
            Ok(Some(message))
        }
        Read::Eof => Ok(None),
    }
}

fn connected_pair() -> (PipeStream, PipeStream) {
    let name = fresh_name();
    let listener = PipeListener::bind(&name).unwrap();
    let accepting = thread::spawn(move || listener.accept(soon()));
    let client = PipeStream::connect(&name, soon()).unwrap();
    (accepting.join().unwrap().unwrap(), client)
}

#[test]
fn messages_of_every_size_cross_whole_each_way_as_one_pipe_message_each() {
    let (server, client) = connected_pair();
    let sizes = [0, 1, 127, 128, 129, 8192, 64 * 1024, 1024 * 1024];
    let messages: Vec<Vec<u8>> = sizes
        .iter()
        .map(|&n| (0..n).map(|i| (i % 251) as u8).collect())
        .collect();
    let sent = messages.clone();
    let writer = thread::spawn(move || {
        for message in &sent {
            client.write_message(message, soon()).unwrap();
        }
        client
    });
    for message in &messages {
        // What CPython writes for send_bytes(message) on a PipeConnection: the bytes
        // themselves, as one message.
        assert_eq!(recv_message(&server).unwrap().as_ref(), Some(message));
    }
    let client = writer.join().unwrap();
    // And back the other way.
    let writer = thread::spawn(move || {
        for message in &messages {
            server.write_message(message, soon()).unwrap();
        }
        messages
    });
    let mut got = Vec::new();
    for _ in sizes {
        got.push(recv_message(&client).unwrap().unwrap());
    }
    assert_eq!(got, writer.join().unwrap());
}

#[test]
fn the_end_of_the_pipe_is_eof_after_the_messages_before_it() {
    let (server, client) = connected_pair();
    client.write_message(b"last words", soon()).unwrap();
    drop(client);
    assert_eq!(
        recv_message(&server).unwrap().as_deref(),
        Some(&b"last words"[..])
    );
    assert_eq!(recv_message(&server).unwrap(), None);
}

#[test]
fn a_read_that_times_out_loses_nothing() {
    let (server, client) = connected_pair();
    let mut buf = [0; 16];
    let start = Instant::now();
    let error = server
        .read(&mut buf, Some(Instant::now() + Duration::from_millis(100)))
        .unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::TimedOut);
    assert!(start.elapsed() >= Duration::from_millis(90));
    client.write_message(b"after", soon()).unwrap();
    assert_eq!(
        recv_message(&server).unwrap().as_deref(),
        Some(&b"after"[..])
    );
}

#[test]
fn accept_times_out_and_the_pipe_stays_ready_for_the_next_client() {
    let name = fresh_name();
    let listener = PipeListener::bind(&name).unwrap();
    let error = listener
        .accept(Some(Instant::now() + Duration::from_millis(100)))
        .unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::TimedOut);
    let client = PipeStream::connect(&name, soon()).unwrap();
    let server = listener.accept(soon()).unwrap();
    client.write_message(b"hi", soon()).unwrap();
    assert_eq!(recv_message(&server).unwrap().as_deref(), Some(&b"hi"[..]));
}

#[test]
fn clients_that_connect_before_accept_are_each_served_in_turn() {
    let name = fresh_name();
    let listener = PipeListener::bind(&name).unwrap();
    // Both connect while nobody accepts: the first to the ready instance, the second
    // to the spare one the first accept makes (or it waits for one, as CPython's does).
    let first = PipeStream::connect(&name, soon()).unwrap();
    let second = thread::spawn({
        let name = name.clone();
        move || PipeStream::connect(&name, soon()).unwrap()
    });
    let a = listener.accept(soon()).unwrap();
    let b = listener.accept(soon()).unwrap();
    let second = second.join().unwrap();
    first.write_message(b"1", soon()).unwrap();
    second.write_message(b"2", soon()).unwrap();
    let mut got = [
        recv_message(&a).unwrap().unwrap(),
        recv_message(&b).unwrap().unwrap(),
    ];
    got.sort();
    assert_eq!(got, [b"1".to_vec(), b"2".to_vec()]);
}

#[test]
fn a_name_in_use_does_not_bind_and_a_missing_one_does_not_connect() {
    let name = fresh_name();
    let _listener = PipeListener::bind(&name).unwrap();
    // Windows refuses a second first instance (FILE_FLAG_FIRST_PIPE_INSTANCE, access
    // denied), so a name in use fails to bind as in CPython; Wine 8.0 lets it through
    // (the runner, .ci/wine/runner, says when it runs the tests).
    if std::env::var_os("MPCONN_UNDER_WINE").is_none() {
        assert!(PipeListener::bind(&name).is_err(), "first instance twice");
    }
    let missing = fresh_name();
    let error = PipeStream::connect(&missing, soon()).unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::NotFound, "{error}");
}

#[test]
fn bind_and_connect_take_pipe_addresses_and_the_default_family_is_af_pipe() {
    let bound = bind(None, &ListenerOptions::new()).unwrap();
    assert_eq!(bound.address.family(), Family::Pipe);
    let Listening::Pipe(listener) = bound.listener else {
        panic!("a pipe listener")
    };
    let address = bound.address.clone();
    let accepting = thread::spawn(move || listener.accept(soon()));
    let stream = connect(&address, &ClientOptions::new(), soon()).unwrap();
    let server = accepting.join().unwrap().unwrap();
    let mpconn_net::Connected::Pipe(client) = stream else {
        panic!("a pipe stream")
    };
    client.write_message(b"x", soon()).unwrap();
    assert_eq!(recv_message(&server).unwrap().as_deref(), Some(&b"x"[..]));
    let error = connect(
        &format!(r"\\.\pipe\mpconn-missing-{}", std::process::id())
            .parse()
            .unwrap(),
        &ClientOptions::new(),
        soon(),
    )
    .unwrap_err();
    assert!(
        error.to_string().contains(r"\\.\pipe\mpconn-missing-"),
        "{error}"
    );
}

#[test]
fn a_pair_is_connected_both_ways() {
    let (a, b) = pipe::pair().unwrap();
    a.write_message(b"ping", soon()).unwrap();
    assert_eq!(recv_message(&b).unwrap().as_deref(), Some(&b"ping"[..]));
    b.write_message(b"", soon()).unwrap();
    assert_eq!(recv_message(&a).unwrap().as_deref(), Some(&b""[..]));
}
